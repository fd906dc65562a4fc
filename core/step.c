/* core/step.c: training/eval step and host model state (see core/step.h). */
#include "core/step.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

void stepper_init(Stepper *s, Unet *net, const LossConfig *loss, int32_t n, int32_t h, int32_t w) {
  memset(s, 0, sizeof *s);
  s->net = net;
  s->be = unet_backend(net);
  s->loss = *loss;
  s->n = n, s->h = h, s->w = w;
  s->k = unet_tensor(net, unet_num_tensors(net) - 1)->shape[0]; /* final.bias [K] */
  const size_t P = unet_num_params(net);
  s->adam = (Adam){.n = P, .t = 0, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f};
  s->adam.m = s->be->alloc(s->be, P * sizeof(float));
  s->adam.v = s->be->alloc(s->be, P * sizeof(float));
  s->labels = s->be->alloc(s->be, (size_t)n * h * w);
  const size_t nx = (size_t)n * unet_in_channels(net) * h * w;
  s->x_stage = s->be->host_alloc(s->be, nx * sizeof(float));
  s->y_stage = s->be->host_alloc(s->be, (size_t)n * h * w);
  s->use_graph = s->be->supports(s->be, BACKEND_CAP_GRAPH) && !loss->dice_allreduce && !unet_has_bn_sync(net);
}

/* the batch from host staging to the backend (uploads a graph can replay) */
static void stage_upload(Stepper *s) {
  Backend *be = s->be;
  const size_t hw = (size_t)s->h * s->w;
  be->upload(be, unet_dev_input(s->net), s->x_stage, (size_t)s->n * unet_in_channels(s->net) * hw * sizeof(float));
  be->upload(be, s->labels, s->y_stage, (size_t)s->n * hw);
}

static void stage_host(Stepper *s, const float *x, const uint8_t *y) {
  const size_t hw = (size_t)s->h * s->w;
  unet_check_input(s->net, x);
  memcpy(s->x_stage, x, (size_t)s->n * unet_in_channels(s->net) * hw * sizeof(float));
  loss_check_labels(y, s->n, s->k, s->h, s->w); /* the device losses index by label unchecked */
  memcpy(s->y_stage, y, (size_t)s->n * hw);
}

/* every op of a training forward + loss + backward, queued on the backend */
static void grad_ops(Stepper *s) {
  Backend *be = s->be;
  stage_upload(s);
  unet_run_forward(s->net, 1);
  be->loss(be, &s->loss, unet_dev_logits(s->net), s->labels, s->n, s->k, s->h, s->w,
           unet_dev_dlogits(s->net));
  unet_run_backward(s->net);
}

/* records grad_ops once as a graph and launches it; 0 when the capture
 * failed (nothing of it ran): the stepper then stays eager */
static int capture_and_launch(Stepper *s) {
  Backend *be = s->be;
  be->graph_begin(be);
  grad_ops(s);
  s->graph = be->graph_end(be);
  if (s->graph && be->graph_launch(be, s->graph)) return 1;
  if (s->graph) be->graph_free(be, s->graph);
  s->graph = NULL;
  s->use_graph = 0;
  return 0;
}

double stepper_grad(Stepper *s, const float *x, const uint8_t *y) {
  Backend *be = s->be;
  stage_host(s, x, y);
  int done = 0;
  if (s->graph && !(done = be->graph_launch(be, s->graph))) { /* stale: a buffer it names was replaced */
    be->graph_free(be, s->graph);
    s->graph = NULL;
  }
  if (!done && s->use_graph && s->eager_steps >= 1) done = capture_and_launch(s); /* shapes and workspaces settled */
  if (!done) {
    grad_ops(s);
    s->eager_steps++;
  }
  double l = be->loss_value(be);
  if (!isfinite(l))
    cs_fatal("lower the learning rate, check the inputs for extreme values, or resume from the last good checkpoint",
             "training loss is %g at Adam step %lld: stopping instead of continuing with NaN weights", l,
             (long long)s->adam.t + 1);
  return l;
}

void stepper_allreduce_grads(Stepper *s) { s->be->allreduce_avg(s->be, unet_dev_grads(s->net), unet_num_params(s->net)); }

double stepper_clip_grads(Stepper *s, double max_norm) {
  const size_t P = unet_num_params(s->net);
  const double norm = sqrt(s->be->sumsq(s->be, unet_dev_grads(s->net), P));
  if (max_norm > 0 && norm > max_norm) s->be->scale(s->be, unet_dev_grads(s->net), P, (float)(max_norm / norm));
  return norm;
}

void stepper_update(Stepper *s, float lr) {
  Adam *a = &s->adam;
  a->t++;
  s->be->adam_step(s->be, unet_dev_params(s->net), unet_dev_grads(s->net), a->m, a->v, a->n, lr, a->t, a->beta1,
                   a->beta2, a->eps, a->weight_decay);
}

double stepper_train(Stepper *s, const float *x, const uint8_t *y, float lr) {
  double l = stepper_grad(s, x, y);
  stepper_update(s, lr);
  return l;
}

double stepper_eval(Stepper *s, const float *x, const uint8_t *y) {
  Backend *be = s->be;
  stage_host(s, x, y);
  stage_upload(s);
  unet_run_forward(s->net, 0);
  be->loss(be, &s->loss, unet_dev_logits(s->net), s->labels, s->n, s->k, s->h, s->w, NULL);
  return be->loss_value(be);
}

void stepper_free(Stepper *s) {
  if (!s->be) return;
  s->be->free(s->be, s->adam.m);
  s->be->free(s->be, s->adam.v);
  s->be->free(s->be, s->labels);
  s->be->host_free(s->be, s->x_stage), s->be->host_free(s->be, s->y_stage);
  if (s->graph) s->be->graph_free(s->be, s->graph);
  s->adam.m = s->adam.v = NULL, s->labels = NULL, s->graph = NULL;
}

/* ---------------------------------------------------------- model state -- */
void model_state_init(ModelState *ms, const Unet *net, int with_adam) {
  ms->np = unet_num_params(net), ms->nb = unet_num_buffers(net);
  ms->params = alignedAllocCheck(ms->np * sizeof(float));
  ms->buffers = alignedAllocCheck((ms->nb ? ms->nb : 1) * sizeof(float));
  ms->adam_m = with_adam ? alignedAllocCheck(ms->np * sizeof(float)) : NULL;
  ms->adam_v = with_adam ? alignedAllocCheck(ms->np * sizeof(float)) : NULL;
  ms->adam_t = 0;
}

void model_state_free(ModelState *ms) {
  free(ms->params), free(ms->buffers), free(ms->adam_m), free(ms->adam_v);
  ms->params = ms->buffers = ms->adam_m = ms->adam_v = NULL;
}

void unet_state_download(Unet *net, ModelState *ms) {
  unet_params_download(net, ms->params);
  unet_buffers_download(net, ms->buffers);
}

void unet_state_upload(Unet *net, const ModelState *ms) {
  unet_params_upload(net, ms->params);
  unet_buffers_upload(net, ms->buffers);
}

void stepper_state_download(Stepper *s, ModelState *ms) {
  unet_state_download(s->net, ms);
  if (!ms->adam_m) return;
  s->be->download(s->be, ms->adam_m, s->adam.m, ms->np * sizeof(float));
  s->be->download(s->be, ms->adam_v, s->adam.v, ms->np * sizeof(float));
  ms->adam_t = s->adam.t;
}

void stepper_state_upload(Stepper *s, const ModelState *ms) {
  unet_state_upload(s->net, ms);
  if (!ms->adam_m) return;
  s->be->upload(s->be, s->adam.m, ms->adam_m, ms->np * sizeof(float));
  s->be->upload(s->be, s->adam.v, ms->adam_v, ms->np * sizeof(float));
  s->adam.t = ms->adam_t;
}
