/* tests/testutil.c: implementation of the test harness in testutil.h. */
#include "tests/testutil.h"

#include "core/backend.h"
#include "core/unet.h"
#include "io/path.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int t_failures = 0;
int t_checks = 0;

void t_check_at(int ok, const char *file, int line, const char *fmt, ...) {
  t_checks++;
  if (ok) return;
  t_failures++;
  fprintf(stderr, "FAIL %s:%d: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
}

double t_max_rel_err(const double *a, const double *b, size_t n, double floor) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(a[i] - b[i]) / fmax(fabs(b[i]), floor);
    if (!(d <= m)) m = d; /* NaN propagates as failure */
  }
  return m;
}

double t_max_rel_err_f(const float *a, const float *b, size_t n, double floor) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]) / fmax(fabs((double)b[i]), floor);
    if (!(d <= m)) m = d;
  }
  return m;
}

int t_finish(const char *name) {
  if (t_checks == 0) {
    fprintf(stderr, "%s: no checks ran: counted as a failure\n", name);
    return 1;
  }
  if (t_failures) {
    fprintf(stderr, "%s: %d of %d checks FAILED\n", name, t_failures, t_checks);
    return 1;
  }
  printf("%s: all %d checks passed\n", name, t_checks);
  return 0;
}

const char *t_data_dir(void) {
  const char *env = getenv("CORDSEG_DATA");
  return env && env[0] ? env : CORDSEG_SOURCE_DIR "/../shared/data";
}

static int t_imports_torch(const char *py) {
  char cmd[PATH_CAP];
  if (snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' > /dev/null 2>&1", py) >= (int)sizeof cmd) return 0;
  return system(cmd) == 0;
}

const char *t_python_torch(char *why, size_t n) {
  static char py[4096];
  const char *env = getenv("CORDSEG_PYTHON");
  if (env && env[0]) {
    if (t_imports_torch(env)) return env;
    snprintf(why, n, "CORDSEG_PYTHON=%s cannot import torch (apt-get install python3-torch)", env);
    return NULL;
  }
  char path[8192], tried[1024] = "";
  snprintf(path, sizeof path, "%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
  for (char *save = NULL, *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    if (snprintf(py, sizeof py, "%s/python3", d) >= (int)sizeof py || access(py, X_OK) != 0) continue;
    if (t_imports_torch(py)) return py;
    size_t l = strlen(tried);
    if (snprintf(tried + l, sizeof tried - l, "%s%s", l ? ", " : "", py) >= (int)(sizeof tried - l)) break;
  }
  snprintf(why, n, "no python3 on PATH imports torch (tried: %s): apt-get install python3-torch, or set CORDSEG_PYTHON",
           tried[0] ? tried : "none found");
  return NULL;
}

int t_child_exit(void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(99);
    fn(arg);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void t_skip(const char *why) {
  printf("SKIPPED: %s\n", why);
  fflush(stdout);
  exit(77);
}

Backend *t_cpu(void) {
  static Backend *be;
  if (!be) be = backend_cpu_init();
  return be;
}
float *t_params(Unet *net) {
  float *h = malloc(unet_num_params(net) * sizeof(float));
  unet_params_download(net, h);
  return h;
}
float *t_grads(Unet *net) {
  float *h = malloc(unet_num_params(net) * sizeof(float));
  unet_grads_download(net, h);
  return h;
}
float *t_buffers(Unet *net) {
  float *h = malloc((unet_num_buffers(net) + 1) * sizeof(float));
  unet_buffers_download(net, h);
  return h;
}
