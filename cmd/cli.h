/* cmd/cli.h: the `cordseg` command table and the one option parser every
 * subcommand uses: a command lists its options as a table (CliOption, made
 * with the CLI_* macros below: name, letter, where the value goes, its range
 * or parser) and cli_parse does the rest: --name VALUE, --name=VALUE, -x
 * VALUE, range checks with clear errors, -h/--help (the command's usage to
 * stdout, exit 0), and unknown options (exit 2). An option may carry, after
 * the macro's own arguments, .arg (the value's name in help), .help (its
 * line in --help: cli_print_options prints the table, so the help cannot
 * drift from the parser), .required (cli_parse refuses a command line
 * without it), .group (options with the same nonzero group exclude each
 * other) and .hidden (a test hook left out of --help). tests/test_cmd_help.sh
 * fails when a command's --help misses an option of its table.
 * The command table (cmd/commands.c) holds each command's synopsis and
 * summary once: a usage() prints the synopsis with cli_print_synopsis, and
 * `cordseg help --markdown` prints the README's command table from it.
 * defines: CliCommand, CliKind, CliOption, CLI_*, cli_parse, cli_print_options,
 *          cli_print_synopsis, cli_commands, cli_command_find,
 *          cli_parse_int, cli_parse_float, cli_command_line, cli_usage_error */
#ifndef CORDSEG_CLI_H
#define CORDSEG_CLI_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
  const char *name;
  const char *synopsis; /* one form per line, each "cordseg NAME ..." */
  const char *summary;  /* one line: `cordseg --help` and the README's command table */
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
} CliCommand;

typedef enum { CLI_ON, CLI_OFF, CLI_STR, CLI_BUF, CLI_I32, CLI_I64, CLI_U64, CLI_F64, CLI_ENUM, CLI_LIST } CliKind;

typedef struct {
  const char *name;         /* long option, without "--"; NULL ends a table */
  char letter;              /* short option (-o), 0 = none */
  CliKind kind;
  void *dest;               /* int* (ON/OFF: set to 1/0; ENUM), const char ** (STR, LIST), char[] (BUF),
                               int32_t* / int64_t* / uint64_t* / double* (numbers) */
  int64_t lo, hi;           /* I32, I64, U64: accepted range */
  double flo, fhi;          /* F64: accepted range */
  int (*parse)(const char *value); /* ENUM: the value, -1 when unknown */
  const char *bad;          /* ENUM: the error, a format with one %s (the value) */
  size_t size;              /* BUF: bytes of dest; LIST: most values */
  int *count;               /* LIST: values so far */
  const char *arg;          /* the value's name in --help ("FILE", "N"); NULL: the kind's default */
  const char *help;         /* the line in --help; NULL: not listed by cli_print_options */
  int required;             /* cli_parse refuses a command line without it */
  int group;                /* nonzero: at most one option of the group may be given */
  int hidden;               /* a test hook: parsed, never listed */
} CliOption;

/* _Generic makes a destination of the wrong type a compile error */
#define CLI_DEST_(p, T) _Generic((p), T *: (p))
#define CLI_FLAG_ON(n, l, p, ...) {.name = n, .letter = l, .kind = CLI_ON, .dest = CLI_DEST_(p, int), __VA_ARGS__}
#define CLI_FLAG_OFF(n, l, p, ...) {.name = n, .letter = l, .kind = CLI_OFF, .dest = CLI_DEST_(p, int), __VA_ARGS__}
#define CLI_STRING(n, l, p, ...) {.name = n, .letter = l, .kind = CLI_STR, .dest = CLI_DEST_(p, const char *), __VA_ARGS__}
#define CLI_BUFFER(n, l, buf, ...) {.name = n, .letter = l, .kind = CLI_BUF, .dest = CLI_DEST_(buf, char), .size = sizeof(buf), __VA_ARGS__}
#define CLI_INT32(n, l, p, a, b, ...) {.name = n, .letter = l, .kind = CLI_I32, .dest = CLI_DEST_(p, int32_t), .lo = a, .hi = b, __VA_ARGS__}
#define CLI_INT64(n, l, p, a, b, ...) {.name = n, .letter = l, .kind = CLI_I64, .dest = CLI_DEST_(p, int64_t), .lo = a, .hi = b, __VA_ARGS__}
#define CLI_UINT64(n, l, p, a, b, ...) {.name = n, .letter = l, .kind = CLI_U64, .dest = CLI_DEST_(p, uint64_t), .lo = a, .hi = b, __VA_ARGS__}
#define CLI_DOUBLE(n, l, p, a, b, ...) {.name = n, .letter = l, .kind = CLI_F64, .dest = CLI_DEST_(p, double), .flo = a, .fhi = b, __VA_ARGS__}
#define CLI_CHOICE(n, l, p, fn, msg, ...) \
  {.name = n, .letter = l, .kind = CLI_ENUM, .dest = CLI_DEST_(p, int), .parse = fn, .bad = msg, __VA_ARGS__}
#define CLI_REPEAT(n, l, arr, cnt, ...) \
  {.name = n, .letter = l, .kind = CLI_LIST, .dest = CLI_DEST_(arr, const char *), .size = sizeof(arr) / sizeof((arr)[0]), \
   .count = CLI_DEST_(cnt, int), __VA_ARGS__}
#define CLI_END {.name = NULL}

/* parses argv[1..argc) (argv[0] is the command) by opts; exits on -h/--help
 * (usage to stdout, then the table's options when they carry help; 0), an
 * unknown option, a bad value, a missing .required or two of one .group (2). Returns the
 * index of the first positional argument (options may follow them). */
int cli_parse(const char *cmd, int argc, char **argv, const CliOption *opts, void (*usage)(FILE *f));
/* the options of a table that carry .help, one line each ("  -o, --out DIR   help"), and -h */
void cli_print_options(FILE *f, const CliOption *opts);

/* "usage: " and each form of the command's synopsis (cmd/commands.c), wrapped
 * at spaces outside brackets before column 100, continuation lines indented
 * under the first argument */
void cli_print_synopsis(FILE *f, const char *cmd);
/* the command table (cmd/commands.c), in `cordseg --help` order */
const CliCommand *cli_commands(size_t *n);
/* the command called name, NULL when none is */
const CliCommand *cli_command_find(const char *name);

/* Parse helpers: exit with "option --X: 'abc' is not an integer" style errors. */
int64_t cli_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi);
double cli_parse_float(const char *opt, const char *s, double lo, double hi);
/* "cordseg <command> <args>..." (argv[0] is the command), truncated to n:
 * the creating command stores and run.json record */
void cli_command_line(int argc, char **argv, char *out, size_t n);
_Noreturn void cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* one function per subcommand, each in cmd/<name>.c */
int cmd_model_info(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_phantom(int argc, char **argv);
int cmd_folds(int argc, char **argv);
int cmd_bench_io(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_segment(int argc, char **argv);
#endif
