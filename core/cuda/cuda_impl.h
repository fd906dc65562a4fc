/* core/cuda/cuda_impl.h: the CUDA backend's state, shared by its files
 * (backend_cuda.cu: memory, layers, loss, Adam, NCCL, graphs; conv_cudnn.cu:
 * the cuDNN convolutions; bf16_shadow.cu: the bf16 copies convolutions
 * read). Every scratch buffer grows on first use, which
 * is normally an eager step before a graph is captured; growth later makes
 * the graphs stale (scratch_gen), growth inside a capture fails it.
 * defines: CudaImpl, CudaShadow, CudaMirror, cuda_impl, cuda_scratch, cuda_shadow_*,
 *          cuda_conv_* */
#ifndef CORDSEG_CUDA_IMPL_H
#define CORDSEG_CUDA_IMPL_H
#include "core/backend.h"
#include "core/cuda/cuda_common.h"

typedef struct {
  void *p;
  size_t cap;
} CudaScratch;

/* a bf16 copy of an fp32 device buffer that convolutions read (precision =
 * bf16; core/cuda/bf16_shadow.cu says when it is valid) */
typedef struct {
  const float *f;  /* the fp32 buffer */
  size_t n;        /* its elements */
  uint16_t *h;     /* the bf16 copy: this shadow's own allocation, or a slice of a mirror */
  int own;         /* h is its own allocation */
  int valid;       /* h = bf16(f) as of the last op queued */
  int weight;      /* a convolution's weights (Adam writes the copy) */
  int refs;        /* convolution plans that read it */
  /* while not valid: runs [at, at + len) of every period of `period`
   * elements whose copy slice writers (cuda_shadow_part) made current;
   * valid once they cover the period (a concatenation's two halves) */
  int64_t period;
  int64_t run_at[4], run_len[4];
  int nruns;
} CudaShadow;
/* the bf16 copy of a whole parameter buffer that Adam writes with the update */
typedef struct {
  const float *p;
  size_t n;
  uint16_t *h;
} CudaMirror;

typedef struct {
  int device;
  char gpu[256];
  cudaStream_t stream;
  cudnnHandle_t dnn;
  CudaScratch ws;          /* the one cuDNN workspace, sized for the largest need */
  CudaScratch bf[3];       /* bf16 operands of a convolution: src, weights, dst */
  CudaScratch part, stats, sums, pix, coef, probs, ss;
  CudaScratch edt, target; /* HDL: column distances (int32) and targets [N][K][H][W] */
  CudaScratch find_ws;     /* the timed algorithm search's workspace (cudnn_benchmark), kept for later plans */
  double *dloss;           /* device loss scalar */
  float *ga, *gb;          /* Dice gradient pieces [256] */
  double *hstats;          /* pinned host copy for the host all-reduce hooks */
  size_t hstats_cap;
  size_t held;             /* bytes of device memory allocated through the backend */
  BackendComm comm;
  int have_comm;
  ncclComm_t nccl;
  int nccl_pending;        /* NCCL work queued since the last wait: the next wait is the watchdog's */
  CudaCaptureLog cap;      /* the capture under way (cuda_capture_log points here meanwhile) */
  void *retired[16];       /* scratch replaced inside a capture: freed when it ends */
  int nretired;
  uint64_t scratch_gen;    /* bumped whenever a scratch buffer is replaced */
  int graphs_alive;
  struct CudaAlgoCache *algo; /* timed cuDNN algorithm choices (conv_cudnn.cu) */
  int nalgo, algo_cap;
  CudaShadow **sh;         /* bf16 shadows (bf16_shadow.cu) */
  int nsh, sh_cap;
  CudaMirror mirror[4];
  int nmirror;
  uint64_t wgen;           /* bumped when a valid weight shadow is written by anything but Adam */
  uint64_t cap_wgen;       /* wgen when the capture under way began */
} CudaImpl;

static inline CudaImpl *cuda_impl(Backend *be) { return (CudaImpl *)be->impl; }
/* grows s to at least bytes (device memory) and returns it */
void *cuda_scratch(Backend *be, CudaScratch *s, size_t bytes);
void *cuda_dev_alloc(Backend *be, size_t bytes);

/* bf16 shadows (core/cuda/bf16_shadow.cu) */
CudaShadow *cuda_shadow_ref(Backend *be, const float *f, size_t n, int weight); /* at plan time */
void cuda_shadow_unref(Backend *be, CudaShadow *s);
/* an op queued that writes [p, p + bytes): the shadows overlapping it become invalid */
void cuda_shadow_dirty(Backend *be, const void *p, size_t bytes);
/* an op queued that writes all of f[0..n) and can write its bf16 copy in the
 * same pass: the copy to write (the shadow stays valid), or NULL */
uint16_t *cuda_shadow_out(Backend *be, const float *f, size_t n);
/* an op queued that writes n runs of per elements, ds apart, from f (a
 * slice of a buffer, e.g. one half of a concatenation), and can write the
 * bf16 copy of what it writes at the same offsets: the copy's pointer at f,
 * or NULL (then it is only a write) */
uint16_t *cuda_shadow_part(Backend *be, const float *f, int64_t ds, int32_t n, int64_t per);
/* every activation shadow (and with weights, every shadow) invalid */
void cuda_shadow_forget(Backend *be, int weights);
/* Adam on params[0..n): the bf16 mirror it writes too (its weight shadows stay valid), or NULL */
uint16_t *cuda_shadow_adam(Backend *be, const float *params, size_t n);
void cuda_shadow_free_all(Backend *be);

BackendConv *cuda_conv_plan(Backend *be, const ConvSpec *spec, float *src, float *dst, float *w, float *b, float *dsrc,
                            float *ddst, float *dw, float *db);
void cuda_conv_forward(Backend *be, BackendConv *c);
void cuda_conv_backward(Backend *be, BackendConv *c);
const char *cuda_conv_describe(Backend *be, const BackendConv *c, int which);
int cuda_conv_winograd(const BackendConv *c);
void cuda_conv_free(Backend *be, BackendConv *c);
#endif
