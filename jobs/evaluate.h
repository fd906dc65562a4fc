/* jobs/evaluate.h: `cordseg evaluate` on one trained run directory: rebuild the
 * network from RUN/config.ini, load a checkpoint, predict the validation and
 * test slices of the run's fold in batches, choose per-class thresholds on
 * validation (sigmoid/HDL models; softmax models use argmax), apply them to
 * test, measure every test slice and ROI (core/metrics.h) and write
 * RUN/eval/{thresholds.txt, slices.csv, summary.json, pred.h5}
 * (io/evalio.h). Refuses a store whose checksum or a folds file whose hash
 * differs from the run's run.json.
 * defines: EvaluateOptions, evaluate_options_default, evaluate_run,
 *          evaluate_summarize, evaluate_fa_corr, evaluate_tertiles, evaluate_print_tertiles */
#ifndef CORDSEG_JOBS_EVALUATE_H
#define CORDSEG_JOBS_EVALUATE_H
#include <stdint.h>
#include <stdio.h>

#include "core/common.h"
#include "io/evalio.h"

/* how a sigmoid (HDL) model's per-class threshold masks B_c = [p_c >= t_c] are measured:
 * label-map = on the one label map (the class with the largest p_c among those passing,
 * else background: what segment writes), per-class = each ROI on its own mask, overlaps
 * allowed (Fei et al.'s per-class evaluation; ../shared/design/model.md "Prediction with
 * HDL"), cord-argmax = one threshold on the cord (max over the ROIs of p_c, searched on
 * validation like the per-class ones) and the argmax of p_c inside it, peak = the label map
 * of the heatmaps divided by their per-slice maximum (predict_heatmap_peak; thresholds
 * searched on validation on the same relative heatmaps, so they are not the absolute
 * thresholds export reads: written only with -o). Softmax models have one label map
 * (argmax) either way. */
typedef enum {
  EVAL_MASKS_LABEL_MAP = 0,
  EVAL_MASKS_PER_CLASS = 1,
  EVAL_MASKS_CORD_ARGMAX = 2,
  EVAL_MASKS_PEAK = 3
} EvalMasks;
extern const CsEnum EVAL_MASKS_ENUM;

typedef struct {
  const char *run_dir;
  const char *ckpt;   /* NULL = RUN/ckpt/best.h5, else RUN/ckpt/last.h5 */
  const char *out;    /* NULL = RUN/eval */
  int32_t batch;      /* slices per forward pass (8) */
  int device;         /* BackendKind where the network runs (default auto: a GPU when there is one), whatever
                       * device the run was trained on */
  int quiet;          /* no progress lines */
  const char *git;    /* commit of the evaluating program (summary.json), NULL = unknown */
  /* another cohort: test on this store's slices instead of the fold's test
   * subjects (thresholds still come from the run's own validation); output
   * default RUN/eval-<store name>; NULL = the run's own test set */
  const char *test_store;
  const char *subjects; /* with test_store: "sub-01,sub-05" (names, or ids "3,5,8") = only these; NULL = all */
  int masks;            /* EvalMasks (default label-map) */
} EvaluateOptions;
void evaluate_options_default(EvaluateOptions *o);
void evaluate_run(const EvaluateOptions *o);

/* sum[1..8]: metrics_summarize of every ROI over slices [n], with the
 * pair_swap_rate of each ROI's left/right pair (io/labels.h LABEL_LR_SWAP) */
void evaluate_summarize(const EvalSlice *s, int64_t n, RoiSummary *sum);
/* corr [8][8]: Pearson over slices of (fa_pred of ROI i+1, fa_ref of ROI j+1)
 * (Fei et al. Figure 8); slices [n] */
void evaluate_fa_corr(const EvalSlice *s, int64_t n, double *corr);
/* t: the slices [n] by compression tertile of their cord_ratio (io/evalio.h
 * EvalTertiles: the cut points from these slices' ratios) */
void evaluate_tertiles(const EvalSlice *s, int64_t n, EvalTertiles *t);
/* the tertile table (per group: slices, ratio range, per ROI Dice and FA
 * error), each line starting with prefix */
void evaluate_print_tertiles(FILE *f, const char *prefix, const EvalTertiles *t);
#endif
