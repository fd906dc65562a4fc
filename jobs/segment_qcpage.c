/* jobs/segment_qcpage.c: the cohort's QC page of `segment --bids`:
 * OUT/qc.html and OUT/qc.tsv, subjects sorted worst first: failed subjects,
 * then by the number of QC warnings segment printed (its segment.log: labels
 * outside the cord, low cord coverage, slices missing an ROI, gray-matter FA
 * above white-matter FA), then by the share of labels inside the cord
 * (cord_qc.csv, DWI input). Per subject the warnings, inside and covered
 * shares, and its qc.png (every slice: b0, FA, labels on b0) shown 4x larger
 * (nearest neighbour), with the ROI colours' legend at the top.
 * A subject's session (names[i] "sub-X/ses-Y") is one row of its own.
 * qc.tsv: subject, session (n/a: none), status, warnings, inside_frac, covered_frac, flags, model_warnings
 * (segment's "model warning" lines: the model's provenance, not counted as QC warnings; also once on the page).
 * defines: segment_qc_page */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/path.h"
#include "io/labels.h"
#include "io/montage.h"
#include "io/textio.h"
#include "jobs/segment.h"

typedef struct {
  const char *name, *why; /* why: "" when segmented */
  int warnings;
  double inside, covered; /* NaN without cord_qc.csv */
  char flags[1024];       /* the warnings, "; "-joined */
  char model[1200];       /* the model's provenance warnings ("model warning: " lines), "; "-joined: not flags */
} QcRow;

/* the warnings of the subject's segment.log and the sums of its cord_qc.csv */
static void qc_read(const char *out, QcRow *r) {
  char p[PATH_CAP];
  path_fmt(p, sizeof p, "%s/%s/dwi/segment.log", out, r->name);
  char *log = textio_read(p);
  size_t w = 0;
  for (const char *q = log ? strstr(log, "QC warning: ") : NULL; q; q = strstr(q + 1, "QC warning: ")) {
    const char *t = q + 12;
    const int len = (int)strcspn(t, "\n");
    r->warnings++;
    if (w < sizeof r->flags - 8)
      w += (size_t)snprintf(r->flags + w, sizeof r->flags - w, "%s%.*s", w ? "; " : "", len < 300 ? len : 300, t);
  }
  w = 0;
  for (const char *q = log ? strstr(log, "model warning: ") : NULL; q; q = strstr(q + 1, "model warning: ")) {
    const char *t = q + 15;
    const int len = (int)strcspn(t, "\n");
    if (w < sizeof r->model - 8)
      w += (size_t)snprintf(r->model + w, sizeof r->model - w, "%s%.*s", w ? "; " : "", len < 560 ? len : 560, t);
  }
  free(log);
  r->inside = r->covered = NAN;
  path_fmt(p, sizeof p, "%s/%s/dwi/cord_qc.csv", out, r->name);
  char *csv = textio_read(p);
  if (!csv) return;
  double cm = 0, lab = 0, in = 0, cov = 0;
  for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
    long long s, k, a, b, c;
    if (sscanf(line + 1, "%lld,%lld,%lld,%lld,%lld,", &s, &k, &a, &b, &c) != 5) continue;
    const char *f = line + 1;
    for (int comma = 0; comma < 6 && f; comma++) f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
    cm += (double)a, lab += (double)b, in += (double)c, cov += f ? atof(f) : 0;
  }
  free(csv);
  if (lab > 0) r->inside = in / lab;
  if (cm > 0) r->covered = cov / cm;
}

static int qc_cmp(const void *pa, const void *pb) {
  const QcRow *a = pa, *b = pb;
  if (!!a->why[0] != !!b->why[0]) return a->why[0] ? -1 : 1;
  if (a->warnings != b->warnings) return a->warnings > b->warnings ? -1 : 1;
  const double x = isnan(a->inside) ? 2 : a->inside, y = isnan(b->inside) ? 2 : b->inside;
  if (x != y) return x < y ? -1 : 1;
  return strcmp(a->name, b->name);
}

static void qc_html_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else if (*s == '&') fputs("&amp;", f);
    else fputc(*s, f);
  }
}

static void qc_pct(char *buf, size_t n, double v) {
  if (isnan(v)) snprintf(buf, n, "n/a");
  else snprintf(buf, n, "%.1f %%", 100 * v);
}

void segment_qc_page(const char *out, const char *const *names, const char *const *why, int n) {
  QcRow *r = callocCheck((size_t)n + 1, sizeof *r);
  for (int i = 0; i < n; i++) {
    r[i].name = names[i], r[i].why = why[i] ? why[i] : "";
    if (!r[i].why[0]) qc_read(out, &r[i]);
    else r[i].inside = r[i].covered = NAN;
  }
  qsort(r, (size_t)n, sizeof *r, qc_cmp);
  char p[PATH_CAP];
  path_fmt(p, sizeof p, "%s/qc.tsv", out);
  TextBuf tb;
  textbuf_open(&tb);
  fprintf(tb.f, "subject\tsession\tstatus\twarnings\tinside_frac\tcovered_frac\tflags\tmodel_warnings\n");
  for (int i = 0; i < n; i++) {
    const char *ses = strchr(r[i].name, '/'); /* "sub-X/ses-Y" of a session */
    fprintf(tb.f, "%.*s\t%s\t%s\t%d\t", ses ? (int)(ses - r[i].name) : (int)strlen(r[i].name), r[i].name,
            ses ? ses + 1 : "n/a", r[i].why[0] ? "failed" : "segmented", r[i].warnings);
    if (isnan(r[i].inside)) fprintf(tb.f, "n/a\t");
    else fprintf(tb.f, "%.4f\t", r[i].inside);
    if (isnan(r[i].covered)) fprintf(tb.f, "n/a\t");
    else fprintf(tb.f, "%.4f\t", r[i].covered);
    fprintf(tb.f, "%s\t%s\n", r[i].why[0] ? r[i].why : r[i].flags[0] ? r[i].flags : "none",
            r[i].model[0] ? r[i].model : "none");
  }
  textbuf_commit(&tb, p);
  path_fmt(p, sizeof p, "%s/qc.html", out);
  textbuf_open(&tb);
  FILE *f = tb.f;
  fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>cordseg QC: %d subjects</title>\n"
             "<style>body{font-family:sans-serif;margin:1em} img{image-rendering:pixelated;zoom:4} "
             "td,th{border-bottom:1px solid #ccc;padding:4px;vertical-align:top;text-align:left} "
             ".bad{color:#b00;font-weight:bold} .sw{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;"
             "vertical-align:middle;border:1px solid #888} .strip{overflow-x:auto;max-width:95vw}</style></head><body>\n",
          n);
  fprintf(f, "<h1>cordseg segment: QC of %d subjects, worst first</h1>\n<p>", n);
  for (int c = 1; c < LABEL_COUNT; c++)
    fprintf(f, "<span class=\"sw\" style=\"background:rgb(%d,%d,%d)\"></span>%s", MONTAGE_COLORS[c][0],
            MONTAGE_COLORS[c][1], MONTAGE_COLORS[c][2], LABEL_NAMES[c]);
  fprintf(f, "</p>\n");
  for (int i = 0; i < n; i++) /* the model is the same for every subject: its warnings once, from the first log */
    if (r[i].model[0]) {
      fprintf(f, "<p class=\"bad\">Model: ");
      qc_html_escape(f, r[i].model);
      fprintf(f, " (model warnings, in qc.tsv's model_warnings; not QC flags)</p>\n");
      break;
    }
  fprintf(f, "<p>Each strip: per slice (0 = most superior; rows anterior at the top, the patient's right on "
             "the left of each tile) B0, FA and the labels on B0. Sorted: failed subjects, then by QC warnings, "
             "then by the share of labels inside the cord of the mean DW signal (DWI input; cord_qc.csv). The "
             "same in qc.tsv.</p>\n<table><tr><th>subject / session</th><th>warnings</th><th>inside</th><th>covered</th>"
             "<th>slices</th></tr>\n");
  for (int i = 0; i < n; i++) {
    char in[32], cov[32];
    qc_pct(in, sizeof in, r[i].inside), qc_pct(cov, sizeof cov, r[i].covered);
    fprintf(f, "<tr><td>%s</td><td%s>", r[i].name, /* "sub-X" or "sub-X/ses-Y" */ r[i].why[0] || r[i].warnings ? " class=\"bad\"" : "");
    if (r[i].why[0]) fprintf(f, "FAILED: "), qc_html_escape(f, r[i].why);
    else if (r[i].warnings) qc_html_escape(f, r[i].flags);
    else fprintf(f, "none");
    fprintf(f, "</td><td>%s</td><td>%s</td><td>", in, cov);
    if (!r[i].why[0]) fprintf(f, "<div class=\"strip\"><img src=\"%s/dwi/qc.png\" alt=\"%s\"></div>", r[i].name, r[i].name);
    fprintf(f, "</td></tr>\n");
  }
  fprintf(f, "</table></body></html>\n");
  textbuf_commit(&tb, p);
  free(r);
}
