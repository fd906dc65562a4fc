/* core/step.c: training/eval step (see core/step.h). */
#include "core/step.h"

#include <math.h>
#include <stdlib.h>

#include "core/common.h"

void stepper_init(Stepper *s, Unet *net, const LossConfig *loss, int32_t n, int32_t h, int32_t w) {
  s->net = net;
  s->loss = *loss;
  s->n = n, s->h = h, s->w = w;
  s->k = unet_tensor(net, unet_num_tensors(net) - 1)->shape[0]; /* final.bias [K] */
  adam_init(&s->adam, unet_num_params(net));
  s->dlogits = alignedAllocCheck((size_t)n * s->k * h * w * sizeof(float));
}

double stepper_grad(Stepper *s, const float *x, const uint8_t *y) {
  const float *logits = unet_forward(s->net, x, 1);
  double l = loss_compute(&s->loss, logits, y, s->n, s->k, s->h, s->w, s->dlogits);
  if (!isfinite(l))
    cs_fatal("lower the learning rate, check the inputs for extreme values, or resume from the last good checkpoint",
             "training loss is %g at Adam step %lld: stopping instead of continuing with NaN weights", l,
             (long long)s->adam.t + 1);
  unet_backward(s->net, s->dlogits);
  return l;
}

void stepper_update(Stepper *s, float lr) { adam_step(&s->adam, unet_params(s->net), unet_grads(s->net), lr); }

double stepper_train(Stepper *s, const float *x, const uint8_t *y, float lr) {
  double l = stepper_grad(s, x, y);
  stepper_update(s, lr);
  return l;
}

double stepper_eval(Stepper *s, const float *x, const uint8_t *y) {
  const float *logits = unet_forward(s->net, x, 0);
  return loss_compute(&s->loss, logits, y, s->n, s->k, s->h, s->w, NULL);
}

void stepper_free(Stepper *s) {
  adam_free(&s->adam);
  free(s->dlogits);
  s->dlogits = NULL;
}
