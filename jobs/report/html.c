/* jobs/report/html.c: index.html: the page, its run table and the PNGs embedded in it (see jobs/report/report_impl.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/path.h"

/* --------------------------------------------------------------- html -- */

static void base64(FILE *f, const unsigned char *b, size_t n) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) | (i + 2 < n ? b[i + 2] : 0);
    fputc(A[v >> 18 & 63], f), fputc(A[v >> 12 & 63], f);
    fputc(i + 1 < n ? A[v >> 6 & 63] : '=', f), fputc(i + 2 < n ? A[v & 63] : '=', f);
  }
}

/* writes OUT/file (when file != NULL) and embeds the PNG in the page */
void report_html_png(Report *r, Plot *p, const char *file, const char *caption) {
  if (file) {
    char path[PATH_CAP];
    report_out_path(r, path, sizeof path, file);
    plot_write_png(p, path);
  }
  size_t n;
  unsigned char *b = plot_png_bytes(p, &n);
  fprintf(r->html, "<figure><img alt=\"%s\" src=\"data:image/png;base64,", file ? file : "overlay");
  base64(r->html, b, n);
  fprintf(r->html, "\"><figcaption>%s%s%s</figcaption></figure>\n", caption, file ? " &mdash; " : "", file ? file : "");
  free(b);
}


void report_html_begin(Report *r) {
  r->html = textbuf_open(&r->html_text);
  fputs(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>cordseg report</title>\n<style>\n"
      "body{font-family:sans-serif;max-width:1300px;margin:1em auto;color:#222}\n"
      "table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border:1px solid #bbb;padding:2px 8px;"
      "text-align:right}td:first-child,th:first-child{text-align:left}caption{text-align:left;font-weight:bold}\n"
      ".warn{color:#a00}.ok{color:#070;text-align:left}td.warn{text-align:left}figure{display:inline-block;margin:.5em}"
      "img{max-width:100%}\n"
      ".qc figure{vertical-align:top;max-width:420px}\n</style></head><body>\n<h1>cordseg report</h1>\n",
      r->html);
}

void report_html_runs(Report *r, const char *missing) {
  FILE *h = r->html;
  const ReportRun *first = NULL;
  for (int32_t i = 0; i < r->nruns && !first; i++)
    if (r->runs[i].status != RUN_UNREADABLE) first = &r->runs[i];
  fprintf(h, "<p>Study: ");
  for (int32_t i = 0; i < r->o->nstudies; i++) fprintf(h, "%s<code>%s</code>", i ? ", " : "", r->o->studies[i]);
  if (first)
    fprintf(h, ". Folds manifest <code>%s</code>, data checksum <code>%s</code>.", first->ri.folds_hash,
            first->ri.data_checksum);
  if (r->legacy)
    fprintf(h, "</p>\n<p class=warn>%d run.json file(s) predate arm hashes: runs are grouped by backbone-loss-input "
               "alone, so runs of other settings may be pooled into one arm.", r->legacy);
  fprintf(h, "</p>\n<h2>Runs</h2>\n<table><tr><th>run</th><th>arm</th><th>fold</th><th>seed</th><th>commit</th>"
             "<th>test slices</th><th>status</th></tr>\n");
  for (int32_t i = 0; i < r->nruns; i++) {
    const ReportRun *u = &r->runs[i];
    fprintf(h,
            "<tr><td>%s</td><td>%s</td><td>%d</td><td>%lld</td><td>%s</td><td>%lld</td><td class=%s>%s%s%s</td></tr>\n",
            u->ri.dir, u->arm[0] ? u->arm : u->ri.arm, u->ri.fold, (long long)u->ri.seed, u->ri.git, (long long)u->n,
            u->status ? "warn" : "ok", REPORT_STATUS_NAMES[u->status], u->status ? ": " : "", u->note);
  }
  fprintf(h, "</table>\n%s", missing);
}

/* missing (arm, fold, seed) cells: arms and seeds seen in readable runs,
 * folds 0..k-1 from the folds manifest (or the largest fold seen) */
