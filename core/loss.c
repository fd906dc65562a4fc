/* core/loss.c: the loss functions of core/loss.h. This file owns the
 * non-templated parts (config defaults, kind names, label validation, the exact
 * squared EDT kernel) and instantiates core/loss_impl.h twice: REAL=float for
 * the production names and REAL=double for the _f64 names used by the tests. */
#include "core/loss.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

void loss_config_default(LossConfig *cfg, LossKind kind) {
  memset(cfg, 0, sizeof *cfg);
  cfg->kind = kind;
  cfg->focal_alpha = 0.5f;
  cfg->focal_gamma = 2.0f;
  cfg->dice_smooth = 1e-5f;
  cfg->hdl_sigma = 1.0f;
  cfg->hdl_eps = 1e-6f;
  cfg->hdl_reduce = HDL_REDUCE_NORM;
}

int loss_kind_parse(const char *name) {
  if (!name) return -1;
  if (strcmp(name, "hybrid") == 0) return LOSS_KIND_HYBRID;
  if (strcmp(name, "hdl") == 0) return LOSS_KIND_HDL;
  if (strcmp(name, "ce") == 0) return LOSS_KIND_CE;
  return -1;
}

const char *loss_kind_name(LossKind kind) {
  switch (kind) {
    case LOSS_KIND_HYBRID: return "hybrid";
    case LOSS_KIND_HDL: return "hdl";
    case LOSS_KIND_CE: return "ce";
  }
  return "unknown";
}

/* Shape sanity shared by every entry point. */
static void loss_check_shape(int32_t n, int32_t k, int32_t h, int32_t w) {
  CS_CHECK(n >= 1 && k >= 1 && h >= 1 && w >= 1, "the batch, class count and image size must all be positive",
           "bad loss shape N=%d K=%d H=%d W=%d", (int)n, (int)k, (int)h, (int)w);
  CS_CHECK(k <= 256, "labels are uint8, so at most 256 classes are possible", "K=%d classes is too many", (int)k);
}

/* Every label must be a class id in 0..K-1. Checked serially before any
 * parallel region so that the fatal path never runs inside OpenMP. */
static void loss_check_labels(const uint8_t *labels, int32_t n, int32_t k, int32_t h, int32_t w) {
  const int64_t hw = (int64_t)h * w;
  for (int32_t b = 0; b < n; b++) {
    const uint8_t *lb = labels + (int64_t)b * hw;
    uint8_t worst = 0;
    for (int64_t i = 0; i < hw; i++) worst = lb[i] > worst ? lb[i] : worst;
    if (worst < k) continue;
    for (int64_t i = 0; i < hw; i++)
      if (lb[i] >= k)
        cs_fatal("labels must be class ids 0..K-1: check the label maps and the configured number of classes",
                 "label value %u at (n=%d, y=%d, x=%d) is out of range for K=%d classes", (unsigned)lb[i], (int)b,
                 (int)(i / w), (int)(i % w), (int)k);
  }
}

/* Scratch sizes of loss_edt_core for an h x w image (elements). */
static int32_t loss_edt_len(int32_t h, int32_t w) { return (h > w ? h : w) + 1; }

/* Exact squared EDT of one h x w mask into out (double, pixel units), separable
 * Felzenszwalb-Huttenlocher: an exact 1-D pass along each row (two scans),
 * then the lower envelope of parabolas along each column. All values are
 * integers well below 2^53, so the result is exact. f, z: loss_edt_len
 * doubles, v: loss_edt_len int32 of scratch. Returns the number of mask
 * pixels; out is +INFINITY everywhere when it is 0. */
static int64_t loss_edt_core(const uint8_t *mask, int32_t h, int32_t w, double *out, double *f, double *z, int32_t *v) {
  int64_t count = 0;
  for (int32_t y = 0; y < h; y++) {
    const uint8_t *m = mask + (int64_t)y * w;
    double *o = out + (int64_t)y * w;
    int32_t last = -1;
    for (int32_t x = 0; x < w; x++) {
      if (m[x]) {
        last = x;
        count++;
      }
      o[x] = last >= 0 ? (double)(x - last) * (double)(x - last) : INFINITY;
    }
    last = -1;
    for (int32_t x = w - 1; x >= 0; x--) {
      if (m[x]) last = x;
      if (last >= 0) {
        double d = (double)(last - x) * (double)(last - x);
        if (d < o[x]) o[x] = d;
      }
    }
  }
  if (count == 0) return 0; /* already +INFINITY everywhere */
  for (int32_t x = 0; x < w; x++) {
    for (int32_t y = 0; y < h; y++) f[y] = out[(int64_t)y * w + x];
    /* lower envelope of the parabolas q -> f[p] + (q-p)^2 over finite f[p] */
    int32_t top = -1;
    for (int32_t q = 0; q < h; q++) {
      if (isinf(f[q])) continue;
      if (top < 0) {
        top = 0;
        v[0] = q;
        z[0] = -INFINITY;
        z[1] = INFINITY;
        continue;
      }
      double fq = f[q] + (double)q * q, s;
      for (;;) {
        int32_t p = v[top];
        s = (fq - (f[p] + (double)p * p)) / (2.0 * (q - p));
        if (s > z[top]) break;
        top--; /* z[0] = -inf stops this before top < 0 */
      }
      top++;
      v[top] = q;
      z[top] = s;
      z[top + 1] = INFINITY;
    }
    if (top < 0) {
      for (int32_t y = 0; y < h; y++) out[(int64_t)y * w + x] = INFINITY;
      continue;
    }
    int32_t j = 0;
    for (int32_t q = 0; q < h; q++) {
      while (z[j + 1] < q) j++;
      int32_t p = v[j];
      out[(int64_t)q * w + x] = (double)(q - p) * (double)(q - p) + f[p];
    }
  }
  return count;
}

/* Pixels per work block of the softmax losses: blocks never straddle two
 * images, and their partial sums are combined in block order, so the result
 * does not depend on the number of threads. */
#define LOSS_BLOCK 1024

#define REAL float
#define LOSS_FN(name) name
#define R_EXP expf
#define R_LOG logf
#define R_SQRT sqrtf
#include "core/loss_impl.h"
#undef REAL
#undef LOSS_FN
#undef R_EXP
#undef R_LOG
#undef R_SQRT

#define REAL double
#define LOSS_FN(name) name##_f64
#define R_EXP exp
#define R_LOG log
#define R_SQRT sqrt
#include "core/loss_impl.h"
#undef REAL
#undef LOSS_FN
#undef R_EXP
#undef R_LOG
#undef R_SQRT
