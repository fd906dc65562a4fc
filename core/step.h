/* core/step.h: one training step (forward, loss, backward, all-reduce, Adam)
 * and one evaluation forward on the net's backend, shared by the smoke job,
 * the benchmark, the tests and the trainer; and the host copy of everything a
 * checkpoint holds (ModelState). A non-finite loss stops the run with a
 * message (never a silent NaN run).
 * defines: Stepper, stepper_init, stepper_grad, stepper_allreduce_grads,
 *          stepper_clip_grads, stepper_update, stepper_train, stepper_eval, stepper_free,
 *          ModelState, model_state_init, model_state_free,
 *          stepper_state_download, stepper_state_upload */
#ifndef CORDSEG_STEP_H
#define CORDSEG_STEP_H
#include <stdint.h>

#include "core/adam.h"
#include "core/backend.h"
#include "core/loss.h"
#include "core/unet.h"

typedef struct {
  Unet *net;
  Backend *be;
  Adam adam;          /* hyper-parameters and step count; m, v on the backend */
  LossConfig loss;
  int32_t n, k, h, w;
  uint8_t *labels;    /* [N][H][W] on the backend */
  float *x_stage;     /* host staging (pinned on CUDA) of the batch: input and labels */
  uint8_t *y_stage;
  int use_graph;      /* replay stepper_grad's ops from a graph (BACKEND_CAP_GRAPH, no host hooks) */
  void *graph;
  int64_t eager_steps;
} Stepper;

/* Graphs: on a backend with BACKEND_CAP_GRAPH, the first stepper_grad runs
 * eagerly, the second is captured, later ones replay it; not when a host
 * all-reduce hook (sync BN, hybrid's Dice over ranks) runs inside the step
 * (the caller may also clear use_graph after stepper_init). A capture that
 * fails leaves the stepper eager for good; a graph the backend reports stale
 * (a scratch buffer it names was replaced) is captured again. */
void stepper_init(Stepper *s, Unet *net, const LossConfig *loss, int32_t n, int32_t h, int32_t w);
/* forward, loss, backward from host x [N][Cin][H][W], y [N][H][W]: gradients
 * on the backend; returns the loss. Data-parallel training calls
 * stepper_allreduce_grads between this and stepper_update. */
double stepper_grad(Stepper *s, const float *x, const uint8_t *y);
/* gradients <- their mean over the ranks (the backend's comm; no-op alone) */
void stepper_allreduce_grads(Stepper *s);
/* global gradient-norm clipping: returns the L2 norm of the (all-reduced)
 * gradients; when max_norm > 0 and the norm exceeds it, scales them to it */
double stepper_clip_grads(Stepper *s, double max_norm);
void stepper_update(Stepper *s, float lr);
/* stepper_grad + stepper_update; returns the loss before the update */
double stepper_train(Stepper *s, const float *x, const uint8_t *y, float lr);
/* forward in eval mode (BN running stats); returns the loss */
double stepper_eval(Stepper *s, const float *x, const uint8_t *y);
void stepper_free(Stepper *s);

/* Host fp32 copies in PyTorch order: what a checkpoint stores, whatever the
 * backend. adam_m/adam_v are NULL in a weights-only state. */
typedef struct {
  size_t np, nb;
  float *params;   /* [np] */
  float *buffers;  /* [nb] BN running statistics */
  float *adam_m, *adam_v; /* [np] or NULL */
  int64_t adam_t;
} ModelState;

void model_state_init(ModelState *ms, const Unet *net, int with_adam);
void model_state_free(ModelState *ms);
/* net (and the stepper's Adam when ms has moments) -> ms, and back */
void unet_state_download(Unet *net, ModelState *ms);
void unet_state_upload(Unet *net, const ModelState *ms);
void stepper_state_download(Stepper *s, ModelState *ms);
void stepper_state_upload(Stepper *s, const ModelState *ms);
#endif
