/* jobs/predict.h: the one place a trained network is run on slices: batched
 * eval-mode class probabilities, with the flipped pass of test-time
 * augmentation, the mean over an ensemble, and thresholds to labels. Used by
 * validation (jobs/trainer.c), `evaluate` (jobs/evaluate.c) and `segment`
 * (jobs/segment.c); the slices' model input comes from io/prep.h.
 *
 * A run goes through slices 0..n-1 in batches of the net's batch size: load()
 * fills each slice's input [cin][h][w], the rows of a last partial batch are
 * zeros (eval mode: every image is computed on its own, so padding never
 * changes a real slice's output), and take() receives each slice's
 * probabilities [k][h][w] in slice order. With PREDICT_LOGITS the logits come
 * to the host too (validation's loss and collapse check) and the probabilities
 * are computed there by core/loss.c; otherwise the backend computes them (the
 * same function on the CPU backend). With flip, the input is mirrored
 * left-right and take() receives the probabilities mapped back: columns
 * mirrored and each L class read from its R twin (LABEL_LR_SWAP).
 * defines: PredictSink, Predictor, predict_init, predict_free, predict_run,
 *          predict_labels, predict_heatmap_peak, predict_model_file, PREDICT_LOGITS */
#ifndef CORDSEG_JOBS_PREDICT_H
#define CORDSEG_JOBS_PREDICT_H
#include <stdint.h>

#include "core/backend.h"
#include "core/loss.h"
#include "core/unet.h"
#include "io/model.h"

enum { PREDICT_LOGITS = 1 }; /* predict_init flags */

typedef struct {
  void *ctx;
  /* slice j's model input [cin][h][w]; row is its place in the batch (0..batch-1) */
  void (*load)(void *ctx, int32_t j, int32_t row, float *x);
  /* slice j's probabilities [k][h][w] (and logits [k][h][w] with PREDICT_LOGITS, else NULL) */
  void (*take)(void *ctx, int32_t j, int32_t row, const float *probs, const float *logits);
  /* after each batch: done of n slices (NULL: nothing) */
  void (*progress)(void *ctx, int32_t done, int32_t n);
} PredictSink;

typedef struct {
  Unet *net;
  LossConfig loss;
  int32_t batch, cin, k, h, w;
  int flags;
  float *x;     /* [batch][cin][h][w] */
  float *probs; /* [batch][k][h][w] */
  float *flip;  /* [k][h][w]: one slice's probabilities mapped back from the flipped pass */
} Predictor;

/* net: built for batch slices of h x w (unet_init), weights loaded */
void predict_init(Predictor *p, Unet *net, const LossConfig *lc, int32_t batch, int32_t cin, int32_t k, int32_t h,
                  int32_t w, int flags);
void predict_free(Predictor *p);
/* slices 0..n-1 through the net (flip: the mirrored pass, mapped back) */
void predict_run(Predictor *p, int32_t n, int flip, const PredictSink *s);
/* one slice's labels [hw] from its probabilities [k][hw]: sigmoid models at
 * the per-class thresholds thr[k], softmax models the argmax */
void predict_labels(const float *probs, int32_t k, int64_t hw, int sigmoid, const double *thr, uint8_t *lab);
/* one slice's sigmoid heatmaps [k][hw] relative to their peak: class c >= 1 divided by its maximum
 * on the slice, 0 where that maximum is below PREDICT_PEAK_FLOOR (no ROI there); class 0 copied.
 * A compressed cord's heatmaps peak lower (0.66-0.90 against thresholds of 0.84-0.94 on an
 * FA model, results/2026-12-07-dead-classes): relative to the peak they pass. */
#define PREDICT_PEAK_FLOOR 0.2f
void predict_heatmap_peak(const float *probs, int32_t k, int64_t hw, float *out);
/* every member of an exported model (io/model.h) on inputs x [n][cin][H][W]
 * (the model's grid), with the flipped pass when tta: the mean probabilities
 * [n][K][H][W] into mean, and the mean of the members' validation thresholds
 * into thr[K]. Each member runs on its own backend of kind device (auto: a
 * GPU when there is one) with batch slices per pass; progress(ctx, member, pass, done, n)
 * after each batch unless NULL. */
void predict_model_file(const ModelFile *mf, const float *x, int64_t n, BackendKind device, int tta, int32_t batch,
                        float *mean,
                        double *thr,
                        void (*progress)(void *ctx, int32_t member, int pass, int64_t done, int64_t n), void *ctx);
#endif
