/* io/rundir.c: run directory files (see io/rundir.h). */
#define _POSIX_C_SOURCE 200809L
#include "io/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "io/atomic.h"

#define HINT_DIR "choose a writable --run-dir (check permissions, quota and free space)"

static void mkdir_p(const char *dir) {
  char p[4096];
  snprintf(p, sizeof p, "%s", dir);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0775) != 0 && errno != EEXIST) cs_fatal(HINT_DIR, "cannot create '%s': %s", p, strerror(errno));
    *s = '/';
  }
  if (mkdir(p, 0775) != 0 && errno != EEXIST) cs_fatal(HINT_DIR, "cannot create '%s': %s", p, strerror(errno));
}

/* removes NAME.tmp.PID files of dead processes (killed checkpoint writes);
 * a live PID on this host may be a concurrent writer and is left alone */
static void remove_stale_tmp(const char *d) {
  DIR *dp = opendir(d);
  if (!dp) return;
  struct dirent *e;
  while ((e = readdir(dp))) {
    const char *t = strstr(e->d_name, ".tmp.");
    if (!t || !t[5]) continue;
    char *end;
    long pid = strtol(t + 5, &end, 10);
    if (*end || pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    char p[4600];
    snprintf(p, sizeof p, "%s/%s", d, e->d_name);
    if (unlink(p) == 0) fprintf(stderr, "cordseg: removed '%s' (temp file of a killed write)\n", p);
  }
  closedir(dp);
}

void rundir_prepare(const char *dir) {
  mkdir_p(dir);
  char c[4200], p[4200];
  rundir_path(c, sizeof c, dir, "ckpt");
  mkdir_p(c);
  remove_stale_tmp(dir);
  remove_stale_tmp(c);
  /* no checkpoint and not finished: the run starts from epoch 0, so rows a
   * run killed before its first checkpoint logged are not kept (the restart
   * writes them again) */
  if (!rundir_exists(dir, "ckpt/last.h5") && !rundir_exists(dir, "DONE")) {
    rundir_path(p, sizeof p, dir, "log.csv");
    if (access(p, F_OK) == 0) rundir_log_truncate(p, 0);
  }
}

void rundir_path(char *out, size_t n, const char *dir, const char *name) {
  int w = snprintf(out, n, "%s/%s", dir, name);
  CS_CHECK(w > 0 && (size_t)w < n, "use a shorter run directory path", "path too long: '%s/%s'", dir, name);
}

int rundir_exists(const char *dir, const char *name) {
  char p[4200];
  rundir_path(p, sizeof p, dir, name);
  return access(p, F_OK) == 0;
}

void rundir_write_text(const char *path, const char *text) {
  char tmp[4300];
  atomic_begin(path, tmp, sizeof tmp);
  FILE *f = fopenCheck(tmp, "w");
  fwriteCheck(text, 1, strlen(text), f, path);
  fcloseCheck(f, path);
  atomic_commit(tmp, path);
}

char *rundir_read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *b = mallocCheck(cap);
  size_t r;
  while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n - 1 == 0) {
      b = realloc(b, cap *= 2);
      CS_CHECK(b, NULL, "out of memory reading '%s'", path);
    }
  }
  fclose(f);
  b[n] = 0;
  return b;
}

void rundir_json_begin(RunJson *j) {
  memset(j, 0, sizeof *j);
  j->f = open_memstream(&j->buf, &j->n);
  CS_CHECK(j->f, NULL, "out of memory (open_memstream)");
  fputs("{\n", j->f);
}

static void json_key(RunJson *j, const char *key) { fprintf(j->f, "%s  \"%s\": ", j->fields++ ? ",\n" : "", key); }

void rundir_json_str(RunJson *j, const char *key, const char *v) {
  json_key(j, key);
  fputc('"', j->f);
  for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(j->f, "\\%c", *p);
    else if (*p == '\n') fputs("\\n", j->f);
    else if (*p < 0x20) fprintf(j->f, "\\u%04x", *p);
    else fputc(*p, j->f);
  }
  fputc('"', j->f);
}
void rundir_json_int(RunJson *j, const char *key, int64_t v) {
  json_key(j, key);
  fprintf(j->f, "%lld", (long long)v);
}
void rundir_json_num(RunJson *j, const char *key, double v) {
  json_key(j, key);
  if (isfinite(v)) fprintf(j->f, "%.10g", v);
  else fputs("null", j->f);
}
void rundir_json_end(RunJson *j, const char *path) {
  fputs("\n}\n", j->f);
  fclose(j->f);
  rundir_write_text(path, j->buf);
  free(j->buf);
  memset(j, 0, sizeof *j);
}

void rundir_log_append(const char *path, const char *header, const char *row) {
  int fresh = access(path, F_OK) != 0;
  FILE *f = fopen(path, "a");
  if (!f) cs_fatal(HINT_DIR, "cannot append to '%s': %s", path, strerror(errno));
  if (fresh) fprintf(f, "%s\n", header);
  fprintf(f, "%s\n", row);
  fflush(f);
  fsync(fileno(f));
  fcloseCheck(f, path);
}

void rundir_log_truncate(const char *path, int64_t max_epoch) {
  char *t = rundir_read_text(path);
  if (!t) return;
  char *out = mallocCheck(strlen(t) + 1), *o = out;
  int line = 0;
  for (char *s = t; *s;) {
    char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s + 1) : strlen(s);
    if (line++ == 0 || atoll(s) <= max_epoch) memcpy(o, s, len), o += len;
    s += len;
  }
  *o = 0;
  rundir_write_text(path, out);
  free(out), free(t);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void rundir_keep_epoch(const char *dir, int64_t epoch, int32_t keep) {
  char ck[4200], last[4300], ep[4300];
  rundir_path(ck, sizeof ck, dir, "ckpt");
  snprintf(last, sizeof last, "%s/last.h5", ck);
  snprintf(ep, sizeof ep, "%s/epoch-%05lld.h5", ck, (long long)epoch);
  unlink(ep);
  if (keep > 0 && link(last, ep) != 0) /* filesystems without hard links: copy is not worth it, warn */
    fprintf(stderr, "cordseg: warning: cannot link '%s' to '%s': %s (numbered checkpoint skipped)\n", last, ep,
            strerror(errno));
  DIR *d = opendir(ck);
  if (!d) return;
  char *names[4096];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 4096)
    if (!strncmp(e->d_name, "epoch-", 6) && strstr(e->d_name, ".h5") && !strstr(e->d_name, ".tmp."))
      names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  for (int i = 0; i < n; i++) {
    if (i < n - keep) {
      char p[4600];
      snprintf(p, sizeof p, "%s/%s", ck, names[i]);
      unlink(p);
    }
    free(names[i]);
  }
}
