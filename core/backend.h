/* core/backend.h: the seam between the backend-neutral network code (core/
 * unet.c, core/step.c) and a compute backend (core/cpu/: oneDNN + OpenMP on
 * host memory; core/cuda/: cuDNN + kernels + NCCL on device memory). The cut
 * is at the layer-op level, as in ggml's backends: a table of function
 * pointers over "device" buffers that only core/unet.c and core/step.c touch.
 *
 * Layout contract. Activations live in the backend's own layout between
 * layers (Backend.act_layout): fp32 planar, [N] images of C planes of H*W
 * elements, channel c0 of an image at element c0*H*W (CPU: nChw16c with C a
 * multiple of 16; CUDA fp32: plain NCHW), or bf16 NHWC (CUDA with precision
 * = bf16): element (n, c, y, x) of a buffer of ct channels is the uint16
 * at ((n*H + y)*W + x)*ct + c, so a channel slice is a run of channels in
 * every pixel. Either way a concatenation is two writes into one buffer at
 * a channel offset. The ops that read or write a concatenation's slice take
 * a BackendView (buffer, first channel, channels per image of the buffer),
 * never a pointer into it. backend_act_bytes gives an activation's bytes
 * in the layout (core/unet.c allocates them so). The network input and
 * the logits are plain NCHW fp32 on every backend (the convolution plan
 * reads/writes them with plain_src/plain_dst); so are parameters, their
 * gradients and every other flat buffer.
 *
 * Collectives. core/ has no MPI: the trainer passes host all-reduce and
 * broadcast hooks in a BackendComm (jobs/dist.c), the CPU backend sums host
 * buffers through them; the CUDA backend builds its NCCL communicator with
 * the bcast hook (the unique id) and all-reduces device buffers with NCCL.
 * BackendSync carries the small host all-reduce of per-channel statistics
 * (synchronized BatchNorm) as an argument, never a global.
 * defines: Backend, BackendConv, BackendComm, BackendSync, BackendCap, ConvSpec,
 *          BackendView, BackendActLayout, backend_view, backend_view_planar, backend_act_bytes, backend_init, backend_free, backend_parse, backend_compiled */
#ifndef CORDSEG_BACKEND_H
#define CORDSEG_BACKEND_H
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#include "core/loss.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { BACKEND_KIND_CPU = 0, BACKEND_KIND_CUDA = 1, BACKEND_KIND_AUTO = 2 } BackendKind;
/* Numeric precision of the convolutions. FP32: fp32 everywhere (CUDA may use
 * TF32 tensor cores, stated in its version string). BF16: bf16 activations
 * and weights into the convolutions, fp32 accumulation, master weights, loss
 * and BN statistics (CUDA also stores activations and their gradients in
 * bf16: act_layout). */
typedef enum { BACKEND_PRECISION_FP32 = 0, BACKEND_PRECISION_BF16 = 1 } BackendPrecision;
/* how activations and their gradients are stored (the layout contract above) */
typedef enum { BACKEND_ACT_F32_PLANAR = 0, BACKEND_ACT_BF16_NHWC = 1 } BackendActLayout;
extern const CsEnum BACKEND_KIND_ENUM, BACKEND_PRECISION_ENUM; /* cpu|cuda|auto, fp32|bf16 */
/* what backend->supports() answers (ggml's supports_op) */
typedef enum {
  BACKEND_CAP_WINOGRAD = 0, /* conv_algo = auto picks Winograd kernels */
  BACKEND_CAP_BF16 = 1,     /* precision = bf16 */
  BACKEND_CAP_GRAPH = 2,    /* a training step can be captured and replayed */
  BACKEND_CAP_DETERMINISTIC = 3,
} BackendCap;

typedef struct {
  int32_t n, cin, cout, k, stride, pad, hin, win; /* pad is symmetric */
  int bias;       /* has a bias vector */
  int relu;       /* fuse ReLU after the forward conv */
  int plain_src;  /* src is plain NCHW (network input), else the backend layout */
  int plain_dst;  /* dst is plain NCHW (logits), else the backend layout */
  int need_dsrc;  /* compute the gradient w.r.t. the input */
  int winograd;   /* ask for Winograd F(4x4,3x3) (CPU, 3x3 stride 1); ignored where unsupported */
} ConvSpec;

/* host sum over ranks of n doubles, in place; world ranks take part */
typedef struct {
  void (*sum_f64)(void *ctx, double *v, int32_t n);
  void *ctx;
  int32_t world;
} BackendSync;

/* the gradient all-reduce goes in buckets of at most this many bytes, the same order on every rank: the MPI path
 * (jobs/dist.c, and the trainer's sum_f32 hook below) and NCCL (core/cuda) alike */
#define BACKEND_ALLREDUCE_BUCKET_BYTES ((size_t)16 << 20)

typedef struct {
  int32_t rank, world, local_rank, local_size;
  const char *host;                                        /* this rank's host name, for messages */
  double nccl_timeout_s;   /* CUDA: a wait on NCCL work longer than this stops the rank (0: wait for ever) */
  int nccl_world1;         /* CUDA: build the NCCL communicator even for one rank (the device check's smoke test) */
  void *ctx;                                               /* passed to the hooks */
  void (*sum_f32)(void *ctx, float *v, size_t n);          /* host, in place, BACKEND_ALLREDUCE_BUCKET_BYTES buckets */
  void (*sum_f64)(void *ctx, double *v, size_t n);         /* host, in place */
  void (*bcast)(void *ctx, void *buf, size_t bytes, int root);
} BackendComm;

/* output sizes every backend agrees on */
static inline int32_t layer_conv_out(int32_t in, int32_t k, int32_t stride, int32_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}
static inline int32_t layer_pool3s2_out(int32_t in) { return (in - 3 + 1) / 2 + 1; } /* ceil((in-3)/2)+1 */

/* channels [c0, c0 + c) of an activation buffer p of ct channels per image
 * (c given by the op): a concatenation's slice, or c0 = 0, ct = c for a
 * whole buffer. Sources are only read. */
typedef struct {
  float *p;
  int32_t c0, ct;
} BackendView;
static inline BackendView backend_view(float *p, int32_t c0, int32_t ct) {
  BackendView v = {p, c0, ct};
  return v;
}
/* where a view starts in a planar layout (NCHW, nChw16c: channel c0 at
 * element c0 * hw of an image) and its image stride, *stride */
static inline float *backend_view_planar(BackendView v, int64_t hw, int64_t *stride) {
  *stride = (int64_t)v.ct * hw;
  return v.p + (int64_t)v.c0 * hw;
}

typedef struct BackendConv BackendConv; /* a backend's convolution plan */
typedef struct Backend Backend;

struct Backend {
  BackendKind kind;
  const char *name;        /* "cpu" | "cuda" */
  char version[256];       /* libraries and device, for run.json and bench */
  BackendPrecision precision;
  BackendActLayout act_layout; /* activations: fp32 planar (CPU; CUDA fp32) or bf16 NHWC (CUDA bf16) */
  int deterministic;       /* restrict to deterministic algorithms */
  int conv_benchmark;      /* CUDA: time the candidate algorithms at plan time (default 1), else heuristics */
  void *impl;              /* the backend's own state */

  /* ---- memory: "device" pointers (host memory on the CPU) ---- */
  void *(*alloc)(Backend *be, size_t bytes); /* zeroed; fatal (with the size) when out of memory */
  void (*free)(Backend *be, void *p);
  void (*upload)(Backend *be, void *dev, const void *host, size_t bytes);
  void (*download)(Backend *be, void *host, const void *dev, size_t bytes);
  void (*memset0)(Backend *be, void *dev, size_t bytes);
  void (*copy)(Backend *be, void *dst, const void *src, size_t bytes); /* device to device */
  void (*sync)(Backend *be);                                           /* wait for queued work */
  /* free and total device memory in bytes; 0 when the backend cannot tell (CPU) */
  int (*mem_info)(Backend *be, size_t *free_bytes, size_t *total_bytes);
  /* host staging memory (pinned on CUDA): uploads from it can be captured in a graph */
  void *(*host_alloc)(Backend *be, size_t bytes);
  void (*host_free)(Backend *be, void *p);

  /* ---- convolution: planned once per shape, buffers bound at plan time ---- */
  BackendConv *(*conv_plan)(Backend *be, const ConvSpec *spec, float *src, float *dst, float *w, float *b, float *dsrc,
                            float *ddst, float *dw, float *db);
  void (*conv_forward)(Backend *be, BackendConv *c);
  /* data (if need_dsrc) and weights/bias, overwritten; with spec.relu it first
   * masks ddst by dst > 0 in place (the fused ReLU's backward), so a backend
   * can fuse that pass with its own; backward data uses the weights as of the
   * last conv_forward */
  void (*conv_backward)(Backend *be, BackendConv *c);
  const char *(*conv_describe)(Backend *be, const BackendConv *c, int which); /* 0 fwd, 1 bwd data, 2 bwd weights */
  int (*conv_winograd)(const BackendConv *c);                                /* 1 when a Winograd kernel runs */
  void (*conv_free)(Backend *be, BackendConv *c);

  /* ---- layers (see core/cpu/layers.h for the exact semantics) ---- */
  void (*maxpool2_forward)(Backend *be, const float *x, float *y, int32_t n, int32_t c, int32_t h, int32_t w);
  void (*maxpool2_backward)(Backend *be, const float *x, const float *y, const float *dy, float *dx, int32_t n, int32_t c,
                            int32_t h, int32_t w);
  void (*maxpool3s2_forward)(Backend *be, const float *x, float *y, int32_t n, int32_t c, int32_t h, int32_t w);
  void (*maxpool3s2_backward)(Backend *be, const float *x, const float *y, const float *dy, float *dx, int32_t n,
                              int32_t c, int32_t h, int32_t w);
  /* x: c channels of h x w, y: of 2h x 2w */
  void (*upsample2_forward)(Backend *be, BackendView x, BackendView y, int32_t n, int32_t c, int32_t h, int32_t w);
  void (*upsample2_backward)(Backend *be, BackendView dy, BackendView dx, int32_t n, int32_t c, int32_t h, int32_t w);
  /* dst = src (acc: dst += src), c channels of h x w */
  void (*copy_channels)(Backend *be, BackendView src, BackendView dst, int32_t n, int32_t c, int32_t h, int32_t w, int acc);
  void (*add)(Backend *be, float *y, const float *x, size_t count);
  void (*bn_forward)(Backend *be, const float *x, float *y, const float *res, const float *gamma, const float *beta,
                     float *run_mean, float *run_var, float *save_mean, float *save_istd, int32_t n, int32_t c, int32_t h,
                     int32_t w, int train, int relu, double momentum, double eps, const BackendSync *sync);
  void (*bn_backward)(Backend *be, const float *x, const float *y, float *dy, float *dx, const float *gamma, float *dgamma,
                      float *dbeta, const float *save_mean, const float *save_istd, int32_t n, int32_t c, int32_t h,
                      int32_t w, int relu, const BackendSync *sync);

  /* ---- loss on device logits [N][K][H][W] and device labels [N][H][W] ----
   * Queued, not waited for: the value is read with loss_value (which waits),
   * so a step can be captured in a graph. The backend makes HDL's targets
   * from the labels itself (hdl_target). */
  void (*loss)(Backend *be, const LossConfig *cfg, const float *logits, const uint8_t *labels, int32_t n, int32_t k,
               int32_t h, int32_t w, float *dlogits);
  double (*loss_value)(Backend *be);
  /* HDL targets [N][K][H][W] from labels [N][H][W] in 0..K-1, queued: the
   * values of core/loss.h loss_hdl_target (CUDA: the same bits, made on the
   * device) */
  void (*hdl_target)(Backend *be, const uint8_t *labels, int32_t n, int32_t k, int32_t h, int32_t w, float sigma,
                     float *target);
  void (*probs)(Backend *be, const LossConfig *cfg, const float *logits, int32_t n, int32_t k, int32_t h, int32_t w,
                float *probs);

  /* ---- optimizer: one fused Adam pass over the flat buffers (step t >= 1) ---- */
  void (*adam_step)(Backend *be, float *params, const float *grads, float *m, float *v, size_t n, float lr, int64_t t,
                    float beta1, float beta2, float eps, float weight_decay);

  /* ---- flat-buffer reductions (gradient clipping) ---- */
  double (*sumsq)(Backend *be, const float *x, size_t n); /* sum of squares, accumulated in double */
  void (*scale)(Backend *be, float *x, size_t n, float s); /* x *= s */

  /* ---- data parallel (in buckets of BACKEND_ALLREDUCE_BUCKET_BYTES) ---- */
  void (*comm_init)(Backend *be, const BackendComm *comm);    /* before the first allreduce */
  void (*allreduce_avg)(Backend *be, float *buf, size_t n);  /* mean over the ranks, in place */

  /* ---- graphs (BACKEND_CAP_GRAPH): record the ops queued between begin and
   * end once, replay them later with the same buffers (uploads from host
   * staging memory read its contents at replay time) ---- */
  void (*graph_begin)(Backend *be);
  void *(*graph_end)(Backend *be); /* NULL: the capture failed and none of its ops ran */
  int (*graph_launch)(Backend *be, void *graph); /* 0: stale (buffers it names were replaced): free it, capture again */
  void (*graph_free)(Backend *be, void *graph);

  int (*supports)(Backend *be, BackendCap cap);
  void (*destroy)(Backend *be);
};

/* bytes that count activation elements take in be's layout (the buffers are allocated as floats) */
static inline size_t backend_act_bytes(const Backend *be, size_t count) {
  return count * (be->act_layout == BACKEND_ACT_BF16_NHWC ? 2 : 4);
}

/* "cpu" | "cuda" | "auto" -> kind; -1 otherwise */
int backend_parse(const char *name);
/* 1 when this build has the backend (CPU always; CUDA with CORDSEG_WITH_CUDA) */
int backend_compiled(BackendKind kind);
/* Creates the backend. AUTO: CUDA when compiled and a GPU is visible, else the
 * CPU. A CUDA request without a CUDA build or a visible GPU is a fatal error
 * naming the cause (before any work). device_index -1: the backend picks
 * (CUDA: the local rank's GPU). */
Backend *backend_init(BackendKind kind, BackendPrecision precision, int deterministic, int device_index);
void backend_free(Backend *be);

/* the constructors behind backend_init */
Backend *backend_cpu_init(void);
Backend *backend_cuda_init(BackendPrecision precision, int deterministic, int device_index);
/* number of visible CUDA devices (0 without a CUDA build, a driver or a GPU) */
int backend_cuda_device_count(void);
#ifdef __cplusplus
}
#endif
#endif
