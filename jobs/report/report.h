/* jobs/report/report.h: `cordseg report`: every run of a study (arms x folds x seeds)
 * -> the paper's tables and figures, regenerated from RUN/eval/ files.
 * Finds run directories (those holding run.json) under the study directories
 * recursively; refuses runs whose folds manifest hash or data checksum differ
 * (fatal, naming both runs); pools runs into arms by run.json's arm_hash
 * (jobs/report/arms.c names them); lists unreadable runs, unfinished runs (no
 * DONE), runs without or with unreadable/stale eval results, duplicates of
 * one (arm, fold, seed), runs that never learned, and missing
 * (arm, fold, seed) cells of the grid, and aggregates everything else.
 * Writes into OUT:
 *   runs.csv                     every run found and its status
 *   tables.md, tables.tex        Table 1 (Dice/Recall/Precision/IoU/HD95),
 *   table1.csv .. table3.csv     Table 2 (outliers removed + outlier %),
 *                                Table 3 (FA error, ICC(2,1), Bland-Altman,
 *                                L/R swap %), mean +- SD over the test
 *                                slices of all runs of an arm
 *   stats.csv                    paired subject-level comparisons of arms
 *                                that differ in one name token ('-' or ' ')
 *                                (e.g. vgg16-hdl-b0 vs resnet50-hdl-b0):
 *                                Wilcoxon signed-rank per ROI, Holm across the
 *                                8 ROIs, bootstrap 95 % CI of the mean
 *                                difference (subject = mean over its slices)
 *   subjects.csv                 every arm's test subjects by name: slices,
 *                                runs, mean Dice per ROI over their slices
 *   fig_dice_by_arm.png          per-ROI Dice of every arm
 *   fig_compare_<A>_vs_<B>.png   two arms (Fei et al. Figures 4, 6, 7)
 *   fig_fa_corr_<arm>.png        predicted vs reference mean-FA Pearson
 *                                matrix (Figure 8)
 *   fig_bland_altman_<arm>.png   FA agreement per ROI
 *   curves_<run>.png             loss, validation Dice and LR per epoch
 *   index.html                   one self-contained page: status, tables,
 *                                statistics, every figure, and QC overlays
 *                                (prediction red, reference blue, Figure 5)
 *                                of each arm's best, median and worst slice
 * defines: ReportOptions, report_options_default, report_run */
#ifndef CORDSEG_JOBS_REPORT_H
#define CORDSEG_JOBS_REPORT_H
#include <stdint.h>

typedef struct {
  const char *const *studies; /* study directories */
  int32_t nstudies;
  const char *out;            /* output directory (created) */
  int32_t bootstrap;          /* resamples (10000) */
  uint64_t seed;              /* bootstrap seed (1) */
  int quiet;
} ReportOptions;
void report_options_default(ReportOptions *o);
/* returns the number of runs listed as problems (0 = every run aggregated) */
int report_run(const ReportOptions *o);
#endif
