/* core/adam.h: Adam (PyTorch semantics: bias-corrected, eps added to
 * sqrt(v_hat)) as one fused OpenMP pass over the flat parameter, gradient and
 * moment buffers, and the per-epoch learning-rate schedule of model.md
 * section 4 (YOLOX-style cosine with quadratic warm-up, held at the minimum
 * for the last no-aug epochs).
 * defines: Adam, adam_init, adam_step, adam_update, adam_free, lr_cosine, lr_schedule, lr_schedule_phases */
#ifndef CORDSEG_ADAM_H
#define CORDSEG_ADAM_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t n;
  float *m, *v;        /* [n] first and second moments */
  int64_t t;           /* steps taken */
  float beta1, beta2, eps, weight_decay;
} Adam;

void adam_init(Adam *a, size_t n); /* beta1 0.9, beta2 0.999, eps 1e-8, wd 0 */
/* host: a->t++, then adam_update over a->m, a->v */
void adam_step(Adam *a, float *params, const float *grads, float lr);
/* the reference update (host memory) that backends match: step t >= 1 */
void adam_update(float *params, const float *grads, float *m, float *v, size_t n, float lr, int64_t t, float beta1,
                 float beta2, float eps, float weight_decay);
void adam_free(Adam *a);

/* lr for epoch e (0-based) of T: warm-up W = min(max(0.05T,1),3) epochs from
 * max(0.1 lr_max, 1e-6) quadratically, then cosine to lr_min, held at lr_min
 * for the last Z = min(max(0.05T,1),15) epochs. */
double lr_cosine(int32_t epoch, int32_t total, double lr_max, double lr_min);
/* the same with explicit warm-up W and final flat Z epochs (-1 = the formulas above) */
double lr_schedule(int32_t epoch, int32_t total, double lr_max, double lr_min, int32_t warmup, int32_t flat);
/* the warm-up and final flat epochs lr_schedule uses: the values given, or (-1) the formulas above */
void lr_schedule_phases(int32_t total, int32_t warmup, int32_t flat, double *W, double *Z);
#ifdef __cplusplus
}
#endif
#endif
