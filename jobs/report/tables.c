/* jobs/report/tables.c: Tables 1-3 of the paper as tables.md, tables.tex, table1-3.csv and in the page (see jobs/report/report_impl.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/report_impl.h"

#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

/* ------------------------------------------------------------- tables -- */

typedef struct {
  const char *name;
  ptrdiff_t mean, sd; /* offsets into RoiSummary; sd < 0: none */
  int digits;
} Col;
#define S(f) offsetof(RoiSummary, f)
static const Col T1[] = {{"Dice", S(dice_mean), S(dice_sd), 3},           {"Recall", S(recall_mean), S(recall_sd), 3},
                         {"Precision", S(precision_mean), S(precision_sd), 3}, {"IoU", S(iou_mean), S(iou_sd), 3},
                         {"HD95 mm", S(hd95_mean), S(hd95_sd), 2}};
static const Col T2[] = {{"Dice", S(dice_mean_no), S(dice_sd_no), 3},
                         {"Recall", S(recall_mean_no), S(recall_sd_no), 3},
                         {"Precision", S(precision_mean_no), S(precision_sd_no), 3},
                         {"outliers %", S(outlier_pct), -1, 1}};
static const Col T3[] = {{"FA error %", S(fa_err_mean), S(fa_err_sd), 2}, {"ICC(2,1)", S(fa_icc), -1, 3},
                         {"BA bias", S(ba_bias), -1, 4},                {"BA LoA low", S(ba_lo), -1, 4},
                         {"BA LoA high", S(ba_hi), -1, 4},              {"L/R swap %", S(swap_rate), -1, 1},
                         {"L+R pair swap %", S(pair_swap_rate), -1, 1}};
#undef S
typedef struct {
  const char *file, *title;
  const Col *cols;
  int ncols;
} TableSpec;
static const TableSpec TABLES[3] = {
    {"table1", "Table 1: Dice, Recall, Precision, IoU, HD95 (mean \xc2\xb1 SD over test slices; NaN-mean policy)", T1,
     5},
    {"table2",
     "Table 2: outliers removed (slices where the model gives no segmentation for the ROI), and the outlier percentage",
     T2, 4},
    {"table3",
     "Table 3: FA agreement: FA error = |FA_pred - FA_ref| / FA_ref (eq. 10), ICC(2,1) absolute agreement, "
     "Bland-Altman of FA_pred - FA_ref, L/R swap rate of the ROI and of its left/right pair",
     T3, 7}};

static double col_val(const RoiSummary *s, ptrdiff_t off) { return *(const double *)((const char *)s + off); }

static void cell(FILE *f, const RoiSummary *s, const Col *c, int tex) {
  double m = col_val(s, c->mean);
  if (isnan(m)) {
    fputs(tex ? "--" : "n/a", f);
    return;
  }
  fprintf(f, "%.*f", c->digits, m);
  if (c->sd >= 0) {
    double sd = col_val(s, c->sd);
    if (!isnan(sd)) fprintf(f, tex ? " $\\pm$ %.*f" : " \xc2\xb1 %.*f", c->digits, sd);
  }
}

void report_tables(Report *r) {
  TextBuf md, tex;
  FILE *fm = textbuf_open(&md), *ft = textbuf_open(&tex);
  fprintf(fm, "# cordseg report: tables\n\nSlices pooled over every completed run of an arm (folds x seeds). "
              "Empty-mask policy: a ratio with a zero denominator is NaN and means skip NaN.\n");
  fprintf(ft, "%% cordseg report: tables (\\usepackage{booktabs})\n");
  FILE *h = r->html;
  for (int t = 0; t < 3; t++) {
    const TableSpec *T = &TABLES[t];
    TextBuf csv;
    FILE *fc = textbuf_open(&csv);
    fprintf(fc, "arm,roi,roi_key,roi_name,slices,ref_slices");
    for (int c = 0; c < T->ncols; c++) {
      char n[64];
      snprintf(n, sizeof n, "%s", T->cols[c].name);
      report_file_safe(n);
      fprintf(fc, ",%s%s", n, T->cols[c].sd >= 0 ? "_mean" : "");
      if (T->cols[c].sd >= 0) fprintf(fc, ",%s_sd", n);
    }
    fputc('\n', fc);
    fprintf(fm, "\n## %s\n", T->title);
    fprintf(h, "<h3>%s</h3>\n", T->title);
    for (int32_t a = 0; a < r->narms; a++) {
      const Arm *A = &r->arms[a];
      fprintf(fm, "\n**%s** (%d runs, %lld test slices)\n\n| ROI |", A->name, A->runs_ok, (long long)A->n);
      char arm_tex[1100]; /* the arm name with LaTeX's '_' escaped ("lr_max=0.001") */
      size_t o = 0;
      for (const char *q = A->name; *q && o + 3 < sizeof arm_tex; q++) {
        if (*q == '_') arm_tex[o++] = '\\';
        arm_tex[o++] = *q;
      }
      arm_tex[o] = 0;
      fprintf(ft, "\n\\begin{table}[ht]\\centering\\caption{%s: %s}\n\\begin{tabular}{l", T->file, arm_tex);
      fprintf(h, "<table><caption>%s (%d runs, %lld test slices)</caption><tr><th>ROI</th>", A->name, A->runs_ok,
              (long long)A->n);
      for (int c = 0; c < T->ncols; c++) fprintf(fm, " %s |", T->cols[c].name), fputc('r', ft);
      fprintf(ft, "}\n\\toprule\nROI");
      for (int c = 0; c < T->ncols; c++) {
        fprintf(ft, " & %s", T->cols[c].name);
        fprintf(h, "<th>%s</th>", T->cols[c].name);
      }
      fprintf(fm, "\n|---|");
      for (int c = 0; c < T->ncols; c++) fprintf(fm, "---:|");
      fprintf(ft, " \\\\\n\\midrule\n");
      fprintf(h, "</tr>\n");
      for (int roi = 1; roi < LABEL_COUNT; roi++) {
        const RoiSummary *s = &A->sum[roi];
        fprintf(fm, "\n| %s |", LABEL_NAMES[roi]);
        fprintf(ft, "%s", LABEL_NAMES[roi]);
        fprintf(h, "<tr><td>%s</td>", LABEL_NAMES[roi]);
        fprintf(fc, "%s,%d,%s,%s,%lld,%lld", A->name, roi, LABEL_KEYS[roi], LABEL_NAMES[roi], (long long)s->slices,
                (long long)s->ref_slices);
        for (int c = 0; c < T->ncols; c++) {
          const Col *C = &T->cols[c];
          fputc(' ', fm), cell(fm, s, C, 0), fputs(" |", fm);
          fputs(" & ", ft), cell(ft, s, C, 1);
          fputs("<td>", h), cell(h, s, C, 0), fputs("</td>", h);
          fprintf(fc, ",%.6g", col_val(s, C->mean));
          if (C->sd >= 0) fprintf(fc, ",%.6g", col_val(s, C->sd));
        }
        fprintf(ft, " \\\\\n");
        fprintf(h, "</tr>\n");
        fputc('\n', fc);
      }
      fprintf(fm, "\n");
      fprintf(ft, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
      fprintf(h, "</table>\n");
    }
    char name[64];
    snprintf(name, sizeof name, "%s.csv", T->file);
    report_text_commit(&csv, r, name);
  }
  report_text_commit(&md, r, "tables.md");
  report_text_commit(&tex, r, "tables.tex");
}
