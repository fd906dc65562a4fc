/* io/loader.h: the training/evaluation batch loader over an HDF5 slice store.
 *
 * Sharding: global batch = batch * world; step t of epoch e covers positions
 * [t*G, (t+1)*G) of the epoch permutation (seeded by (seed, e), identical on
 * all ranks); rank r takes positions [t*G + r*batch, t*G + (r+1)*batch). So
 * world=1 batch=4 and world=2 batch=2 see the same global samples per step.
 * The last incomplete global batch of an epoch is dropped.
 * Augmentation (training only): per sample RNG seeded by (seed, epoch, global
 * position), so results do not depend on world size: horizontal flip with the
 * L<->R label swap (io/labels.h), isotropic scale, aspect, translation (images
 * bilinear, labels nearest), b0 brightness.
 * Normalisation: io/prep.h (b0 divided by its slice's 99.5th percentile,
 * FA clamped to [0,1]), the rule segment applies too.
 * Prefetch: one I/O thread per loader fills the next batch while the trainer
 * uses the current one (double buffer); the fold is read and normalised once
 * into memory, augmentation may use several threads (loader_set_threads).
 * Output: x float [batch][Cin][H][W] (Cin 1 for b0 or fa, 2 for b0+fa in that
 * order), y uint8 [batch][H][W].
 * defines: AugmentConfig, augment_config_default, Loader,
 *          loader_init, loader_seek, loader_set_threads, loader_next, loader_free, loader_steps_per_epoch,
 *          loader_load_slice, augment_apply */
#ifndef CORDSEG_IO_LOADER_H
#define CORDSEG_IO_LOADER_H
#include <stdint.h>

#include "core/common.h"
#include "io/h5store.h"
#include "io/prep.h" /* InputKind, the normalisation */

typedef struct {
  int enabled;
  float flip_prob;      /* 0.5 */
  float scale_min, scale_max; /* 0.9 .. 1.1 */
  float aspect;         /* +-0.1: width * (1+a), height / (1+a) */
  float translate_px;   /* +-8 */
  float brightness;     /* b0 multiplied by 1 + U(-b, b), 0.1 */
} AugmentConfig;
void augment_config_default(AugmentConfig *a);

typedef struct Loader Loader;

/* store must stay open while the loader lives; indices are slice indices of
 * the store (e.g. from folds_indices); aug NULL or !enabled = no augmentation */
Loader *loader_init(const H5Store *store, const int32_t *indices, int32_t count, int32_t batch, int32_t rank,
                    int32_t world, uint64_t seed, const AugmentConfig *aug, InputKind kind);
/* before the first loader_next: start at (epoch, step_in_epoch) instead of
 * (0, 0), and cap the epoch at steps_per_epoch global batches (0 = all full
 * global batches). Resuming from a checkpoint replays the same batches. */
void loader_seek(Loader *l, int64_t epoch, int64_t step_in_epoch, int64_t steps_per_epoch);
/* before the first loader_next: augment with this many OpenMP threads inside
 * the I/O thread (default 1; the batches are the same for any count) */
void loader_set_threads(Loader *l, int threads);
/* fills this rank's next batch; returns the epoch it belongs to */
int64_t loader_next(Loader *l, float *x, uint8_t *y);
int64_t loader_steps_per_epoch(const Loader *l);
void loader_free(Loader *l);

/* building blocks (also used by evaluation code and tests) */
/* slice idx as the network sees it without augmentation: x [C][H][W] (b0
 * normalised, fa clamped to [0,1], channel order b0 then fa), y [H][W] (may be
 * NULL); scratch holds 2*H*W floats */
void loader_load_slice(const H5Store *s, int32_t idx, InputKind kind, float *x, uint8_t *y, float *scratch);
/* one sample: in x [C][H][W] / y [H][W] -> out; rng decides the parameters;
 * brightness scales channel 0 (the caller zeroes it when channel 0 is FA) */
void augment_apply(const AugmentConfig *a, Rng *rng, int32_t C, int32_t h, int32_t w, const float *x,
                   const uint8_t *y, float *xo, uint8_t *yo);
#endif
