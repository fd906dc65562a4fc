/* core/adam.c: fused Adam and the cosine schedule (see core/adam.h). */
#include "core/adam.h"

#include <math.h>
#include <stdlib.h>

#include "core/common.h"

void adam_init(Adam *a, size_t n) {
  a->n = n;
  a->m = alignedAllocCheck(n * sizeof(float));
  a->v = alignedAllocCheck(n * sizeof(float));
  a->t = 0;
  a->beta1 = 0.9f, a->beta2 = 0.999f, a->eps = 1e-8f, a->weight_decay = 0.0f;
}

void adam_free(Adam *a) {
  free(a->m);
  free(a->v);
  a->m = a->v = NULL;
}

void adam_update(float *params, const float *grads, float *m, float *v, size_t n, float lr, int64_t t, float b1,
                 float b2, float eps, float wd) {
  const double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
  /* torch: p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps) */
  const float step = (float)(lr / bc1), rs = (float)(1.0 / sqrt(bc2));
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float g = grads[i] + wd * params[i];
    float mi = b1 * m[i] + (1 - b1) * g;
    float vi = b2 * v[i] + (1 - b2) * g * g;
    m[i] = mi, v[i] = vi;
    params[i] -= step * mi / (sqrtf(vi) * rs + eps);
  }
}

void adam_step(Adam *a, float *params, const float *grads, float lr) {
  a->t++;
  adam_update(params, grads, a->m, a->v, a->n, lr, a->t, a->beta1, a->beta2, a->eps, a->weight_decay);
}

void lr_schedule_phases(int32_t total, int32_t warmup, int32_t flat, double *W, double *Z) {
  const double T = total;
  *W = warmup >= 0 ? warmup : fmin(fmax(0.05 * T, 1), 3);
  *Z = flat >= 0 ? flat : fmin(fmax(0.05 * T, 1), 15);
}

double lr_schedule(int32_t epoch, int32_t total, double lr_max, double lr_min, int32_t warmup, int32_t flat) {
  double T = total, W, Z;
  lr_schedule_phases(total, warmup, flat, &W, &Z);
  const double start = fmax(0.1 * lr_max, 1e-6);
  const double e = epoch;
  if (W > 0 && e <= W) return (lr_max - start) * (e / W) * (e / W) + start;
  if (e >= T - Z) return lr_min;
  if (T - W - Z <= 0) return lr_max;
  return lr_min + 0.5 * (lr_max - lr_min) * (1 + cos(3.14159265358979323846 * (e - W) / (T - W - Z)));
}

double lr_cosine(int32_t epoch, int32_t total, double lr_max, double lr_min) {
  return lr_schedule(epoch, total, lr_max, lr_min, -1, -1);
}
