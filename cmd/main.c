/* cmd/main.c: `cordseg <command> [options]`, git-style dispatch to the
 * subcommands of the command table (cmd/commands.c), each in cmd/<name>.c
 * and owning its --help; `cordseg --help` lists them, and the hidden
 * `cordseg help --markdown` prints the README's command table
 * (scripts/gen-readme-commands.sh writes it into README.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cordseg_git.h" /* CORDSEG_GIT, generated at build time (cmake/git_version.cmake) */

static void print_usage(FILE *f) {
  fprintf(f,
          "cordseg %s (%s): train and evaluate UNets that segment the cervical spinal cord's\n"
          "internal structure on DTI (Fei et al., Diagnostics 2023).\n\n"
          "usage: cordseg <command> [options]     cordseg <command> --help\n\ncommands:\n",
          CORDSEG_VERSION, CORDSEG_GIT);
  size_t n;
  const CliCommand *c = cli_commands(&n);
  for (size_t i = 0; i < n; i++) fprintf(f, "  %-12s %s\n", c[i].name, c[i].summary);
}

/* s[0..n) with '|' escaped and each newline as `sep` (a Markdown table cell) */
static void print_cell(FILE *f, const char *s, size_t n, const char *sep) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\n') fputs(sep, f);
    else fprintf(f, "%s%c", s[i] == '|' ? "\\" : "", s[i]);
  }
}

/* one row per command: | `name` | `form`; `form` | summary | */
static void print_markdown(FILE *f) {
  size_t n;
  const CliCommand *c = cli_commands(&n);
  fprintf(f, "| command | synopsis | what it does |\n|---|---|---|\n");
  for (size_t i = 0; i < n; i++) {
    fprintf(f, "| `%s` | `", c[i].name);
    print_cell(f, c[i].synopsis, strlen(c[i].synopsis), "`; `");
    fprintf(f, "` | ");
    print_cell(f, c[i].summary, strlen(c[i].summary), " ");
    fprintf(f, " |\n");
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "help") && !strcmp(argv[2], "--markdown")) {
    print_markdown(stdout);
    return 0;
  }
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    print_usage(stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("cordseg %s (%s)\n", CORDSEG_VERSION, CORDSEG_GIT);
    return 0;
  }
  const CliCommand *c = cli_command_find(argv[1]);
  if (c) return c->run(argc - 1, argv + 1);
  fprintf(stderr, "cordseg: error: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
