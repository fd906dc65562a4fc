/* core/cpu/backend_cpu.c: the CPU backend (core/backend.h): host memory,
 * oneDNN convolutions (core/cpu/conv.c) on one engine/stream/scratchpad owned
 * here, the OpenMP layer kernels of core/cpu/layers.c, the host loss
 * (core/loss.c) and Adam (core/adam.c), and data-parallel sums through the
 * trainer's host all-reduce hook. This is the reference every other backend
 * is checked against (tests/test_backend_ops.c).
 * defines: backend_cpu_init */
#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "core/adam.h"
#include "core/backend.h"
#include "core/common.h"
#include "core/cpu/conv.h"
#include "core/cpu/layers.h"
#include "core/loss.h"

typedef struct {
  ConvCtx conv;
  double loss;
  BackendComm comm;
  int have_comm;
} CpuImpl;

struct BackendConv {
  Conv c;
  float *dst, *ddst; /* the caller's output and its gradient (ReLU backward) */
};

static CpuImpl *impl(Backend *be) { return (CpuImpl *)be->impl; }

/* ---- memory ---- */
static void *cpu_alloc(Backend *be, size_t bytes) {
  (void)be;
  return alignedAllocCheck(bytes ? bytes : 64);
}
static void cpu_free(Backend *be, void *p) { (void)be, free(p); }
static void cpu_upload(Backend *be, void *dev, const void *host, size_t bytes) {
  (void)be;
  if (bytes && dev != host) memcpy(dev, host, bytes);
}
static void cpu_memset0(Backend *be, void *dev, size_t bytes) { (void)be, memset(dev, 0, bytes); }
static void cpu_sync(Backend *be) { (void)be; }
static int cpu_mem_info(Backend *be, size_t *f, size_t *t) {
  (void)be;
  *f = *t = 0;
  return 0;
}

/* ---- convolution ---- */
static BackendConv *cpu_conv_plan(Backend *be, const ConvSpec *spec, float *src, float *dst, float *w, float *b,
                                  float *dsrc, float *ddst, float *dw, float *db) {
  BackendConv *c = callocCheck(1, sizeof *c);
  conv_init(&c->c, &impl(be)->conv, spec, src, dst, w, b, dsrc, ddst, dw, db);
  c->dst = dst, c->ddst = ddst;
  return c;
}
static void cpu_conv_forward(Backend *be, BackendConv *c) { (void)be, conv_forward(&c->c); }
static void cpu_conv_backward(Backend *be, BackendConv *c) {
  (void)be;
  const ConvSpec *s = &c->c.s;
  if (s->relu) layer_relu_backward(c->dst, c->ddst, (size_t)s->n * s->cout * c->c.hout * c->c.wout);
  conv_backward(&c->c);
}
static const char *cpu_conv_describe(Backend *be, const BackendConv *c, int which) {
  (void)be;
  return conv_impl_name(&c->c, which);
}
static int cpu_conv_winograd(const BackendConv *c) { return c->c.winograd; }
static void cpu_conv_free(Backend *be, BackendConv *c) {
  (void)be;
  if (!c) return;
  conv_free(&c->c);
  free(c);
}

/* ---- layers: the OpenMP kernels of core/cpu/layers.c ---- */
static void cpu_maxpool2_forward(Backend *be, const float *x, float *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  (void)be, layer_maxpool2_forward(x, y, n, c, h, w);
}
static void cpu_maxpool2_backward(Backend *be, const float *x, const float *y, const float *dy, float *dx, int32_t n,
                                  int32_t c, int32_t h, int32_t w) {
  (void)be, layer_maxpool2_backward(x, y, dy, dx, n, c, h, w);
}
static void cpu_maxpool3s2_forward(Backend *be, const float *x, float *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  (void)be, layer_maxpool3s2_forward(x, y, n, c, h, w);
}
static void cpu_maxpool3s2_backward(Backend *be, const float *x, const float *y, const float *dy, float *dx, int32_t n,
                                    int32_t c, int32_t h, int32_t w) {
  (void)be, layer_maxpool3s2_backward(x, y, dy, dx, n, c, h, w);
}
/* views: nChw16c is planar by blocks of 16 channels (slices start at a multiple of 16) */
static void cpu_upsample2_forward(Backend *be, BackendView x, BackendView y, int32_t n, int32_t c, int32_t h, int32_t w) {
  int64_t xs, ys;
  const float *xp = backend_view_planar(x, (int64_t)h * w, &xs);
  float *yp = backend_view_planar(y, (int64_t)4 * h * w, &ys);
  (void)be, layer_upsample2_forward(xp, xs, yp, ys, n, c, h, w);
}
static void cpu_upsample2_backward(Backend *be, BackendView dy, BackendView dx, int32_t n, int32_t c, int32_t h, int32_t w) {
  int64_t ys, xs;
  const float *yp = backend_view_planar(dy, (int64_t)4 * h * w, &ys);
  float *xp = backend_view_planar(dx, (int64_t)h * w, &xs);
  (void)be, layer_upsample2_backward(yp, ys, xp, xs, n, c, h, w);
}
static void cpu_copy_channels(Backend *be, BackendView src, BackendView dst, int32_t n, int32_t c, int32_t h, int32_t w,
                              int acc) {
  int64_t ss, ds;
  const float *sp = backend_view_planar(src, (int64_t)h * w, &ss);
  float *dp = backend_view_planar(dst, (int64_t)h * w, &ds);
  (void)be, layer_copy_blocks(sp, ss, dp, ds, n, c, h, w, acc);
}
static void cpu_add(Backend *be, float *y, const float *x, size_t count) { (void)be, layer_add(y, x, count); }
static void cpu_bn_forward(Backend *be, const float *x, float *y, const float *res, const float *gamma, const float *beta,
                           float *run_mean, float *run_var, float *save_mean, float *save_istd, int32_t n, int32_t c,
                           int32_t h, int32_t w, int train, int relu, double momentum, double eps,
                           const BackendSync *sync) {
  (void)be;
  layer_bn_forward(x, y, res, gamma, beta, run_mean, run_var, save_mean, save_istd, n, c, h, w, train, relu, momentum, eps,
                   sync);
}
static void cpu_bn_backward(Backend *be, const float *x, const float *y, float *dy, float *dx, const float *gamma,
                            float *dgamma, float *dbeta, const float *save_mean, const float *save_istd, int32_t n,
                            int32_t c, int32_t h, int32_t w, int relu, const BackendSync *sync) {
  (void)be;
  layer_bn_backward(x, y, dy, dx, gamma, dgamma, dbeta, save_mean, save_istd, n, c, h, w, relu, sync);
}

/* ---- loss, optimizer ---- */
static void cpu_loss(Backend *be, const LossConfig *cfg, const float *logits, const uint8_t *labels, int32_t n, int32_t k,
                     int32_t h, int32_t w, float *dlogits) {
  impl(be)->loss = loss_compute(cfg, logits, labels, n, k, h, w, dlogits);
}
static double cpu_loss_value(Backend *be) { return impl(be)->loss; }
static void cpu_hdl_target(Backend *be, const uint8_t *labels, int32_t n, int32_t k, int32_t h, int32_t w, float sigma,
                           float *target) {
  (void)be, loss_hdl_target(labels, n, k, h, w, sigma, target);
}
static void cpu_probs(Backend *be, const LossConfig *cfg, const float *logits, int32_t n, int32_t k, int32_t h, int32_t w,
                      float *probs) {
  (void)be, loss_probs(cfg, logits, n, k, h, w, probs);
}
static void cpu_adam_step(Backend *be, float *params, const float *grads, float *m, float *v, size_t n, float lr, int64_t t,
                          float beta1, float beta2, float eps, float weight_decay) {
  (void)be, adam_update(params, grads, m, v, n, lr, t, beta1, beta2, eps, weight_decay);
}

static double cpu_sumsq(Backend *be, const float *x, size_t n) {
  (void)be;
  double s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s)
  for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}
static void cpu_scale(Backend *be, float *x, size_t n, float s) {
  (void)be;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) x[i] *= s;
}

/* ---- data parallel: host sums through the trainer's hook ---- */
static void cpu_comm_init(Backend *be, const BackendComm *comm) {
  impl(be)->comm = *comm;
  impl(be)->have_comm = 1;
}
static void cpu_allreduce_avg(Backend *be, float *buf, size_t n) {
  CpuImpl *im = impl(be);
  if (!im->have_comm || im->comm.world <= 1) return;
  im->comm.sum_f32(im->comm.ctx, buf, n);
  const float s = 1.0f / (float)im->comm.world;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) buf[i] *= s;
}

static int cpu_supports(Backend *be, BackendCap cap) {
  (void)be;
  return cap == BACKEND_CAP_WINOGRAD || cap == BACKEND_CAP_DETERMINISTIC;
}

static void cpu_destroy(Backend *be) {
  conv_ctx_free(&impl(be)->conv);
  free(be->impl);
  free(be);
}

Backend *backend_cpu_init(void) {
  Backend *be = callocCheck(1, sizeof *be);
  CpuImpl *im = callocCheck(1, sizeof *im);
  conv_ctx_init(&im->conv);
  const dnnl_version_t *dv = dnnl_version();
  *be = (Backend){.kind = BACKEND_KIND_CPU, .name = "cpu", .precision = BACKEND_PRECISION_FP32, .deterministic = 1,
                  .impl = im,
                  .alloc = cpu_alloc, .free = cpu_free, .upload = cpu_upload, .download = cpu_upload,
                  .memset0 = cpu_memset0, .host_alloc = cpu_alloc, .host_free = cpu_free, .copy = cpu_upload, .sync = cpu_sync, .mem_info = cpu_mem_info,
                  .conv_plan = cpu_conv_plan, .conv_forward = cpu_conv_forward, .conv_backward = cpu_conv_backward,
                  .conv_describe = cpu_conv_describe, .conv_winograd = cpu_conv_winograd, .conv_free = cpu_conv_free,
                  .maxpool2_forward = cpu_maxpool2_forward,
                  .maxpool2_backward = cpu_maxpool2_backward, .maxpool3s2_forward = cpu_maxpool3s2_forward,
                  .maxpool3s2_backward = cpu_maxpool3s2_backward, .upsample2_forward = cpu_upsample2_forward,
                  .upsample2_backward = cpu_upsample2_backward, .copy_channels = cpu_copy_channels, .add = cpu_add,
                  .bn_forward = cpu_bn_forward, .bn_backward = cpu_bn_backward, .loss = cpu_loss, .loss_value = cpu_loss_value, .probs = cpu_probs,
                  .hdl_target = cpu_hdl_target,
                  .adam_step = cpu_adam_step, .sumsq = cpu_sumsq, .scale = cpu_scale, .comm_init = cpu_comm_init, .allreduce_avg = cpu_allreduce_avg,
                  .supports = cpu_supports, .destroy = cpu_destroy};
  snprintf(be->version, sizeof be->version, "cpu: oneDNN %d.%d.%d (%s), fp32", dv->major, dv->minor, dv->patch, dv->hash);
  return be;
}
