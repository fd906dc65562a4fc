/* jobs/report/report.c: `cordseg report`: the outputs in order (see
 * jobs/report/report.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/report_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/path.h"

void report_options_default(ReportOptions *o) {
  memset(o, 0, sizeof *o);
  o->bootstrap = 10000;
  o->seed = 1;
}

int report_run(const ReportOptions *o) {
  double t0 = cs_now();
  Report R = {.o = o}, *r = &R;
  report_collect(r);
  textio_mkdir_p(o->out, "choose a writable -o directory");

  int problems = 0, pooled = 0;
  TextBuf runs;
  FILE *rc = textbuf_open(&runs);
  fprintf(rc, "run_dir,id,arm,fold,seed,git,status,test_slices,note\n");
  for (int32_t i = 0; i < r->nruns; i++) {
    const ReportRun *u = &r->runs[i];
    char note[9000];
    snprintf(note, sizeof note, "%s", u->note);
    for (char *c = note; *c; c++) *c = *c == ',' ? ';' : *c;
    fprintf(rc, "%s,%s,%s,%d,%lld,%s,%s,%lld,%s\n", u->ri.dir, u->id, u->arm[0] ? u->arm : u->ri.arm, u->ri.fold, (long long)u->ri.seed,
            u->ri.git, REPORT_STATUS_NAMES[u->status], (long long)u->n, note);
    pooled += report_run_pooled(u);
    if (u->status) {
      problems++;
      if (!o->quiet) fprintf(stderr, "report: %s: %s: %s\n", u->ri.dir, REPORT_STATUS_NAMES[u->status], u->note);
    }
  }
  report_text_commit(&runs, r, "runs.csv");

  report_build_arms(r);
  report_html_begin(r);
  int nmissing = 0;
  char *missing = report_grid_missing(r, &nmissing);
  report_html_runs(r, missing);
  free(missing);
  if (!o->quiet)
    printf("report: %d runs found, %d aggregated into %d arms, %d listed as problems, %d grid cells missing\n",
           r->nruns, pooled, r->narms, problems, nmissing);

  fprintf(r->html, "<h2>Tables</h2>\n");
  report_tables(r);
  fprintf(r->html, "<h2>Statistics</h2>\n");
  report_stats(r);
  report_subjects(r);
  report_tertiles(r);

  report_figures(r);
  fprintf(r->html, "<hr><p>written by cordseg report in %.1f s</p>\n</body></html>\n", cs_now() - t0);
  char p[PATH_CAP];
  report_out_path(r, p, sizeof p, "index.html");
  textbuf_commit(&r->html_text, p);
  if (!o->quiet)
    printf("report: %s (tables.md/.csv/.tex, stats.csv, tertiles.md/.csv, runs.csv, PNG figures) in %.1f s\n", p, cs_now() - t0);

  for (int32_t i = 0; i < r->nruns; i++) free(r->runs[i].s);
  for (int32_t a = 0; a < r->narms; a++) free(r->arms[a].s), free(r->arms[a].run_of);
  free(r->runs), free(r->arms), free(r->cmp);
  return problems + nmissing;
}
