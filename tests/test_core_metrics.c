/* tests/test_core_metrics.c: core/metrics.h against brute force:
 *   per-ROI TP/FP/FN, Dice, IoU, Recall, Precision, areas, FA means and FA
 *   error, laterality on random label maps, computed pixel by pixel per ROI
 *   with plain boolean loops; the empty-reference / empty-prediction policy
 *   on hand-made slices;
 *   the anisotropic EDT against the O(n^2) minimum over seeds;
 *   HD95 against all-pairs boundary distances (+ a hand-computed case);
 *   the histogram threshold search against the 1001-threshold brute force
 *   (with probabilities exactly on threshold values);
 *   metrics_summarize (outliers removed, outlier %, swap rate) by hand. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/metrics.h"
#include "core/stats.h"
#include "io/labels.h"
#include "tests/testutil.h"

enum { H = 24, W = 20, K = 9 };

static int same(double a, double b) { return (isnan(a) && isnan(b)) || fabs(a - b) <= 1e-12 * fmax(1, fabs(b)); }

/* random blobs of each class, some classes absent from pred or ref */
static void random_labels(Rng *r, uint8_t *m, int drop) {
  memset(m, 0, H * W);
  for (int c = 1; c < K; c++) {
    if (drop && rng_below(r, 4) == 0) continue;
    int cy = (int)rng_below(r, H), cx = (int)rng_below(r, W), ry = 1 + (int)rng_below(r, 5),
        rx = 1 + (int)rng_below(r, 5);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        if ((double)(y - cy) * (y - cy) / (ry * ry) + (double)(x - cx) * (x - cx) / (rx * rx) <= 1 &&
            rng_uniform(r) < 0.9)
          m[y * W + x] = (uint8_t)c;
  }
}

static int on_boundary(const uint8_t *m, int c, int y, int x) {
  if (m[y * W + x] != c) return 0;
  const int dy[4] = {-1, 1, 0, 0}, dx[4] = {0, 0, -1, 1};
  for (int d = 0; d < 4; d++) {
    int yy = y + dy[d], xx = x + dx[d];
    if (yy < 0 || yy >= H || xx < 0 || xx >= W || m[yy * W + xx] != c) return 1;
  }
  return 0;
}

static double brute_hd95(const uint8_t *a, const uint8_t *b, int c, double sy, double sx) {
  double *d = mallocCheck(sizeof(double) * 2 * H * W);
  int n = 0;
  for (int pass = 0; pass < 2; pass++) {
    const uint8_t *from = pass ? b : a, *to = pass ? a : b;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        if (!on_boundary(from, c, y, x)) continue;
        double best = INFINITY;
        for (int v = 0; v < H; v++)
          for (int u = 0; u < W; u++)
            if (on_boundary(to, c, v, u)) best = fmin(best, hypot((y - v) * sy, (x - u) * sx));
        d[n++] = best;
      }
  }
  /* numpy.percentile(d, 95), linear: sort, pos = 0.95 (n - 1) */
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && d[j - 1] > d[j]; j--) {
      double t = d[j];
      d[j] = d[j - 1], d[j - 1] = t;
    }
  double v = NAN;
  if (n > 0 && !isinf(d[0])) {
    double pos = 0.95 * (n - 1);
    int lo = (int)pos;
    v = lo + 1 < n ? d[lo] + (d[lo + 1] - d[lo]) * (pos - lo) : d[lo];
  }
  free(d);
  return v;
}

static void check_slice_brute(Rng *r, int trial) {
  uint8_t pred[H * W], ref[H * W];
  float fa[H * W];
  random_labels(r, pred, 1);
  random_labels(r, ref, 1);
  for (int i = 0; i < H * W; i++) fa[i] = (float)rng_uniform(r);
  const float sp[2] = {0.625f, 0.5f};
  RoiMetrics m[K];
  metrics_slice(pred, ref, fa, H, W, sp, K, LABEL_LR_SWAP, m);
  int ok = 1;
  for (int c = 1; c < K; c++) {
    long tp = 0, fp = 0, fn = 0, np = 0, nr = 0, cross = 0;
    double sp_fa = 0, sr_fa = 0;
    for (int i = 0; i < H * W; i++) {
      int P = pred[i] == c, R = ref[i] == c;
      tp += P && R, fp += P && !R, fn += !P && R, np += P, nr += R;
      sp_fa += P ? fa[i] : 0, sr_fa += R ? fa[i] : 0;
      cross += P && ref[i] == LABEL_LR_SWAP[c];
    }
    double dice = (tp + fp + fn) ? 2.0 * tp / (2.0 * tp + fp + fn) : NAN;
    double iou = (tp + fp + fn) ? (double)tp / (double)(tp + fp + fn) : NAN;
    double rec = nr ? (double)tp / nr : NAN, prec = np ? (double)tp / np : NAN;
    double fap = np ? sp_fa / np : NAN, far = nr ? sr_fa / nr : NAN;
    double err = (np && nr) ? 100 * fabs(fap - far) / far : NAN;
    double hd = (np && nr) ? brute_hd95(pred, ref, c, sp[0], sp[1]) : NAN;
    const RoiMetrics *q = &m[c];
    int this_ok = q->tp == tp && q->fp == fp && q->fn == fn && q->pred_px == np && q->ref_px == nr &&
                  same(q->dice, dice) && same(q->iou, iou) && same(q->recall, rec) && same(q->precision, prec) &&
                  same(q->fa_pred, fap) && same(q->fa_ref, far) && same(q->fa_err_pct, err) &&
                  (isnan(hd) ? isnan(q->hd95_mm) : fabs(q->hd95_mm - hd) < 1e-9) &&
                  q->outlier == (nr > 0 && np == 0) && q->lr_cross_px == cross && q->lr_swap == (cross > tp) &&
                  same(q->ref_mm2, nr * 0.625 * 0.5);
    if (!this_ok)
      fprintf(stderr, "trial %d class %d: tp %lld/%ld dice %g/%g hd %g/%g\n", trial, c, (long long)q->tp, tp, q->dice,
              dice, q->hd95_mm, hd);
    ok &= this_ok;
  }
  T_CHECK(ok, "trial %d: every ROI metric equals brute force", trial);
}

static void check_policy(void) {
  uint8_t pred[H * W] = {0}, ref[H * W] = {0};
  float fa[H * W];
  for (int i = 0; i < H * W; i++) fa[i] = 0.5f;
  /* class 1: only in ref (outlier); class 2: only in pred; class 3: neither; class 4: both, FA 0.6 vs 0.5 */
  ref[0] = 1, ref[1] = 1;
  pred[50] = 2;
  pred[100] = pred[101] = 4, ref[100] = 4;
  fa[101] = 0.7f;
  const float sp[2] = {1, 1};
  RoiMetrics m[K];
  metrics_slice(pred, ref, fa, H, W, sp, K, LABEL_LR_SWAP, m);
  T_CHECK(m[1].dice == 0 && m[1].iou == 0 && m[1].recall == 0 && isnan(m[1].precision) && isnan(m[1].hd95_mm) &&
              m[1].outlier && isnan(m[1].fa_pred) && isnan(m[1].fa_err_pct),
          "ref only: Dice/IoU/Recall 0, Precision/HD95/FA NaN, outlier");
  T_CHECK(m[2].dice == 0 && m[2].precision == 0 && isnan(m[2].recall) && !m[2].outlier && isnan(m[2].fa_ref),
          "pred only: Dice/Precision 0, Recall NaN, not an outlier");
  T_CHECK(isnan(m[3].dice) && isnan(m[3].iou) && isnan(m[3].recall) && isnan(m[3].precision) && !m[3].outlier,
          "neither: every ratio NaN");
  /* class 4: tp 1 fp 1 fn 0: Dice 2/3, IoU 1/2; FA pred (0.5+0.7)/2 = 0.6, ref 0.5 -> 20 % */
  T_CHECK(same(m[4].dice, 2.0 / 3) && same(m[4].iou, 0.5) && fabs(m[4].fa_err_pct - 20) < 1e-5,
          "both: Dice 2/3, IoU 1/2, FA error 20 %% (got %g)", m[4].fa_err_pct);
  /* hand HD95: single pixels 3 columns apart, column spacing 0.5 mm -> 1.5 mm */
  uint8_t a[H * W] = {0}, b[H * W] = {0};
  a[5 * W + 4] = 1, b[5 * W + 7] = 1;
  T_CHECK(fabs(metrics_hd95(a, 1, b, 1, H, W, 0.8, 0.5) - 1.5) < 1e-12, "HD95 of two points = 1.5 mm");
  /* laterality: pred calls the reference's right dorsal column (5) 'left' (1) */
  memset(pred, 0, sizeof pred), memset(ref, 0, sizeof ref);
  for (int i = 0; i < 6; i++) ref[i] = 5, pred[i] = 1;
  ref[6] = 1, pred[6] = 1;
  metrics_slice(pred, ref, fa, H, W, sp, K, LABEL_LR_SWAP, m);
  T_CHECK(m[1].lr_cross_px == 6 && m[1].lr_swap == 1 && m[1].tp == 1, "left ROI over the right reference: swap");
}

static void check_edt(Rng *r) {
  uint8_t seed[H * W];
  double d[H * W];
  int ok = 1;
  for (int trial = 0; trial < 20; trial++) {
    double density = trial == 0 ? 0 : rng_uniform(r) * 0.1;
    for (int i = 0; i < H * W; i++) seed[i] = rng_uniform(r) < density;
    if (trial == 1) memset(seed, 0, sizeof seed), seed[3] = 1;
    double sy = 0.3 + rng_uniform(r), sx = 0.3 + rng_uniform(r);
    metrics_edt_sq(seed, H, W, sy, sx, d);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        double best = INFINITY;
        for (int v = 0; v < H; v++)
          for (int u = 0; u < W; u++)
            if (seed[v * W + u]) best = fmin(best, ((y - v) * sy) * ((y - v) * sy) + ((x - u) * sx) * ((x - u) * sx));
        double got = d[y * W + x];
        if (!((isinf(best) && isinf(got)) || fabs(got - best) <= 1e-9 * fmax(1, best))) ok = 0;
      }
  }
  T_CHECK(ok, "anisotropic EDT equals the brute-force minimum (incl. no seed = +inf)");
}

static void check_thresholds(Rng *r) {
  enum { NS = 5, HW = 300, KT = 4 };
  float *probs = mallocCheck(sizeof(float) * NS * KT * HW);
  uint8_t *ref = mallocCheck(NS * HW);
  for (int s = 0; s < NS; s++)
    for (int i = 0; i < HW; i++) {
      uint8_t y = (uint8_t)rng_below(r, KT);
      if (s == 0 && y == 3) y = 0; /* keep class 3 rare */
      ref[s * HW + i] = y;
      for (int c = 0; c < KT; c++) {
        double p = (c == y ? 0.55 : 0.25) + 0.45 * (rng_uniform(r) - 0.5);
        if (rng_below(r, 5) == 0) p = rng_below(r, 1001) / 1000.0; /* exactly on a threshold */
        if (rng_below(r, 97) == 0) p = rng_below(r, 2);              /* exact 0 or 1 */
        probs[((size_t)s * KT + c) * HW + i] = (float)p;
      }
    }
  ThreshHist th;
  metrics_hist_init(&th, KT);
  for (int s = 0; s < NS; s++) metrics_hist_add(&th, probs + (size_t)s * KT * HW, ref + s * HW, HW);
  double thr[KT], dice[KT];
  metrics_hist_best(&th, thr, dice);
  metrics_hist_free(&th);
  for (int c = 1; c < KT; c++) {
    double best = -1;
    int bi = -1;
    for (int i = 0; i <= 1000; i++) {
      double t = i / 1000.0;
      long tp = 0, fp = 0, fn = 0;
      for (int s = 0; s < NS; s++)
        for (int j = 0; j < HW; j++) {
          int P = (double)probs[((size_t)s * KT + c) * HW + j] >= t, R = ref[s * HW + j] == c;
          tp += P && R, fp += P && !R, fn += !P && R;
        }
      double d = (tp + fp + fn) ? 2.0 * tp / (2.0 * tp + fp + fn) : NAN;
      if (!isnan(d) && d > best) best = d, bi = i;
    }
    printf("class %d: threshold %.3f (brute %.3f), Dice %.6f (brute %.6f)\n", c, thr[c], bi / 1000.0, dice[c], best);
    T_CHECK(thr[c] == bi / 1000.0 && dice[c] == best, "class %d: histogram search = 1001-threshold brute force", c);
  }
  /* labels from thresholds, checked per pixel */
  uint8_t lab[HW];
  metrics_labels_threshold(probs, KT, HW, thr, lab);
  int ok = 1;
  for (int j = 0; j < HW; j++) {
    int want = 0;
    float bp = -1;
    for (int c = 1; c < KT; c++) {
      float p = probs[(size_t)c * HW + j];
      if ((double)p >= thr[c] && p > bp) want = c, bp = p;
    }
    ok &= lab[j] == want;
  }
  T_CHECK(ok, "threshold labels: largest passing class, else background");
  metrics_labels_argmax(probs, KT, HW, lab);
  ok = 1;
  for (int j = 0; j < HW; j++)
    for (int c = 0; c < KT; c++) ok &= probs[(size_t)c * HW + j] <= probs[(size_t)lab[j] * HW + j];
  T_CHECK(ok, "argmax labels pick a maximum");
  /* a class absent from the validation reference: the default 0.5, Dice NaN (t = 0 would predict it everywhere) */
  float z[2 * 4] = {1, 1, 1, 1, 0, 0, 0, 0};
  uint8_t zr[4] = {0};
  metrics_hist_init(&th, 2);
  metrics_hist_add(&th, z, zr, 4);
  double t2[2], d2[2];
  metrics_hist_best(&th, t2, d2);
  metrics_hist_free(&th);
  T_CHECK(t2[1] == 0.5 && isnan(d2[1]), "absent class: threshold 0.5, Dice NaN (got t %g d %g)", t2[1], d2[1]);
  free(probs), free(ref);
}

static void check_summary(void) {
  /* 4 slices of one ROI (stride 2, roi 1): dice .8 / outlier 0 / NaN (absent) / .6 */
  RoiMetrics m[8];
  memset(m, 0, sizeof m);
  for (int i = 0; i < 4; i++) m[2 * i + 1].fa_pred = m[2 * i + 1].fa_ref = m[2 * i + 1].fa_err_pct = NAN;
  m[1] = (RoiMetrics){.dice = 0.8, .recall = 0.9, .precision = 0.7, .ref_px = 10, .pred_px = 9, .iou = NAN,
                      .hd95_mm = 1, .fa_pred = 0.5, .fa_ref = 0.4, .fa_err_pct = 25, .lr_swap = 1};
  m[3] = (RoiMetrics){.dice = 0, .recall = 0, .precision = NAN, .ref_px = 5, .outlier = 1, .iou = 0, .hd95_mm = NAN,
                      .fa_pred = NAN, .fa_ref = 0.4, .fa_err_pct = NAN};
  m[5] = (RoiMetrics){.dice = NAN, .recall = NAN, .precision = NAN, .iou = NAN, .hd95_mm = NAN, .fa_pred = NAN,
                      .fa_ref = NAN, .fa_err_pct = NAN};
  m[7] = (RoiMetrics){.dice = 0.6, .recall = 0.5, .precision = 0.9, .ref_px = 8, .pred_px = 7, .iou = NAN,
                      .hd95_mm = 3, .fa_pred = 0.3, .fa_ref = 0.4, .fa_err_pct = 25};
  RoiSummary s;
  metrics_summarize(m, 4, 2, 1, &s);
  /* all: dice (.8 + 0 + .6)/3; no outliers: (.8 + .6)/2 = .7, SD sqrt(.02); outliers 1 of 3 ref slices */
  T_CHECK(same(s.dice_mean, 1.4 / 3) && same(s.dice_mean_no, 0.7) && fabs(s.dice_sd_no - sqrt(0.02)) < 1e-12 &&
              same(s.outlier_pct, 100.0 / 3) && s.ref_slices == 3 && s.pred_slices == 2,
          "summary: dice %g, no-outlier %g (SD %g), outlier %% %g", s.dice_mean, s.dice_mean_no, s.dice_sd_no,
          s.outlier_pct);
  T_CHECK(same(s.recall_mean_no, 0.7) && same(s.precision_mean, 0.8) && same(s.hd95_mean, 2) &&
              same(s.fa_err_mean, 25) && same(s.swap_rate, 50) && s.swap_slices == 1 && isnan(s.pair_swap_rate) &&
              same(s.ba_bias, 0) && same(s.ba_hi, 1.96 * sqrt(0.02)),
          "summary: recall/precision/HD95/FA error/swap rate/Bland-Altman by hand");
}

/* metrics_cord_ratio on drawn ellipses of known axes: semi-axes a (rows,
 * anterior-posterior) and b (columns, left-right) in pixels, anisotropic
 * spacing; the extents of a rasterised ellipse are its diameters within one
 * pixel, so the ratio lies between (2a-1)sy/((2b+1)sx) and (2a+1)sy/((2b-1)sx).
 * The cord is the union of labels 1..K-1 (here split into two ROIs); labels
 * >= K and background do not count; no cord: NaN. */
static void check_cord_ratio(void) {
  enum { CH = 40, CW = 40 };
  static uint8_t m[CH * CW];
  const struct { double a, b, cy, cx; float sy, sx; } E[] = {
      {5, 9, 15.3, 15.7, 0.5f, 0.5f}, {9, 5, 16, 16, 0.5f, 0.5f}, {4, 12, 14.5, 16.2, 1.0f, 0.625f},
      {7.5, 7.5, 16, 15, 0.8f, 0.8f}, {6.3, 14.8, 20.4, 19.6, 0.9f, 0.7f}};
  for (size_t e = 0; e < sizeof E / sizeof E[0]; e++) {
    memset(m, 0, sizeof m);
    for (int y = 0; y < CH; y++)
      for (int x = 0; x < CW; x++) {
        const double dy = (y - E[e].cy) / E[e].a, dx = (x - E[e].cx) / E[e].b;
        if (dy * dy + dx * dx <= 1) m[y * CW + x] = x < E[e].cx ? 1 : 5; /* two ROIs: the union is the cord */
      }
    m[0] = 9; /* not a label of K = 9 classes: ignored */
    const float sp[2] = {E[e].sy, E[e].sx};
    const double r = metrics_cord_ratio(m, CH, CW, sp, 9);
    const double lo = (2 * E[e].a - 1) * E[e].sy / ((2 * E[e].b + 1) * E[e].sx),
                 hi = (2 * E[e].a + 1) * E[e].sy / ((2 * E[e].b - 1) * E[e].sx),
                 want = E[e].a * E[e].sy / (E[e].b * E[e].sx);
    T_CHECK(r >= lo && r <= hi, "ellipse %zu (a %g b %g px, %g x %g mm): ratio %.4f, true %.4f, within a pixel [%.4f, %.4f]",
            e, E[e].a, E[e].b, E[e].sy, E[e].sx, r, want, lo, hi);
  }
  memset(m, 0, sizeof m);
  const float sp[2] = {1, 1};
  T_CHECK(isnan(metrics_cord_ratio(m, CH, CW, sp, 9)), "no cord: ratio NaN");
}

int main(void) {
  Rng r;
  rng_init(&r, 2023);
  for (int t = 0; t < 25; t++) check_slice_brute(&r, t);
  check_policy();
  check_edt(&r);
  check_thresholds(&r);
  check_summary();
  check_cord_ratio();
  return t_finish("test_core_metrics");
}
