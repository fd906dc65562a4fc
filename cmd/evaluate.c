/* cmd/evaluate.c: `cordseg evaluate RUN_DIR`: predict the run's
 * validation and test slices, choose thresholds, measure every test slice
 * and ROI, write RUN/eval/ (jobs/evaluate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/common.h"
#include "jobs/evaluate.h"
#include "cmd/cli.h"
#include "cordseg_git.h" /* CORDSEG_GIT, generated at build time (cmake/git_version.cmake) */

static int eval_masks_parse(const char *s) { return cs_enum_parse(&EVAL_MASKS_ENUM, s); }

static void usage(FILE *f) {
  cli_print_synopsis(f, "evaluate");
  fprintf(f,
          "\nEvaluate one trained run (a directory written by `cordseg train`). Rebuilds the network from\n"
          "RUN_DIR/config.ini, loads RUN_DIR/ckpt/best.h5 (else last.h5), predicts the validation and\n"
          "test slices of the run's fold in batches, and:\n"
          "  - sigmoid (HDL) models: per-class threshold 0..1 in 0.001 steps maximising the pooled\n"
          "    validation Dice (one histogram pass); softmax (hybrid, ce) models: argmax;\n"
          "  - per test slice and ROI: Dice, IoU, Recall, Precision, HD95 (mm), TP/FP/FN, areas,\n"
          "    mean FA under prediction and reference, FA error (Fei et al. eq. 10), L/R swap;\n"
          "  - per ROI: means +- SD (NaN-mean policy), outliers removed (Table 2) and outlier %%,\n"
          "    ICC(2,1) and Bland-Altman of mean FA, the predicted-vs-reference FA correlation matrix.\n"
          "Empty masks: a ratio with a zero denominator is NaN; an outlier is a slice whose reference\n"
          "holds the ROI and whose prediction does not.\n\n"
          "writes RUN_DIR/eval/: slices.csv, summary.json, thresholds.txt, pred.h5 (atomically), each\n"
          "carrying the run's provenance (config hash, folds hash, data checksum, commit).\n\n");
}

int cmd_evaluate(int argc, char **argv) {
  EvaluateOptions o;
  evaluate_options_default(&o);
  const CliOption opts[] = {
      CLI_STRING("ckpt", 0, &o.ckpt, .arg = "FILE",
                 .help = "checkpoint to evaluate (default RUN_DIR/ckpt/best.h5, else last.h5)"),
      CLI_STRING("out", 'o', &o.out, .arg = "DIR", .help = "output directory (default RUN_DIR/eval)"),
      CLI_INT32("batch", 0, &o.batch, 1, 4096, .help = "slices per forward pass (default 8)"),
      CLI_CHOICE("device", 0, &o.device, backend_parse, "unknown --device '%s': use cpu, cuda or auto", .arg = "KIND",
                 .help = "cpu, cuda or auto (default: a GPU if any), whatever the run was trained on"),
      CLI_FLAG_ON("quiet", 'q', &o.quiet, .help = "no progress lines"),
      CLI_STRING("store", 0, &o.test_store, .arg = "FILE",
                 .help = "test on another cohort: every slice of this store (same slice size); thresholds still "
                         "from the run's own validation; output default RUN_DIR/eval-<store name>, with cohort.txt"),
      CLI_CHOICE("masks", 0, &o.masks, eval_masks_parse, "unknown --masks '%s': use label-map, per-class, cord-argmax or peak",
                 .arg = "MODE",
                 .help = "sigmoid (HDL) models: measure each ROI on the one label map (label-map, default: what segment "
                         "writes), on its own threshold mask, overlaps allowed (per-class, the paper's reading), or "
                         "label the cord (one threshold on the largest ROI probability, searched on validation) "
                         "by the argmax of the ROIs (cord-argmax), or the label map of each heatmap divided by its "
                         "per-slice maximum, thresholds searched on those (peak; needs -o: its thresholds are "
                         "relative, not the ones export reads from RUN_DIR/eval)"),
      CLI_STRING("subjects", 0, &o.subjects, .arg = "LIST", .help = "with --store: only these subjects (names sub-01,sub-05 or ids 3,5,8)"),
      CLI_END};
  int pos = cli_parse("evaluate", argc, argv, opts, usage);
  if (pos != argc - 1) cli_usage_error("evaluate", "expected exactly one RUN_DIR argument");
  o.run_dir = argv[pos];
  if (o.masks == EVAL_MASKS_PEAK && !o.out)
    cli_usage_error("evaluate", "--masks peak needs -o DIR: its thresholds are relative to each slice's peak, and "
                                "RUN_DIR/eval/thresholds.txt is what export reads");
  o.git = CORDSEG_GIT;
  evaluate_run(&o);
  return 0;
}
