/* io/ckpt.h: training checkpoints as HDF5 files, written atomically (temp
 * file, fsync, rename; io/atomic.h).
 * Layout ("cordseg-ckpt" version 1):
 *   /params  float32 [P]  flat parameters (core/unet.h order)
 *   /buffers float32 [B]  BatchNorm running statistics
 *   /adam_m, /adam_v float32 [P] (absent in weights-only files)
 *   attributes: schema, schema_version, model ("vgg16 in=1 K=9 div=1 P=..."),
 *     config (canonical config text), config_hash, epoch, step_in_epoch,
 *     epoch_loss_sum,
 *     global_step, adam_t, best_dice, best_epoch, stale_validations,
 *     best_fa_err (optional on reading),
 *     elapsed_s, size (H W).
 * The loader and every RNG are counter-based (seed, epoch, position), so
 * (epoch, step_in_epoch) is their whole state: resuming from it replays the
 * exact same batches.
 * defines: CkptState, ckpt_write, ckpt_read, ckpt_read_weights, ckpt_peek, ckpt_model_key */
#ifndef CORDSEG_IO_CKPT_H
#define CORDSEG_IO_CKPT_H
#include <stdint.h>

#include "core/step.h"
#include "core/unet.h"

typedef struct {
  int64_t epoch;             /* epochs completed */
  int64_t step_in_epoch;     /* steps done of epoch `epoch` (0 at an epoch boundary) */
  double epoch_loss_sum;     /* sum of the train losses of those steps (for the log) */
  int64_t global_step;       /* optimizer steps in total */
  double best_dice;          /* mean validation Dice over ROIs of the selected epoch (best.h5): with select_by =
                                dice the best so far (-1 none) */
  int64_t best_epoch;        /* the selected epoch (1-based count) */
  int64_t stale_validations; /* validations since the best (early stopping) */
  double best_fa_err;        /* mean ROI FA error (%) of the selected epoch: with select_by = fa_error the lowest
                                so far (-1 none; absent in checkpoints of older cordseg: -1) */
  double elapsed_s;          /* training wall time before this checkpoint */
  int32_t height, width;     /* network input size */
  char config_hash[32];
  char model[128];           /* ckpt_model_key of the network */
} CkptState;

/* "vgg16 in=1 K=9 div=1 P=24890505": what must match to load weights */
void ckpt_model_key(const Unet *net, const UnetConfig *cfg, char *out, size_t n);
/* host state in, file out; with_adam = 0: weights only (ms's moments are not
 * written); config_text is stored verbatim */
void ckpt_write(const char *path, const ModelState *ms, int with_adam, const CkptState *st, const char *config_text);
/* into a state made by model_state_init for the same model (fatal naming
 * both keys otherwise); moments are read when ms has them (model_state_init
 * with_adam = 1), and the file must then have them */
void ckpt_read(const char *path, ModelState *ms, CkptState *st);
/* the weights (params, buffers) of a checkpoint, ms sized from the file (no
 * network needed; model_state_free frees it); checked as ckpt_read does */
void ckpt_read_weights(const char *path, ModelState *ms, CkptState *st);
/* Integrity on read (ckpt_read and ckpt_peek): counters range-checked alone,
 * against each other and against the stored config (epoch <= epochs,
 * global_step = epoch * steps + step_in_epoch, config_hash = the config's);
 * ckpt_read also verifies the "tensor_checksum" attribute ckpt_write stores
 * (over params, buffers[, adam_m, adam_v]) and refuses non-finite or absurd
 * values: |params|, |adam_m| <= CKPT_MAX_WEIGHT, |buffers| and adam_v (>= 0)
 * <= CKPT_MAX_BUFFER. */
#define CKPT_MAX_WEIGHT 1e6
#define CKPT_MAX_BUFFER 1e12
uint64_t ckpt_tensor_hash(const ModelState *ms, int with_adam);
/* fatal naming path and name[i] unless every v[i] is finite and in [lo, hi] */
void ckpt_check_values(const char *path, const char *name, const float *v, size_t n, double lo, double hi);
/* attributes only; config_text (may be NULL) gets a malloc'ed copy */
void ckpt_peek(const char *path, CkptState *st, char **config_text);
#endif
