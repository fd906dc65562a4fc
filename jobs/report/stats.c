/* jobs/report/stats.c: paired subject-level comparisons of arms that differ in one name token (stats.csv and the page) (see jobs/report/report_impl.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

/* ---------------------------------------------------------- statistics -- */

/* arms whose names have the same number of tokens (split at '-' and ' ':
 * "vgg16-hdl-b0 lr_max=0.001" is 4) and differ in exactly one; lab gets
 * "tokA vs tokB (shared tokens)". 0 when not such a pair. */
static int arm_pair(const char *a, const char *b, char *lab, size_t n) {
  char ta[512], tb[512], *sa[16], *sb[16], *save;
  snprintf(ta, sizeof ta, "%s", a), snprintf(tb, sizeof tb, "%s", b);
  int na = 0, nb = 0;
  for (char *t = strtok_r(ta, "- ", &save); t && na < 16; t = strtok_r(NULL, "- ", &save)) sa[na++] = t;
  for (char *t = strtok_r(tb, "- ", &save); t && nb < 16; t = strtok_r(NULL, "- ", &save)) sb[nb++] = t;
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

void report_stats(Report *r) {
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
  report_text_commit(&csv, r, "stats.csv");
}
