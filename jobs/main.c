/* jobs/main.c: `cordseg <command> [options]`, git-style dispatch to the
 * subcommands in jobs/cmd_*.c. Each subcommand owns its --help. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/cli.h"

static const CliCommand COMMANDS[] = {
    {"demo", "train both backbones a few steps on a generated batch (the smoke job)", cmd_demo},
    {"model-info", "print parameter count and forward MACs of a network", cmd_model_info},
    {"bench", "measure training and forward images/s (and the PyTorch peer)", cmd_bench},
#ifdef CORDSEG_HAVE_IO
    {"train", "train a UNet on one fold of a store (MPI data-parallel, checkpoints, resume)", cmd_train},
    {"info", "summarise an HDF5 slice store (subjects, class fractions, checksum)", cmd_info},
    {"import", "add one subject from NIfTI (B0/FA maps, or raw DWI + bvals/bvecs) to a store", cmd_import},
    {"phantom", "build the PAM50-based CSM-like labelled DTI cohort (HDF5, PNG, NIfTI)", cmd_phantom},
    {"folds", "write subject-grouped 81/9/10 split and k-fold manifests of a store", cmd_folds},
    {"bench-io", "loader slices/s with augmentation (for `bench --io`)", cmd_bench_io},
    {"evaluate", "per-slice/ROI metrics, thresholds and FA agreement of one trained run", cmd_evaluate},
    {"report", "the paper's tables, figures, statistics and QC page from a study's runs", cmd_report},
    {"export", "one self-describing model file from trained runs (e.g. the folds of an arm)", cmd_export},
    {"segment", "segment a new subject's DTI (NIfTI) into the 8 ROIs; ROI-wise FA/MD/AD/RD", cmd_segment},
    {"sweep", "folds and ablations as a Slurm job array: plan, submit, status, resubmit", cmd_sweep},
#endif
};
#define N_COMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

static void print_usage(FILE *f) {
  fprintf(f,
          "cordseg %s (%s): train and evaluate UNets that segment the cervical spinal cord's\n"
          "internal structure on DTI (Fei et al., Diagnostics 2023).\n\n"
          "usage: cordseg <command> [options]     cordseg <command> --help\n\ncommands:\n",
          CORDSEG_VERSION, CORDSEG_GIT);
  for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-12s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

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

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    print_usage(stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("cordseg %s (%s)\n", CORDSEG_VERSION, CORDSEG_GIT);
    return 0;
  }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
  fprintf(stderr, "cordseg: error: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
