/* jobs/paths.c: run-time lookup of the share directory, data, python and
 * TMPDIR (see paths.h). */
#define _GNU_SOURCE
#include "jobs/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"

#ifndef CORDSEG_REL_DATADIR /* bin -> share/cordseg, relative (set by CMake from the install dirs) */
#define CORDSEG_REL_DATADIR "../share/cordseg"
#endif

static int readable(const char *p) { return access(p, R_OK) == 0; }

const char *paths_exe_dir(void) {
  static char dir[PATH_MAX];
  if (dir[0]) return dir;
  ssize_t l = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (l <= 0) return strcpy(dir, ".");
  dir[l] = 0;
  char *s = strrchr(dir, '/');
  if (s == dir) s[1] = 0;
  else if (s) *s = 0;
  return dir;
}

const char *paths_share_dir(void) {
  static char share[PATH_MAX + 64];
  const char *rel[2] = {CORDSEG_REL_DATADIR, "share/cordseg"}; /* installed, build tree */
  for (int i = 0; i < 2; i++) {
    char probe[sizeof share + 32];
    snprintf(share, sizeof share, "%s/%s", paths_exe_dir(), rel[i]);
    snprintf(probe, sizeof probe, "%s/slurm/task-run.sh", share);
    if (readable(probe)) {
      char canon[PATH_MAX];
      if (realpath(share, canon)) snprintf(share, sizeof share, "%s", canon);
      return share;
    }
  }
  return NULL;
}

const char *paths_slurm_dir(void) {
  static char dir[PATH_MAX + 128];
  const char *d = getenv("CORDSEG_SLURM_DIR");
  if (d && *d) return d;
  const char *s = paths_share_dir();
  if (!s)
    cs_fatal("set CORDSEG_SLURM_DIR to a directory holding task-run.sh and the sbatch templates (slurm/ of the "
             "source tree), or install with `cmake --install BUILD --prefix P`",
             "cannot find the Slurm templates: neither %s/%s/slurm nor %s/share/cordseg/slurm exists",
             paths_exe_dir(), CORDSEG_REL_DATADIR, paths_exe_dir());
  snprintf(dir, sizeof dir, "%s/slurm", s);
  return dir;
}

int paths_beside_checkout(const char *rel, char *out, size_t n) {
  char c[2][PATH_MAX + 256];
  snprintf(c[0], sizeof c[0], "../shared/%s", rel);                     /* run from the checkout */
  snprintf(c[1], sizeof c[1], "%s/../../shared/%s", paths_exe_dir(), rel); /* checkout/build/cordseg */
  for (int i = 0; i < 2; i++)
    if (readable(c[i])) return snprintf(out, n, "%s", c[i]) < (int)n ? 0 : -1;
  return snprintf(out, n, "%s", c[0]) < 0 ? -1 : -1;
}

int paths_pam50(char *out, size_t n) {
  char c[PATH_MAX + 64], probe[PATH_MAX + 128];
  const char *env = getenv("PAM50"), *data = getenv("CORDSEG_DATA");
  if (env && *env) snprintf(c, sizeof c, "%s", env);
  else if (data && *data) snprintf(c, sizeof c, "%s/PAM50", data);
  else {
    if (paths_beside_checkout("data/PAM50/atlas/info_label.txt", probe, sizeof probe) == 0) {
      probe[strlen(probe) - strlen("/atlas/info_label.txt")] = 0;
      snprintf(out, n, "%s", probe);
      return 0;
    }
    snprintf(out, n,
             "no PAM50 atlas found: PAM50 and CORDSEG_DATA are unset and ../shared/data/PAM50 beside the "
             "checkout is missing");
    return -1;
  }
  snprintf(probe, sizeof probe, "%s/atlas/info_label.txt", c);
  if (readable(probe)) {
    snprintf(out, n, "%s", c);
    return 0;
  }
  snprintf(out, n, "no PAM50 atlas at %s (from %s=): %s is missing", c,
           env && *env ? "PAM50" : "CORDSEG_DATA", probe);
  return -1;
}

static int imports_torch(const char *py) {
  char cmd[PATH_MAX + 96];
  snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' > /dev/null 2>&1", py);
  return system(cmd) == 0;
}

const char *paths_python_torch(char *why, size_t n) {
  static char py[PATH_MAX];
  const char *env = getenv("CORDSEG_PYTHON");
  if (env && *env) {
    if (imports_torch(env)) return env;
    snprintf(why, n, "CORDSEG_PYTHON=%s cannot import torch (apt-get install python3-torch, or point CORDSEG_PYTHON "
             "at a python that has it)", env);
    return NULL;
  }
  const char *path = getenv("PATH");
  char *copy = strdup(path ? path : "/usr/bin:/bin"), *save = NULL, tried[1024] = "";
  CS_CHECK(copy, "out of memory", "strdup(PATH)");
  for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    snprintf(py, sizeof py, "%s/python3", *d ? d : ".");
    if (access(py, X_OK) != 0) continue;
    if (imports_torch(py)) {
      free(copy);
      return py;
    }
    size_t l = strlen(tried);
    if (snprintf(tried + l, sizeof tried - l, "%s%s", l ? ", " : "", py) >= (int)(sizeof tried - l)) break;
  }
  free(copy);
  snprintf(why, n, "no python3 on PATH can import torch (tried: %s): apt-get install python3-torch, or set "
           "CORDSEG_PYTHON=/path/to/python", tried[0] ? tried : "none found");
  return NULL;
}

const char *paths_tmpdir(void) {
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}
