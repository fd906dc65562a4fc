/* io/evalio.h: the files `cordseg evaluate` writes into RUN/eval/ and that
 * `cordseg report` reads back, plus reading a run's provenance and log.
 *   RUN/eval/thresholds.txt  "mode sigmoid" (per-class thresholds from the
 *                            validation search) or "mode argmax" (softmax),
 *                            one "class ID KEY THRESHOLD val_dice D" line each
 *   RUN/eval/slices.csv      one row per test slice and ROI (long format):
 *                            provenance columns (run, arm, fold, seed,
 *                            config_hash, folds_hash, data_checksum, git),
 *                            slice identity (index in the store, subject,
 *                            subject_name, slice, level; subject_name is
 *                            optional on reading, for files of older cordseg), then every RoiMetrics field
 *                            (core/metrics.h), then cord_ratio (the slice's
 *                            reference AP/LR cord ratio, io/h5store.h; optional
 *                            on reading: NaN in files of older cordseg);
 *                            NaN written as "nan"
 *   RUN/eval/summary.json    provenance, thresholds, per-ROI aggregates
 *                            (core/metrics.h RoiSummary), the 8x8 Pearson
 *                            matrix of predicted vs reference mean FA
 *                            (Fei et al. Figure 8), pooled laterality, the
 *                            rule that chose the checkpoint
 *                            ("model_selection") and Dice / FA error per ROI
 *                            by compression tertile ("compression_tertiles",
 *                            EvalTertiles)
 *   RUN/eval/pred.h5         predicted label maps of the test slices:
 *                            /labels uint8 [N,H,W], /index int32 [N] (store
 *                            slice indices), attribute "run"
 * Every file is written atomically (io/atomic.h). The readers never exit:
 * they return -1 with a message naming the file and the problem, so a report
 * can list a bad run and go on.
 * defines: EvalSlice, evalio_slices_write, evalio_slices_read,
 *          evalio_thresholds_write, evalio_thresholds_read,
 *          evalio_pred_write, evalio_pred_read, evalio_summary_write, EvalTertiles, EvalSelection,
 *          TrainLog, evalio_log_read, evalio_log_free */
#ifndef CORDSEG_IO_EVALIO_H
#define CORDSEG_IO_EVALIO_H
#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "io/labels.h"
#include "io/runinfo.h" /* RunInfo */

typedef struct {
  int32_t index;           /* slice index in the store */
  int32_t subject, slice, level;
  char subject_name[64];   /* the store's name of the subject (H5STORE_NAME_MAX); "" = the id as text */
  RoiMetrics roi[LABEL_COUNT]; /* [0] unused */
  double cord_ratio;       /* AP/LR diameter ratio of the reference cord (h5store_cord_ratio); NaN: no cord / unknown */
} EvalSlice;

/* Results by compression grade: the slices split at the tertiles of their
 * cord_ratio (cut[0], cut[1]: the 1/3 and 2/3 quantiles of the defined
 * ratios, stats_percentile's linear interpolation); group 0 = ratio <= cut[0]
 * (the flattest cords: the most compressed), 1 = up to cut[1], 2 = above,
 * 3 = slices without a ratio. Every slice is in exactly one group. sum[g] is
 * evaluate_summarize over the group's slices; dice_n / fa_n count the
 * group's slices whose Dice / FA error of the ROI is defined, the weights
 * that pool the groups' nan-means back into the overall nan-mean:
 * overall = sum_g dice_n[g] dice_mean[g] / sum_g dice_n[g]. */
#define EVAL_GROUPS 4
typedef struct {
  int64_t n;                       /* slices */
  double cut[2];                   /* NaN when no slice has a ratio */
  int64_t count[EVAL_GROUPS];
  double lo[EVAL_GROUPS], hi[EVAL_GROUPS]; /* the ratios' range in each group (NaN when empty) */
  RoiSummary sum[EVAL_GROUPS][LABEL_COUNT];
  int64_t dice_n[EVAL_GROUPS][LABEL_COUNT], fa_n[EVAL_GROUPS][LABEL_COUNT];
} EvalTertiles;
extern const char *const EVAL_GROUP_NAMES[EVAL_GROUPS]; /* "T1 (most compressed)", ..., "no cord" */

/* which checkpoint evaluate measured, and the rule that chose it */
typedef struct {
  const char *checkpoint; /* "best.h5", "last.h5" (no best.h5) or "named" (--ckpt) */
  const char *select_by;  /* the run's select_by: "dice" | "fa_error" */
  const char *rule;       /* one sentence */
  int64_t epoch;          /* the checkpoint's epoch */
} EvalSelection;

void evalio_slices_write(const char *path, const RunInfo *ri, const EvalSlice *s, int64_t n);
/* *out malloc'ed; ri_out (may be NULL) gets the provenance columns of the first row */
int evalio_slices_read(const char *path, EvalSlice **out, int64_t *n, RunInfo *ri_out, char *err, size_t errn);

/* sigmoid = 1: thr/val_dice per class (index 0 ignored); sigmoid = 0: argmax */
void evalio_thresholds_write(const char *path, int sigmoid, const double *thr, const double *val_dice, int32_t k);
int evalio_thresholds_read(const char *path, int *sigmoid, double *thr, int32_t k, char *err, size_t errn);

void evalio_pred_write(const char *path, const char *run, int32_t n, int32_t h, int32_t w, const int32_t *index,
                       const uint8_t *labels);
/* *index, *labels malloc'ed */
int evalio_pred_read(const char *path, int32_t *n, int32_t *h, int32_t *w, int32_t **index, uint8_t **labels, char *err,
                     size_t errn);

/* sigmoid/thr/val_dice as for thresholds; sum[1..8] per-ROI aggregates;
 * corr [8][8] Pearson(pred FA of ROI i, reference FA of ROI j) */
/* ckpt: the checkpoint evaluated; git: the evaluating program's commit */
void evalio_summary_write(const char *path, const RunInfo *ri, const char *ckpt, const char *git, int sigmoid,
                          const char *label_mode,
                          const double *thr, const double *val_dice, const RoiSummary *sum, const double *corr,
                          int64_t nslices, int64_t nval, const EvalSelection *sel, const EvalTertiles *ter);

/* RUN/log.csv columns by header name; missing or empty cells are NaN */
typedef struct {
  int64_t n;
  double *epoch, *train_loss, *val_loss, *lr, *val_dice;
} TrainLog;
int evalio_log_read(const char *path, TrainLog *log, char *err, size_t errn);
void evalio_log_free(TrainLog *log);
#endif
