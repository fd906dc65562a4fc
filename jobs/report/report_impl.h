/* jobs/report/report_impl.h: what the parts of `cordseg report` share (see
 * jobs/report/report.h): the runs found, the arms they pool into, the
 * comparisons, and one function per output.
 *   collect.c  run directories, their config/eval files, arms, missing cells
 *   arms.c     each run's arm (by arm hash), duplicates, runs that never learned
 *   tables.c   Tables 1-3 as Markdown, LaTeX, CSV and HTML
 *   stats.c    paired subject-level comparisons of arms (stats.csv)
 *   subjects.c the per-subject table by subject name (subjects.csv)
 *   tertiles.c results by compression tertile per arm (tertiles.md/.csv)
 *   figures.c  the charts, training curves and QC overlays
 *   html.c     index.html: page, run table, embedded PNGs
 *   report.c   report_run: the order of the outputs
 * defines: ReportRun, Arm, Compare, Report, REPORT_STATUS_NAMES, report_* */
#ifndef CORDSEG_JOBS_REPORT_IMPL_H
#define CORDSEG_JOBS_REPORT_IMPL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/metrics.h"
#include "core/stats.h"
#include "io/evalio.h"
#include "io/labels.h"
#include "jobs/report/plot.h"
#include "io/textio.h"
#include "jobs/report/report.h"

/* RUN_OK and RUN_NOT_LEARNED are pooled into their arm (report_run_pooled), the rest listed only */
enum { RUN_OK = 0, RUN_UNREADABLE, RUN_NOT_DONE, RUN_NO_EVAL, RUN_BAD_EVAL, RUN_DUPLICATE, RUN_NOT_LEARNED };
/* a run whose best validation Dice in log.csv is under this never learned */
#define REPORT_LEARN_FLOOR 0.05
extern const char *const REPORT_STATUS_NAMES[];

typedef struct {
  RunInfo ri;
  char arm[512];    /* its arm's name (arms.c): backbone-loss-input [key=value]... */
  char id[700];     /* file-safe unique name: <arm>_fold<F>_seed<S>[_dupK] */
  int status;
  char note[9000];
  EvalSlice *s;
  int64_t n;
  char store[1024], folds[1024]; /* from config.ini */
} ReportRun;

typedef struct {
  char name[512];   /* = the ReportRun arm of its runs */
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
  int32_t legacy;   /* runs whose run.json has no arm_hash: arms by name only */
  FILE *html;       /* index.html, collected in html_text */
  TextBuf html_text;
} Report;

/* collect.c */
void report_out_path(const Report *r, char *p, size_t n, const char *name);
/* OUT/name from text collected in memory, written atomically */
void report_text_commit(TextBuf *t, const Report *r, const char *name);
void report_file_safe(char *s); /* letters, digits, '-' and '.'; the rest '_' */
void report_collect(Report *r);
void report_build_arms(Report *r);
/* arms.c */
void report_name_arms(Report *r); /* after report_collect: arm names, ids, duplicates, never learned */
int report_run_pooled(const ReportRun *u);
/* the missing (arm, fold, seed) cells as HTML; *count of them */
char *report_grid_missing(Report *r, int *count);
/* tables.c */
void report_tables(Report *r);
/* stats.c */
void report_stats(Report *r);
/* subjects.c: subjects.csv and the page's per-subject tables */
void report_subjects(Report *r);
/* tertiles.c: Dice and FA error per ROI by compression tertile, per arm (tertiles.md/.csv, the page) */
void report_tertiles(Report *r);
/* figures.c */
void report_figures(Report *r);
/* html.c */
void report_html_begin(Report *r);
void report_html_runs(Report *r, const char *missing);
/* writes OUT/file (when file != NULL) and embeds the PNG in the page */
void report_html_png(Report *r, Plot *p, const char *file, const char *caption);
#endif
