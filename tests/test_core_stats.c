/* tests/test_core_stats.c: core/stats.h against published tables, independent
 * reference values (scipy 1.10 / numpy, quoted with the call that produced
 * them) and brute force:
 *   ICC on Shrout & Fleiss (1979) Table 2 (6 targets x 4 judges): the paper
 *   prints ICC(1,1) .17, ICC(2,1) .29, ICC(3,1) .71;
 *   Wilcoxon exact p against full 2^n sign enumeration, the n = 10 critical
 *   value table (two-sided 5 %: T <= 8), scipy values incl. ties (approx);
 *   Holm against a hand-worked example; bootstrap determinism and its normal
 *   limit; Bland-Altman, Pearson, percentiles by hand. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/stats.h"
#include "tests/testutil.h"

/* two-sided exact p by enumerating every sign assignment of ranks 1..n */
static double brute_wilcoxon_p(const double *d, int n) {
  int rank[32];
  for (int i = 0; i < n; i++) {
    rank[i] = 1;
    for (int j = 0; j < n; j++) rank[i] += fabs(d[j]) < fabs(d[i]);
  }
  int w = 0, total = n * (n + 1) / 2;
  for (int i = 0; i < n; i++) w += d[i] > 0 ? rank[i] : 0;
  int wmin = w < total - w ? w : total - w;
  long long extreme = 0;
  for (long long s = 0; s < (1ll << n); s++) {
    int ws = 0;
    for (int i = 0; i < n; i++) ws += (s >> i & 1) ? rank[i] : 0;
    extreme += (ws <= wmin) || (ws >= total - wmin);
  }
  double p = (double)extreme / (double)(1ll << n);
  return p > 1 ? 1 : p;
}

int main(void) {
  /* ---- summaries ---- */
  double x[] = {1, NAN, 2, 4, NAN, 7};
  T_CHECK(fabs(stats_nanmean(x, 6) - 3.5) < 1e-15, "nanmean 3.5 (got %g)", stats_nanmean(x, 6));
  /* SD of 1,2,4,7 (n-1): deviations -2.5 -1.5 .5 3.5 -> 6.25+2.25+.25+12.25 = 21 / 3 = 7 */
  T_CHECK(fabs(stats_nansd(x, 6) - sqrt(7.0)) < 1e-14, "nansd sqrt(7) (got %g)", stats_nansd(x, 6));
  T_CHECK(stats_nancount(x, 6) == 4, "nancount 4");
  T_CHECK(isnan(stats_nanmean(x + 1, 1)) && isnan(stats_nansd(x, 1)), "all-NaN mean and 1-value SD are NaN");
  /* numpy.percentile([1,2,4,7], 95) = 4 + 0.85 * 3 = 6.55 (pos 2.85) */
  T_CHECK(fabs(stats_percentile(x, 6, 95) - 6.55) < 1e-12, "percentile 95 = 6.55 (got %.15g)",
          stats_percentile(x, 6, 95));
  T_CHECK(stats_percentile(x, 6, 0) == 1 && stats_percentile(x, 6, 100) == 7, "percentile 0/100 = min/max");

  /* ---- Pearson: y = 2x + 1 exactly -> 1; y = -x -> -1; by hand on 4 points ---- */
  double px[] = {1, 2, 3, 4, NAN}, py[] = {3, 5, 7, 9, 1}, pz[] = {2, 1, 4, 3, 0};
  T_CHECK(fabs(stats_pearson(px, py, 5) - 1) < 1e-15, "pearson of a line = 1");
  /* x 1..4 (dev -1.5 -.5 .5 1.5), z 2 1 4 3 (dev -.5 -1.5 1.5 .5): sxy = .75+.75+.75+.75 = 3,
   * sxx = syy = 5 -> r = 0.6 */
  T_CHECK(fabs(stats_pearson(px, pz, 5) - 0.6) < 1e-15, "pearson by hand 0.6 (got %.17g)", stats_pearson(px, pz, 5));

  /* ---- ICC: Shrout & Fleiss 1979, Table 2 ---- */
  const double sf[6 * 4] = {9, 2, 5, 8, 6, 1, 3, 2, 8, 4, 6, 8, 7, 1, 2, 6, 10, 5, 6, 9, 6, 2, 4, 7};
  double i11 = stats_icc(sf, 6, 4, ICC_1_1), i21 = stats_icc(sf, 6, 4, ICC_2_1), i31 = stats_icc(sf, 6, 4, ICC_3_1);
  printf("Shrout-Fleiss: ICC(1,1) %.4f ICC(2,1) %.4f ICC(3,1) %.4f (paper .17 .29 .71)\n", i11, i21, i31);
  T_CHECK(fabs(i11 - 0.17) < 0.005 && fabs(i21 - 0.29) < 0.005 && fabs(i31 - 0.71) < 0.005,
          "ICCs round to the published .17 .29 .71");
  /* numpy one-liners of the ANOVA formulas: 0.16574176840547553, 0.2897637795275592, 0.7148407148407154 */
  T_CHECK(fabs(i11 - 0.16574176840547553) < 1e-12 && fabs(i21 - 0.2897637795275592) < 1e-12 &&
              fabs(i31 - 0.7148407148407154) < 1e-12,
          "ICCs equal the numpy reference to 1e-12");
  /* perfect agreement -> 1; a constant offset hurts absolute agreement but not consistency */
  double pa[8 * 2], po[8 * 2];
  for (int i = 0; i < 8; i++) pa[2 * i] = pa[2 * i + 1] = i * 0.1, po[2 * i] = i * 0.1, po[2 * i + 1] = i * 0.1 + 0.2;
  T_CHECK(fabs(stats_icc(pa, 8, 2, ICC_2_1) - 1) < 1e-12, "ICC(2,1) of identical raters = 1");
  T_CHECK(fabs(stats_icc(po, 8, 2, ICC_3_1) - 1) < 1e-12 && stats_icc(po, 8, 2, ICC_2_1) < 0.8,
          "offset: ICC(3,1) = 1, ICC(2,1) < 0.8 (got %g)", stats_icc(po, 8, 2, ICC_2_1));

  /* ---- Bland-Altman by hand: a-b = 1, 3, 2, NaN -> bias 2, sd 1, LoA 2 -+ 1.96 ---- */
  double ba_a[] = {2, 5, 5, NAN}, ba_b[] = {1, 2, 3, 1};
  BlandAltman ba;
  stats_bland_altman(ba_a, ba_b, 4, &ba);
  T_CHECK(ba.n == 3 && fabs(ba.bias - 2) < 1e-15 && fabs(ba.sd - 1) < 1e-15 && fabs(ba.lo - 0.04) < 1e-12 &&
              fabs(ba.hi - 3.96) < 1e-12,
          "Bland-Altman bias 2, LoA 0.04..3.96 (got n %lld %g %g %g)", (long long)ba.n, ba.bias, ba.lo, ba.hi);

  /* ---- Wilcoxon ---- */
  Wilcoxon wx;
  /* scipy.stats.wilcoxon([1.5,-0.3,2.2,0.8,-1.1,0.4,3.1,0.9,-0.2,1.7]) -> statistic 9.0, pvalue 0.064453125 */
  const double d1[] = {1.5, -0.3, 2.2, 0.8, -1.1, 0.4, 3.1, 0.9, -0.2, 1.7};
  stats_wilcoxon(d1, 10, &wx);
  T_CHECK(wx.exact && wx.n == 10 && wx.w_minus == 9 && fabs(wx.p - 0.064453125) < 1e-15,
          "wilcoxon exact n=10: W- 9, p 66/1024 (got W- %g p %.17g)", wx.w_minus, wx.p);
  /* the classic table: n = 10, two-sided alpha 0.05 -> reject iff T <= 8 */
  double dt[10];
  for (int T = 8; T <= 9; T++) {
    /* ranks 1..10, negatives chosen to sum to T: {8} or {1,8} */
    for (int i = 0; i < 10; i++) dt[i] = i + 1;
    if (T == 8) dt[7] = -8;
    else dt[0] = -1, dt[7] = -8;
    stats_wilcoxon(dt, 10, &wx);
    T_CHECK(T == 8 ? wx.p <= 0.05 : wx.p > 0.05, "n=10 table: T=%d is %s at 5%% (p %g)", T,
            T == 8 ? "significant" : "not significant", wx.p);
  }
  Rng r;
  rng_init(&r, 5);
  for (int trial = 0; trial < 40; trial++) {
    int n = 1 + (int)rng_below(&r, 14);
    double d[16];
    for (int i = 0; i < n; i++) d[i] = (rng_uniform(&r) - 0.35) * (1 + i); /* distinct |d| almost surely */
    stats_wilcoxon(d, n, &wx);
    double want = brute_wilcoxon_p(d, n);
    T_CHECK(wx.exact && fabs(wx.p - want) < 1e-13, "wilcoxon n=%d exact p %.15g vs enumeration %.15g", n, wx.p, want);
  }
  /* ties and a zero: scipy.stats.wilcoxon(d, mode='approx') -> 0.02480842454780953 (zero dropped, W- = 10.5) */
  const double d2[] = {1, 1, 2, -2, 3, 3, 3, -1, 4, 5, 0.5, 0.5, 0};
  stats_wilcoxon(d2, 13, &wx);
  T_CHECK(!wx.exact && wx.n == 12 && wx.zeros == 1 && wx.w_minus == 10.5 && fabs(wx.p - 0.02480842454780953) < 1e-12,
          "wilcoxon with ties: p %.17g (scipy 0.02480842454780953)", wx.p);
  /* n > 50: scipy.stats.wilcoxon(np.arange(1,61) - 20.5) -> statistic 410.0, pvalue 0.00020091646087444466 */
  double d3[60];
  for (int i = 0; i < 60; i++) d3[i] = i + 1 - 20.5;
  stats_wilcoxon(d3, 60, &wx);
  T_CHECK(!wx.exact && wx.w_minus == 410 && fabs(wx.p - 0.00020091646087444466) < 1e-14,
          "wilcoxon n=60 approx p %.17g (scipy 0.00020091646087444466)", wx.p);
  stats_wilcoxon(d3, 0, &wx);
  T_CHECK(isnan(wx.p) && wx.n == 0, "wilcoxon on no data: NaN");

  /* ---- Holm by hand: p 0.01 0.04 0.03 0.005 -> sorted x4 x3 x2 x1 = .02 .03 .06 .04 -> monotone .02 .03 .06 .06 */
  const double hp[] = {0.01, 0.04, 0.03, 0.005, NAN};
  double ha[5];
  stats_holm(hp, 5, ha);
  T_CHECK(fabs(ha[0] - 0.03) < 1e-15 && fabs(ha[1] - 0.06) < 1e-15 && fabs(ha[2] - 0.06) < 1e-15 &&
              fabs(ha[3] - 0.02) < 1e-15 && isnan(ha[4]),
          "holm: %g %g %g %g %g", ha[0], ha[1], ha[2], ha[3], ha[4]);
  const double hq[] = {0.5, 0.6};
  stats_holm(hq, 2, ha);
  T_CHECK(ha[0] == 1 && ha[1] == 1, "holm caps at 1");

  /* ---- bootstrap ---- */
  double bx[200], lo1, hi1, lo2, hi2, lo3, hi3;
  for (int i = 0; i < 200; i++) bx[i] = rng_normal(&r) * 2 + 1;
  stats_bootstrap_mean_ci(bx, 200, 4000, 7, 0.95, &lo1, &hi1);
  stats_bootstrap_mean_ci(bx, 200, 4000, 7, 0.95, &lo2, &hi2);
  stats_bootstrap_mean_ci(bx, 200, 4000, 8, 0.95, &lo3, &hi3);
  T_CHECK(lo1 == lo2 && hi1 == hi2, "bootstrap: same seed, same interval");
  T_CHECK(lo1 != lo3 || hi1 != hi3, "bootstrap: another seed, another interval");
  double mu = stats_nanmean(bx, 200), se = stats_nansd(bx, 200) / sqrt(200.0);
  printf("bootstrap 95%% CI [%.4f, %.4f], normal theory [%.4f, %.4f]\n", lo1, hi1, mu - 1.96 * se, mu + 1.96 * se);
  T_CHECK(fabs(lo1 - (mu - 1.96 * se)) < 0.15 * se && fabs(hi1 - (mu + 1.96 * se)) < 0.15 * se,
          "bootstrap CI within 0.15 SE of mean -+ 1.96 SE");
  double cst[5] = {0.3, 0.3, 0.3, 0.3, 0.3};
  stats_bootstrap_mean_ci(cst, 5, 100, 1, 0.95, &lo1, &hi1);
  T_CHECK(fabs(lo1 - 0.3) < 1e-15 && fabs(hi1 - 0.3) < 1e-15, "bootstrap of a constant = [c, c]");
  return t_finish("test_core_stats");
}
