/* jobs/cli.h: the `cordseg` command table and the helpers subcommands share
 * (option parsing of numbers with clear errors).
 * defines: CliCommand, cli_parse_int, cli_parse_float, cli_command_line, cli_usage_error */
#ifndef CORDSEG_CLI_H
#define CORDSEG_CLI_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
} CliCommand;

/* Parse helpers: exit with "option --X: 'abc' is not an integer" style errors. */
int64_t cli_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi);
double cli_parse_float(const char *opt, const char *s, double lo, double hi);
/* "cordseg <command> <args>..." (argv[0] is the command), truncated to n:
 * the creating command stores and run.json record */
void cli_command_line(int argc, char **argv, char *out, size_t n);
_Noreturn void cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* one function per subcommand, each in jobs/cmd_<name>.c */
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
#endif
