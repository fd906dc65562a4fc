/* jobs/report/subjects.c: the per-subject table of `cordseg report`
 * (subjects.csv and a table in the page): every arm's test subjects by the
 * name users read (the store's, e.g. "sub-01"; the id as text for stores of
 * unnamed subjects), their slices, runs, and nan-mean Dice per ROI over their
 * slices of every pooled run; worst subject first in the page, so that the
 * subject a study fails on is named (see jobs/report/report_impl.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

/* one subject of an arm: its name and nan-mean Dice per ROI over its slices */
typedef struct {
  int32_t subject;
  char name[64];
  int64_t slices;
  int32_t runs;
  double dice[LABEL_COUNT]; /* [1..LABEL_MAX]; [0] = mean over the ROIs */
} SubjectRow;

/* a slice of the arm by its subject */
typedef struct {
  int32_t subject;
  int64_t q;
} SubjectSlice;
static int cmp_subject_slice(const void *x, const void *y) {
  const SubjectSlice *a = x, *b = y;
  if (a->subject != b->subject) return (a->subject > b->subject) - (a->subject < b->subject);
  return (a->q > b->q) - (a->q < b->q);
}

/* the slices of A sorted by subject */
static int64_t *order_by_subject(const Arm *A) {
  SubjectSlice *v = mallocCheck(sizeof(SubjectSlice) * (size_t)(A->n + 1));
  for (int64_t i = 0; i < A->n; i++) v[i].subject = A->s[i].subject, v[i].q = i;
  qsort(v, (size_t)A->n, sizeof(SubjectSlice), cmp_subject_slice);
  int64_t *q = mallocCheck(sizeof(int64_t) * (size_t)(A->n + 1));
  for (int64_t i = 0; i < A->n; i++) q[i] = v[i].q;
  free(v);
  return q;
}

/* the rows of arm A, one per subject, in subject id order; returns the count */
static int32_t subject_rows(const Arm *A, SubjectRow *rows) {
  int64_t *q = order_by_subject(A);
  int32_t m = 0;
  for (int64_t i = 0; i < A->n;) {
    const EvalSlice *e = &A->s[q[i]];
    SubjectRow *R = &rows[m++];
    memset(R, 0, sizeof *R);
    R->subject = e->subject;
    if (e->subject_name[0]) snprintf(R->name, sizeof R->name, "%s", e->subject_name);
    else snprintf(R->name, sizeof R->name, "%d", e->subject);
    int64_t j = i;
    double sum[LABEL_COUNT] = {0};
    int64_t cnt[LABEL_COUNT] = {0};
    int32_t seen_runs[64], nseen = 0;
    for (; j < A->n && A->s[q[j]].subject == e->subject; j++) {
      const EvalSlice *s = &A->s[q[j]];
      for (int c = 1; c < LABEL_COUNT; c++)
        if (!isnan(s->roi[c].dice)) sum[c] += s->roi[c].dice, cnt[c]++;
      int32_t run = A->run_of[q[j]], k = 0;
      while (k < nseen && seen_runs[k] != run) k++;
      if (k == nseen && nseen < 64) seen_runs[nseen++] = run;
    }
    R->slices = j - i, R->runs = nseen;
    double tot = 0;
    int nroi = 0;
    for (int c = 1; c < LABEL_COUNT; c++) {
      R->dice[c] = cnt[c] ? sum[c] / (double)cnt[c] : NAN;
      if (cnt[c]) tot += R->dice[c], nroi++;
    }
    R->dice[0] = nroi ? tot / nroi : NAN;
    i = j;
  }
  free(q);
  return m;
}

static int cmp_row_dice(const void *x, const void *y) {
  const SubjectRow *a = x, *b = y;
  const double da = isnan(a->dice[0]) ? -1 : a->dice[0], db = isnan(b->dice[0]) ? -1 : b->dice[0];
  return (da > db) - (da < db);
}

void report_subjects(Report *r) {
  TextBuf csv;
  FILE *f = textbuf_open(&csv), *h = r->html;
  fprintf(f, "arm,subject,subject_id,slices,runs,dice_mean");
  for (int c = 1; c < LABEL_COUNT; c++) fprintf(f, ",dice_%s", LABEL_KEYS[c]);
  fprintf(f, "\n");
  fprintf(h, "<h3>Per-subject Dice</h3>\n<p>Each test subject by its name in the store, its slices over every pooled "
             "run of the arm, and the mean Dice per ROI over those slices (NaN-mean); the worst subject first.</p>\n");
  for (int32_t a = 0; a < r->narms; a++) {
    const Arm *A = &r->arms[a];
    SubjectRow *rows = callocCheck((size_t)A->n + 1, sizeof(SubjectRow));
    const int32_t m = subject_rows(A, rows);
    for (int32_t i = 0; i < m; i++) {
      fprintf(f, "%s,%s,%d,%lld,%d,%.6g", A->name, rows[i].name, rows[i].subject, (long long)rows[i].slices,
              rows[i].runs, rows[i].dice[0]);
      for (int c = 1; c < LABEL_COUNT; c++) fprintf(f, ",%.6g", rows[i].dice[c]);
      fprintf(f, "\n");
    }
    qsort(rows, (size_t)m, sizeof(SubjectRow), cmp_row_dice);
    fprintf(h, "<table><caption>%s: %d subjects</caption><tr><th>subject</th><th>slices</th><th>runs</th>"
               "<th>mean</th>", A->name, m);
    for (int c = 1; c < LABEL_COUNT; c++) fprintf(h, "<th>%s</th>", LABEL_ABBREV[c]);
    fprintf(h, "</tr>\n");
    for (int32_t i = 0; i < m; i++) {
      fprintf(h, "<tr><td>%s</td><td>%lld</td><td>%d</td><td>%.3f</td>", rows[i].name, (long long)rows[i].slices,
              rows[i].runs, rows[i].dice[0]);
      for (int c = 1; c < LABEL_COUNT; c++) fprintf(h, "<td>%.3f</td>", rows[i].dice[c]);
      fprintf(h, "</tr>\n");
    }
    fprintf(h, "</table>\n");
    free(rows);
  }
  report_text_commit(&csv, r, "subjects.csv");
}
