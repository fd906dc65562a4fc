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
#include "io/textio.h"
#include "io/path.h"

#define HINT_DIR "choose a writable --run-dir (check permissions, quota and free space)"

void rundir_prepare(const char *dir) {
  textio_mkdir_p(dir, HINT_DIR);
  char c[PATH_CAP], p[PATH_CAP];
  rundir_path(c, sizeof c, dir, "ckpt");
  textio_mkdir_p(c, HINT_DIR);
  atomic_remove_stale(dir);
  atomic_remove_stale(c);
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
  char p[PATH_CAP];
  rundir_path(p, sizeof p, dir, name);
  return access(p, F_OK) == 0;
}

void rundir_log_append(const char *path, const char *header, const char *row) {
  int fresh = access(path, F_OK) != 0;
  FILE *f = fopen(path, "a");
  if (!f) cs_fatal(HINT_DIR, "cannot append to '%s': %s", path, strerror(errno));
  if (fresh) fprintf(f, "%s\n", header);
  fprintf(f, "%s\n", row);
  if (fflush(f) != 0 || fsync(fileno(f)) != 0)
    cs_fatal(HINT_DIR, "cannot write '%s': %s", path, strerror(errno));
  fcloseCheck(f, path);
}

void rundir_log_truncate(const char *path, int64_t max_epoch) {
  char *t = textio_read(path);
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
  textio_write(path, out);
  free(out), free(t);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void rundir_keep_epoch(const char *dir, int64_t epoch, int32_t keep) {
  char ck[PATH_CAP], last[PATH_CAP], ep[PATH_CAP];
  rundir_path(ck, sizeof ck, dir, "ckpt");
  path_fmt(last, sizeof last, "%s/last.h5", ck);
  path_fmt(ep, sizeof ep, "%s/epoch-%05lld.h5", ck, (long long)epoch);
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
      names[n++] = textio_strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  for (int i = 0; i < n; i++) {
    if (i < n - keep) {
      char p[PATH_CAP];
      path_fmt(p, sizeof p, "%s/%s", ck, names[i]);
      unlink(p);
    }
    free(names[i]);
  }
}
