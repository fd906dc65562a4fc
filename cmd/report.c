/* cmd/report.c: `cordseg report STUDY... -o OUT`: the paper's tables
 * and figures from every evaluated run of a study (jobs/report/report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "jobs/report/report.h"
#include "cmd/cli.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "report");
  fprintf(f,
          "\nCollect every run directory (one holding run.json) under the STUDY_DIRs, recursively, and\n"
          "regenerate the paper's tables and figures from their RUN/eval/ results (cordseg evaluate).\n"
          "Runs with a different folds manifest or data checksum are refused (one study per report).\n"
          "Runs that did not finish (no DONE), lack eval results, or whose files cannot be read are\n"
          "listed in the report, as are duplicates (a second run of one arm, fold and seed: not pooled),\n"
          "runs that never learned (log.csv: best validation Dice < 0.05 or an ROI at 0 throughout:\n"
          "still pooled) and missing (arm, fold, seed) cells; the rest is aggregated.\n"
          "An arm is every run with one run.json arm_hash (the config but fold, seed and paths), named\n"
          "backbone-loss-input plus each key whose value differs (e.g. \"vgg16-hdl-b0 lr_max=0.001\").\n"
          "Arms whose names differ in one token ('-' or ' ') are compared (Wilcoxon signed-rank on\n"
          "subject means, Holm over the 8 ROIs, bootstrap CI).\n\n"
          "writes OUT/: index.html (self-contained: status, tables, statistics, figures, QC overlays of\n"
          "each arm's best/median/worst slice), tables.md/.tex, table1-3.csv, stats.csv, runs.csv,\n"
          "tertiles.md/.csv (Dice and FA error per ROI by compression tertile of the cord's AP/LR\n"
          "ratio, with the rule that chose each arm's models), fig_dice_by_arm.png, fig_compare_*.png,\n"
          "fig_fa_corr_*.png, fig_bland_altman_*.png, curves_*.png.\n\n");
}

int cmd_report(int argc, char **argv) {
  ReportOptions o;
  report_options_default(&o);
  int strict = 0;
  const CliOption opts[] = {
      CLI_STRING("out", 'o', &o.out, .arg = "DIR", .help = "output directory (created)", .required = 1),
      CLI_INT32("bootstrap", 0, &o.bootstrap, 1, 10000000, .help = "bootstrap resamples (default 10000)"),
      CLI_UINT64("seed", 0, &o.seed, 0, INT64_MAX, .help = "bootstrap seed (default 1)"),
      CLI_FLAG_ON("strict", 0, &strict, .help = "exit 3 when any run is listed as a problem or missing"),
      CLI_FLAG_ON("quiet", 'q', &o.quiet, .help = "no progress lines"), CLI_END};
  int pos = cli_parse("report", argc, argv, opts, usage);
  if (pos >= argc) cli_usage_error("report", "expected at least one STUDY_DIR");
  o.studies = (const char *const *)(argv + pos);
  o.nstudies = argc - pos;
  int problems = report_run(&o);
  return strict && problems ? 3 : 0;
}
