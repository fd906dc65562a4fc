/* sim/synth.c: generated cord-like batches (see sim/synth.h). */
#include "sim/synth.h"

#include <math.h>

#include "core/common.h"

void synth_batch(float *x, uint8_t *y, int32_t n, int32_t cin, int32_t h, int32_t w, int32_t k, uint64_t seed) {
  Rng r;
  rng_init(&r, seed);
  for (int32_t i = 0; i < n; i++) {
    const double cx = w * (0.5 + 0.05 * (rng_uniform(&r) - 0.5)), cy = h * (0.5 + 0.05 * (rng_uniform(&r) - 0.5));
    const double ax = w * (0.28 + 0.04 * rng_uniform(&r)), ay = h * (0.18 + 0.04 * rng_uniform(&r));
    for (int32_t py = 0; py < h; py++)
      for (int32_t px = 0; px < w; px++) {
        const double u = (px - cx) / ax, v = (py - cy) / ay, rr = sqrt(u * u + v * v);
        int lab = 0;
        if (rr < 1) {
          const int right = u >= 0;
          const double au = fabs(u);
          int roi;
          if (rr < 0.45 && au < 0.5) roi = 3;   /* gray matter */
          else if (v > 0.3) roi = 0;            /* dorsal (image bottom) */
          else if (v < -0.3) roi = 2;           /* ventral */
          else roi = 1;                         /* lateral */
          lab = 1 + roi + 4 * right;
        }
        lab = lab % k;
        y[((size_t)i * h + py) * w + px] = (uint8_t)lab;
        for (int32_t c = 0; c < cin; c++) {
          const double base = lab == 0 ? 0.1 : (c == 0 ? 0.3 + 0.05 * (lab % 4) : 0.2 + 0.12 * (lab % 4));
          x[(((size_t)i * cin + c) * h + py) * w + px] = (float)(base + 0.03 * rng_normal(&r));
        }
      }
  }
}
