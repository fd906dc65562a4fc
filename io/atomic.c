/* io/atomic.c: temp-file-then-rename output discipline (see atomic.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "io/atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "io/path.h"

#define ATOMIC_MAX_PENDING 32
static char g_pending[ATOMIC_MAX_PENDING][PATH_CAP];
static pid_t g_owner[ATOMIC_MAX_PENDING]; /* the process that registered it: a forked child's exit leaves it alone */
static int g_registered = 0;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p) != 0 && errno != ENOENT;
}

/* a file, or a stage directory and what it holds */
static void remove_tree(const char *p) {
  if (unlink(p) != 0 && errno != ENOENT) nftw(p, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void atomic_cleanup(void) {
  for (int i = 0; i < ATOMIC_MAX_PENDING; i++)
    if (g_pending[i][0] && g_owner[i] == getpid()) remove_tree(g_pending[i]), g_pending[i][0] = 0;
}

static void pending_set(const char *tmp, int add) {
  pthread_mutex_lock(&g_lock);
  if (!g_registered) atexit(atomic_cleanup), g_registered = 1;
  for (int i = 0; i < ATOMIC_MAX_PENDING; i++) {
    if (add && !g_pending[i][0]) {
      snprintf(g_pending[i], sizeof g_pending[i], "%s", tmp);
      g_owner[i] = getpid();
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
  CS_CHECK(w > 0 && (size_t)w < n && (size_t)w < sizeof g_pending[0], "use a shorter output path",
           "output path too long: '%s'", path);
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
  char d[PATH_CAP];
  path_fmt(d, sizeof d, "%s", path);
  fsync_path(dirname(d), 1);
}

void atomic_abort(const char *tmp) {
  unlink(tmp);
  pending_set(tmp, 0);
}

void atomic_dir_begin(const char *path, const char *what, char *tmp, size_t n) {
  int w = snprintf(tmp, n, "%s.%s.tmp.%ld", path, what, (long)getpid());
  CS_CHECK(w > 0 && (size_t)w < n && (size_t)w < sizeof g_pending[0], "use a shorter output path",
           "output path too long: '%s'", path);
  remove_tree(tmp);
  if (mkdir(tmp, 0700) != 0)
    cs_fatal("check write permission and free space beside the output", "cannot create the temporary folder '%s': %s",
             tmp, strerror(errno));
  pending_set(tmp, 1);
}

void atomic_dir_end(const char *tmp) {
  remove_tree(tmp);
  pending_set(tmp, 0);
}

void atomic_set_begin(const char *dir, char *stage, size_t n) {
  struct stat st;
  if (stat(dir, &st) != 0 && mkdir(dir, 0777) != 0 && errno != EEXIST)
    cs_fatal("choose a writable output directory whose parent exists", "cannot create '%s': %s", dir,
             strerror(errno));
  int w = snprintf(stage, n, "%s/.set.tmp.%ld", dir, (long)getpid());
  CS_CHECK(w > 0 && (size_t)w < n && (size_t)w + 256 < sizeof g_pending[0], /* room for a file in it */
           "use a shorter output path", "output path too long: '%s'", dir);
  remove_tree(stage);
  if (mkdir(stage, 0777) != 0)
    cs_fatal("choose a writable output directory (check permissions and free space)", "cannot create '%s': %s", stage,
             strerror(errno));
  pending_set(stage, 1);
}

void atomic_set_commit(const char *stage, const char *dir, const char *const *names, int n) {
  char from[PATH_CAP], to[PATH_CAP];
  for (int i = 0; i < n; i++) { /* files of the previous set that this one does not have */
    path_fmt(from, sizeof from, "%s/%s", stage, names[i]);
    path_fmt(to, sizeof to, "%s/%s", dir, names[i]);
    struct stat st;
    if (stat(from, &st) != 0 && stat(to, &st) == 0 && !S_ISDIR(st.st_mode)) unlink(to);
  }
  DIR *dp = opendir(stage);
  if (!dp) cs_fatal("check that the output directory is writable", "cannot read '%s': %s", stage, strerror(errno));
  struct dirent *e;
  while ((e = readdir(dp))) {
    if (e->d_name[0] == '.') continue;
    path_fmt(from, sizeof from, "%s/%s", stage, e->d_name);
    path_fmt(to, sizeof to, "%s/%s", dir, e->d_name);
    fsync_path(from, 0);
    if (rename(from, to) != 0)
      cs_fatal("the output directory must be writable", "cannot rename '%s' to '%s': %s", from, to, strerror(errno));
  }
  closedir(dp);
  fsync_path(dir, 1);
  remove_tree(stage);
  pending_set(stage, 0);
}

void atomic_remove_stale(const char *d) {
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
    char p[PATH_CAP];
    path_fmt(p, sizeof p, "%s/%s", d, e->d_name);
    remove_tree(p);
    fprintf(stderr, "cordseg: removed '%s' (left by a killed write)\n", p);
  }
  closedir(dp);
}
