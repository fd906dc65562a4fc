/* cmd/export.c: `cordseg export RUN_DIR... -o MODEL.h5`: one
 * self-describing model file from one or several trained runs (io/model.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "io/model.h"
#include "cmd/cli.h"
#include "cordseg_git.h" /* CORDSEG_GIT, generated at build time (cmake/git_version.cmake) */

static void usage(FILE *f) {
  cli_print_synopsis(f, "export");
  fprintf(f,
          "\nWrites one self-describing HDF5 model file (atomically) from one or several runs of one arm\n"
          "(e.g. the 5 folds of vgg16-hdl-b0), for `cordseg segment`. It holds, per run, the network\n"
          "config, the weights of ckpt/best.h5 (else last.h5), the per-class thresholds of the run's own\n"
          "validation (eval/thresholds.txt; sigmoid models need `cordseg evaluate RUN_DIR` first) and\n"
          "its provenance (config hash, folds hash, data checksum, commit, fold, seed, epoch); and for\n"
          "the file: the input kind and normalisation, the label names and ids, the training slice size\n"
          "and pixel spacing (median of the training store's). Refuses runs of different input kinds,\n"
          "loss kinds or slice sizes; and, unless --force, runs that differ in data checksum (other\n"
          "training data), in any config key but fold, seed and the store/folds paths, or in where\n"
          "their thresholds come from (eval/thresholds.txt or the default 0.5), naming the field,\n"
          "both values and both runs; nothing is written then. `cordseg info MODEL.h5` describes the file.\n\n");
}

int cmd_export(int argc, char **argv) {
  const char *out = NULL;
  int force = 0;
  const CliOption opts[] = {
      CLI_STRING("out", 'o', &out, .arg = "MODEL.h5", .help = "the model file to write", .required = 1),
      CLI_FLAG_ON("force", 0, &force,
                  .help = "join runs that differ in data, config or thresholds' origin (a warning names each)"),
      CLI_END};
  const int optind_ = cli_parse("export", argc, argv, opts, usage);
  if (optind_ >= argc) cli_usage_error("export", "give at least one RUN_DIR");
  if (argc - optind_ > MODEL_MAX_MEMBERS) cli_usage_error("export", "at most %d runs per model file", MODEL_MAX_MEMBERS);
  char cmdline[4096];
  cli_command_line(argc, argv, cmdline, sizeof cmdline);
  model_export(out, (const char *const *)(argv + optind_), argc - optind_, cmdline, CORDSEG_GIT, force);
  ModelFile mf;
  model_open(&mf, out);
  printf("export: %d run(s) -> %s\n", mf.n, out);
  model_describe(&mf, stdout);
  model_close(&mf);
  return 0;
}
