/* core/metrics.c: per-slice ROI metrics, HD95 over an anisotropic exact EDT,
 * aggregation over slices, and the histogram threshold search of
 * core/metrics.h. */
#include "core/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/stats.h"

static double ratio(double num, double den) { return den > 0 ? num / den : NAN; }

void metrics_slice(const uint8_t *pred, const uint8_t *ref, const float *fa, int32_t h, int32_t w,
                   const float spacing[2], int32_t k, const uint8_t *mirror, RoiMetrics *out) {
  CS_CHECK(k >= 2 && k <= 256 && h > 0 && w > 0, "pass K in 2..256 and a non-empty slice",
           "metrics_slice: K=%d H=%d W=%d", (int)k, (int)h, (int)w);
  memset(out, 0, sizeof(RoiMetrics) * (size_t)k);
  const int64_t hw = (int64_t)h * w;
  /* confusion[p][r] pixel counts, FA sums per predicted and reference class */
  int64_t *conf = callocCheck((size_t)k * k, sizeof(int64_t));
  for (int64_t i = 0; i < hw; i++) {
    CS_CHECK(pred[i] < k && ref[i] < k, "labels must lie in 0..K-1",
             "metrics_slice: pixel %lld has pred %d / ref %d with K=%d", (long long)i, pred[i], ref[i], (int)k);
    conf[(size_t)pred[i] * k + ref[i]]++;
  }
  const double px_mm2 = (double)spacing[0] * spacing[1];
  for (int32_t c = 1; c < k; c++) {
    RoiMetrics *m = &out[c];
    for (int32_t j = 0; j < k; j++) m->pred_px += conf[(size_t)c * k + j], m->ref_px += conf[(size_t)j * k + c];
    m->tp = conf[(size_t)c * k + c];
    m->fp = m->pred_px - m->tp;
    m->fn = m->ref_px - m->tp;
    m->ref_mm2 = (double)m->ref_px * px_mm2;
    m->pred_mm2 = (double)m->pred_px * px_mm2;
    m->dice = ratio(2.0 * m->tp, 2.0 * m->tp + m->fp + m->fn);
    m->iou = ratio((double)m->tp, (double)(m->tp + m->fp + m->fn));
    m->recall = ratio((double)m->tp, (double)m->ref_px);
    m->precision = ratio((double)m->tp, (double)m->pred_px);
    m->outlier = m->ref_px > 0 && m->pred_px == 0;
    m->hd95_mm =
        (m->ref_px && m->pred_px) ? metrics_hd95(pred, (uint8_t)c, ref, (uint8_t)c, h, w, spacing[0], spacing[1]) : NAN;
    if (mirror && mirror[c] < k && mirror[c] != c) {
      m->lr_cross_px = conf[(size_t)c * k + mirror[c]];
      m->lr_swap = m->lr_cross_px > m->tp;
    }
  }
  free(conf);
  metrics_slice_fa(pred, ref, fa, hw, k, out);
}

void metrics_slice_fa(const uint8_t *pred, const uint8_t *ref, const float *fa, int64_t hw, int32_t k,
                      RoiMetrics *out) {
  double *sum = callocCheck(2 * (size_t)k, sizeof(double)), *fa_p = sum, *fa_r = sum + k; /* FA sums */
  int64_t *cnt = callocCheck(2 * (size_t)k, sizeof(int64_t)), *n_p = cnt, *n_r = cnt + k; /* pixels */
  for (int64_t i = 0; i < hw; i++) {
    CS_CHECK(pred[i] < k && ref[i] < k, "labels must lie in 0..K-1",
             "metrics_slice_fa: pixel %lld has pred %d / ref %d with K=%d", (long long)i, pred[i], ref[i], (int)k);
    n_p[pred[i]]++, n_r[ref[i]]++;
    if (fa) fa_p[pred[i]] += fa[i], fa_r[ref[i]] += fa[i];
  }
  for (int32_t c = 1; c < k; c++) {
    RoiMetrics *m = &out[c];
    m->fa_pred = fa ? ratio(fa_p[c], (double)n_p[c]) : NAN;
    m->fa_ref = fa ? ratio(fa_r[c], (double)n_r[c]) : NAN;
    m->fa_err_pct = (m->fa_ref > 0 && !isnan(m->fa_pred)) ? 100.0 * fabs(m->fa_pred - m->fa_ref) / m->fa_ref : NAN;
  }
  free(sum), free(cnt);
}

double metrics_roi_mean(const double *v, int32_t k) {
  double s = 0;
  int32_t n = 0;
  for (int32_t c = 1; c < k; c++)
    if (!isnan(v[c])) s += v[c], n++;
  return n ? s / n : NAN;
}

double metrics_cord_ratio(const uint8_t *labels, int32_t h, int32_t w, const float spacing[2], int32_t k) {
  int32_t r0 = h, r1 = -1, c0 = w, c1 = -1;
  for (int32_t r = 0; r < h; r++)
    for (int32_t x = 0; x < w; x++) {
      const uint8_t l = labels[(int64_t)r * w + x];
      if (l == 0 || l >= k) continue;
      r0 = r < r0 ? r : r0, r1 = r > r1 ? r : r1, c0 = x < c0 ? x : c0, c1 = x > c1 ? x : c1;
    }
  if (r1 < 0) return NAN;
  return (double)(r1 - r0 + 1) * spacing[0] / ((double)(c1 - c0 + 1) * spacing[1]);
}

/* one separable pass of the lower envelope of parabolas f(q) + (s (p - q))^2
 * over n samples at stride `step` (Felzenszwalb & Huttenlocher 2012) */
static void edt_pass(double *d, int32_t n, int64_t step, double s, double *f, int32_t *v, double *z) {
  const double s2 = s * s;
  for (int32_t q = 0; q < n; q++) f[q] = d[q * step];
  int32_t k = -1;
  for (int32_t q = 0; q < n; q++) {
    if (isinf(f[q])) continue;
    for (;;) {
      if (k < 0) {
        k = 0, v[0] = q, z[0] = -INFINITY;
        break;
      }
      double x = ((f[q] + s2 * q * q) - (f[v[k]] + s2 * (double)v[k] * v[k])) / (2 * s2 * (q - v[k]));
      if (x <= z[k]) {
        k--;
        continue;
      }
      k++, v[k] = q, z[k] = x;
      break;
    }
  }
  if (k < 0) return; /* no finite sample: stays +inf */
  z[k + 1] = INFINITY;
  int32_t j = 0;
  for (int32_t q = 0; q < n; q++) {
    while (z[j + 1] < q) j++;
    double dq = s * (q - v[j]);
    d[q * step] = dq * dq + f[v[j]];
  }
}

void metrics_edt_sq(const uint8_t *seed, int32_t h, int32_t w, double sy, double sx, double *out) {
  int32_t n = h > w ? h : w;
  double *f = mallocCheck(sizeof(double) * (size_t)n), *z = mallocCheck(sizeof(double) * (size_t)(n + 1));
  int32_t *v = mallocCheck(sizeof(int32_t) * (size_t)n);
  for (int64_t i = 0; i < (int64_t)h * w; i++) out[i] = seed[i] ? 0 : INFINITY;
  for (int32_t c = 0; c < w; c++) edt_pass(out + c, h, w, sy, f, v, z);
  for (int32_t r = 0; r < h; r++) edt_pass(out + (int64_t)r * w, w, 1, sx, f, v, z);
  free(f), free(z), free(v);
}

/* boundary of (m == c): mask pixels with a 4-neighbour outside the mask or the image */
static int64_t mask_boundary(const uint8_t *m, uint8_t c, int32_t h, int32_t w, uint8_t *out) {
  int64_t n = 0;
  for (int32_t r = 0; r < h; r++)
    for (int32_t x = 0; x < w; x++) {
      int64_t i = (int64_t)r * w + x;
      int in = m[i] == c;
      out[i] = in && (r == 0 || r == h - 1 || x == 0 || x == w - 1 || m[i - w] != c || m[i + w] != c ||
                      m[i - 1] != c || m[i + 1] != c);
      n += out[i];
    }
  return n;
}

double metrics_hd95(const uint8_t *a, uint8_t ca, const uint8_t *b, uint8_t cb, int32_t h, int32_t w, double sy,
                    double sx) {
  const int64_t hw = (int64_t)h * w;
  uint8_t *ba = mallocCheck((size_t)hw), *bb = mallocCheck((size_t)hw);
  int64_t na = mask_boundary(a, ca, h, w, ba), nb = mask_boundary(b, cb, h, w, bb);
  if (!na || !nb) return free(ba), free(bb), NAN;
  double *da = mallocCheck(sizeof(double) * (size_t)hw), *db = mallocCheck(sizeof(double) * (size_t)hw);
  double *d = mallocCheck(sizeof(double) * (size_t)(na + nb));
  metrics_edt_sq(ba, h, w, sy, sx, da);
  metrics_edt_sq(bb, h, w, sy, sx, db);
  int64_t m = 0;
  for (int64_t i = 0; i < hw; i++) {
    if (ba[i]) d[m++] = sqrt(db[i]);
    if (bb[i]) d[m++] = sqrt(da[i]);
  }
  double v = stats_percentile(d, m, 95.0);
  free(ba), free(bb), free(da), free(db), free(d);
  return v;
}

void metrics_summarize(const RoiMetrics *m, int64_t nslices, int32_t stride, int32_t roi, RoiSummary *o) {
  memset(o, 0, sizeof *o);
  o->slices = nslices;
  size_t n = (size_t)(nslices > 0 ? nslices : 1);
  enum { DICE, IOU, REC, PREC, HD, DICE_NO, REC_NO, PREC_NO, FAERR, NCOL };
  double *col[NCOL];
  for (int j = 0; j < NCOL; j++) col[j] = mallocCheck(sizeof(double) * n);
  double *pair = mallocCheck(sizeof(double) * 2 * n), *fp = mallocCheck(sizeof(double) * n),
         *fr = mallocCheck(sizeof(double) * n);
  int64_t outliers = 0, swaps = 0;
  for (int64_t i = 0; i < nslices; i++) {
    const RoiMetrics *r = &m[i * stride + roi];
    col[DICE][i] = r->dice, col[IOU][i] = r->iou, col[REC][i] = r->recall, col[PREC][i] = r->precision;
    col[HD][i] = r->hd95_mm, col[FAERR][i] = r->fa_err_pct;
    col[DICE_NO][i] = r->outlier ? NAN : r->dice;
    col[REC_NO][i] = r->outlier ? NAN : r->recall;
    col[PREC_NO][i] = r->outlier ? NAN : r->precision;
    pair[2 * i] = fp[i] = r->fa_pred, pair[2 * i + 1] = fr[i] = r->fa_ref;
    o->ref_slices += r->ref_px > 0;
    o->pred_slices += r->pred_px > 0;
    outliers += r->outlier;
    swaps += r->pred_px > 0 && r->lr_swap;
  }
  o->dice_mean = stats_nanmean(col[DICE], nslices), o->dice_sd = stats_nansd(col[DICE], nslices);
  o->iou_mean = stats_nanmean(col[IOU], nslices), o->iou_sd = stats_nansd(col[IOU], nslices);
  o->recall_mean = stats_nanmean(col[REC], nslices), o->recall_sd = stats_nansd(col[REC], nslices);
  o->precision_mean = stats_nanmean(col[PREC], nslices), o->precision_sd = stats_nansd(col[PREC], nslices);
  o->hd95_mean = stats_nanmean(col[HD], nslices), o->hd95_sd = stats_nansd(col[HD], nslices);
  o->dice_mean_no = stats_nanmean(col[DICE_NO], nslices), o->dice_sd_no = stats_nansd(col[DICE_NO], nslices);
  o->recall_mean_no = stats_nanmean(col[REC_NO], nslices), o->recall_sd_no = stats_nansd(col[REC_NO], nslices);
  o->precision_mean_no = stats_nanmean(col[PREC_NO], nslices);
  o->precision_sd_no = stats_nansd(col[PREC_NO], nslices);
  o->outlier_pct = o->ref_slices ? 100.0 * (double)outliers / (double)o->ref_slices : NAN;
  o->fa_err_mean = stats_nanmean(col[FAERR], nslices), o->fa_err_sd = stats_nansd(col[FAERR], nslices);
  o->fa_icc = stats_icc(pair, nslices, 2, ICC_2_1);
  BlandAltman ba;
  stats_bland_altman(fp, fr, nslices, &ba);
  o->ba_bias = ba.bias, o->ba_lo = ba.lo, o->ba_hi = ba.hi;
  o->swap_slices = swaps;
  o->swap_rate = o->pred_slices ? 100.0 * (double)swaps / (double)o->pred_slices : NAN;
  o->pair_swap_rate = NAN;
  for (int j = 0; j < NCOL; j++) free(col[j]);
  free(pair), free(fp), free(fr);
}

/* per class NBINS + 1 counters: [0] = below every threshold (p < 0 or NaN),
 * [1 + i] = the largest threshold p reaches is i / 1000 */
#define NBINS (METRICS_THRESH_STEPS + 2)

void metrics_hist_init(ThreshHist *t, int32_t k) {
  t->k = k;
  t->pos = callocCheck((size_t)k * NBINS, sizeof(int64_t));
  t->neg = callocCheck((size_t)k * NBINS, sizeof(int64_t));
}

void metrics_hist_free(ThreshHist *t) {
  free(t->pos), free(t->neg);
  memset(t, 0, sizeof *t);
}

/* 1 + the largest i in 0..1000 with p >= i/1000.0 (compared in double, as a
 * brute-force search would), 0 when p is below every threshold or NaN */
static int32_t thresh_bin(float pf) {
  double p = pf;
  if (!(p >= 0)) return 0;
  if (p >= 1) return METRICS_THRESH_STEPS + 1;
  int32_t b = (int32_t)floor(p * METRICS_THRESH_STEPS);
  while (b < METRICS_THRESH_STEPS && p >= (double)(b + 1) / METRICS_THRESH_STEPS) b++;
  while (b > 0 && p < (double)b / METRICS_THRESH_STEPS) b--;
  return b + 1;
}

void metrics_hist_add(ThreshHist *t, const float *probs, const uint8_t *ref, int64_t hw) {
  for (int32_t c = 1; c < t->k; c++) {
    const float *p = probs + (int64_t)c * hw;
    int64_t *pos = t->pos + (size_t)c * NBINS, *neg = t->neg + (size_t)c * NBINS;
    for (int64_t i = 0; i < hw; i++) (ref[i] == c ? pos : neg)[thresh_bin(p[i])]++;
  }
}

void metrics_hist_best(const ThreshHist *t, double *thr, double *dice) {
  thr[0] = 0, dice[0] = NAN;
  for (int32_t c = 1; c < t->k; c++) {
    const int64_t *pos = t->pos + (size_t)c * NBINS, *neg = t->neg + (size_t)c * NBINS;
    int64_t npos = 0;
    for (int32_t b = 0; b < NBINS; b++) npos += pos[b];
    /* walk thresholds from 1 down to 0: tp/fp = pixels whose bin >= i */
    double *d = mallocCheck(sizeof(double) * (METRICS_THRESH_STEPS + 1));
    int64_t tp = 0, fp = 0;
    for (int32_t i = METRICS_THRESH_STEPS; i >= 0; i--) {
      tp += pos[i + 1], fp += neg[i + 1];
      int64_t den = 2 * tp + fp + (npos - tp);
      d[i] = den > 0 ? 2.0 * (double)tp / (double)den : NAN;
    }
    int32_t best = -1;
    for (int32_t i = 0; i <= METRICS_THRESH_STEPS && npos > 0; i++)
      if (!isnan(d[i]) && (best < 0 || d[i] > d[best])) best = i;
    thr[c] = best < 0 ? 0.5 : (double)best / METRICS_THRESH_STEPS;
    dice[c] = best < 0 ? NAN : d[best];
    free(d);
  }
}

void metrics_labels_threshold(const float *probs, int32_t k, int64_t hw, const double *thr, uint8_t *labels) {
  for (int64_t i = 0; i < hw; i++) {
    int32_t best = 0;
    float bp = 0;
    for (int32_t c = 1; c < k; c++) {
      float p = probs[(int64_t)c * hw + i];
      if ((double)p >= thr[c] && (best == 0 || p > bp)) best = c, bp = p;
    }
    labels[i] = (uint8_t)best;
  }
}

void metrics_labels_argmax(const float *probs, int32_t k, int64_t hw, uint8_t *labels) {
  for (int64_t i = 0; i < hw; i++) {
    int32_t best = 0;
    for (int32_t c = 1; c < k; c++)
      if (probs[(int64_t)c * hw + i] > probs[(int64_t)best * hw + i]) best = c;
    labels[i] = (uint8_t)best;
  }
}
