/* jobs/report/collect.c: the runs of a study: run directories found under the studies, their run.json, config.ini and eval files, consistency, the arms they pool into and the missing grid cells (see jobs/report/report_impl.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/report_impl.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "io/config.h"
#include "io/folds.h"
#include "io/rundir.h"
#include "jobs/evaluate.h"
#include "io/path.h"

const char *const REPORT_STATUS_NAMES[] = {"ok",           "unreadable run.json", "failed (no DONE)", "missing eval",
                                           "unreadable eval", "duplicate",         "never learned"};

/* ---------------------------------------------------------------- files -- */

void report_out_path(const Report *r, char *p, size_t n, const char *name) { rundir_path(p, n, r->o->out, name); }

/* OUT/name from text collected in memory, written atomically */
void report_text_commit(TextBuf *t, const Report *r, const char *name) {
  char p[PATH_CAP];
  report_out_path(r, p, sizeof p, name);
  textbuf_commit(t, p);
}

void report_file_safe(char *s) {
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
      *s = '_';
}


/* ---------------------------------------------------------- collection -- */

static void add_run(Report *r, const char *dir) {
  if (r->nruns == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 16;
    r->runs = realloc(r->runs, sizeof(ReportRun) * (size_t)r->cap);
    CS_CHECK(r->runs, NULL, "out of memory");
  }
  ReportRun *u = &r->runs[r->nruns++];
  memset(u, 0, sizeof *u);
  snprintf(u->ri.dir, sizeof u->ri.dir, "%s", dir);
}

static void find_runs(Report *r, const char *dir, int depth) {
  if (depth > 16) return;
  if (rundir_exists(dir, "run.json")) return add_run(r, dir);
  DIR *d = opendir(dir);
  if (!d) return;
  char **names = NULL;
  int n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) names = realloc(names, sizeof(char *) * (size_t)(cap = cap ? 2 * cap : 32));
    CS_CHECK(names, NULL, "out of memory");
    names[n++] = textio_strdup(e->d_name);
  }
  closedir(d);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      char *t = names[j];
      names[j] = names[j - 1], names[j - 1] = t;
    }
  for (int i = 0; i < n; i++) {
    char p[PATH_CAP];
    struct stat st;
    int w = snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    if (w > 0 && (size_t)w < sizeof p && stat(p, &st) == 0 && S_ISDIR(st.st_mode)) find_runs(r, p, depth + 1);
    free(names[i]);
  }
  free(names);
}

static void load_run(ReportRun *u) {
  char err[PATH_MSG_CAP], dir[4096], p[PATH_CAP];
  snprintf(dir, sizeof dir, "%s", u->ri.dir);
  if (runinfo_read(dir, &u->ri, err, sizeof err)) {
    u->status = RUN_UNREADABLE;
    snprintf(u->note, sizeof u->note, "%s", err);
    return;
  }
  if (rundir_exists(dir, "config.ini")) { /* written by train: fatal with file:line:key when broken */
    TrainConfig cfg;
    config_defaults_stored(&cfg);
    rundir_path(p, sizeof p, dir, "config.ini");
    config_load(&cfg, p);
    snprintf(u->store, sizeof u->store, "%s", cfg.store);
    snprintf(u->folds, sizeof u->folds, "%s", cfg.folds);
  }
  if (!u->ri.done) {
    u->status = RUN_NOT_DONE;
    snprintf(u->note, sizeof u->note, "'%s/DONE' is missing: training did not finish", dir);
    return;
  }
  rundir_path(p, sizeof p, dir, "eval/slices.csv");
  if (access(p, F_OK) != 0) {
    u->status = RUN_NO_EVAL;
    snprintf(u->note, sizeof u->note, "'%s' is missing: run `cordseg evaluate %s`", p, dir);
    return;
  }
  RunInfo csv;
  if (evalio_slices_read(p, &u->s, &u->n, &csv, err, sizeof err)) {
    u->status = RUN_BAD_EVAL;
    snprintf(u->note, sizeof u->note, "%s", err);
    return;
  }
  if (strcmp(csv.folds_hash, u->ri.folds_hash) || strcmp(csv.data_checksum, u->ri.data_checksum) ||
      strcmp(csv.config_hash, u->ri.config_hash)) {
    u->status = RUN_BAD_EVAL;
    snprintf(u->note, sizeof u->note,
             "'%s' was written for another config/folds/data (stale): re-run `cordseg evaluate %s`", p, dir);
    free(u->s), u->s = NULL, u->n = 0;
  }
}

/* refuse to mix manifests or data; list everything else */
static void check_consistency(const Report *r) {
  const ReportRun *ref = NULL;
  for (int32_t i = 0; i < r->nruns; i++) {
    const ReportRun *u = &r->runs[i];
    if (u->status == RUN_UNREADABLE) continue;
    if (!ref) {
      ref = u;
      continue;
    }
    if (strcmp(u->ri.folds_hash, ref->ri.folds_hash))
      cs_fatal("report runs that share one folds manifest (one study per report), or re-run them on the same folds",
               "run '%s' has folds_hash %s but run '%s' has %s", u->ri.dir, u->ri.folds_hash, ref->ri.dir,
               ref->ri.folds_hash);
    if (strcmp(u->ri.data_checksum, ref->ri.data_checksum))
      cs_fatal("report runs trained on the same slice store (one study per report)",
               "run '%s' has data_checksum %s but run '%s' has %s", u->ri.dir, u->ri.data_checksum, ref->ri.dir,
               ref->ri.data_checksum);
  }
}

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void report_build_arms(Report *r) {
  const char **names = mallocCheck(sizeof(char *) * (size_t)(r->nruns + 1));
  int32_t n = 0;
  for (int32_t i = 0; i < r->nruns; i++)
    if (report_run_pooled(&r->runs[i])) names[n++] = r->runs[i].arm;
  qsort(names, (size_t)n, sizeof(char *), cmp_str_ptr);
  r->arms = callocCheck((size_t)n + 1, sizeof(Arm));
  for (int32_t i = 0; i < n; i++)
    if (i == 0 || strcmp(names[i], names[i - 1]))
      snprintf(r->arms[r->narms++].name, sizeof r->arms[0].name, "%s", names[i]);
  free(names);
  for (int32_t a = 0; a < r->narms; a++) {
    Arm *A = &r->arms[a];
    for (int32_t i = 0; i < r->nruns; i++)
      if (report_run_pooled(&r->runs[i]) && !strcmp(r->runs[i].arm, A->name)) A->n += r->runs[i].n, A->runs_ok++;
    A->s = mallocCheck(sizeof(EvalSlice) * (size_t)(A->n + 1));
    A->run_of = mallocCheck(sizeof(int32_t) * (size_t)(A->n + 1));
    int64_t o = 0;
    for (int32_t i = 0; i < r->nruns; i++)
      if (report_run_pooled(&r->runs[i]) && !strcmp(r->runs[i].arm, A->name))
        for (int64_t q = 0; q < r->runs[i].n; q++) A->run_of[o] = i, A->s[o++] = r->runs[i].s[q];
    evaluate_summarize(A->s, A->n, A->sum);
    evaluate_fa_corr(A->s, A->n, A->corr);
  }
}


/* every run directory under the studies, read and checked */
void report_collect(Report *r) {
  const ReportOptions *o = r->o;
  for (int32_t i = 0; i < o->nstudies; i++) {
    struct stat st;
    CS_CHECK(stat(o->studies[i], &st) == 0 && S_ISDIR(st.st_mode), "pass study directories holding run directories",
             "'%s' is not a directory", o->studies[i]);
    find_runs(r, o->studies[i], 0);
  }
  CS_CHECK(r->nruns > 0, "run `cordseg train --run-dir STUDY/ARM/foldK` first, or point at the right directory",
           "no run directory (one holding run.json) under the given study directories");
  for (int32_t i = 0; i < r->nruns; i++) load_run(&r->runs[i]);
  check_consistency(r);
  report_name_arms(r);
}

char *report_grid_missing(Report *r, int *count) {
  TextBuf t;
  FILE *f = textbuf_open(&t);
  *count = 0;
  int32_t k = 0, split = 0, any_cv = 0;
  const ReportRun *first = NULL;
  for (int32_t i = 0; i < r->nruns; i++) {
    const ReportRun *u = &r->runs[i];
    if (u->status == RUN_UNREADABLE) continue;
    if (!first) first = u;
    if (u->ri.fold < 0) split = 1;
    else any_cv = 1, k = u->ri.fold + 1 > k ? u->ri.fold + 1 : k;
  }
  if (first && any_cv && first->folds[0] && access(first->folds, R_OK) == 0) {
    Folds fo; /* the manifest's k (its hash verified) */
    folds_read(&fo, first->folds);
    if (fo.k > k) k = fo.k;
    folds_free(&fo);
  }
  fprintf(f, "<h2>Missing runs</h2>\n<ul>\n");
  for (int32_t i = 0; i < r->nruns; i++) {
    const ReportRun *ui = &r->runs[i];
    if (ui->status == RUN_UNREADABLE) continue;
    int dup_arm = 0;
    for (int32_t j = 0; j < i; j++)
      dup_arm |= r->runs[j].status != RUN_UNREADABLE && !strcmp(r->runs[j].arm, ui->arm);
    if (dup_arm) continue;
    for (int32_t s = 0; s < r->nruns; s++) {
      const ReportRun *us = &r->runs[s];
      int dup_seed = us->status == RUN_UNREADABLE;
      for (int32_t j = 0; j < s && !dup_seed; j++)
        dup_seed = r->runs[j].status != RUN_UNREADABLE && r->runs[j].ri.seed == us->ri.seed;
      if (dup_seed) continue;
      for (int32_t fo = split ? -1 : 0; fo < k; fo++) {
        if (fo < 0 && !split) continue;
        int have = 0;
        for (int32_t j = 0; j < r->nruns && !have; j++) {
          const ReportRun *u = &r->runs[j];
          have = u->status != RUN_UNREADABLE && !strcmp(u->arm, ui->arm) && u->ri.seed == us->ri.seed &&
                 u->ri.fold == fo;
        }
        if (!have) {
          fprintf(f, "<li class=warn>arm %s, fold %d, seed %lld: no run directory found</li>\n", ui->arm, fo,
                  (long long)us->ri.seed);
          if (!r->o->quiet)
            fprintf(stderr, "report: missing: arm %s, fold %d, seed %lld\n", ui->arm, fo, (long long)us->ri.seed);
          (*count)++;
        }
      }
    }
  }
  if (!*count) fprintf(f, "<li class=ok>none: every arm has every fold and seed</li>\n");
  fprintf(f, "</ul>\n");
  return textbuf_take(&t);
}
