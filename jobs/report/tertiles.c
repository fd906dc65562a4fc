/* jobs/report/tertiles.c: results by compression grade (issue 30): per arm,
 * its pooled test slices split at the tertiles of their reference AP/LR cord
 * ratio (jobs/evaluate.h evaluate_tertiles: the cut points from the arm's
 * own slices), Dice and FA error per ROI in each group, and the rule that
 * chose the arm's models (config key select_by), as tertiles.md,
 * tertiles.csv and a section of the page (see jobs/report/report_impl.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "jobs/evaluate.h"

/* the select_by of a run's config text ("select_by = X" line; runs of older
 * cordseg have none and chose by Dice) */
static void run_select_by(const ReportRun *u, char *out, size_t n) {
  snprintf(out, n, "dice");
  const char *p = strstr(u->ri.config, "select_by = ");
  if (p && (p == u->ri.config || p[-1] == '\n')) {
    p += strlen("select_by = ");
    snprintf(out, n, "%.*s", (int)strcspn(p, "\n"), p);
  }
}

/* the arm's rule: that of its pooled runs (the arm hash includes select_by) */
static void arm_rule(const Report *r, const Arm *A, char *out, size_t n) {
  char by[64] = "dice";
  for (int64_t q = 0; q < A->n; q++) {
    run_select_by(&r->runs[A->run_of[q]], by, sizeof by);
    break;
  }
  snprintf(out, n, "best.h5 by %s (select_by = %s)",
           !strcmp(by, "fa_error") ? "the lowest mean validation ROI FA error" : "the highest mean validation Dice", by);
}

static void num(FILE *f, double v, int digits) {
  if (isnan(v)) fputs("n/a", f);
  else fprintf(f, "%.*f", digits, v);
}

void report_tertiles(Report *r) {
  TextBuf md, csv;
  FILE *fm = textbuf_open(&md), *fc = textbuf_open(&csv), *h = r->html;
  fprintf(fm, "# cordseg report: results by compression tertile\n\nPer arm, its test slices (pooled over runs) split "
              "at the 1/3 and 2/3 quantiles of their AP/LR cord diameter ratio (reference labels; lower = flatter = "
              "more compressed). Mean Dice and FA error (%%) per ROI over the group's slices (nan-means).\n");
  fprintf(fc, "arm,model_selection,group,slices,ratio_min,ratio_max,cut_1,cut_2,measure");
  for (int c = 1; c < LABEL_COUNT; c++) fprintf(fc, ",%s", LABEL_KEYS[c]);
  fputc('\n', fc);
  fprintf(h, "<h2>By compression tertile</h2>\n<p>Test slices split at the tertiles of their AP/LR cord diameter ratio "
             "(reference labels; T1 = flattest = most compressed).</p>\n");
  for (int32_t a = 0; a < r->narms; a++) {
    const Arm *A = &r->arms[a];
    EvalTertiles *t = callocCheck(1, sizeof *t);
    evaluate_tertiles(A->s, A->n, t);
    char rule[160];
    arm_rule(r, A, rule, sizeof rule);
    fprintf(fm, "\n**%s** (%d runs, %lld test slices; model: %s); cut points ", A->name, A->runs_ok, (long long)A->n,
            rule);
    num(fm, t->cut[0], 3), fputs(", ", fm), num(fm, t->cut[1], 3);
    if (t->count[3] == A->n && A->n)
      fputs(" (no slice has a cord ratio: slices.csv of older cordseg; run `cordseg evaluate` again)", fm);
    fprintf(fm, "\n\n| group | slices | ratio | measure |");
    fprintf(h, "<table><caption>%s (%d runs, %lld test slices; model: %s)</caption><tr><th>group</th><th>slices</th>"
               "<th>ratio</th><th>measure</th>", A->name, A->runs_ok, (long long)A->n, rule);
    for (int c = 1; c < LABEL_COUNT; c++) fprintf(fm, " %s |", LABEL_ABBREV[c]), fprintf(h, "<th>%s</th>", LABEL_ABBREV[c]);
    fprintf(fm, "\n|---|---:|---|---|");
    for (int c = 1; c < LABEL_COUNT; c++) fputs("---:|", fm);
    fputs("</tr>\n", h);
    for (int g = 0; g < EVAL_GROUPS; g++) {
      if (g == 3 && !t->count[g]) continue;
      for (int m = 0; m < 2; m++) {
        fprintf(fm, "\n| %s | %lld | ", m ? "" : EVAL_GROUP_NAMES[g], (long long)t->count[g]);
        fprintf(h, "<tr><td>%s</td><td>%lld</td><td>", m ? "" : EVAL_GROUP_NAMES[g], (long long)t->count[g]);
        num(fm, t->lo[g], 3), fputs("-", fm), num(fm, t->hi[g], 3);
        num(h, t->lo[g], 3), fputs("-", h), num(h, t->hi[g], 3);
        fprintf(fm, " | %s |", m ? "FA error %" : "Dice");
        fprintf(h, "</td><td>%s</td>", m ? "FA error %" : "Dice");
        fprintf(fc, "%s,%s,%s,%lld,%.6g,%.6g,%.6g,%.6g,%s", A->name, rule, EVAL_GROUP_NAMES[g], (long long)t->count[g],
                t->lo[g], t->hi[g], t->cut[0], t->cut[1], m ? "fa_err_pct" : "dice");
        for (int c = 1; c < LABEL_COUNT; c++) {
          const double v = m ? t->sum[g][c].fa_err_mean : t->sum[g][c].dice_mean;
          fputc(' ', fm), num(fm, v, m ? 2 : 3), fputs(" |", fm);
          fputs("<td>", h), num(h, v, m ? 2 : 3), fputs("</td>", h);
          fprintf(fc, ",%.6g", v);
        }
        fputs("</tr>\n", h);
        fputc('\n', fc);
      }
    }
    fputs("\n", fm);
    fputs("</table>\n", h);
    free(t);
  }
  report_text_commit(&md, r, "tertiles.md");
  report_text_commit(&csv, r, "tertiles.csv");
}
