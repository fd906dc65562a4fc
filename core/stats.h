/* core/stats.h: the statistics evaluate and report need, in plain double
 * arithmetic on arrays (no files). NaN marks "undefined" throughout and the
 * nan-variants skip it (numpy nanmean / nanstd(ddof=1) semantics).
 *   summaries     nan-mean, nan-SD (n-1), linear-interpolated percentile
 *                 (numpy's default 'linear' method)
 *   agreement     Pearson r; ICC(1,1), ICC(2,1) absolute agreement and
 *                 ICC(3,1) consistency (Shrout & Fleiss 1979; McGraw & Wong
 *                 1996 ICC(A,1) / ICC(C,1)) from the two-way ANOVA mean
 *                 squares; Bland-Altman bias and 95 % limits of agreement
 *   paired tests  Wilcoxon signed-rank, two-sided (zeros dropped: Wilcoxon's
 *                 method; the exact null distribution when n <= 50 with no
 *                 zero and no tied |d|, else the normal approximation with
 *                 tie-corrected variance and no continuity correction,
 *                 = scipy.stats.wilcoxon(mode='approx'); scipy 1.10's
 *                 'auto' also uses its exact table with ties, we do not); Holm step-down adjusted p-values; seeded
 *                 percentile bootstrap CI of the mean
 * defines: stats_nanmean, stats_nansd, stats_nancount, stats_percentile,
 *          stats_pearson, IccForm, stats_icc, BlandAltman, stats_bland_altman,
 *          Wilcoxon, stats_wilcoxon, stats_holm, stats_bootstrap_mean_ci */
#ifndef CORDSEG_STATS_H
#define CORDSEG_STATS_H
#include <stdint.h>

double stats_nanmean(const double *x, int64_t n);        /* NaN when no finite value */
double stats_nansd(const double *x, int64_t n);          /* sample SD (n-1); NaN when < 2 values */
int64_t stats_nancount(const double *x, int64_t n);      /* non-NaN values */
/* q in [0,100] of the non-NaN values (copied and sorted internally); NaN if none */
double stats_percentile(const double *x, int64_t n, double q);

/* Pearson r over the pairs where both are non-NaN; NaN with < 3 pairs or a
 * constant variable */
double stats_pearson(const double *x, const double *y, int64_t n);

typedef enum {
  ICC_1_1 = 0, /* one-way random, single rater */
  ICC_2_1 = 1, /* two-way random, absolute agreement, single rater: ICC(A,1) */
  ICC_3_1 = 2  /* two-way mixed, consistency, single rater: ICC(C,1) */
} IccForm;
/* x [n targets][k raters], row-major; rows with any NaN are skipped. NaN when
 * fewer than 2 complete rows. */
double stats_icc(const double *x, int64_t n, int32_t k, IccForm form);

typedef struct {
  int64_t n;         /* complete pairs */
  double bias;       /* mean(a - b) */
  double sd;         /* SD(a - b), n-1 */
  double lo, hi;     /* bias -+ 1.96 sd */
} BlandAltman;
void stats_bland_altman(const double *a, const double *b, int64_t n, BlandAltman *out);

typedef struct {
  int64_t n;         /* non-zero, non-NaN differences used */
  int64_t zeros;     /* dropped zero differences */
  double w_plus;     /* sum of ranks of positive differences */
  double w_minus;
  double p;          /* two-sided; NaN when n == 0 */
  double z;          /* normal statistic (approximate mode), else NaN */
  int exact;         /* 1 = exact null distribution used */
} Wilcoxon;
void stats_wilcoxon(const double *d, int64_t n, Wilcoxon *out);

/* Holm-Bonferroni adjusted p-values (monotone, capped at 1); NaN p stay NaN
 * and do not count in the family size */
void stats_holm(const double *p, int32_t n, double *adj);

/* percentile bootstrap (B resamples with replacement, seeded) of the mean of
 * the non-NaN values of x; level e.g. 0.95. lo = hi = NaN when no values. */
void stats_bootstrap_mean_ci(const double *x, int64_t n, int32_t resamples, uint64_t seed, double level, double *lo,
                             double *hi);
#endif
