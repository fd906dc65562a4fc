/* cmd/cli.c: the option parser every subcommand uses (see cmd/cli.h), on
 * top of getopt_long. */
#include "cmd/cli.h"

#include <errno.h>
#include <getopt.h>
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

#define CLI_MAX_OPTIONS 64

static int takes_value(CliKind k) { return k != CLI_ON && k != CLI_OFF; }

static void store(const char *cmd, const CliOption *o, const char *v) {
  char flag[80];
  snprintf(flag, sizeof flag, "--%s", o->name);
  switch (o->kind) {
    case CLI_ON: *(int *)o->dest = 1; break;
    case CLI_OFF: *(int *)o->dest = 0; break;
    case CLI_STR: *(const char **)o->dest = v; break;
    case CLI_BUF:
      if (strlen(v) >= o->size) cli_usage_error(cmd, "option %s: '%s' is too long", flag, v);
      memcpy(o->dest, v, strlen(v) + 1);
      break;
    case CLI_I32: *(int32_t *)o->dest = (int32_t)cli_parse_int(flag, v, o->lo, o->hi); break;
    case CLI_I64: *(int64_t *)o->dest = cli_parse_int(flag, v, o->lo, o->hi); break;
    case CLI_U64: *(uint64_t *)o->dest = (uint64_t)cli_parse_int(flag, v, o->lo, o->hi); break;
    case CLI_F64: *(double *)o->dest = cli_parse_float(flag, v, o->flo, o->fhi); break;
    case CLI_ENUM: {
      int e = o->parse(v);
      if (e < 0) cli_usage_error(cmd, o->bad, v);
      *(int *)o->dest = e;
      break;
    }
    case CLI_LIST:
      if ((size_t)*o->count == o->size) cli_usage_error(cmd, "more than %zu %s overrides", o->size, flag);
      ((const char **)o->dest)[(*o->count)++] = v;
      break;
  }
}

static void cli_check_given(const char *cmd, const CliOption *opts, size_t n, const int *given);

int cli_parse(const char *cmd, int argc, char **argv, const CliOption *opts, void (*usage)(FILE *f)) {
  struct option lo[CLI_MAX_OPTIONS + 2];
  char shorts[2 * CLI_MAX_OPTIONS + 4] = "h";
  size_t n = 0, sl = 1;
  for (; opts[n].name; n++) {
    if (n == CLI_MAX_OPTIONS) {
      fprintf(stderr, "cordseg %s: internal: more than %d options\n", cmd, CLI_MAX_OPTIONS);
      exit(2);
    }
    lo[n] = (struct option){opts[n].name, takes_value(opts[n].kind) ? required_argument : no_argument, NULL, 0};
    if (opts[n].letter) {
      shorts[sl++] = opts[n].letter;
      if (takes_value(opts[n].kind)) shorts[sl++] = ':';
    }
  }
  shorts[sl] = 0;
  lo[n] = (struct option){"help", no_argument, NULL, 'h'};
  int given[CLI_MAX_OPTIONS] = {0};
  lo[n + 1] = (struct option){NULL, 0, NULL, 0};
  optind = 1;
  for (;;) {
    int index = -1;
    int c = getopt_long(argc, argv, shorts, lo, &index);
    if (c == -1) break;
    if (c == 'h') {
      usage(stdout);
      int listed = 0;
      for (size_t i = 0; i < n; i++) listed |= opts[i].help != NULL;
      if (listed) cli_print_options(stdout, opts);
      exit(0);
    }
    if (c == '?' || c == ':') cli_usage_error(cmd, "unknown option or missing value (getopt's message above)");
    const CliOption *o = NULL;
    if (c == 0 && index >= 0 && (size_t)index < n) o = &opts[index];
    for (size_t i = 0; !o && i < n; i++)
      if (opts[i].letter == c) o = &opts[i];
    if (!o) cli_usage_error(cmd, "unknown option");
    given[o - opts] = 1;
    store(cmd, o, optarg);
  }
  cli_check_given(cmd, opts, n, given);
  return optind;
}

/* "--name" and, when it has one, "-x": how an error names an option */
static const char *flag_name(const CliOption *o, char *buf, size_t n) {
  if (o->letter) snprintf(buf, n, "-%c/--%s", o->letter, o->name);
  else snprintf(buf, n, "--%s", o->name);
  return buf;
}

/* .required options given, at most one of each .group */
static void cli_check_given(const char *cmd, const CliOption *opts, size_t n, const int *given) {
  char a[96], b[96];
  for (size_t i = 0; i < n; i++) {
    if (opts[i].required && !given[i]) cli_usage_error(cmd, "%s is required", flag_name(&opts[i], a, sizeof a));
    for (size_t j = i + 1; opts[i].group && given[i] && j < n; j++)
      if (opts[j].group == opts[i].group && given[j])
        cli_usage_error(cmd, "give %s or %s, not both", flag_name(&opts[i], a, sizeof a), flag_name(&opts[j], b, sizeof b));
  }
}

static const char *default_arg(CliKind k) {
  switch (k) {
    case CLI_I32:
    case CLI_I64:
    case CLI_U64: return "N";
    case CLI_F64: return "X";
    case CLI_ENUM: return "NAME";
    default: return "VALUE";
  }
}

/* text + tail from column 27 on, wrapped at spaces before column 100 */
static void print_wrapped(FILE *f, const char *text, const char *tail) {
  char line[1024];
  snprintf(line, sizeof line, "%s%s", text, tail);
  const int width = 100 - 27;
  for (const char *p = line; *p;) {
    int n = (int)strlen(p);
    if (n > width) {
      n = width;
      while (n > 0 && p[n] != ' ') n--;
      if (n == 0) n = width;
    }
    fprintf(f, "%.*s\n", n, p);
    p += n;
    while (*p == ' ') p++;
    if (*p) fprintf(f, "%27s", "");
  }
}

void cli_print_options(FILE *f, const CliOption *opts) {
  fprintf(f, "options:\n");
  for (const CliOption *o = opts; o->name; o++) {
    if (!o->help || o->hidden) continue;
    char lhs[96];
    int w = snprintf(lhs, sizeof lhs, "%s%c%s--%s", o->letter ? "-" : " ", o->letter ? o->letter : ' ',
                     o->letter ? ", " : "  ", o->name);
    if (takes_value(o->kind) && w > 0 && (size_t)w < sizeof lhs)
      snprintf(lhs + w, sizeof lhs - (size_t)w, " %s", o->arg ? o->arg : default_arg(o->kind));
    fprintf(f, "  %-24s ", lhs);
    print_wrapped(f, o->help, o->required ? " (required)" : "");
  }
  fprintf(f, "  %-24s %s\n", "-h, --help", "this help");
}

/* where form[0..len) may break to fit n columns: of the spaces at or before
 * n, the last of the least bracket depth (never inside a [...] that an
 * outer one could break around), else the first space after n; 0 when none */
static size_t synopsis_break(const char *form, size_t len, size_t n) {
  size_t best = 0;
  int depth = 0, best_depth = 0;
  for (size_t i = 0; i < len; i++) {
    if (form[i] == '[' || form[i] == '(') depth++;
    if (form[i] == ']' || form[i] == ')') depth--;
    if (form[i] != ' ') continue;
    if (i > n) return best ? best : i;
    if (!best || depth <= best_depth) best = i, best_depth = depth;
  }
  return best;
}

void cli_print_synopsis(FILE *f, const char *cmd) {
  const CliCommand *c = cli_command_find(cmd);
  if (!c) {
    fprintf(stderr, "cordseg %s: internal: not in the command table (cmd/commands.c)\n", cmd);
    exit(2);
  }
  const int width = 100, lead = 7; /* strlen("usage: ") */
  for (const char *form = c->synopsis; *form;) {
    size_t len = strcspn(form, "\n");
    /* continuation lines start under the first argument, after "cordseg NAME " */
    const char *name = strstr(form, "cordseg ");
    int indent = lead + (name && (size_t)(name - form) < len ? (int)(name - form) + 9 + (int)strlen(c->name) : 8);
    fprintf(f, "%s", form == c->synopsis ? "usage: " : "       ");
    for (int col = lead; len > 0;) {
      size_t cut = (int)len + col <= width ? len : synopsis_break(form, len, (size_t)(width - col));
      if (cut == 0 || cut > len) cut = len;
      fprintf(f, "%.*s\n", (int)cut, form);
      form += cut, len -= cut;
      while (len > 0 && *form == ' ') form++, len--;
      if (len > 0) col = fprintf(f, "%*s", indent, "");
    }
    form += *form == '\n';
  }
}
