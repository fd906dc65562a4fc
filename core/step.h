/* core/step.h: one training step (forward, loss, backward, Adam) and one
 * evaluation forward, shared by the smoke job, the benchmark, the tests and
 * the trainer. A non-finite loss stops the run with a message (never a silent
 * NaN run).
 * defines: Stepper, stepper_init, stepper_grad, stepper_update, stepper_train,
 *          stepper_eval, stepper_free */
#ifndef CORDSEG_STEP_H
#define CORDSEG_STEP_H
#include <stdint.h>

#include "core/adam.h"
#include "core/loss.h"
#include "core/unet.h"

typedef struct {
  Unet *net;
  Adam adam;
  LossConfig loss;
  int32_t n, k, h, w;
  float *dlogits; /* [N][K][H][W] */
} Stepper;

void stepper_init(Stepper *s, Unet *net, const LossConfig *loss, int32_t n, int32_t h, int32_t w);
/* forward, loss, backward: gradients in unet_grads(); returns the loss.
 * Data-parallel training all-reduces the gradients between the two calls. */
double stepper_grad(Stepper *s, const float *x, const uint8_t *y);
void stepper_update(Stepper *s, float lr);
/* stepper_grad + stepper_update; returns the loss before the update */
double stepper_train(Stepper *s, const float *x, const uint8_t *y, float lr);
/* forward in eval mode (BN running stats); returns the loss, logits via unet */
double stepper_eval(Stepper *s, const float *x, const uint8_t *y);
void stepper_free(Stepper *s);
#endif
