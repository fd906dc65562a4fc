/* jobs/report/collect.c: study collection, tables, statistics, charts and the QC page
 * of `cordseg report` (see jobs/report/report.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/report.h"

#include <dirent.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "core/metrics.h"
#include "core/stats.h"
#include "io/config.h"
#include "io/evalio.h"
#include "io/folds.h"
#include "jobs/evaluate.h"
#include "io/h5store.h"
#include "io/labels.h"
#include "io/plot.h"
#include "io/rundir.h"
#include "io/textio.h"

enum { RUN_OK = 0, RUN_UNREADABLE, RUN_NOT_DONE, RUN_NO_EVAL, RUN_BAD_EVAL };
static const char *const STATUS_NAMES[] = {"ok", "unreadable run.json", "failed (no DONE)", "missing eval",
                                           "unreadable eval"};

typedef struct {
  RunInfo ri;
  char id[300];     /* file-safe unique name: <arm>_fold<F>_seed<S> */
  int status;
  char note[9000];
  EvalSlice *s;
  int64_t n;
  char store[1024], folds[1024]; /* from config.ini */
} ReportRun;

typedef struct {
  char name[256];
  int64_t n;        /* pooled test slices */
  EvalSlice *s;     /* pooled over the arm's OK runs */
  int32_t *run_of;  /* [n] index into runs */
  int32_t runs_ok;
  RoiSummary sum[LABEL_COUNT];
  double corr[LABEL_MAX * LABEL_MAX];
} Arm;

typedef struct {
  int32_t a, b;                  /* arm indices */
  char label[600];
  int64_t nsub[LABEL_COUNT];
  double mean_a[LABEL_COUNT], mean_b[LABEL_COUNT], diff[LABEL_COUNT], lo[LABEL_COUNT], hi[LABEL_COUNT];
  Wilcoxon w[LABEL_COUNT];
  double p_holm[LABEL_COUNT];
} Compare;

typedef struct {
  const ReportOptions *o;
  ReportRun *runs;
  int32_t nruns, cap;
  Arm *arms;
  int32_t narms;
  Compare *cmp;
  int32_t ncmp;
  FILE *html;       /* index.html, collected in html_text */
  TextBuf html_text;
} Report;

/* ---------------------------------------------------------------- files -- */

static void out_path(const Report *r, char *p, size_t n, const char *name) { rundir_path(p, n, r->o->out, name); }

/* OUT/name from text collected in memory, written atomically */
static void text_commit(TextBuf *t, const Report *r, const char *name) {
  char p[4400];
  out_path(r, p, sizeof p, name);
  textbuf_commit(t, p);
}

static void file_safe(char *s) {
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
      *s = '_';
}

/* ---------------------------------------------------------- collection -- */

static void add_run(Report *r, const char *dir) {
  if (r->nruns == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 16;
    r->runs = realloc(r->runs, sizeof(ReportRun) * (size_t)r->cap);
    CS_CHECK(r->runs, NULL, "out of memory");
  }
  ReportRun *u = &r->runs[r->nruns++];
  memset(u, 0, sizeof *u);
  snprintf(u->ri.dir, sizeof u->ri.dir, "%s", dir);
}

static void find_runs(Report *r, const char *dir, int depth) {
  if (depth > 16) return;
  if (rundir_exists(dir, "run.json")) return add_run(r, dir);
  DIR *d = opendir(dir);
  if (!d) return;
  char **names = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) names = realloc(names, sizeof(char *) * (size_t)(cap = cap ? 2 * cap : 32));
    CS_CHECK(names, NULL, "out of memory");
    names[n++] = textio_strdup(e->d_name);
  }
  closedir(d);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      char *t = names[j];
      names[j] = names[j - 1], names[j - 1] = t;
    }
  for (int i = 0; i < n; i++) {
    char p[4200];
    struct stat st;
    int w = snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    if (w > 0 && (size_t)w < sizeof p && stat(p, &st) == 0 && S_ISDIR(st.st_mode)) find_runs(r, p, depth + 1);
    free(names[i]);
  }
  free(names);
}

static void load_run(ReportRun *u) {
  char err[4600], dir[4096], p[4400];
  snprintf(dir, sizeof dir, "%s", u->ri.dir);
  if (evalio_run_read(dir, &u->ri, err, sizeof err)) {
    u->status = RUN_UNREADABLE;
    snprintf(u->note, sizeof u->note, "%s", err);
    return;
  }
  snprintf(u->id, sizeof u->id, "%s_fold%d_seed%lld", u->ri.arm, u->ri.fold, (long long)u->ri.seed);
  file_safe(u->id);
  if (rundir_exists(dir, "config.ini")) { /* written by train: fatal with file:line:key when broken */
    TrainConfig cfg;
    config_defaults(&cfg);
    rundir_path(p, sizeof p, dir, "config.ini");
    config_load(&cfg, p);
    snprintf(u->store, sizeof u->store, "%s", cfg.store);
    snprintf(u->folds, sizeof u->folds, "%s", cfg.folds);
  }
  if (!u->ri.done) {
    u->status = RUN_NOT_DONE;
    snprintf(u->note, sizeof u->note, "'%s/DONE' is missing: training did not finish", dir);
    return;
  }
  rundir_path(p, sizeof p, dir, "eval/slices.csv");
  if (access(p, F_OK) != 0) {
    u->status = RUN_NO_EVAL;
    snprintf(u->note, sizeof u->note, "'%s' is missing: run `cordseg evaluate %s`", p, dir);
    return;
  }
  RunInfo csv;
  if (evalio_slices_read(p, &u->s, &u->n, &csv, err, sizeof err)) {
    u->status = RUN_BAD_EVAL;
    snprintf(u->note, sizeof u->note, "%s", err);
    return;
  }
  if (strcmp(csv.folds_hash, u->ri.folds_hash) || strcmp(csv.data_checksum, u->ri.data_checksum) ||
      strcmp(csv.config_hash, u->ri.config_hash)) {
    u->status = RUN_BAD_EVAL;
    snprintf(u->note, sizeof u->note,
             "'%s' was written for another config/folds/data (stale): re-run `cordseg evaluate %s`", p, dir);
    free(u->s), u->s = NULL, u->n = 0;
  }
}

/* refuse to mix manifests or data; list everything else */
static void check_consistency(const Report *r) {
  const ReportRun *ref = NULL;
  for (int32_t i = 0; i < r->nruns; i++) {
    const ReportRun *u = &r->runs[i];
    if (u->status == RUN_UNREADABLE) continue;
    if (!ref) {
      ref = u;
      continue;
    }
    if (strcmp(u->ri.folds_hash, ref->ri.folds_hash))
      cs_fatal("report runs that share one folds manifest (one study per report), or re-run them on the same folds",
               "run '%s' has folds_hash %s but run '%s' has %s", u->ri.dir, u->ri.folds_hash, ref->ri.dir,
               ref->ri.folds_hash);
    if (strcmp(u->ri.data_checksum, ref->ri.data_checksum))
      cs_fatal("report runs trained on the same slice store (one study per report)",
               "run '%s' has data_checksum %s but run '%s' has %s", u->ri.dir, u->ri.data_checksum, ref->ri.dir,
               ref->ri.data_checksum);
  }
}

static void unique_ids(Report *r) {
  for (int32_t i = 0; i < r->nruns; i++)
    for (int32_t j = 0, k = 2; j < i; j++)
      if (r->runs[i].id[0] && !strcmp(r->runs[i].id, r->runs[j].id)) {
        char t[300];
        snprintf(t, sizeof t, "%.280s_%d", r->runs[i].id, k++);
        snprintf(r->runs[i].id, sizeof r->runs[i].id, "%s", t);
        j = -1;
      }
}

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void build_arms(Report *r) {
  const char **names = mallocCheck(sizeof(char *) * (size_t)(r->nruns + 1));
  int32_t n = 0;
  for (int32_t i = 0; i < r->nruns; i++)
    if (r->runs[i].status == RUN_OK) names[n++] = r->runs[i].ri.arm;
  qsort(names, (size_t)n, sizeof(char *), cmp_str_ptr);
  r->arms = callocCheck((size_t)n + 1, sizeof(Arm));
  for (int32_t i = 0; i < n; i++)
    if (i == 0 || strcmp(names[i], names[i - 1]))
      snprintf(r->arms[r->narms++].name, sizeof r->arms[0].name, "%s", names[i]);
  free(names);
  for (int32_t a = 0; a < r->narms; a++) {
    Arm *A = &r->arms[a];
    for (int32_t i = 0; i < r->nruns; i++)
      if (r->runs[i].status == RUN_OK && !strcmp(r->runs[i].ri.arm, A->name)) A->n += r->runs[i].n, A->runs_ok++;
    A->s = mallocCheck(sizeof(EvalSlice) * (size_t)(A->n + 1));
    A->run_of = mallocCheck(sizeof(int32_t) * (size_t)(A->n + 1));
    int64_t o = 0;
    for (int32_t i = 0; i < r->nruns; i++)
      if (r->runs[i].status == RUN_OK && !strcmp(r->runs[i].ri.arm, A->name))
        for (int64_t q = 0; q < r->runs[i].n; q++) A->run_of[o] = i, A->s[o++] = r->runs[i].s[q];
    evaluate_summarize(A->s, A->n, A->sum);
    evaluate_fa_corr(A->s, A->n, A->corr);
  }
}

/* ------------------------------------------------------------- tables -- */

typedef struct {
  const char *name;
  ptrdiff_t mean, sd; /* offsets into RoiSummary; sd < 0: none */
  int digits;
} Col;
#define S(f) offsetof(RoiSummary, f)
static const Col T1[] = {{"Dice", S(dice_mean), S(dice_sd), 3},           {"Recall", S(recall_mean), S(recall_sd), 3},
                         {"Precision", S(precision_mean), S(precision_sd), 3}, {"IoU", S(iou_mean), S(iou_sd), 3},
                         {"HD95 mm", S(hd95_mean), S(hd95_sd), 2}};
static const Col T2[] = {{"Dice", S(dice_mean_no), S(dice_sd_no), 3},
                         {"Recall", S(recall_mean_no), S(recall_sd_no), 3},
                         {"Precision", S(precision_mean_no), S(precision_sd_no), 3},
                         {"outliers %", S(outlier_pct), -1, 1}};
static const Col T3[] = {{"FA error %", S(fa_err_mean), S(fa_err_sd), 2}, {"ICC(2,1)", S(fa_icc), -1, 3},
                         {"BA bias", S(ba_bias), -1, 4},                {"BA LoA low", S(ba_lo), -1, 4},
                         {"BA LoA high", S(ba_hi), -1, 4},              {"L/R swap %", S(swap_rate), -1, 1},
                         {"L+R pair swap %", S(pair_swap_rate), -1, 1}};
#undef S
typedef struct {
  const char *file, *title;
  const Col *cols;
  int ncols;
} TableSpec;
static const TableSpec TABLES[3] = {
    {"table1", "Table 1: Dice, Recall, Precision, IoU, HD95 (mean \xc2\xb1 SD over test slices; NaN-mean policy)", T1,
     5},
    {"table2",
     "Table 2: outliers removed (slices where the model gives no segmentation for the ROI), and the outlier percentage",
     T2, 4},
    {"table3",
     "Table 3: FA agreement: FA error = |FA_pred - FA_ref| / FA_ref (eq. 10), ICC(2,1) absolute agreement, "
     "Bland-Altman of FA_pred - FA_ref, L/R swap rate of the ROI and of its left/right pair",
     T3, 7}};

static double col_val(const RoiSummary *s, ptrdiff_t off) { return *(const double *)((const char *)s + off); }

static void cell(FILE *f, const RoiSummary *s, const Col *c, int tex) {
  double m = col_val(s, c->mean);
  if (isnan(m)) {
    fputs(tex ? "--" : "n/a", f);
    return;
  }
  fprintf(f, "%.*f", c->digits, m);
  if (c->sd >= 0) {
    double sd = col_val(s, c->sd);
    if (!isnan(sd)) fprintf(f, tex ? " $\\pm$ %.*f" : " \xc2\xb1 %.*f", c->digits, sd);
  }
}

static void write_tables(Report *r) {
  TextBuf md, tex;
  FILE *fm = textbuf_open(&md), *ft = textbuf_open(&tex);
  fprintf(fm, "# cordseg report: tables\n\nSlices pooled over every completed run of an arm (folds x seeds). "
              "Empty-mask policy: a ratio with a zero denominator is NaN and means skip NaN.\n");
  fprintf(ft, "%% cordseg report: tables (\\usepackage{booktabs})\n");
  FILE *h = r->html;
  for (int t = 0; t < 3; t++) {
    const TableSpec *T = &TABLES[t];
    TextBuf csv;
    FILE *fc = textbuf_open(&csv);
    fprintf(fc, "arm,roi,roi_key,roi_name,slices,ref_slices");
    for (int c = 0; c < T->ncols; c++) {
      char n[64];
      snprintf(n, sizeof n, "%s", T->cols[c].name);
      file_safe(n);
      fprintf(fc, ",%s%s", n, T->cols[c].sd >= 0 ? "_mean" : "");
      if (T->cols[c].sd >= 0) fprintf(fc, ",%s_sd", n);
    }
    fputc('\n', fc);
    fprintf(fm, "\n## %s\n", T->title);
    fprintf(h, "<h3>%s</h3>\n", T->title);
    for (int32_t a = 0; a < r->narms; a++) {
      const Arm *A = &r->arms[a];
      fprintf(fm, "\n**%s** (%d runs, %lld test slices)\n\n| ROI |", A->name, A->runs_ok, (long long)A->n);
      fprintf(ft, "\n\\begin{table}[ht]\\centering\\caption{%s: %s}\n\\begin{tabular}{l", T->file, A->name);
      fprintf(h, "<table><caption>%s (%d runs, %lld test slices)</caption><tr><th>ROI</th>", A->name, A->runs_ok,
              (long long)A->n);
      for (int c = 0; c < T->ncols; c++) fprintf(fm, " %s |", T->cols[c].name), fputc('r', ft);
      fprintf(ft, "}\n\\toprule\nROI");
      for (int c = 0; c < T->ncols; c++) {
        fprintf(ft, " & %s", T->cols[c].name);
        fprintf(h, "<th>%s</th>", T->cols[c].name);
      }
      fprintf(fm, "\n|---|");
      for (int c = 0; c < T->ncols; c++) fprintf(fm, "---:|");
      fprintf(ft, " \\\\\n\\midrule\n");
      fprintf(h, "</tr>\n");
      for (int roi = 1; roi < LABEL_COUNT; roi++) {
        const RoiSummary *s = &A->sum[roi];
        fprintf(fm, "\n| %s |", LABEL_NAMES[roi]);
        fprintf(ft, "%s", LABEL_NAMES[roi]);
        fprintf(h, "<tr><td>%s</td>", LABEL_NAMES[roi]);
        fprintf(fc, "%s,%d,%s,%s,%lld,%lld", A->name, roi, LABEL_KEYS[roi], LABEL_NAMES[roi], (long long)s->slices,
                (long long)s->ref_slices);
        for (int c = 0; c < T->ncols; c++) {
          const Col *C = &T->cols[c];
          fputc(' ', fm), cell(fm, s, C, 0), fputs(" |", fm);
          fputs(" & ", ft), cell(ft, s, C, 1);
          fputs("<td>", h), cell(h, s, C, 0), fputs("</td>", h);
          fprintf(fc, ",%.6g", col_val(s, C->mean));
          if (C->sd >= 0) fprintf(fc, ",%.6g", col_val(s, C->sd));
        }
        fprintf(ft, " \\\\\n");
        fprintf(h, "</tr>\n");
        fputc('\n', fc);
      }
      fprintf(fm, "\n");
      fprintf(ft, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
      fprintf(h, "</table>\n");
    }
    char name[64];
    snprintf(name, sizeof name, "%s.csv", T->file);
    text_commit(&csv, r, name);
  }
  text_commit(&md, r, "tables.md");
  text_commit(&tex, r, "tables.tex");
}

/* ---------------------------------------------------------- statistics -- */

/* arms whose names have the same number of '-' tokens and differ in exactly
 * one; lab gets "tokA vs tokB (shared tokens)". 0 when not such a pair. */
static int arm_pair(const char *a, const char *b, char *lab, size_t n) {
  char ta[256], tb[256], *sa[16], *sb[16], *save;
  snprintf(ta, sizeof ta, "%s", a), snprintf(tb, sizeof tb, "%s", b);
  int na = 0, nb = 0;
  for (char *t = strtok_r(ta, "-", &save); t && na < 16; t = strtok_r(NULL, "-", &save)) sa[na++] = t;
  for (char *t = strtok_r(tb, "-", &save); t && nb < 16; t = strtok_r(NULL, "-", &save)) sb[nb++] = t;
  if (na != nb) return 0;
  int diff = -1;
  for (int i = 0; i < na; i++)
    if (strcmp(sa[i], sb[i])) {
      if (diff >= 0) return 0;
      diff = i;
    }
  if (diff < 0) return 0;
  size_t o = (size_t)snprintf(lab, n, "%s vs %s (", sa[diff], sb[diff]);
  for (int i = 0, first = 1; i < na && o < n; i++)
    if (i != diff) o += (size_t)snprintf(lab + o, n - o, "%s%s", first ? "" : "-", sa[i]), first = 0;
  if (o < n) snprintf(lab + o, n - o, ")");
  return 1;
}

typedef struct {
  int32_t subject;
  double v;
} SubVal;
static int cmp_subval(const void *x, const void *y) {
  const SubVal *a = x, *b = y;
  return (a->subject > b->subject) - (a->subject < b->subject);
}

/* per-subject nan-mean of ROI Dice over the arm's slices: sorted (subject, mean) */
static int32_t subject_means(const Arm *A, int roi, SubVal *out) {
  SubVal *v = mallocCheck(sizeof(SubVal) * (size_t)(A->n + 1));
  for (int64_t q = 0; q < A->n; q++) v[q].subject = A->s[q].subject, v[q].v = A->s[q].roi[roi].dice;
  qsort(v, (size_t)A->n, sizeof(SubVal), cmp_subval);
  int32_t m = 0;
  for (int64_t q = 0; q < A->n;) {
    int64_t e = q;
    double s = 0;
    int64_t c = 0;
    for (; e < A->n && v[e].subject == v[q].subject; e++)
      if (!isnan(v[e].v)) s += v[e].v, c++;
    if (c) out[m].subject = v[q].subject, out[m++].v = s / (double)c;
    q = e;
  }
  free(v);
  return m;
}

static void compute_stats(Report *r) {
  r->cmp = callocCheck((size_t)(r->narms * r->narms) + 1, sizeof(Compare));
  for (int32_t a = 0; a < r->narms; a++)
    for (int32_t b = a + 1; b < r->narms; b++) {
      Compare *C = &r->cmp[r->ncmp];
      if (!arm_pair(r->arms[a].name, r->arms[b].name, C->label, sizeof C->label)) continue;
      C->a = a, C->b = b, r->ncmp++;
      double p[LABEL_COUNT];
      for (int roi = 1; roi < LABEL_COUNT; roi++) {
        SubVal *sa = mallocCheck(sizeof(SubVal) * (size_t)(r->arms[a].n + 1));
        SubVal *sb = mallocCheck(sizeof(SubVal) * (size_t)(r->arms[b].n + 1));
        int32_t na = subject_means(&r->arms[a], roi, sa), nb = subject_means(&r->arms[b], roi, sb), m = 0;
        double *d = mallocCheck(sizeof(double) * (size_t)(na + 1)),
               *va = mallocCheck(sizeof(double) * (size_t)(na + 1)),
               *vb = mallocCheck(sizeof(double) * (size_t)(na + 1));
        for (int32_t i = 0, j = 0; i < na && j < nb;) {
          if (sa[i].subject < sb[j].subject) i++;
          else if (sa[i].subject > sb[j].subject) j++;
          else va[m] = sa[i].v, vb[m] = sb[j].v, d[m] = sa[i].v - sb[j].v, m++, i++, j++;
        }
        C->nsub[roi] = m;
        C->mean_a[roi] = stats_nanmean(va, m), C->mean_b[roi] = stats_nanmean(vb, m);
        C->diff[roi] = stats_nanmean(d, m);
        stats_wilcoxon(d, m, &C->w[roi]);
        p[roi] = C->w[roi].p;
        stats_bootstrap_mean_ci(d, m, r->o->bootstrap, r->o->seed + 1000003ull * (uint64_t)(r->ncmp * 16 + roi), 0.95,
                                &C->lo[roi], &C->hi[roi]);
        free(sa), free(sb), free(d), free(va), free(vb);
      }
      stats_holm(p + 1, LABEL_MAX, C->p_holm + 1);
    }
  TextBuf csv;
  FILE *f = textbuf_open(&csv);
  FILE *h = r->html;
  fprintf(f, "comparison,arm_a,arm_b,roi,roi_key,subjects,dice_a,dice_b,mean_diff,ci95_lo,ci95_hi,w_plus,w_minus,"
             "p_wilcoxon,exact,p_holm\n");
  fprintf(h, "<h3>Paired subject-level comparisons (Dice)</h3>\n<p>Arms whose names differ in one token. Subject = "
             "mean Dice over its test slices (all seeds). Wilcoxon signed-rank (two-sided, exact for n &le; 50 without "
             "ties/zeros), Holm-corrected across the 8 ROIs; bootstrap 95 %% CI (%d resamples) of the mean difference "
             "A - B.</p>\n",
          r->o->bootstrap);
  if (!r->ncmp) fprintf(h, "<p>No pair of arms differs in exactly one name token: nothing compared.</p>\n");
  for (int32_t i = 0; i < r->ncmp; i++) {
    const Compare *C = &r->cmp[i];
    const char *A = r->arms[C->a].name, *B = r->arms[C->b].name;
    fprintf(h, "<table><caption>%s: A = %s, B = %s</caption><tr><th>ROI</th><th>subjects</th><th>Dice A</th>"
               "<th>Dice B</th><th>A - B [95%% CI]</th><th>p</th><th>p Holm</th></tr>\n",
            C->label, A, B);
    for (int roi = 1; roi < LABEL_COUNT; roi++) {
      fprintf(f, "%s,%s,%s,%d,%s,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%d,%.6g\n", C->label, A, B, roi,
              LABEL_KEYS[roi], (long long)C->nsub[roi], C->mean_a[roi], C->mean_b[roi], C->diff[roi], C->lo[roi],
              C->hi[roi], C->w[roi].w_plus, C->w[roi].w_minus, C->w[roi].p, C->w[roi].exact, C->p_holm[roi]);
      fprintf(h, "<tr><td>%s</td><td>%lld</td><td>%.3f</td><td>%.3f</td><td>%+.3f [%+.3f, %+.3f]</td><td>%.3g</td>"
                 "<td>%s%.3g</td></tr>\n",
              LABEL_NAMES[roi], (long long)C->nsub[roi], C->mean_a[roi], C->mean_b[roi], C->diff[roi], C->lo[roi],
              C->hi[roi], C->w[roi].p, C->p_holm[roi] < 0.05 ? "<b>*</b> " : "", C->p_holm[roi]);
    }
    fprintf(h, "</table>\n");
  }
  text_commit(&csv, r, "stats.csv");
}

/* ------------------------------------------------------------- figures -- */

static void html_png(Report *r, Plot *p, const char *file, const char *caption);

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
  html_png(r, &p, file, title);
  plot_free(&p);
}

static void fig_fa_corr(Report *r, const Arm *A, const char *file) {
  Plot p;
  plot_init(&p, 560, 520);
  const char *lab[LABEL_MAX];
  for (int i = 0; i < LABEL_MAX; i++) lab[i] = LABEL_KEYS[i + 1];
  char title[400];
  snprintf(title, sizeof title, "%s: Pearson r of mean FA", A->name);
  plot_text(&p, 280, 24, 14, 0.5, 0, "%s", title);
  plot_text(&p, 300, 58, 11, 0.5, 0, "reference (manual) ROI");
  plot_text(&p, 24, 290, 11, 0.5, -90, "predicted ROI");
  plot_heatmap(&p, 100, 80, 52, A->corr, LABEL_MAX, LABEL_MAX, lab, lab, -1, 1);
  html_png(r, &p, file, title);
  plot_free(&p);
}

static void fig_bland_altman(Report *r, const Arm *A, const char *file) {
  Plot p;
  const int32_t W = 1200, H = 560;
  plot_init(&p, W, H);
  char title[400];
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
  html_png(r, &p, file, title);
  plot_free(&p);
}

static void fig_curves(Report *r, const ReportRun *u) {
  char p[4400], err[4600], file[400], title[4800];
  rundir_path(p, sizeof p, u->ri.dir, "log.csv");
  TrainLog L;
  if (evalio_log_read(p, &L, err, sizeof err)) {
    fprintf(r->html, "<p class=warn>training curves of %s: %s</p>\n", u->id, err);
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
  html_png(r, &pl, file, title);
  plot_free(&pl);
  evalio_log_free(&L);
}

/* --------------------------------------------------------------- html -- */

static void base64(FILE *f, const unsigned char *b, size_t n) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) | (i + 2 < n ? b[i + 2] : 0);
    fputc(A[v >> 18 & 63], f), fputc(A[v >> 12 & 63], f);
    fputc(i + 1 < n ? A[v >> 6 & 63] : '=', f), fputc(i + 2 < n ? A[v & 63] : '=', f);
  }
}

/* writes OUT/file (when file != NULL) and embeds the PNG in the page */
static void html_png(Report *r, Plot *p, const char *file, const char *caption) {
  if (file) {
    char path[4400];
    out_path(r, path, sizeof path, file);
    plot_write_png(p, path);
  }
  size_t n;
  unsigned char *b = plot_png_bytes(p, &n);
  fprintf(r->html, "<figure><img alt=\"%s\" src=\"data:image/png;base64,", file ? file : "overlay");
  base64(r->html, b, n);
  fprintf(r->html, "\"><figcaption>%s%s%s</figcaption></figure>\n", caption, file ? " &mdash; " : "", file ? file : "");
  free(b);
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
    char p[4400], err[4600], cap[1200];
    snprintf(cap, sizeof cap, "%s: mean Dice %.3f &mdash; %s, subject %d, slice %d (store index %d)", what[k],
             rk[pick[k]].v, u->id, e->subject, e->slice, e->index);
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
      h5store_read_slices(&s, &e->index, 1, b0, NULL, ref);
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
      html_png(r, &pl, NULL, cap);
      plot_free(&pl);
      free(b0), free(ref), free(cb), free(cp), free(cr);
    }
    h5store_close(&s);
    free(idx), free(lab);
  }
  fprintf(r->html, "</div>\n");
  free(rk);
}

static void html_begin(Report *r) {
  r->html = textbuf_open(&r->html_text);
  fputs(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>cordseg report</title>\n<style>\n"
      "body{font-family:sans-serif;max-width:1300px;margin:1em auto;color:#222}\n"
      "table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border:1px solid #bbb;padding:2px 8px;"
      "text-align:right}td:first-child,th:first-child{text-align:left}caption{text-align:left;font-weight:bold}\n"
      ".warn{color:#a00}.ok{color:#070;text-align:left}td.warn{text-align:left}figure{display:inline-block;margin:.5em}"
      "img{max-width:100%}\n"
      ".qc figure{vertical-align:top;max-width:420px}\n</style></head><body>\n<h1>cordseg report</h1>\n",
      r->html);
}

static void html_runs(Report *r, const char *missing) {
  FILE *h = r->html;
  const ReportRun *first = NULL;
  for (int32_t i = 0; i < r->nruns && !first; i++)
    if (r->runs[i].status != RUN_UNREADABLE) first = &r->runs[i];
  fprintf(h, "<p>Study: ");
  for (int32_t i = 0; i < r->o->nstudies; i++) fprintf(h, "%s<code>%s</code>", i ? ", " : "", r->o->studies[i]);
  if (first)
    fprintf(h, ". Folds manifest <code>%s</code>, data checksum <code>%s</code>.", first->ri.folds_hash,
            first->ri.data_checksum);
  fprintf(h, "</p>\n<h2>Runs</h2>\n<table><tr><th>run</th><th>arm</th><th>fold</th><th>seed</th><th>commit</th>"
             "<th>test slices</th><th>status</th></tr>\n");
  for (int32_t i = 0; i < r->nruns; i++) {
    const ReportRun *u = &r->runs[i];
    fprintf(h,
            "<tr><td>%s</td><td>%s</td><td>%d</td><td>%lld</td><td>%s</td><td>%lld</td><td class=%s>%s%s%s</td></tr>\n",
            u->ri.dir, u->ri.arm, u->ri.fold, (long long)u->ri.seed, u->ri.git, (long long)u->n,
            u->status ? "warn" : "ok", STATUS_NAMES[u->status], u->status ? ": " : "", u->note);
  }
  fprintf(h, "</table>\n%s", missing);
}

/* missing (arm, fold, seed) cells: arms and seeds seen in readable runs,
 * folds 0..k-1 from the folds manifest (or the largest fold seen) */
static char *grid_missing(Report *r, int *count) {
  TextBuf t;
  FILE *f = textbuf_open(&t);
  *count = 0;
  int32_t k = 0, split = 0, any_cv = 0;
  const ReportRun *first = NULL;
  for (int32_t i = 0; i < r->nruns; i++) {
    const ReportRun *u = &r->runs[i];
    if (u->status == RUN_UNREADABLE) continue;
    if (!first) first = u;
    if (u->ri.fold < 0) split = 1;
    else any_cv = 1, k = u->ri.fold + 1 > k ? u->ri.fold + 1 : k;
  }
  if (first && any_cv && first->folds[0] && access(first->folds, R_OK) == 0) {
    Folds fo; /* the manifest's k (its hash verified) */
    folds_read(&fo, first->folds);
    if (fo.k > k) k = fo.k;
    folds_free(&fo);
  }
  fprintf(f, "<h2>Missing runs</h2>\n<ul>\n");
  for (int32_t i = 0; i < r->nruns; i++) {
    const ReportRun *ui = &r->runs[i];
    if (ui->status == RUN_UNREADABLE) continue;
    int dup_arm = 0;
    for (int32_t j = 0; j < i; j++)
      dup_arm |= r->runs[j].status != RUN_UNREADABLE && !strcmp(r->runs[j].ri.arm, ui->ri.arm);
    if (dup_arm) continue;
    for (int32_t s = 0; s < r->nruns; s++) {
      const ReportRun *us = &r->runs[s];
      int dup_seed = us->status == RUN_UNREADABLE;
      for (int32_t j = 0; j < s && !dup_seed; j++)
        dup_seed = r->runs[j].status != RUN_UNREADABLE && r->runs[j].ri.seed == us->ri.seed;
      if (dup_seed) continue;
      for (int32_t fo = split ? -1 : 0; fo < k; fo++) {
        if (fo < 0 && !split) continue;
        int have = 0;
        for (int32_t j = 0; j < r->nruns && !have; j++) {
          const ReportRun *u = &r->runs[j];
          have = u->status != RUN_UNREADABLE && !strcmp(u->ri.arm, ui->ri.arm) && u->ri.seed == us->ri.seed &&
                 u->ri.fold == fo;
        }
        if (!have) {
          fprintf(f, "<li class=warn>arm %s, fold %d, seed %lld: no run directory found</li>\n", ui->ri.arm, fo,
                  (long long)us->ri.seed);
          if (!r->o->quiet)
            fprintf(stderr, "report: missing: arm %s, fold %d, seed %lld\n", ui->ri.arm, fo, (long long)us->ri.seed);
          (*count)++;
        }
      }
    }
  }
  if (!*count) fprintf(f, "<li class=ok>none: every arm has every fold and seed</li>\n");
  fprintf(f, "</ul>\n");
  return textbuf_take(&t);
}

/* ---------------------------------------------------------------- main -- */

void report_options_default(ReportOptions *o) {
  memset(o, 0, sizeof *o);
  o->bootstrap = 10000;
  o->seed = 1;
}

int report_run(const ReportOptions *o) {
  double t0 = cs_now();
  Report R = {.o = o}, *r = &R;
  for (int32_t i = 0; i < o->nstudies; i++) {
    struct stat st;
    CS_CHECK(stat(o->studies[i], &st) == 0 && S_ISDIR(st.st_mode), "pass study directories holding run directories",
             "'%s' is not a directory", o->studies[i]);
    find_runs(r, o->studies[i], 0);
  }
  CS_CHECK(r->nruns > 0, "run `cordseg train --run-dir STUDY/ARM/foldK` first, or point at the right directory",
           "no run directory (one holding run.json) under the given study directories");
  for (int32_t i = 0; i < r->nruns; i++) load_run(&r->runs[i]);
  check_consistency(r);
  unique_ids(r);
  textio_mkdir_p(o->out, "choose a writable -o directory");

  int problems = 0;
  TextBuf runs;
  FILE *rc = textbuf_open(&runs);
  fprintf(rc, "run_dir,id,arm,fold,seed,git,status,test_slices,note\n");
  for (int32_t i = 0; i < r->nruns; i++) {
    const ReportRun *u = &r->runs[i];
    char note[9000];
    snprintf(note, sizeof note, "%s", u->note);
    for (char *c = note; *c; c++) *c = *c == ',' ? ';' : *c;
    fprintf(rc, "%s,%s,%s,%d,%lld,%s,%s,%lld,%s\n", u->ri.dir, u->id, u->ri.arm, u->ri.fold, (long long)u->ri.seed,
            u->ri.git, STATUS_NAMES[u->status], (long long)u->n, note);
    if (u->status) {
      problems++;
      if (!o->quiet) fprintf(stderr, "report: %s: %s: %s\n", u->ri.dir, STATUS_NAMES[u->status], u->note);
    }
  }
  text_commit(&runs, r, "runs.csv");

  build_arms(r);
  html_begin(r);
  int nmissing = 0;
  char *missing = grid_missing(r, &nmissing);
  html_runs(r, missing);
  free(missing);
  if (!o->quiet)
    printf("report: %d runs found, %d aggregated into %d arms, %d listed as problems, %d grid cells missing\n",
           r->nruns, r->nruns - problems, r->narms, problems, nmissing);

  fprintf(r->html, "<h2>Tables</h2>\n");
  write_tables(r);
  fprintf(r->html, "<h2>Statistics</h2>\n");
  compute_stats(r);

  fprintf(r->html, "<h2>Figures</h2>\n");
  int32_t *all = mallocCheck(sizeof(int32_t) * (size_t)(r->narms + 1));
  for (int32_t a = 0; a < r->narms; a++) all[a] = a;
  if (r->narms) fig_dice_bars(r, all, r->narms, NULL, "fig_dice_by_arm.png", "per-ROI Dice of every arm");
  free(all);
  for (int32_t i = 0; i < r->ncmp; i++) {
    const Compare *C = &r->cmp[i];
    char file[700];
    snprintf(file, sizeof file, "fig_compare_%s_vs_%s.png", r->arms[C->a].name, r->arms[C->b].name);
    file_safe(file + 12); /* keeps '.', '-' */
    int32_t two[2] = {C->a, C->b};
    fig_dice_bars(r, two, 2, C, file, C->label);
  }
  for (int32_t a = 0; a < r->narms; a++) {
    char safe[300], file[400];
    snprintf(safe, sizeof safe, "%s", r->arms[a].name);
    file_safe(safe);
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
  fprintf(r->html, "<hr><p>written by cordseg report in %.1f s</p>\n</body></html>\n", cs_now() - t0);
  char p[4400];
  out_path(r, p, sizeof p, "index.html");
  textbuf_commit(&r->html_text, p);
  if (!o->quiet)
    printf("report: %s (tables.md/.csv/.tex, stats.csv, runs.csv, PNG figures) in %.1f s\n", p, cs_now() - t0);

  for (int32_t i = 0; i < r->nruns; i++) free(r->runs[i].s);
  for (int32_t a = 0; a < r->narms; a++) free(r->arms[a].s), free(r->arms[a].run_of);
  free(r->runs), free(r->arms), free(r->cmp);
  return problems + nmissing;
}
