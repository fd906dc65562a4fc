/* jobs/report/figures.c: the charts (cairo, jobs/report/plot.h), training curves and QC overlays (see jobs/report/report_impl.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/h5store.h"
#include "io/rundir.h"
#include "io/path.h"

/* ------------------------------------------------------------- figures -- */

void report_html_png(Report *r, Plot *p, const char *file, const char *caption);

static void fig_dice_bars(Report *r, const int32_t *arms, int32_t na, const Compare *C, const char *file,
                          const char *title) {
  Plot p;
  const int32_t W = 900, H = 420;
  plot_init(&p, W, H);
  PlotAxes ax;
  plot_axes(&p, &ax, 70, 40, W - 260, H - 110, 0, LABEL_MAX, 0, 1.05, 0, title, "ROI", "Dice (mean \xc2\xb1 SD)");
  const char *names[LABEL_MAX];
  for (int i = 0; i < LABEL_MAX; i++) names[i] = LABEL_KEYS[i + 1];
  plot_categories(&p, &ax, names, LABEL_MAX);
  const char *legend[8];
  double col[8][3];
  int32_t nl = na < 8 ? na : 8;
  double bw = 0.8 / (na > 0 ? na : 1);
  for (int32_t k = 0; k < na; k++) {
    const Arm *A = &r->arms[arms[k]];
    const double *rgb = PLOT_PALETTE[k % 8];
    for (int roi = 1; roi < LABEL_COUNT; roi++) {
      double x0 = roi - 1 + 0.1 + k * bw;
      plot_bar(&p, &ax, x0, x0 + bw * 0.92, A->sum[roi].dice_mean, rgb);
      plot_errbar(&p, &ax, x0 + bw * 0.46, A->sum[roi].dice_mean - A->sum[roi].dice_sd,
                  A->sum[roi].dice_mean + A->sum[roi].dice_sd);
      if (C && C->p_holm[roi] < 0.05 && k == 0)
        plot_text(&p, plot_x(&ax, roi - 0.5), plot_y(&ax, 1.02), 14, 0.5, 0, "*");
    }
    if (k < 8) legend[k] = A->name, memcpy(col[k], rgb, sizeof col[k]);
  }
  plot_legend(&p, W - 180, 60, legend, (const double(*)[3])col, nl);
  if (C) plot_text(&p, W - 180, 60 + 18 * nl + 10, 10, 0, 0, "* Holm p < 0.05 (Wilcoxon)");
  report_html_png(r, &p, file, title);
  plot_free(&p);
}

static void fig_fa_corr(Report *r, const Arm *A, const char *file) {
  Plot p;
  plot_init(&p, 560, 520);
  const char *lab[LABEL_MAX];
  for (int i = 0; i < LABEL_MAX; i++) lab[i] = LABEL_KEYS[i + 1];
  char title[700];
  snprintf(title, sizeof title, "%s: Pearson r of mean FA", A->name);
  plot_text(&p, 280, 24, 14, 0.5, 0, "%s", title);
  plot_text(&p, 300, 58, 11, 0.5, 0, "reference (manual) ROI");
  plot_text(&p, 24, 290, 11, 0.5, -90, "predicted ROI");
  plot_heatmap(&p, 100, 80, 52, A->corr, LABEL_MAX, LABEL_MAX, lab, lab, -1, 1);
  report_html_png(r, &p, file, title);
  plot_free(&p);
}

static void fig_bland_altman(Report *r, const Arm *A, const char *file) {
  Plot p;
  const int32_t W = 1200, H = 560;
  plot_init(&p, W, H);
  char title[700];
  snprintf(title, sizeof title, "%s: Bland-Altman of mean FA per slice (predicted - reference)", A->name);
  plot_text(&p, W / 2.0, 22, 14, 0.5, 0, "%s", title);
  double *x = mallocCheck(sizeof(double) * (size_t)(A->n + 1)), *y = mallocCheck(sizeof(double) * (size_t)(A->n + 1));
  for (int roi = 1; roi < LABEL_COUNT; roi++) {
    double xmin = INFINITY, xmax = -INFINITY, ymax = 0;
    for (int64_t q = 0; q < A->n; q++) {
      const RoiMetrics *m = &A->s[q].roi[roi];
      x[q] = 0.5 * (m->fa_pred + m->fa_ref), y[q] = m->fa_pred - m->fa_ref;
      if (isfinite(x[q])) xmin = fmin(xmin, x[q]), xmax = fmax(xmax, x[q]), ymax = fmax(ymax, fabs(y[q]));
    }
    const RoiSummary *s = &A->sum[roi];
    ymax = fmax(ymax, fmax(fabs(s->ba_lo), fabs(s->ba_hi)));
    if (!isfinite(ymax) || ymax <= 0) ymax = 0.05;
    if (!(xmax > xmin)) xmin = 0, xmax = 1;
    int c = (roi - 1) % 4, rr = (roi - 1) / 4;
    PlotAxes ax;
    char t[80];
    snprintf(t, sizeof t, "%s (n=%lld)", LABEL_KEYS[roi], (long long)stats_nancount(y, A->n));
    plot_axes(&p, &ax, 70 + c * 285, 60 + rr * 250, 220, 180, xmin - 0.02, xmax + 0.02, -1.15 * ymax, 1.15 * ymax, 1, t,
              rr ? "mean FA" : "", c ? "" : "difference");
    plot_points(&p, &ax, x, y, A->n, PLOT_PALETTE[roi % 8], 2.5);
    const double k[3] = {0.1, 0.1, 0.1}, red[3] = {0.8, 0.1, 0.1};
    plot_hline(&p, &ax, s->ba_bias, k, 0, "bias");
    plot_hline(&p, &ax, s->ba_lo, red, 1, "-1.96 SD");
    plot_hline(&p, &ax, s->ba_hi, red, 1, "+1.96 SD");
  }
  free(x), free(y);
  report_html_png(r, &p, file, title);
  plot_free(&p);
}

static void fig_curves(Report *r, const ReportRun *u) {
  char p[PATH_CAP], err[PATH_MSG_CAP], file[800], title[4800];
  rundir_path(p, sizeof p, u->ri.dir, "log.csv");
  TrainLog L;
  if (evalio_log_read(p, &L, err, sizeof err)) {
    fprintf(r->html, "<p class=warn>training curves of %s: %s</p>\n", u->id, err);
    return;
  }
  if (L.n == 0) { /* a header and nothing else, or not a training log: nothing to draw, said */
    fprintf(r->html, "<p class=warn>training curves of %s: '%s' holds no epoch rows</p>\n", u->id, p);
    evalio_log_free(&L);
    return;
  }
  snprintf(file, sizeof file, "curves_%s.png", u->id);
  snprintf(title, sizeof title, "%s (%s)", u->id, u->ri.dir);
  Plot pl;
  const int32_t W = 1200, H = 330;
  plot_init(&pl, W, H);
  plot_text(&pl, W / 2.0, 20, 13, 0.5, 0, "%s", title);
  double e1 = L.n ? L.epoch[L.n - 1] : 1, e0 = L.n ? L.epoch[0] : 0;
  double lmin = INFINITY, lmax = -INFINITY, lrmax = 0;
  for (int64_t i = 0; i < L.n; i++) {
    const double v[2] = {L.train_loss[i], L.val_loss[i]};
    for (int k = 0; k < 2; k++)
      if (isfinite(v[k])) lmin = fmin(lmin, v[k]), lmax = fmax(lmax, v[k]);
    if (isfinite(L.lr[i])) lrmax = fmax(lrmax, L.lr[i]);
  }
  if (!(lmax >= lmin)) lmin = 0, lmax = 1;
  double pad = lmax > lmin ? 0.08 * (lmax - lmin) : 0.05 * fabs(lmax) + 1e-9;
  PlotAxes ax;
  const double *c0 = PLOT_PALETTE[0], *c1 = PLOT_PALETTE[1];
  plot_axes(&pl, &ax, 70, 50, 300, 220, e0, e1 > e0 ? e1 : e0 + 1, lmin - pad, lmax + pad, 1, "loss", "epoch", "");
  plot_line(&pl, &ax, L.epoch, L.train_loss, L.n, c0, 2), plot_points(&pl, &ax, L.epoch, L.train_loss, L.n, c0, 2);
  plot_line(&pl, &ax, L.epoch, L.val_loss, L.n, c1, 2), plot_points(&pl, &ax, L.epoch, L.val_loss, L.n, c1, 2);
  const char *lg[2] = {"train", "validation"};
  const double lc[2][3] = {{c0[0], c0[1], c0[2]}, {c1[0], c1[1], c1[2]}};
  plot_legend(&pl, 280, 70, lg, lc, 2);
  plot_axes(&pl, &ax, 460, 50, 300, 220, e0, e1 > e0 ? e1 : e0 + 1, 0, 1, 1, "validation Dice (mean of 8 ROIs)",
            "epoch", "");
  plot_line(&pl, &ax, L.epoch, L.val_dice, L.n, c1, 2), plot_points(&pl, &ax, L.epoch, L.val_dice, L.n, c1, 2.5);
  plot_axes(&pl, &ax, 850, 50, 300, 220, e0, e1 > e0 ? e1 : e0 + 1, 0, lrmax > 0 ? lrmax * 1.05 : 1, 1,
            "learning rate", "epoch", "");
  plot_line(&pl, &ax, L.epoch, L.lr, L.n, PLOT_PALETTE[2], 2),
      plot_points(&pl, &ax, L.epoch, L.lr, L.n, PLOT_PALETTE[2], 2);
  report_html_png(r, &pl, file, title);
  plot_free(&pl);
  evalio_log_free(&L);
}


typedef struct {
  double v;
  int64_t q;
} Ranked;
static int cmp_ranked(const void *x, const void *y) {
  const Ranked *a = x, *b = y;
  if (a->v != b->v) return (a->v > b->v) - (a->v < b->v);
  return (a->q > b->q) - (a->q < b->q);
}

static void qc_arm(Report *r, const Arm *A) {
  Ranked *rk = mallocCheck(sizeof(Ranked) * (size_t)(A->n + 1));
  int64_t m = 0;
  for (int64_t q = 0; q < A->n; q++) {
    double d[LABEL_MAX];
    for (int c = 1; c < LABEL_COUNT; c++) d[c - 1] = A->s[q].roi[c].dice;
    double v = stats_nanmean(d, LABEL_MAX);
    if (!isnan(v)) rk[m].v = v, rk[m++].q = q;
  }
  fprintf(r->html, "<h3>%s</h3>\n", A->name);
  if (!m) {
    fprintf(r->html, "<p class=warn>no slice with a defined Dice</p>\n");
    return free(rk);
  }
  qsort(rk, (size_t)m, sizeof(Ranked), cmp_ranked);
  const int64_t pick[3] = {m - 1, (m - 1) / 2, 0};
  const char *what[3] = {"best", "median", "worst"};
  fprintf(r->html, "<div class=qc>\n");
  for (int k = 0; k < 3; k++) {
    const EvalSlice *e = &A->s[rk[pick[k]].q];
    const ReportRun *u = &r->runs[A->run_of[rk[pick[k]].q]];
    char p[PATH_CAP], err[PATH_MSG_CAP], cap[1200];
    char sid[24];
    snprintf(sid, sizeof sid, "%d", e->subject);
    snprintf(cap, sizeof cap, "%s: mean Dice %.3f &mdash; %s, subject %s, slice %d (store index %d)", what[k],
             rk[pick[k]].v, u->id, e->subject_name[0] ? e->subject_name : sid, e->slice, e->index);
    rundir_path(p, sizeof p, u->ri.dir, "eval/pred.h5");
    int32_t n, h, w, *idx = NULL;
    uint8_t *lab = NULL;
    if (evalio_pred_read(p, &n, &h, &w, &idx, &lab, err, sizeof err) || access(u->store, R_OK) != 0) {
      fprintf(r->html, "<p class=warn>%s: overlay unavailable: %s</p>\n", cap,
              lab ? "the run's store (config.ini) cannot be read" : err);
      free(idx), free(lab);
      continue;
    }
    int32_t j = 0;
    while (j < n && idx[j] != e->index) j++;
    H5Store s;
    h5store_open(&s, u->store);
    if (j == n || s.h != h || s.w != w || e->index >= s.n) {
      fprintf(r->html, "<p class=warn>%s: overlay unavailable: slice not in pred.h5 or store size differs</p>\n", cap);
    } else {
      float *b0 = mallocCheck(sizeof(float) * (size_t)h * w);
      uint8_t *ref = mallocCheck((size_t)h * w);
      h5store_read_slices(&s, &e->index, 1, s.has_b0 ? b0 : NULL, s.has_b0 ? NULL : b0, ref); /* FA-only: FA */
      /* crop to the reference cord (else the prediction) + 8 px, as in Figure 5 */
      const uint8_t *pred = lab + (size_t)j * h * w;
      int32_t y0 = h, y1 = -1, x0 = w, x1 = -1;
      for (int pass = 0; pass < 2 && y1 < 0; pass++)
        for (int32_t y = 0; y < h; y++)
          for (int32_t x = 0; x < w; x++)
            if ((pass ? pred : ref)[y * w + x])
              y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1, x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
      if (y1 < 0) y0 = 0, y1 = h - 1, x0 = 0, x1 = w - 1;
      y0 = y0 - 8 < 0 ? 0 : y0 - 8, x0 = x0 - 8 < 0 ? 0 : x0 - 8;
      y1 = y1 + 8 >= h ? h - 1 : y1 + 8, x1 = x1 + 8 >= w ? w - 1 : x1 + 8;
      int32_t ch = y1 - y0 + 1, cw = x1 - x0 + 1, side = ch > cw ? ch : cw, zoom = 360 / side;
      zoom = zoom < 1 ? 1 : zoom > 12 ? 12 : zoom;
      float *cb = mallocCheck(sizeof(float) * (size_t)ch * cw);
      uint8_t *cp = mallocCheck((size_t)ch * cw), *cr = mallocCheck((size_t)ch * cw);
      for (int32_t y = 0; y < ch; y++)
        for (int32_t x = 0; x < cw; x++) {
          size_t src = (size_t)(y + y0) * w + (x + x0), dst = (size_t)y * cw + x;
          cb[dst] = b0[src], cp[dst] = pred[src], cr[dst] = ref[src];
        }
      Plot pl;
      plot_init(&pl, cw * zoom, ch * zoom);
      plot_overlay(&pl, 0, 0, zoom, cb, ch, cw, cp, cr);
      report_html_png(r, &pl, NULL, cap);
      plot_free(&pl);
      free(b0), free(ref), free(cb), free(cp), free(cr);
    }
    h5store_close(&s);
    free(idx), free(lab);
  }
  fprintf(r->html, "</div>\n");
  free(rk);
}


/* the figures and the QC overlays, into OUT/ and the page */
void report_figures(Report *r) {
  const ReportOptions *o = r->o;
  fprintf(r->html, "<h2>Figures</h2>\n");
  int32_t *all = mallocCheck(sizeof(int32_t) * (size_t)(r->narms + 1));
  for (int32_t a = 0; a < r->narms; a++) all[a] = a;
  if (r->narms) fig_dice_bars(r, all, r->narms, NULL, "fig_dice_by_arm.png", "per-ROI Dice of every arm");
  free(all);
  for (int32_t i = 0; i < r->ncmp; i++) {
    const Compare *C = &r->cmp[i];
    char file[1200];
    snprintf(file, sizeof file, "fig_compare_%s_vs_%s.png", r->arms[C->a].name, r->arms[C->b].name);
    report_file_safe(file + 12); /* keeps '.', '-' */
    int32_t two[2] = {C->a, C->b};
    fig_dice_bars(r, two, 2, C, file, C->label);
  }
  for (int32_t a = 0; a < r->narms; a++) {
    char safe[600], file[700];
    snprintf(safe, sizeof safe, "%s", r->arms[a].name);
    report_file_safe(safe);
    snprintf(file, sizeof file, "fig_fa_corr_%s.png", safe);
    fig_fa_corr(r, &r->arms[a], file);
    snprintf(file, sizeof file, "fig_bland_altman_%s.png", safe);
    fig_bland_altman(r, &r->arms[a], file);
  }
  fprintf(r->html, "<h2>Training curves</h2>\n");
  for (int32_t i = 0; i < r->nruns; i++)
    if (r->runs[i].status != RUN_UNREADABLE) {
      fig_curves(r, &r->runs[i]);
      if (!o->quiet) fprintf(stderr, "\rreport: training curves %d/%d", i + 1, r->nruns);
    }
  if (!o->quiet) fprintf(stderr, "\n");
  fprintf(r->html, "<h2>QC overlays (prediction red, reference blue)</h2>\n<p>Best, median and worst test slice "
                   "of each arm by mean Dice over the 8 ROIs.</p>\n");
  for (int32_t a = 0; a < r->narms; a++) qc_arm(r, &r->arms[a]);
}
