/* core/loss.c: the loss functions of core/loss.h. This file owns the
 * non-templated parts (config defaults, kind names, label validation, the exact
 * squared EDT kernel) and instantiates core/loss_impl.h twice: REAL=float for
 * the production names and REAL=double for the _f64 names used by the tests. */
#include "core/loss.h"

#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/loss_exp.h"

void loss_config_default(LossConfig *cfg, LossKind kind) {
  memset(cfg, 0, sizeof *cfg);
  cfg->kind = kind;
  cfg->focal_alpha = 0.5f;
  cfg->focal_gamma = 2.0f;
  cfg->dice_smooth = 1e-5f;
  cfg->hdl_sigma = (float)LOSS_HDL_SIGMA_DEFAULT;
  cfg->hdl_eps = 1e-6f;
  cfg->hdl_reduce = HDL_REDUCE_NORM;
  cfg->dice_allreduce = NULL;
  cfg->dice_grad_scale = 1.0f;
}

static const char *const LOSS_NAMES[] = {"hybrid", "hdl", "ce"}, *const REDUCE_NAMES[] = {"norm", "mse"};
const CsEnum LOSS_KIND_ENUM = {LOSS_NAMES, 3}, HDL_REDUCE_ENUM = {REDUCE_NAMES, 2};

int loss_kind_parse(const char *name) { return cs_enum_parse(&LOSS_KIND_ENUM, name); }
const char *loss_kind_name(LossKind kind) { return cs_enum_name(&LOSS_KIND_ENUM, (int)kind); }

/* Largest image side: squared distances h^2 + w^2 must fit in int32. */
#define LOSS_MAX_SIDE 32767

/* Shape sanity shared by every entry point. */
static void loss_check_shape(int32_t n, int32_t k, int32_t h, int32_t w) {
  CS_CHECK(n >= 1 && k >= 1 && h >= 1 && w >= 1, "the batch, class count and image size must all be positive",
           "bad loss shape N=%d K=%d H=%d W=%d", (int)n, (int)k, (int)h, (int)w);
  CS_CHECK(k <= 256, "labels are uint8, so at most 256 classes are possible", "K=%d classes is too many", (int)k);
  CS_CHECK(h <= LOSS_MAX_SIDE && w <= LOSS_MAX_SIDE, "crop or downsample the images",
           "image %dx%d is too large for the distance transform (max side %d)", (int)h, (int)w, LOSS_MAX_SIDE);
}

/* Every label must be a class id in 0..K-1. Checked serially before any
 * parallel region so that the fatal path never runs inside OpenMP. */
void loss_check_labels(const uint8_t *labels, int32_t n, int32_t k, int32_t h, int32_t w) {
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

/* "no mask pixel within reach" in the int32 squared-distance planes */
#define LOSS_EDT_INF INT32_MAX
/* The exact-everywhere cutoff of loss_edt_core. */
#define LOSS_EDT_EXACT (INT32_MAX - 1)

int32_t loss_hdl_cutoff(double sigma, double *inv) {
  *inv = 1.0 / (2.0 * sigma * sigma);
  const double reach = 80.0 / *inv; /* exp(-80) ~ 2e-35: the target is 0 beyond */
  return reach >= (double)LOSS_EDT_EXACT ? LOSS_EDT_EXACT : (int32_t)reach;
}

/* Scratch of loss_edt_core for one h x w image. */
typedef struct {
  int32_t *d2;     /* [h][w] squared distances, the output */
  int32_t *f, *v;  /* one row: column distances, parabola apexes */
  int64_t *zn, *zd; /* envelope breakpoints as fractions zn/zd, zd > 0 */
} LossEdtWork;

static void loss_edt_work_init(LossEdtWork *e, int32_t h, int32_t w) {
  const int32_t len = (h > w ? h : w) + 1;
  e->d2 = (int32_t *)mallocCheck((size_t)h * (size_t)w * sizeof(int32_t));
  e->f = (int32_t *)mallocCheck((size_t)len * sizeof(int32_t));
  e->v = (int32_t *)mallocCheck((size_t)len * sizeof(int32_t));
  e->zn = (int64_t *)mallocCheck((size_t)len * sizeof(int64_t));
  e->zd = (int64_t *)mallocCheck((size_t)len * sizeof(int64_t));
}

static void loss_edt_work_free(LossEdtWork *e) {
  free(e->d2);
  free(e->f);
  free(e->v);
  free(e->zn);
  free(e->zd);
}

/* Exact squared EDT of one h x w mask into e->d2 (pixel units), in two
 * separable passes: the 1-D distance along each column (a forward and a
 * backward sweep over the rows, vectorised across x), then the lower envelope
 * of the parabolas q -> f[p] + (q-p)^2 along each row
 * (Felzenszwalb-Huttenlocher). All arithmetic is integer (breakpoints are kept
 * as fractions and compared by cross-multiplication), so the result is exact.
 * Values <= cutoff are exact; a value > cutoff is only guaranteed to be
 * > cutoff (parabolas with f[p] > cutoff are skipped, which is what makes the
 * HDL target cheap); LOSS_EDT_EXACT gives the exact transform everywhere,
 * with LOSS_EDT_INF where the mask is empty. Returns the mask pixel count. */
static int64_t loss_edt_core(const uint8_t *mask, int32_t h, int32_t w, int32_t cutoff, LossEdtWork *e) {
  int64_t count = 0;
  int32_t *last = e->v; /* row of the nearest mask pixel seen so far, per column */
  for (int32_t x = 0; x < w; x++) last[x] = -1;
  for (int32_t y = 0; y < h; y++) {
    const uint8_t *m = mask + (int64_t)y * w;
    int32_t *o = e->d2 + (int64_t)y * w;
    for (int32_t x = 0; x < w; x++) {
      count += m[x] != 0;
      last[x] = m[x] ? y : last[x];
      const int32_t d = y - last[x];
      o[x] = last[x] >= 0 ? d * d : LOSS_EDT_INF;
    }
  }
  if (count == 0) return 0; /* LOSS_EDT_INF everywhere */
  for (int32_t x = 0; x < w; x++) last[x] = -1;
  for (int32_t y = h - 1; y >= 0; y--) {
    const uint8_t *m = mask + (int64_t)y * w;
    int32_t *o = e->d2 + (int64_t)y * w;
    for (int32_t x = 0; x < w; x++) {
      last[x] = m[x] ? y : last[x];
      const int32_t d = last[x] - y;
      o[x] = (last[x] >= 0 && d * d < o[x]) ? d * d : o[x];
    }
  }
  int32_t *f = e->f, *v = e->v;
  int64_t *zn = e->zn, *zd = e->zd;
  for (int32_t y = 0; y < h; y++) {
    int32_t *o = e->d2 + (int64_t)y * w;
    int32_t top = -1;
    for (int32_t q = 0; q < w; q++) {
      f[q] = o[q];
      if (f[q] > cutoff) continue;
      if (top < 0) {
        top = 0;
        v[0] = q;
        continue;
      }
      const int64_t fq = (int64_t)f[q] + (int64_t)q * q;
      int64_t num, den; /* intersection of parabolas v[top] and q at num/den */
      for (;;) {
        const int64_t p = v[top];
        num = fq - (f[p] + p * p);
        den = 2 * (q - p);
        if (top == 0 || num * zd[top] > zn[top] * den) break; /* beyond breakpoint top */
        top--;
      }
      top++;
      v[top] = q;
      zn[top] = num;
      zd[top] = den;
    }
    if (top < 0) continue; /* nothing within the cutoff: keep the values > cutoff */
    int32_t j = 0;
    for (int32_t q = 0; q < w; q++) {
      while (j < top && zn[j + 1] < (int64_t)q * zd[j + 1]) j++;
      const int32_t p = v[j];
      o[q] = (q - p) * (q - p) + f[p];
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
#define R_EXP loss_expf
#define R_LOG logf
#include "core/loss_impl.h"
#undef REAL
#undef LOSS_FN
#undef R_EXP
#undef R_LOG

#define REAL double
#define LOSS_FN(name) name##_f64
#define R_EXP exp
#define R_LOG log
#include "core/loss_impl.h"
#undef REAL
#undef LOSS_FN
#undef R_EXP
#undef R_LOG
