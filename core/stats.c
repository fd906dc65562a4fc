/* core/stats.c: summaries, agreement, paired tests and the bootstrap of
 * core/stats.h. Sums run in double; NaN means "undefined". */
#include "core/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

double stats_nanmean(const double *x, int64_t n) {
  double s = 0;
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(x[i])) s += x[i], m++;
  return m ? s / (double)m : NAN;
}

double stats_nansd(const double *x, int64_t n) {
  double mu = stats_nanmean(x, n), s = 0;
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(x[i])) s += (x[i] - mu) * (x[i] - mu), m++;
  return m >= 2 ? sqrt(s / (double)(m - 1)) : NAN;
}

int64_t stats_nancount(const double *x, int64_t n) {
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++) m += !isnan(x[i]);
  return m;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* q-th percentile of sorted a[0..m) with numpy's linear interpolation */
static double percentile_sorted(const double *a, int64_t m, double q) {
  if (m <= 0) return NAN;
  double pos = q / 100.0 * (double)(m - 1);
  int64_t lo = (int64_t)floor(pos);
  if (lo >= m - 1) return a[m - 1];
  if (lo < 0) return a[0];
  double fr = pos - (double)lo;
  return a[lo] + (a[lo + 1] - a[lo]) * fr;
}

double stats_percentile(const double *x, int64_t n, double q) {
  double *a = mallocCheck(sizeof(double) * (size_t)(n > 0 ? n : 1));
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(x[i])) a[m++] = x[i];
  qsort(a, (size_t)m, sizeof(double), cmp_double);
  double v = percentile_sorted(a, m, q);
  free(a);
  return v;
}

double stats_pearson(const double *x, const double *y, int64_t n) {
  double sx = 0, sy = 0;
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(x[i]) && !isnan(y[i])) sx += x[i], sy += y[i], m++;
  if (m < 3) return NAN;
  double mx = sx / (double)m, my = sy / (double)m, sxx = 0, syy = 0, sxy = 0;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(x[i]) && !isnan(y[i])) {
      double dx = x[i] - mx, dy = y[i] - my;
      sxx += dx * dx, syy += dy * dy, sxy += dx * dy;
    }
  if (!(sxx > 0) || !(syy > 0)) return NAN;
  return sxy / sqrt(sxx * syy);
}

double stats_icc(const double *x, int64_t n, int32_t k, IccForm form) {
  CS_CHECK(k >= 2 && n >= 0, "pass at least 2 raters", "stats_icc: k=%d raters", (int)k);
  /* complete rows only */
  int64_t m = 0;
  double gm = 0;
  double *colsum = callocCheck((size_t)k, sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    int ok = 1;
    for (int32_t j = 0; j < k; j++) ok &= !isnan(x[i * k + j]);
    if (!ok) continue;
    for (int32_t j = 0; j < k; j++) colsum[j] += x[i * k + j], gm += x[i * k + j];
    m++;
  }
  if (m < 2) return free(colsum), NAN;
  gm /= (double)(m * k);
  double ss_rows = 0, ss_cols = 0, ss_total = 0;
  for (int64_t i = 0; i < n; i++) {
    int ok = 1;
    double rs = 0;
    for (int32_t j = 0; j < k; j++) ok &= !isnan(x[i * k + j]), rs += x[i * k + j];
    if (!ok) continue;
    ss_rows += (rs / k - gm) * (rs / k - gm) * k;
    for (int32_t j = 0; j < k; j++) ss_total += (x[i * k + j] - gm) * (x[i * k + j] - gm);
  }
  for (int32_t j = 0; j < k; j++) ss_cols += (colsum[j] / (double)m - gm) * (colsum[j] / (double)m - gm) * (double)m;
  free(colsum);
  double ss_err = ss_total - ss_rows - ss_cols, ss_within = ss_total - ss_rows;
  double msr = ss_rows / (double)(m - 1), msc = ss_cols / (double)(k - 1);
  double mse = ss_err / ((double)(m - 1) * (k - 1)), msw = ss_within / ((double)m * (k - 1));
  double num, den;
  if (form == ICC_1_1) num = msr - msw, den = msr + (k - 1) * msw;
  else if (form == ICC_2_1) num = msr - mse, den = msr + (k - 1) * mse + k * (msc - mse) / (double)m;
  else num = msr - mse, den = msr + (k - 1) * mse;
  return den != 0 ? num / den : NAN;
}

void stats_bland_altman(const double *a, const double *b, int64_t n, BlandAltman *out) {
  double *d = mallocCheck(sizeof(double) * (size_t)(n > 0 ? n : 1));
  for (int64_t i = 0; i < n; i++) d[i] = a[i] - b[i]; /* NaN if either is */
  out->n = stats_nancount(d, n);
  out->bias = stats_nanmean(d, n);
  out->sd = stats_nansd(d, n);
  out->lo = out->bias - 1.96 * out->sd;
  out->hi = out->bias + 1.96 * out->sd;
  free(d);
}

typedef struct {
  double a; /* |d| */
  int pos;
} AbsDiff;

static int cmp_absdiff(const void *x, const void *y) {
  double a = ((const AbsDiff *)x)->a, b = ((const AbsDiff *)y)->a;
  return (a > b) - (a < b);
}

void stats_wilcoxon(const double *d, int64_t n, Wilcoxon *out) {
  memset(out, 0, sizeof *out);
  out->p = out->z = NAN;
  AbsDiff *v = mallocCheck(sizeof(AbsDiff) * (size_t)(n > 0 ? n : 1));
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(d[i])) continue;
    if (d[i] == 0) {
      out->zeros++;
      continue;
    }
    v[m].a = fabs(d[i]), v[m].pos = d[i] > 0, m++;
  }
  out->n = m;
  if (m == 0) return free(v);
  qsort(v, (size_t)m, sizeof(AbsDiff), cmp_absdiff);
  /* midranks; tie term sum(t^3 - t) */
  double tie = 0;
  for (int64_t i = 0; i < m;) {
    int64_t j = i;
    while (j + 1 < m && v[j + 1].a == v[i].a) j++;
    double r = 0.5 * (double)(i + 1 + j + 1), t = (double)(j - i + 1);
    tie += t * t * t - t;
    for (int64_t q = i; q <= j; q++) *(v[q].pos ? &out->w_plus : &out->w_minus) += r;
    i = j + 1;
  }
  free(v);
  double mn = (double)m * (m + 1) / 4.0;
  if (m <= 50 && tie == 0 && out->zeros == 0) {
    /* exact: count[s] = subsets of ranks {1..m} summing to s (< 2^50: exact in double) */
    int64_t smax = m * (m + 1) / 2;
    double *cnt = callocCheck((size_t)smax + 1, sizeof(double));
    cnt[0] = 1;
    for (int64_t r = 1; r <= m; r++)
      for (int64_t s = smax; s >= r; s--) cnt[s] += cnt[s - r];
    int64_t w = (int64_t)llround(out->w_plus);
    double lo = 0, hi = 0, total = ldexp(1.0, (int)m);
    for (int64_t s = 0; s <= smax; s++) {
      if (s <= w) lo += cnt[s];
      if (s >= w) hi += cnt[s];
    }
    free(cnt);
    out->p = fmin(1.0, 2.0 * fmin(lo, hi) / total);
    out->exact = 1;
  } else {
    double var = (double)m * (m + 1) * (2 * m + 1) / 24.0 - tie / 48.0;
    out->z = var > 0 ? (out->w_plus - mn) / sqrt(var) : 0;
    out->p = erfc(fabs(out->z) / sqrt(2.0));
  }
}

typedef struct {
  double p;
  int32_t i;
} PIdx;

static int cmp_pidx(const void *x, const void *y) {
  const PIdx *a = x, *b = y;
  if (a->p != b->p) return (a->p > b->p) - (a->p < b->p);
  return a->i - b->i;
}

void stats_holm(const double *p, int32_t n, double *adj) {
  PIdx *v = mallocCheck(sizeof(PIdx) * (size_t)(n > 0 ? n : 1));
  int32_t m = 0;
  for (int32_t i = 0; i < n; i++) {
    adj[i] = NAN;
    if (!isnan(p[i])) v[m].p = p[i], v[m].i = i, m++;
  }
  qsort(v, (size_t)m, sizeof(PIdx), cmp_pidx);
  double run = 0;
  for (int32_t r = 0; r < m; r++) {
    double a = fmin(1.0, (double)(m - r) * v[r].p);
    run = fmax(run, a);
    adj[v[r].i] = run;
  }
  free(v);
}

void stats_bootstrap_mean_ci(const double *x, int64_t n, int32_t resamples, uint64_t seed, double level, double *lo,
                             double *hi) {
  CS_CHECK(resamples >= 1 && level > 0 && level < 1, "use e.g. 10000 resamples and level 0.95",
           "stats_bootstrap_mean_ci: resamples=%d level=%g", (int)resamples, level);
  double *v = mallocCheck(sizeof(double) * (size_t)(n > 0 ? n : 1));
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(x[i])) v[m++] = x[i];
  *lo = *hi = NAN;
  if (m == 0) return free(v);
  double *means = mallocCheck(sizeof(double) * (size_t)resamples);
  Rng r;
  rng_init(&r, seed);
  for (int32_t b = 0; b < resamples; b++) {
    double s = 0;
    for (int64_t i = 0; i < m; i++) s += v[rng_below(&r, (uint32_t)m)];
    means[b] = s / (double)m;
  }
  qsort(means, (size_t)resamples, sizeof(double), cmp_double);
  *lo = percentile_sorted(means, resamples, 100.0 * (1 - level) / 2);
  *hi = percentile_sorted(means, resamples, 100.0 * (1 + level) / 2);
  free(means), free(v);
}
