/* jobs/cli.c: the option parsing every subcommand shares (see jobs/cli.h). */
#include "jobs/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t cli_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || !end || *end || end == s) {
    fprintf(stderr, "cordseg: error: option %s: '%s' is not an integer\n", opt, s);
    exit(2);
  }
  if (v < lo || v > hi) {
    fprintf(stderr, "cordseg: error: option %s: %lld is outside [%lld, %lld]\n", opt, v, (long long)lo, (long long)hi);
    exit(2);
  }
  return v;
}

double cli_parse_float(const char *opt, const char *s, double lo, double hi) {
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || !end || *end || end == s || v != v) {
    fprintf(stderr, "cordseg: error: option %s: '%s' is not a number\n", opt, s);
    exit(2);
  }
  if (v < lo || v > hi) {
    fprintf(stderr, "cordseg: error: option %s: %g is outside [%g, %g]\n", opt, v, lo, hi);
    exit(2);
  }
  return v;
}

void cli_usage_error(const char *cmd, const char *fmt, ...) {
  fprintf(stderr, "cordseg %s: error: ", cmd);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  see: cordseg %s --help\n", cmd);
  exit(2);
}

void cli_command_line(int argc, char **argv, char *out, size_t n) {
  int o = snprintf(out, n, "cordseg");
  for (int i = 0; i < argc && o > 0 && (size_t)o < n; i++) o += snprintf(out + o, n - (size_t)o, " %s", argv[i]);
}
