/* core/cuda/cuda_impl.h: the CUDA backend's state, shared by its files
 * (backend_cuda.cu: memory, layers, loss, Adam, NCCL, graphs; conv_cudnn.cu:
 * the cuDNN convolutions). Every scratch buffer grows on first use, which
 * is normally an eager step before a graph is captured; growth later makes
 * the graphs stale (scratch_gen), growth inside a capture fails it.
 * defines: CudaImpl, cuda_impl, cuda_scratch, cuda_dev_alloc,
 *          cuda_conv_* */
#ifndef CORDSEG_CUDA_IMPL_H
#define CORDSEG_CUDA_IMPL_H
#include "core/backend.h"
#include "core/cuda/cuda_common.h"

typedef struct {
  void *p;
  size_t cap;
} CudaScratch;

typedef struct {
  int device;
  char gpu[256];
  cudaStream_t stream;
  cudnnHandle_t dnn;
  CudaScratch ws;          /* the one cuDNN workspace, sized for the largest need */
  CudaScratch bf[3];       /* bf16: a convolution's logits or their gradient (NHWC), its weight gradient (KRSC) */
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
} CudaImpl;

static inline CudaImpl *cuda_impl(Backend *be) { return (CudaImpl *)be->impl; }
/* grows s to at least bytes (device memory) and returns it */
void *cuda_scratch(Backend *be, CudaScratch *s, size_t bytes);
void *cuda_dev_alloc(Backend *be, size_t bytes);

BackendConv *cuda_conv_plan(Backend *be, const ConvSpec *spec, float *src, float *dst, float *w, float *b, float *dsrc,
                            float *ddst, float *dw, float *db);
void cuda_conv_forward(Backend *be, BackendConv *c);
void cuda_conv_backward(Backend *be, BackendConv *c);
const char *cuda_conv_describe(Backend *be, const BackendConv *c, int which);
int cuda_conv_winograd(const BackendConv *c);
void cuda_conv_free(Backend *be, BackendConv *c);
#endif
