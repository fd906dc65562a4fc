/* cmd/main.c: `cordseg <command> [options]`, git-style dispatch to the
 * subcommands in cmd/<name>.c. Each subcommand owns its --help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cordseg_git.h" /* CORDSEG_GIT, generated at build time (cmake/git_version.cmake) */

static const CliCommand COMMANDS[] = {
    {"demo", "train both backbones a few steps on a generated batch (the smoke job)", cmd_demo},
    {"model-info", "print parameter count and forward MACs of a network", cmd_model_info},
    {"bench", "measure training and forward images/s (and the PyTorch peer)", cmd_bench},
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
