/* io/atomic.c: temp-file-then-rename output discipline (see atomic.h). */
#define _POSIX_C_SOURCE 200809L
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"

#define ATOMIC_MAX_PENDING 32
static char g_pending[ATOMIC_MAX_PENDING][4200];
static int g_registered = 0;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void atomic_cleanup(void) {
  for (int i = 0; i < ATOMIC_MAX_PENDING; i++)
    if (g_pending[i][0]) unlink(g_pending[i]), g_pending[i][0] = 0;
}

static void pending_set(const char *tmp, int add) {
  pthread_mutex_lock(&g_lock);
  if (!g_registered) atexit(atomic_cleanup), g_registered = 1;
  for (int i = 0; i < ATOMIC_MAX_PENDING; i++) {
    if (add && !g_pending[i][0]) {
      snprintf(g_pending[i], sizeof g_pending[i], "%s", tmp);
      break;
    }
    if (!add && !strcmp(g_pending[i], tmp)) {
      g_pending[i][0] = 0;
      break;
    }
  }
  pthread_mutex_unlock(&g_lock);
}

void atomic_begin(const char *path, char *tmp, size_t n) {
  int w = snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
  CS_CHECK(w > 0 && (size_t)w < n && w < 4190, "use a shorter output path", "output path too long: '%s'", path);
  unlink(tmp);
  pending_set(tmp, 1);
}

static void fsync_path(const char *p, int dir) {
  int fd = open(p, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) {
    if (dir) return; /* some filesystems do not allow opening directories */
    cs_fatal("check that the output directory is writable", "cannot reopen '%s' to fsync: %s", p, strerror(errno));
  }
  if (fsync(fd) != 0 && !dir) {
    int e = errno;
    close(fd);
    cs_fatal("check free disk space and quota", "fsync of '%s' failed: %s", p, strerror(e));
  }
  close(fd);
}

void atomic_commit(const char *tmp, const char *path) {
  fsync_path(tmp, 0);
  if (rename(tmp, path) != 0)
    cs_fatal("the output directory must be writable and on the same filesystem as the temp file",
             "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
  pending_set(tmp, 0);
  char d[4200];
  snprintf(d, sizeof d, "%s", path);
  fsync_path(dirname(d), 1);
}

void atomic_abort(const char *tmp) {
  unlink(tmp);
  pending_set(tmp, 0);
}
