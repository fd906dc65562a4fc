/* jobs/segment_cohort.c: `cordseg segment --bids DIR`: every subject of a
 * BIDS-style folder (io/bids.h: a DWI series with its b-table, else B0 and FA
 * maps) segmented with one model. Each subject runs segment_run in a child
 * process into OUT/sub-X/dwi/ (its output set, atomic as always), with its
 * output in OUT/sub-X/dwi/segment.log; a subject that fails is listed and the
 * rest go on; a subject whose set is there (metrics.csv written last, so the
 * set is complete) is skipped, so a killed run started again does only the
 * rest. Then OUT/metrics.tsv: every subject's per-level and whole-cord rows
 * of its metrics.csv with the subject in front, and
 * OUT/dataset_description.json (a BIDS derivative).
 * defines: segment_cohort_run */
#define _POSIX_C_SOURCE 200809L
#include "jobs/segment.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/bids.h"
#include "io/textio.h"
#include "io/path.h"

#define COHORT_HINT "choose a writable -o directory"

/* 0 done now, 1 done before, 2 failed (why[] has the log's last error line) */
static int cohort_subject(const SegmentOptions *o, const BidsSubject *s, const char *dir, char *why, size_t nwhy) {
  char done[PATH_CAP], logp[PATH_CAP];
  path_fmt(done, sizeof done, "%s/metrics.csv", dir);
  path_fmt(logp, sizeof logp, "%s/segment.log", dir);
  struct stat sb;
  if (stat(done, &sb) == 0) return 1;
  textio_mkdir_p(dir, COHORT_HINT);
  fflush(stdout), fflush(stderr);
  const pid_t pid = fork();
  CS_CHECK(pid >= 0, "the system is out of processes", "segment --bids: fork failed: %s", strerror(errno));
  if (pid == 0) { /* the subject, alone: a fatal error ends only this child */
    const int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 1), dup2(fd, 2), close(fd);
    SegmentOptions so = *o;
    so.bids = NULL, so.out = dir, so.quiet = 0;
    so.dwi = s->dwi[0] ? s->dwi : NULL, so.bvals = s->dwi[0] ? s->bval : NULL, so.bvecs = s->dwi[0] ? s->bvec : NULL;
    so.b0 = s->dwi[0] || !s->b0[0] ? NULL : s->b0, so.fa = s->dwi[0] || !s->fa[0] ? NULL : s->fa; /* one may lack */
    segment_run(&so);
    fflush(stdout), fflush(stderr);
    _exit(0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  snprintf(why, nwhy, "exit %d (see %.400s)", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), logp);
  char *log = textio_read(logp);
  const char *e = log ? strstr(log, "error: ") : NULL;
  if (e) snprintf(why, nwhy, "%.*s (%.200s)", (int)(strcspn(e + 7, "\n") < 300 ? strcspn(e + 7, "\n") : 300), e + 7, logp);
  free(log);
  return 2;
}

/* OUT/metrics.tsv: per subject, its metrics.csv rows of scope level and all, tab-separated, subject in front */
static void cohort_table(const char *out, const BidsSubject *s, int n) {
  char p[PATH_CAP], tmp[PATH_CAP];
  path_fmt(p, sizeof p, "%s/metrics.tsv", out);
  atomic_begin(p, tmp, sizeof tmp);
  FILE *f = fopen(tmp, "w");
  if (!f) cs_fatal(COHORT_HINT, "cannot create '%s': %s", tmp, strerror(errno));
  int header = 0;
  for (int i = 0; i < n; i++) {
    char m[PATH_CAP];
    path_fmt(m, sizeof m, "%s/%s/dwi/metrics.csv", out, s[i].name);
    char *t = textio_read(m);
    if (!t) continue;
    for (char *line = t, *next; line && *line; line = next) {
      next = strchr(line, '\n');
      if (next) *next++ = 0;
      const int is_header = line == t;
      if (is_header && header) continue;
      if (!is_header && strncmp(line, "level,", 6) && strncmp(line, "all,", 4)) continue;
      fprintf(f, "%s\t", is_header ? "subject" : s[i].name);
      for (char *c = line; *c; c++) fputc(*c == ',' ? '\t' : *c, f);
      fputc('\n', f);
      header |= is_header;
    }
    free(t);
  }
  if (fclose(f) != 0) cs_fatal("check free disk space", "writing '%s' failed", tmp);
  atomic_commit(tmp, p);
}

static void cohort_description(const char *out, const char *model) {
  cJSON *d = cJSON_CreateObject(), *gen = cJSON_CreateArray(), *g = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "Name", "cordseg segmentation of the cervical cord's 8 ROIs");
  cJSON_AddStringToObject(d, "BIDSVersion", "1.9.0");
  cJSON_AddStringToObject(d, "DatasetType", "derivative");
  cJSON_AddStringToObject(g, "Name", "cordseg");
  cJSON_AddStringToObject(g, "Description", model);
  cJSON_AddItemToArray(gen, g);
  cJSON_AddItemToObject(d, "GeneratedBy", gen);
  char *text = cJSON_Print(d);
  char p[PATH_CAP];
  path_fmt(p, sizeof p, "%s/dataset_description.json", out);
  textio_write(p, text);
  free(text);
  cJSON_Delete(d);
}

int segment_cohort_run(const SegmentOptions *o) {
  BidsSubject *s;
  const int n = bids_subjects(o->bids, NULL, &s);
  textio_mkdir_p(o->out, COHORT_HINT);
  int failed = 0, fresh = 0;
  double t0 = cs_now();
  char *why = mallocCheck((size_t)n * 600);
  for (int i = 0; i < n; i++) {
    char dir[PATH_CAP];
    path_fmt(dir, sizeof dir, "%s/%s/dwi", o->out, s[i].name);
    why[(size_t)i * 600] = 0;
    int r = 2;
    if (s[i].problem[0]) snprintf(why + (size_t)i * 600, 600, "%.590s", s[i].problem);
    else r = cohort_subject(o, &s[i], dir, why + (size_t)i * 600, 600);
    s[i].ok = r != 2, failed += r == 2, fresh += r == 0;
    const double el = cs_now() - t0;
    printf("segment [%d/%d] %s: %s", i + 1, n, s[i].name,
           r == 0 ? "done" : r == 1 ? "done before (remove its folder to redo)" : "FAILED: ");
    if (r == 2) printf("%s", why + (size_t)i * 600);
    if (fresh) printf("  (%.1f s, ETA %.0f s)", el, el / (double)(i + 1) * (double)(n - i - 1));
    printf("\n");
    fflush(stdout);
  }
  cohort_table(o->out, s, n);
  cohort_description(o->out, o->model);
  printf("segment: %d of %d subjects segmented into %s/sub-*/dwi/; the cohort's per-level and whole-cord rows in "
         "%s/metrics.tsv\n",
         n - failed, n, o->out, o->out);
  if (failed) {
    printf("segment: %d failed:", failed);
    for (int i = 0; i < n; i++)
      if (!s[i].ok) printf(" %s", s[i].name);
    printf(" (each has its reason above; run the same command again to retry only those)\n");
  }
  free(why), free(s);
  return failed;
}
