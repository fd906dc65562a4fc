/* core/cuda/backend_cuda.cu: the CUDA backend (core/backend.h) on one GPU per
 * rank: device memory, one stream for every op (so queued work runs in
 * order and a step can be captured as a CUDA graph), the kernels of
 * core/cuda/kernels.cu, cuDNN convolutions (core/cuda/conv_cudnn.cu) and
 * NCCL all-reduce of device buffers. HDL targets are made on the device
 * from the labels (cuk_hdl_target: loss_hdl_target's bits), inside the
 * step's graph. Host all-reduce hooks (sync BN, hybrid's
 * Dice sums over ranks) download a few doubles, call the hook and upload
 * them; core/step.c then runs the step without a graph.
 * Graphs: a failing call inside a capture is recorded (cuda_capture_note),
 * the capture discarded and the step run eagerly; a scratch buffer that
 * grows after a capture makes that graph stale (graph_launch answers 0 and
 * core/step.c captures again). Pinned host memory is freed only after the
 * stream that may read it has drained.
 * NCCL: waits on a stream with NCCL work queued poll the stream and
 * ncclCommGetAsyncError, and stop the rank (naming rank, host and GPU) after
 * BackendComm.nccl_timeout_s; teardown finalizes the communicator first.
 * GPU selection: device_index, else GPU 0 (the only visible GPU under
 * srun --gpu-bind or a per-rank CUDA_VISIBLE_DEVICES); the trainer passes
 * the local rank where a node's ranks see several GPUs. Two ranks on one
 * physical GPU stop every rank (comm_init). core/ reads no environment.
 * defines: backend_cuda_init, backend_cuda_device_count, cuda_capture_log,
 *          cuda_capture_note, cuda_scratch, cuda_dev_alloc */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cuda/cuda_impl.h"
#include "core/cuda/kernels.h"
#include "core/loss.h"

/* --------------------------------------------------------------- capture -- */
thread_local CudaCaptureLog *cuda_capture_log = NULL;

int cuda_capture_note(const char *file, int line, const char *call, const char *msg) {
  CudaCaptureLog *l = cuda_capture_log;
  if (!l) return 0;
  if (!l->failed) {
    l->failed = 1, l->file = file, l->line = line;
    snprintf(l->what, sizeof l->what, "%.200s: %.160s", call, msg);
  }
  return 1;
}

/* ------------------------------------------------------------ NCCL wait -- */
/* stops this rank after an NCCL failure or timeout: aborts the communicator
 * (so that no peer waits on it) and names rank, host and GPU */
static void nccl_stop(CudaImpl *im, const char *what, double waited) {
  ncclComm_t c = im->nccl;
  im->nccl = NULL, im->nccl_pending = 0;
  if (c) ncclCommAbort(c);
  cs_fatal("another rank failed or was lost (look for its own error, or a node failure in the scheduler's log); raise "
           "nccl_timeout_s if ranks legitimately wait longer (a slow validation or checkpoint on one rank)",
           "rank %d of %d (host %s, %s): %s after waiting %.0f s for an NCCL all-reduce; stopping this rank",
           (int)im->comm.rank, (int)im->comm.world, im->comm.host ? im->comm.host : "?", im->gpu, what, waited);
}

/* waits for the stream; with NCCL work queued, polls the stream and the
 * communicator's asynchronous error instead of blocking, so that a lost
 * peer stops this rank after comm.nccl_timeout_s (the watchdog) rather than
 * hanging it in cudaStreamSynchronize for ever */
static void cuda_wait(Backend *be) {
  CudaImpl *im = cuda_impl(be);
  if (!im->nccl_pending || !im->nccl) {
    CUDA_CHECK(cudaStreamSynchronize(im->stream));
    return;
  }
  const double t0 = cs_now(), lim = im->comm.nccl_timeout_s;
  for (;;) {
    const cudaError_t q = cudaStreamQuery(im->stream);
    if (q == cudaSuccess) break;
    if (q != cudaErrorNotReady) CUDA_CHECK(q);
    ncclResult_t ae = ncclSuccess;
    if (ncclCommGetAsyncError(im->nccl, &ae) != ncclSuccess) ae = ncclInternalError;
    if (ae != ncclSuccess && ae != ncclInProgress) nccl_stop(im, ncclGetErrorString(ae), cs_now() - t0);
    if (lim > 0 && cs_now() - t0 > lim) {
      char why[96];
      snprintf(why, sizeof why, "no progress within nccl_timeout_s = %g", lim);
      nccl_stop(im, why, cs_now() - t0);
    }
    usleep(50);
  }
  im->nccl_pending = 0;
}

/* ---------------------------------------------------------------- memory -- */
void *cuda_dev_alloc(Backend *be, size_t bytes) {
  CudaImpl *im = cuda_impl(be);
  void *p = NULL;
  if (bytes == 0) bytes = 256;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    size_t fr = 0, tot = 0;
    cudaGetLastError();
    cudaMemGetInfo(&fr, &tot);
    cs_fatal("lower batch (or width_div up, image size down), or use a GPU with more memory; one rank per GPU",
             "out of GPU memory on %s: cordseg holds %.0f MiB and needs %.0f MiB more; %.0f of %.0f MiB free", im->gpu,
             im->held / 1048576.0, bytes / 1048576.0, fr / 1048576.0, tot / 1048576.0);
  }
  CUDA_CHECK(e);
  /* zeroed; not inside a capture, where the memset would be recorded and
   * re-zero the buffer at every replay (such a capture is discarded anyway) */
  if (!cuda_capture_log) CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, im->stream));
  im->held += bytes;
  return p;
}
static void *cu_alloc(Backend *be, size_t bytes) { return cuda_dev_alloc(be, bytes); }
static void cu_free(Backend *be, void *p) {
  if (!p) return;
  cuda_wait(be);
  CUDA_CHECK(cudaFree(p));
}
/* Growth inside a capture fails the capture (the old buffer is kept until
 * the capture ends, since ops recorded before may name it); growth while a
 * graph exists makes every graph stale (scratch_gen), so graph_launch asks
 * for a new capture instead of replaying into freed memory. */
void *cuda_scratch(Backend *be, CudaScratch *s, size_t bytes) {
  CudaImpl *im = cuda_impl(be);
  if (bytes <= s->cap) return s->p;
  if (cuda_capture_log) {
    cuda_capture_note(__FILE__, __LINE__, "cuda_scratch", "a scratch buffer grew inside a graph capture");
    CS_CHECK(im->nretired < (int)(sizeof im->retired / sizeof im->retired[0]), NULL,
             "internal: too many scratch buffers grew inside one capture");
    im->retired[im->nretired++] = s->p;
  } else {
    cu_free(be, s->p);
  }
  s->p = cuda_dev_alloc(be, bytes);
  s->cap = bytes;
  im->scratch_gen++;
  return s->p;
}
static void cu_upload(Backend *be, void *dev, const void *host, size_t bytes) {
  if (bytes) CUDA_CHECK(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, cuda_impl(be)->stream));
}
static void cu_download(Backend *be, void *host, const void *dev, size_t bytes) {
  if (!bytes) return;
  CUDA_CHECK(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, cuda_impl(be)->stream));
  cuda_wait(be);
}
static void cu_memset0(Backend *be, void *dev, size_t bytes) {
  if (bytes) CUDA_CHECK(cudaMemsetAsync(dev, 0, bytes, cuda_impl(be)->stream));
}
static void cu_copy(Backend *be, void *dst, const void *src, size_t bytes) {
  if (bytes && dst != src) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_impl(be)->stream));
}
static void cu_sync(Backend *be) { cuda_wait(be); }
static int cu_mem_info(Backend *be, size_t *f, size_t *t) {
  (void)be;
  CUDA_CHECK(cudaMemGetInfo(f, t));
  return 1;
}
static void *cu_host_alloc(Backend *be, size_t bytes) {
  (void)be;
  void *p = NULL;
  CUDA_CHECK(cudaMallocHost(&p, bytes ? bytes : 64));
  memset(p, 0, bytes ? bytes : 64);
  return p;
}
static void cu_host_free(Backend *be, void *p) {
  if (!p) return;
  cuda_wait(be); /* an upload from p may still be queued */
  CUDA_CHECK(cudaFreeHost(p));
}

/* doubles through a host hook: device -> pinned host -> hook -> device */
static double *host_stats(Backend *be, size_t n) {
  CudaImpl *im = cuda_impl(be);
  if (n > im->hstats_cap) {
    if (im->hstats) cu_host_free(be, im->hstats);
    CUDA_CHECK(cudaMallocHost((void **)&im->hstats, n * sizeof(double)));
    im->hstats_cap = n;
  }
  return im->hstats;
}
static void sync_hook(Backend *be, double *dev, int32_t n, void (*fn)(void *, double *, int32_t), void *ctx) {
  double *h = host_stats(be, (size_t)n);
  cu_download(be, h, dev, (size_t)n * sizeof(double));
  fn(ctx, h, n);
  cu_upload(be, dev, h, (size_t)n * sizeof(double));
}

/* ---------------------------------------------------------------- layers -- */
/* Activations are fp32 NCHW (precision = fp32) or bf16 NHWC (bf16:
 * BACKEND_ACT_BF16_NHWC, the cuk_h_* kernels); views are planar offsets in
 * the first, a pointer at the first channel and the buffer's channels in
 * the second. */
static cudaStream_t st(Backend *be) { return cuda_impl(be)->stream; }
static int h16(const Backend *be) { return be->act_layout == BACKEND_ACT_BF16_NHWC; }
static uint16_t *u16(const float *p) { return (uint16_t *)(uintptr_t)p; }
static uint16_t *view16(BackendView v) { return u16(v.p) + v.c0; }
static void cu_maxpool2_forward(Backend *be, const float *x, float *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  if (h16(be)) cuk_h_maxpool2_forward(st(be), u16(x), u16(y), n, c, h, w);
  else cuk_maxpool2_forward(st(be), x, y, n, c, h, w);
}
static void cu_maxpool2_backward(Backend *be, const float *x, const float *y, const float *dy, float *dx, int32_t n,
                                 int32_t c, int32_t h, int32_t w) {
  if (h16(be)) cuk_h_maxpool2_backward(st(be), u16(x), u16(y), u16(dy), u16(dx), n, c, h, w);
  else cuk_maxpool2_backward(st(be), x, y, dy, dx, n, c, h, w);
}
static void cu_maxpool3s2_forward(Backend *be, const float *x, float *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  if (h16(be)) cuk_h_maxpool3s2_forward(st(be), u16(x), u16(y), n, c, h, w);
  else cuk_maxpool3s2_forward(st(be), x, y, n, c, h, w);
}
static void cu_maxpool3s2_backward(Backend *be, const float *x, const float *y, const float *dy, float *dx, int32_t n,
                                   int32_t c, int32_t h, int32_t w) {
  if (h16(be)) cuk_h_maxpool3s2_backward(st(be), u16(x), u16(y), u16(dy), u16(dx), n, c, h, w);
  else cuk_maxpool3s2_backward(st(be), x, y, dy, dx, n, c, h, w);
}
static void cu_upsample2_forward(Backend *be, BackendView xv, BackendView yv, int32_t n, int32_t c, int32_t h, int32_t w) {
  if (h16(be)) {
    cuk_h_upsample2_forward(st(be), view16(xv), xv.ct, view16(yv), yv.ct, n, c, h, w);
    return;
  }
  int64_t xs, ys;
  const float *x = backend_view_planar(xv, (int64_t)h * w, &xs);
  float *y = backend_view_planar(yv, (int64_t)4 * h * w, &ys);
  cuk_upsample2_forward(st(be), x, xs, y, ys, n, c, h, w);
}
static void cu_upsample2_backward(Backend *be, BackendView dyv, BackendView dxv, int32_t n, int32_t c, int32_t h,
                                  int32_t w) {
  if (h16(be)) {
    cuk_h_upsample2_backward(st(be), view16(dyv), dyv.ct, view16(dxv), dxv.ct, n, c, h, w);
    return;
  }
  int64_t ys, xs;
  const float *dy = backend_view_planar(dyv, (int64_t)4 * h * w, &ys);
  float *dx = backend_view_planar(dxv, (int64_t)h * w, &xs);
  cuk_upsample2_backward(st(be), dy, ys, dx, xs, n, c, h, w);
}
static void cu_copy_channels(Backend *be, BackendView sv, BackendView dv, int32_t n, int32_t c, int32_t h, int32_t w,
                             int acc) {
  if (h16(be)) {
    cuk_h_copy_channels(st(be), view16(sv), sv.ct, view16(dv), dv.ct, n, c, (int64_t)h * w, acc);
    return;
  }
  int64_t ss, ds;
  const float *src = backend_view_planar(sv, (int64_t)h * w, &ss);
  float *dst = backend_view_planar(dv, (int64_t)h * w, &ds);
  cuk_copy_channels(st(be), src, ss, dst, ds, n, c, h, w, acc);
}
/* activation gradients only (core/unet.c): bf16 in bf16 NHWC */
static void cu_add(Backend *be, float *y, const float *x, size_t count) {
  if (h16(be)) cuk_h_add(st(be), u16(y), u16(x), count);
  else cuk_add(st(be), y, x, count);
}

/* BatchNorm: statistics in one pass (sum and sum of squares, double) and the
 * finalize in the same totals kernel; with sync BN the totals go through
 * the host hook first. Backward: ReLU mask and both sums in one pass, the
 * parameter gradients in the totals kernel, then dx. */
static void cu_bn_forward(Backend *be, const float *x, float *y, const float *res, const float *gamma, const float *beta,
                          float *run_mean, float *run_var, float *save_mean, float *save_istd, int32_t n, int32_t c,
                          int32_t h, int32_t w, int train, int relu, double momentum, double eps,
                          const BackendSync *sync) {
  CudaImpl *im = cuda_impl(be);
  const int64_t hw = (int64_t)h * w;
  double *sts = (double *)cuda_scratch(be, &im->stats, (size_t)2 * c * sizeof(double));
  double *part = (double *)cuda_scratch(be, &im->part, (size_t)2 * c * CUK_PARTS * sizeof(double));
  const double m = (double)n * (double)hw * (sync ? sync->world : 1);
  const CukBnFinalize fin = {m, momentum, eps, save_mean, save_istd, run_mean, run_var};
  const int b16 = h16(be);
  if (train && !sync) {
    if (b16) cuk_h_bn_moments(im->stream, u16(x), n, c, hw, part, sts, &fin);
    else cuk_bn_moments(im->stream, x, n, c, hw, part, sts, &fin);
  } else if (train) {
    if (b16) cuk_h_bn_moments(im->stream, u16(x), n, c, hw, part, sts, NULL);
    else cuk_bn_moments(im->stream, x, n, c, hw, part, sts, NULL);
    sync_hook(be, sts, 2 * c, sync->sum_f64, sync->ctx);
    cuk_bn_finalize_moments(im->stream, sts, &fin, c);
  } else {
    cuk_bn_eval_stats(im->stream, save_mean, save_istd, run_mean, run_var, c, eps);
  }
  if (b16) cuk_h_bn_apply(im->stream, u16(x), u16(y), res ? u16(res) : NULL, gamma, beta, save_mean, save_istd, n, c, hw, relu);
  else cuk_bn_apply(im->stream, x, y, res, gamma, beta, save_mean, save_istd, n, c, hw, relu);
}

static void cu_bn_backward(Backend *be, const float *x, const float *y, float *dy, float *dx, const float *gamma,
                           float *dgamma, float *dbeta, const float *save_mean, const float *save_istd, int32_t n,
                           int32_t c, int32_t h, int32_t w, int relu, const BackendSync *sync) {
  CudaImpl *im = cuda_impl(be);
  const int64_t hw = (int64_t)h * w;
  double *sts = (double *)cuda_scratch(be, &im->stats, (size_t)2 * c * sizeof(double));
  double *part = (double *)cuda_scratch(be, &im->part, (size_t)2 * c * CUK_PARTS * sizeof(double));
  const double m = (double)n * (double)hw * (sync ? sync->world : 1);
  if (h16(be)) {
    cuk_h_bn_grad_sums(im->stream, u16(x), u16(y), u16(dy), save_mean, save_istd, dgamma, dbeta, relu, n, c, hw, part, sts);
    if (sync) sync_hook(be, sts, 2 * c, sync->sum_f64, sync->ctx);
    cuk_h_bn_dx(im->stream, u16(x), u16(dy), u16(dx), gamma, save_mean, save_istd, sts, m, n, c, hw);
    return;
  }
  cuk_bn_grad_sums(im->stream, x, y, dy, save_mean, save_istd, dgamma, dbeta, relu, n, c, hw, part, sts);
  if (sync) sync_hook(be, sts, 2 * c, sync->sum_f64, sync->ctx);
  cuk_bn_dx(im->stream, x, dy, dx, gamma, save_mean, save_istd, sts, m, n, c, hw);
}

/* ------------------------------------------------------------------ loss -- */
static void dice_hook(void *ctx, double *v, int32_t n) { ((const LossConfig *)ctx)->dice_allreduce(v, n); }

static void cu_hdl_target(Backend *be, const uint8_t *labels, int32_t n, int32_t k, int32_t h, int32_t w, float sigma,
                          float *target) {
  CudaImpl *im = cuda_impl(be);
  CS_CHECK(sigma > 0, "set hdl_sigma to a positive width in pixels", "hdl sigma is %g", (double)sigma);
  const size_t total = (size_t)n * k * h * w;
  double inv;
  const int32_t cutoff = loss_hdl_cutoff((double)sigma, &inv);
  int32_t *d2 = (int32_t *)cuda_scratch(be, &im->edt, total * sizeof(int32_t));
  cuk_hdl_target(im->stream, labels, d2, target, n, k, h, w, cutoff, (float)inv);
}

static void cu_loss(Backend *be, const LossConfig *cfg, const float *logits, const uint8_t *labels, int32_t n, int32_t k,
                    int32_t h, int32_t w, float *dlogits) {
  CudaImpl *im = cuda_impl(be);
  const int64_t hw = (int64_t)h * w, npix = (int64_t)n * hw;
  CS_CHECK(k >= 2 && k <= 256, NULL, "internal: %d classes", k);
  if (cfg->kind == LOSS_KIND_HDL) {
    float *target = (float *)cuda_scratch(be, &im->target, (size_t)npix * k * sizeof(float));
    cu_hdl_target(be, labels, n, k, h, w, cfg->hdl_sigma, target);
    double *part = (double *)cuda_scratch(be, &im->part, (size_t)n * k * CUK_PARTS * sizeof(double));
    double *ss = (double *)cuda_scratch(be, &im->ss, (size_t)n * k * sizeof(double));
    cuk_hdl_loss(im->stream, logits, target, n, k, hw, cfg->hdl_reduce == HDL_REDUCE_NORM, (double)cfg->hdl_eps, part, ss,
                 im->dloss, dlogits);
    return;
  }
  const int hybrid = cfg->kind == LOSS_KIND_HYBRID;
  const int64_t rows = hybrid ? 1 + 3 * k : 1;
  float *probs = dlogits ? dlogits : (float *)cuda_scratch(be, &im->probs, (size_t)npix * k * sizeof(float));
  float *pix = (float *)cuda_scratch(be, &im->pix, (size_t)npix * sizeof(float));
  float *coef = dlogits ? (float *)cuda_scratch(be, &im->coef, (size_t)npix * sizeof(float)) : NULL;
  double *part = (double *)cuda_scratch(be, &im->part, (size_t)rows * CUK_PARTS * sizeof(double));
  double *sums = (double *)cuda_scratch(be, &im->sums, (size_t)rows * sizeof(double));
  cuk_softmax_pass1(im->stream, logits, labels, n, k, hw, hybrid, cfg->focal_alpha, cfg->focal_gamma, probs, pix, coef,
                    part, sums);
  if (hybrid && cfg->dice_allreduce) sync_hook(be, sums + 1, 3 * k, dice_hook, (void *)cfg);
  const double gs = cfg->dice_grad_scale > 0 ? (double)cfg->dice_grad_scale : 1.0;
  cuk_softmax_finalize(im->stream, sums, k, (double)npix, hybrid, (double)cfg->dice_smooth, gs, im->dloss, im->ga, im->gb);
  if (dlogits) cuk_softmax_grad(im->stream, dlogits, labels, coef, im->ga, im->gb, n, k, hw);
}

static double cu_loss_value(Backend *be) {
  double v = 0;
  cu_download(be, &v, cuda_impl(be)->dloss, sizeof v);
  return v;
}

static void cu_probs(Backend *be, const LossConfig *cfg, const float *logits, int32_t n, int32_t k, int32_t h, int32_t w,
                     float *probs) {
  cuk_probs(st(be), logits, probs, n, k, (int64_t)h * w, cfg->kind == LOSS_KIND_HDL);
}

/* ------------------------------------------------------- optimizer, misc -- */
static void cu_adam_step(Backend *be, float *params, const float *grads, float *m, float *v, size_t n, float lr, int64_t t,
                         float beta1, float beta2, float eps, float weight_decay) {
  /* the scalars exactly as core/adam.c computes them */
  const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
  cuk_adam(st(be), params, grads, m, v, n, (float)(lr / bc1), (float)(1.0 / sqrt(bc2)), beta1, beta2, eps,
           weight_decay);
}
static double cu_sumsq(Backend *be, const float *x, size_t n) {
  CudaImpl *im = cuda_impl(be);
  double *part = (double *)cuda_scratch(be, &im->part, CUK_PARTS * sizeof(double));
  double *out = (double *)cuda_scratch(be, &im->sums, sizeof(double));
  cuk_sumsq(im->stream, x, n, part, out);
  double v = 0;
  cu_download(be, &v, out, sizeof v);
  return v;
}
static void cu_scale(Backend *be, float *x, size_t n, float s) {
  cuk_scale(st(be), x, n, s);
}

/* ----------------------------------------------------------------- NCCL -- */
/* NCCL failures name this rank and host, so the failing one can be found among many logs */
#define NCCL_RANK_CHECK(im, call)                                                                                   \
  do {                                                                                                              \
    ncclResult_t r_ = (call);                                                                                       \
    if (r_ != ncclSuccess)                                                                                          \
      cs_fatal_at(__FILE__, __LINE__,                                                                               \
                  "rerun with NCCL_DEBUG=INFO; check that every rank sees its own GPU and the network between hosts " \
                  "(NCCL_SOCKET_IFNAME, NCCL_IB_HCA)",                                                              \
                  "NCCL call failed on rank %d of %d (host %s, %s): %s: %s", (im)->comm.rank, (im)->comm.world,      \
                  (im)->comm.host ? (im)->comm.host : "?", (im)->gpu, #call, ncclGetErrorString(r_));                 \
  } while (0)
/* one number per (host, physical GPU): the host name's FNV-1a hash and the
 * GPU's PCI address, in 52 bits so that a double carries it exactly */
static double gpu_key(const char *host, int dev) {
  uint64_t h = 1469598103934665603ull;
  for (const char *p = host ? host : "?"; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  const uint64_t pci = ((uint64_t)prop.pciDomainID << 16) ^ ((uint64_t)prop.pciBusID << 8) ^ (uint64_t)prop.pciDeviceID;
  return (double)(((h << 24) ^ pci) & ((1ull << 52) - 1));
}

static void cu_comm_init(Backend *be, const BackendComm *comm) {
  CudaImpl *im = cuda_impl(be);
  im->comm = *comm, im->have_comm = 1;
  if (comm->world <= 1 && !comm->nccl_world1) return;
  if (comm->world > 1) { /* two ranks on one GPU (whatever CUDA_VISIBLE_DEVICES or --gpu-bind each sees): every rank stops */
    double *keys = (double *)callocCheck((size_t)comm->world, sizeof(double));
    keys[comm->rank] = gpu_key(comm->host, im->device);
    comm->sum_f64(comm->ctx, keys, (size_t)comm->world);
    for (int32_t r = 0; r < comm->world; r++)
      if (r != comm->rank && keys[r] == keys[comm->rank])
        cs_fatal("start one rank per GPU (srun --gpus-per-task=1 --gpu-bind=single:1, or mpirun -np <GPUs per node> per node)",
                 "ranks %d and %d share %s", r < comm->rank ? r : comm->rank, r < comm->rank ? comm->rank : r, im->gpu);
    free(keys);
  }
  ncclUniqueId id;
  if (comm->rank == 0) NCCL_RANK_CHECK(im, ncclGetUniqueId(&id));
  comm->bcast(comm->ctx, &id, sizeof id, 0);
  NCCL_RANK_CHECK(im, ncclCommInitRank(&im->nccl, comm->world, id, comm->rank));
}
/* mean over the ranks in the MPI path's buckets (BACKEND_ALLREDUCE_BUCKET_BYTES), on the op stream */
static void cu_allreduce_avg(Backend *be, float *buf, size_t n) {
  CudaImpl *im = cuda_impl(be);
  if (!im->nccl) return; /* one rank: the mean is the buffer itself */
  const size_t bucket = BACKEND_ALLREDUCE_BUCKET_BYTES / sizeof(float);
  NCCL_RANK_CHECK(im, ncclGroupStart());
  for (size_t off = 0; off < n; off += bucket) {
    const size_t cnt = n - off < bucket ? n - off : bucket;
    NCCL_RANK_CHECK(im, ncclAllReduce(buf + off, buf + off, cnt, ncclFloat, ncclAvg, im->nccl, im->stream));
  }
  NCCL_RANK_CHECK(im, ncclGroupEnd());
  im->nccl_pending = 1; /* the next wait watches the communicator */
}

/* ---------------------------------------------------------------- graphs -- */
/* a captured step and the scratch generation it was captured against */
typedef struct {
  cudaGraphExec_t ex;
  uint64_t gen; /* scratch generation */
} CudaGraph;

static void cu_graph_begin(Backend *be) {
  CudaImpl *im = cuda_impl(be);
  CS_CHECK(!cuda_capture_log, NULL, "internal: a graph capture is already under way on this thread");
  memset(&im->cap, 0, sizeof im->cap);
  CUDA_CHECK(cudaStreamBeginCapture(im->stream, cudaStreamCaptureModeRelaxed));
  cuda_capture_log = &im->cap;
}
/* NULL when a call inside the capture, the capture or its instantiation
 * failed: nothing of it ran, and the caller runs the step eagerly */
static void *cu_graph_end(Backend *be) {
  CudaImpl *im = cuda_impl(be);
  cuda_capture_log = NULL;
  cudaGraph_t g = NULL;
  cudaGraphExec_t ex = NULL;
  cudaError_t e = cudaStreamEndCapture(im->stream, &g);
  if (e == cudaSuccess && !im->cap.failed) e = cudaGraphInstantiate(&ex, g, 0);
  if (g) cudaGraphDestroy(g);
  for (int i = 0; i < im->nretired; i++) cu_free(be, im->retired[i]);
  im->nretired = 0;
  if (e != cudaSuccess || im->cap.failed) {
    if (ex) cudaGraphExecDestroy(ex);
    cudaGetLastError(); /* the capture's errors are not sticky: clear them */
    char where[512];
    if (im->cap.failed) snprintf(where, sizeof where, "%s:%d: %s", im->cap.file, im->cap.line, im->cap.what);
    else snprintf(where, sizeof where, "%s", cudaGetErrorString(e));
    fprintf(stderr,
            "cordseg: warning: CUDA graph capture of the training step failed (%s); running it and every later step "
            "eagerly (slower, same results)\n",
            where);
    return NULL;
  }
  CudaGraph *cg = (CudaGraph *)callocCheck(1, sizeof *cg);
  cg->ex = ex, cg->gen = im->scratch_gen;
  im->graphs_alive++;
  return cg;
}
/* 0: a scratch buffer grew since the capture, so the graph may name freed
 * memory; the caller frees it and captures again */
static int cu_graph_launch(Backend *be, void *graph) {
  CudaImpl *im = cuda_impl(be);
  CudaGraph *cg = (CudaGraph *)graph;
  if (cg->gen != im->scratch_gen) return 0;
  CUDA_CHECK(cudaGraphLaunch(cg->ex, im->stream));
  return 1;
}
static void cu_graph_free(Backend *be, void *graph) {
  if (!graph) return;
  CudaImpl *im = cuda_impl(be);
  CudaGraph *cg = (CudaGraph *)graph;
  cuda_wait(be);
  CUDA_CHECK(cudaGraphExecDestroy(cg->ex));
  free(cg);
  im->graphs_alive--;
}

static int cu_supports(Backend *be, BackendCap cap) {
  (void)be;
  return cap == BACKEND_CAP_BF16 || cap == BACKEND_CAP_GRAPH || cap == BACKEND_CAP_DETERMINISTIC;
}

static void cu_destroy(Backend *be) {
  CudaImpl *im = cuda_impl(be);
  cudaStreamSynchronize(im->stream);
  CudaScratch *all[] = {&im->ws, &im->bf[0], &im->bf[1], &im->bf[2], &im->part, &im->stats, &im->sums,
                        &im->pix, &im->coef, &im->probs, &im->ss, &im->find_ws, &im->edt, &im->target};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) cudaFree(all[i]->p);
  cudaFree(im->dloss), cudaFree(im->ga), cudaFree(im->gb);
  if (im->hstats) cudaFreeHost(im->hstats);
  if (im->nccl) { /* finalize (flushes outstanding work), then destroy; failures here only warn */
    ncclResult_t r = ncclCommFinalize(im->nccl);
    if (r == ncclSuccess) r = ncclCommDestroy(im->nccl);
    else ncclCommAbort(im->nccl);
    if (r != ncclSuccess) fprintf(stderr, "cordseg: warning: NCCL teardown on %s: %s\n", im->gpu, ncclGetErrorString(r));
  }
  cudnnDestroy(im->dnn);
  cudaStreamDestroy(im->stream);
  free(im->algo);
  free(im);
  free(be);
}

int backend_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

Backend *backend_cuda_init(BackendPrecision precision, int deterministic, int device_index) {
  const int ndev = backend_cuda_device_count();
  char host[64] = "?";
  gethostname(host, sizeof host);
  if (ndev == 0)
    cs_fatal("run on a GPU node (nvidia-smi must list a GPU, CUDA_VISIBLE_DEVICES must not hide it), or set device = cpu",
             "device = cuda, but host %s has no visible CUDA GPU", host);
  /* the caller's GPU (the trainer passes the local rank when a node's ranks see several), else the first */
  const int dev = device_index >= 0 ? device_index : 0;
  if (dev >= ndev)
    cs_fatal("start one rank per GPU (srun --gpus-per-task=1 --gpu-bind=single:1, or fewer ranks per node)",
             "host %s: GPU %d asked for (the rank's local index), but %d visible", host, dev, ndev);
  CUDA_CHECK(cudaSetDevice(dev));
  Backend *be = (Backend *)callocCheck(1, sizeof *be);
  CudaImpl *im = (CudaImpl *)callocCheck(1, sizeof *im);
  im->device = dev;
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  snprintf(im->gpu, sizeof im->gpu, "GPU %d (%.100s) of host %.60s", dev, prop.name, host);
  CUDA_CHECK(cudaStreamCreateWithFlags(&im->stream, cudaStreamNonBlocking));
  CUDNN_CHECK(cudnnCreate(&im->dnn));
  CUDNN_CHECK(cudnnSetStream(im->dnn, im->stream));
  be->kind = BACKEND_KIND_CUDA;
  be->name = "cuda";
  be->precision = precision;
  be->act_layout = precision == BACKEND_PRECISION_BF16 ? BACKEND_ACT_BF16_NHWC : BACKEND_ACT_F32_PLANAR;
  be->deterministic = deterministic;
  be->conv_benchmark = 1; /* time the cuDNN algorithms (the caller may clear it: cudnn_benchmark = false) */
  be->impl = im;
  be->alloc = cu_alloc, be->free = cu_free, be->upload = cu_upload, be->download = cu_download;
  be->memset0 = cu_memset0, be->copy = cu_copy, be->sync = cu_sync, be->mem_info = cu_mem_info;
  be->host_alloc = cu_host_alloc, be->host_free = cu_host_free;
  be->conv_plan = cuda_conv_plan, be->conv_forward = cuda_conv_forward, be->conv_backward = cuda_conv_backward;
  be->conv_describe = cuda_conv_describe, be->conv_winograd = cuda_conv_winograd, be->conv_free = cuda_conv_free;
  be->maxpool2_forward = cu_maxpool2_forward;
  be->maxpool2_backward = cu_maxpool2_backward, be->maxpool3s2_forward = cu_maxpool3s2_forward;
  be->maxpool3s2_backward = cu_maxpool3s2_backward, be->upsample2_forward = cu_upsample2_forward;
  be->upsample2_backward = cu_upsample2_backward, be->copy_channels = cu_copy_channels, be->add = cu_add;
  be->bn_forward = cu_bn_forward, be->bn_backward = cu_bn_backward;
  be->loss = cu_loss, be->loss_value = cu_loss_value, be->probs = cu_probs;
  be->hdl_target = cu_hdl_target;
  be->adam_step = cu_adam_step, be->sumsq = cu_sumsq, be->scale = cu_scale;
  be->comm_init = cu_comm_init, be->allreduce_avg = cu_allreduce_avg;
  be->graph_begin = cu_graph_begin, be->graph_end = cu_graph_end, be->graph_launch = cu_graph_launch;
  be->graph_free = cu_graph_free;
  be->supports = cu_supports, be->destroy = cu_destroy;
  im->dloss = (double *)cuda_dev_alloc(be, sizeof(double));
  im->ga = (float *)cuda_dev_alloc(be, 256 * sizeof(float));
  im->gb = (float *)cuda_dev_alloc(be, 256 * sizeof(float));
  int drv = 0, rt = 0, nccl = 0;
  cudaDriverGetVersion(&drv);
  cudaRuntimeGetVersion(&rt);
  ncclGetVersion(&nccl);
  snprintf(be->version, sizeof be->version,
           "cuda: %.120s, sm_%d%d, driver %d.%d, runtime %d.%d, cuDNN %zu, NCCL %d, %s%s", im->gpu, prop.major, prop.minor,
           drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10, (size_t)cudnnGetVersion(), nccl,
           precision == BACKEND_PRECISION_BF16 ? "bf16 NHWC storage" : "fp32 (TF32 tensor cores allowed)",
           deterministic ? ", deterministic algorithms" : "");
  return be;
}
