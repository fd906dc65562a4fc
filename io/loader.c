/* io/loader.c: sharded, prefetching, augmenting batch loader (see loader.h).
 * The rank's share of the fold is read and normalised once, at the first
 * batch, into memory (when it fits in LOADER_CACHE_MAX bytes); batches are
 * then augmented from that copy, by loader_set_threads() OpenMP threads inside
 * the I/O thread. Each sample depends only on (seed, epoch, position), so the
 * thread count changes the speed, never the batch. */
#define _POSIX_C_SOURCE 200809L
#include "io/loader.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "io/hash.h"
#include "io/labels.h"

void augment_config_default(AugmentConfig *a) {
  *a = (AugmentConfig){.enabled = 1, .flip_prob = 0.5f, .scale_min = 0.9f, .scale_max = 1.1f, .aspect = 0.1f,
                       .translate_px = 8, .brightness = 0.1f};
}

void augment_apply(const AugmentConfig *a, Rng *rng, int32_t C, int32_t h, int32_t w, const float *x,
                   const uint8_t *y, float *xo, uint8_t *yo) {
  /* fixed draw order: flip, scale, aspect, tx, ty, brightness */
  int flip = rng_uniform(rng) < a->flip_prob;
  double s = a->scale_min + (a->scale_max - a->scale_min) * rng_uniform(rng);
  double asp = 1 + a->aspect * (2 * rng_uniform(rng) - 1);
  double tx = a->translate_px * (2 * rng_uniform(rng) - 1), ty = a->translate_px * (2 * rng_uniform(rng) - 1);
  double br = 1 + a->brightness * (2 * rng_uniform(rng) - 1);
  double cx = 0.5 * (w - 1), cy = 0.5 * (h - 1), sx = 1.0 / (s * asp), sy = asp / s;
  const size_t hw = (size_t)h * w;
  for (int32_t r = 0; r < h; r++)
    for (int32_t c = 0; c < w; c++) {
      int32_t cc = flip ? w - 1 - c : c; /* mirror the output */
      double sc = cx + (cc - cx - tx) * sx, sr = cy + (r - cy - ty) * sy;
      size_t o = (size_t)r * w + c;
      /* labels: nearest neighbour, L<->R swap when mirrored */
      long nr = lround(sr), nc = lround(sc);
      uint8_t lab = (nr >= 0 && nr < h && nc >= 0 && nc < w) ? y[(size_t)nr * w + nc] : 0;
      yo[o] = flip && lab <= LABEL_MAX ? LABEL_LR_SWAP[lab] : lab;
      /* images: bilinear, zero outside */
      int32_t r0 = (int32_t)floor(sr), c0 = (int32_t)floor(sc);
      double fr = sr - r0, fc = sc - c0;
      for (int32_t ch = 0; ch < C; ch++) {
        const float *im = x + ch * hw;
        double v = 0;
        for (int dr = 0; dr < 2; dr++)
          for (int dc = 0; dc < 2; dc++) {
            int32_t rr = r0 + dr, cq = c0 + dc;
            if (rr < 0 || rr >= h || cq < 0 || cq >= w) continue;
            v += (dr ? fr : 1 - fr) * (dc ? fc : 1 - fc) * im[(size_t)rr * w + cq];
          }
        xo[ch * hw + o] = (float)(ch == 0 ? v * br : v); /* brightness: channel 0 (b0) */
      }
    }
}

void loader_load_slice(const H5Store *s, int32_t idx, InputKind kind, float *x, uint8_t *y, float *scratch) {
  const size_t hw = (size_t)s->h * s->w;
  float *b0 = scratch, *fa = scratch + hw;
  h5store_read_slices(s, &idx, 1, kind != INPUT_FA ? b0 : NULL, kind != INPUT_B0 ? fa : NULL, y);
  int ch = 0;
  if (kind != INPUT_FA) {
    prep_normalize_b0(b0, (int32_t)hw);
    memcpy(x + ch++ * hw, b0, sizeof(float) * hw);
  }
  if (kind != INPUT_B0) {
    prep_clamp_fa(fa, x + ch++ * hw, hw);
  }
}

struct Loader {
  const H5Store *store;
  int32_t *indices, count, batch, rank, world, C, h, w;
  uint64_t seed;
  AugmentConfig aug;
  InputKind kind;
  int64_t steps_per_epoch;
  /* double buffer */
  float *xbuf[2];
  uint8_t *ybuf[2];
  int64_t epoch_of[2];
  int full[2], stop, started;
  int64_t produce_step, consume_step;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  /* I/O thread scratch */
  int32_t *perm;
  int64_t perm_epoch;
  float *b0; /* [2][H][W] slice scratch */
  /* resident copy: slot of store slice i in cache_x/cache_y (-1: not cached) */
  int threads;
  int32_t *slot_of;
  float *cache_x;   /* [count][C][H][W], loader_load_slice's output */
  uint8_t *cache_y; /* [count][H][W] */
  float *txs;       /* per augmentation thread: [threads][C][H][W] */
  uint8_t *tys;
};

#define LOADER_CACHE_MAX ((size_t)4 << 30)

/* reads and normalises the fold once (I/O thread, before the first batch) */
static void cache_fill(Loader *l) {
  const size_t hw = (size_t)l->h * l->w, bytes = (size_t)l->count * hw * (l->C * sizeof(float) + 1);
  if (bytes > LOADER_CACHE_MAX) return; /* too large: read each slice per batch, as before */
  l->slot_of = mallocCheck(sizeof(int32_t) * (size_t)l->store->n);
  for (int32_t i = 0; i < l->store->n; i++) l->slot_of[i] = -1;
  l->cache_x = mallocCheck(sizeof(float) * (size_t)l->count * l->C * hw);
  l->cache_y = mallocCheck((size_t)l->count * hw);
  for (int32_t i = 0; i < l->count; i++) {
    const int32_t idx = l->indices[i];
    if (l->slot_of[idx] >= 0) continue;
    l->slot_of[idx] = i;
    loader_load_slice(l->store, idx, l->kind, l->cache_x + (size_t)i * l->C * hw, l->cache_y + (size_t)i * hw, l->b0);
  }
}

static void make_perm(Loader *l, int64_t epoch) {
  for (int32_t i = 0; i < l->count; i++) l->perm[i] = l->indices[i];
  Rng r;
  rng_init(&r, hash_mix3(l->seed, (uint64_t)epoch, 0x9e3779b9ull));
  for (int32_t i = l->count - 1; i > 0; i--) {
    int32_t j = (int32_t)rng_below(&r, (uint32_t)(i + 1)), t = l->perm[i];
    l->perm[i] = l->perm[j], l->perm[j] = t;
  }
  l->perm_epoch = epoch;
}

/* sample j of a batch: from the resident copy (any thread) or the store (the I/O thread alone) */
static void fill_sample(Loader *l, int64_t epoch, int64_t pos, float *xo, uint8_t *yo, float *xs, uint8_t *ys) {
  const size_t hw = (size_t)l->h * l->w;
  const int32_t idx = l->perm[pos];
  const int32_t slot = l->slot_of ? l->slot_of[idx] : -1;
  const float *xin;
  const uint8_t *yin;
  if (slot >= 0) {
    xin = l->cache_x + (size_t)slot * l->C * hw, yin = l->cache_y + (size_t)slot * hw;
    if (!l->aug.enabled) {
      memcpy(xo, xin, sizeof(float) * l->C * hw), memcpy(yo, yin, hw);
      return;
    }
  } else {
    loader_load_slice(l->store, idx, l->kind, l->aug.enabled ? xs : xo, l->aug.enabled ? ys : yo, l->b0);
    if (!l->aug.enabled) return;
    xin = xs, yin = ys;
  }
  Rng r;
  rng_init(&r, hash_mix3(l->seed, (uint64_t)epoch, (uint64_t)pos + 0x1000));
  AugmentConfig a = l->aug;
  if (l->kind == INPUT_FA) a.brightness = 0; /* brightness acts on b0 only */
  augment_apply(&a, &r, l->C, l->h, l->w, xin, yin, xo, yo);
}

static void fill_batch(Loader *l, int64_t step, float *x, uint8_t *y) {
  int64_t epoch = step / l->steps_per_epoch, t = step % l->steps_per_epoch;
  if (l->perm_epoch != epoch) make_perm(l, epoch);
  const size_t hw = (size_t)l->h * l->w;
  int64_t G = (int64_t)l->batch * l->world;
  const int par = l->cache_x && l->threads > 1; /* the store (HDF5) is read by the I/O thread only */
#pragma omp parallel for schedule(static) num_threads(l->threads) if (par)
  for (int32_t j = 0; j < l->batch; j++) {
    const int tid = par ? omp_get_thread_num() : 0;
    int64_t pos = t * G + (int64_t)l->rank * l->batch + j;
    fill_sample(l, epoch, pos, x + (size_t)j * l->C * hw, y + (size_t)j * hw, l->txs + (size_t)tid * l->C * hw,
                l->tys + (size_t)tid * hw);
  }
}

static void *io_thread(void *arg) {
  Loader *l = arg;
  cache_fill(l);
  for (;;) {
    pthread_mutex_lock(&l->mu);
    int slot = (int)(l->produce_step % 2);
    while (!l->stop && l->full[slot]) pthread_cond_wait(&l->cv, &l->mu);
    if (l->stop) {
      pthread_mutex_unlock(&l->mu);
      return NULL;
    }
    int64_t step = l->produce_step;
    pthread_mutex_unlock(&l->mu);
    fill_batch(l, step, l->xbuf[slot], l->ybuf[slot]);
    pthread_mutex_lock(&l->mu);
    l->epoch_of[slot] = step / l->steps_per_epoch;
    l->full[slot] = 1;
    l->produce_step++;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
  }
}

Loader *loader_init(const H5Store *store, const int32_t *indices, int32_t count, int32_t batch, int32_t rank,
                    int32_t world, uint64_t seed, const AugmentConfig *aug, InputKind kind) {
  CS_CHECK(world >= 1 && rank >= 0 && rank < world && batch >= 1, "rank must be in [0, world) and batch >= 1",
           "loader_init: rank %d world %d batch %d", rank, world, batch);
  CS_CHECK(count >= (int64_t)batch * world, "use a smaller batch or more ranks' worth of data",
           "'%s': %d slices cannot fill one global batch of %d x %d", store->path, count, batch, world);
  CS_CHECK(kind == INPUT_B0 || kind == INPUT_FA || kind == INPUT_B0_FA, "input is b0, fa or b0+fa",
           "loader_init: bad input kind %d", (int)kind);
  Loader *l = callocCheck(1, sizeof *l);
  l->store = store, l->count = count, l->batch = batch, l->rank = rank, l->world = world, l->seed = seed;
  l->kind = kind, l->C = input_channels(kind), l->h = store->h, l->w = store->w;
  if (aug && aug->enabled) l->aug = *aug;
  l->steps_per_epoch = count / ((int64_t)batch * world);
  l->indices = mallocCheck(sizeof(int32_t) * (size_t)count);
  memcpy(l->indices, indices, sizeof(int32_t) * (size_t)count);
  for (int32_t i = 0; i < count; i++)
    CS_CHECK(indices[i] >= 0 && indices[i] < store->n, "indices must come from folds made for this store",
             "'%s': slice index %d outside [0, %d)", store->path, indices[i], store->n);
  l->perm = mallocCheck(sizeof(int32_t) * (size_t)count);
  l->perm_epoch = -1;
  const size_t hw = (size_t)l->h * l->w;
  for (int s = 0; s < 2; s++) {
    l->xbuf[s] = mallocCheck(sizeof(float) * (size_t)batch * l->C * hw);
    l->ybuf[s] = mallocCheck((size_t)batch * hw);
  }
  l->b0 = mallocCheck(sizeof(float) * hw * 2); /* loader_load_slice scratch: b0 then fa */
  l->threads = 1;
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  return l; /* the I/O thread starts with the first loader_next (after an optional loader_seek) */
}

void loader_seek(Loader *l, int64_t epoch, int64_t step_in_epoch, int64_t steps_per_epoch) {
  CS_CHECK(!l->started, NULL, "internal: loader_seek after the first loader_next");
  if (steps_per_epoch > 0) {
    CS_CHECK(steps_per_epoch <= l->steps_per_epoch, "lower steps_per_epoch or the batch size",
             "steps_per_epoch %lld exceeds the %lld full global batches of '%s'", (long long)steps_per_epoch,
             (long long)l->steps_per_epoch, l->store->path);
    l->steps_per_epoch = steps_per_epoch;
  }
  CS_CHECK(epoch >= 0 && step_in_epoch >= 0 && step_in_epoch < l->steps_per_epoch, NULL,
           "internal: loader_seek to epoch %lld step %lld of %lld", (long long)epoch, (long long)step_in_epoch,
           (long long)l->steps_per_epoch);
  l->produce_step = l->consume_step = epoch * l->steps_per_epoch + step_in_epoch;
}

void loader_set_threads(Loader *l, int threads) {
  CS_CHECK(!l->started, NULL, "internal: loader_set_threads after the first loader_next");
  l->threads = threads < 1 ? 1 : threads > 256 ? 256 : threads;
}

int64_t loader_next(Loader *l, float *x, uint8_t *y) {
  if (!l->started) {
    const size_t hw = (size_t)l->h * l->w;
    l->txs = mallocCheck(sizeof(float) * (size_t)l->threads * l->C * hw);
    l->tys = mallocCheck((size_t)l->threads * hw);
    CS_CHECK(pthread_create(&l->thread, NULL, io_thread, l) == 0, "the system refused a thread; check ulimit -u",
             "loader: cannot start the I/O thread");
    l->started = 1;
  }
  pthread_mutex_lock(&l->mu);
  int slot = (int)(l->consume_step % 2);
  while (!l->full[slot]) pthread_cond_wait(&l->cv, &l->mu);
  pthread_mutex_unlock(&l->mu);
  const size_t hw = (size_t)l->h * l->w;
  memcpy(x, l->xbuf[slot], sizeof(float) * (size_t)l->batch * l->C * hw);
  memcpy(y, l->ybuf[slot], (size_t)l->batch * hw);
  pthread_mutex_lock(&l->mu);
  int64_t epoch = l->epoch_of[slot];
  l->full[slot] = 0;
  l->consume_step++;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  return epoch;
}

int64_t loader_steps_per_epoch(const Loader *l) { return l->steps_per_epoch; }

void loader_free(Loader *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  if (l->started) pthread_join(l->thread, NULL);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  for (int s = 0; s < 2; s++) free(l->xbuf[s]), free(l->ybuf[s]);
  free(l->indices), free(l->perm), free(l->b0);
  free(l->slot_of), free(l->cache_x), free(l->cache_y), free(l->txs), free(l->tys);
  free(l);
}
