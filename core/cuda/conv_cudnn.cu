/* core/cuda/conv_cudnn.cu: convolutions of the CUDA backend through cuDNN 9's
 * convolution API (forward, backward data, backward filter). Layout: fp32
 * NCHW with KCRS filters (cuDNN transforms internally where its tensor-core
 * kernels want NHWC), or with precision = bf16 the backend's bf16 NHWC
 * activations (core/backend.h) with KRSC filters, the layout sm_80/sm_90
 * tensor-core kernels read directly.
 * Algorithms: picked once per shape at plan time, timed (be->conv_benchmark,
 * the cudnn_benchmark key, as PyTorch's cudnn.benchmark: cudnnFind*Ex on
 * scratch buffers, outside any capture, each (shape, data type, pass)
 * timed once per backend and cached) or from cuDNN's heuristics
 * (cudnnGetConvolution*Algorithm_v7); the first that succeeds within the
 * workspace cap, and with deterministic = 1 the first marked
 * CUDNN_DETERMINISTIC (where cuDNN offers none for a shape, the fastest
 * other one, with a warning and "non-deterministic" in conv_describe,
 * rather than stopping the run); each pass keeps its own descriptor with the math
 * type its algorithm asked for (TF32 tensor cores allowed for fp32).
 * precision = bf16: src, dst and their gradients are the bf16 NHWC
 * activations themselves (fp32 accumulation in cuDNN). The two plain fp32
 * NCHW ends convert once: the network input into the plan's own bf16 NHWC
 * copy (which backward-filter reads again), the logits out of a bf16 NHWC
 * scratch in the bias/ReLU epilogue, and the logits' gradient into that
 * scratch after its bias-gradient pass. Weights keep their fp32 KCRS
 * masters; each forward writes the plan's bf16 KRSC copy (one kernel),
 * which backward-data reads; backward-filter writes a bf16 KRSC gradient
 * that one kernel widens into the fp32 KCRS gradient. Bias and fused ReLU
 * run as one kernel after the forward call (in place on bf16). Backward
 * starts with one pass over the output gradient: the fused ReLU's mask
 * (core/backend.h: conv_backward owns it) and the bias gradient (a
 * per-channel sum). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda/cuda_impl.h"
#include "core/cuda/kernels.h"

#define WS_CAP ((size_t)2 << 30)     /* no algorithm may ask for more workspace than 2 GiB */
#define FIND_WS ((size_t)256 << 20)   /* the workspace the timed search offers (and so the most a timed pick uses) */

struct BackendConv {
  ConvSpec s;
  int32_t ho, wo;
  float *src, *dst, *w, *b, *dsrc, *ddst, *dw, *db;
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd[3]; /* fwd, bwd data, bwd filter: each with its algorithm's math type */
  cudnnConvolutionFwdAlgo_t fa;
  cudnnConvolutionBwdDataAlgo_t da;
  cudnnConvolutionBwdFilterAlgo_t fwa;
  size_t ws[3];
  int bf16;
  uint16_t *x16, *w16; /* bf16: the plain input's NHWC copy (plain_src only), the weights' KRSC copy */
  char desc[3][96];
};

static const char *math_name(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH ? "tensor-op" : m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION ? "tensor-op+conv"
         : m == CUDNN_FMA_MATH ? "fma" : "default";
}

static void no_algo(const ConvSpec *s, const char *pass, int det) {
  cs_fatal(det ? "set deterministic = false, or precision = fp32" : "try precision = fp32 or a smaller batch",
           "cuDNN has no %s%s algorithm for conv %dx%d/s%d %d->%d at %dx%d, batch %d", det ? "deterministic " : "",
           pass, s->k, s->k, s->stride, s->cin, s->cout, s->hin, s->win, s->n);
}

static size_t nx(const BackendConv *c) { return (size_t)c->s.n * c->s.cin * c->s.hin * c->s.win; }
static size_t ny(const BackendConv *c) { return (size_t)c->s.n * c->s.cout * c->ho * c->wo; }
static size_t nw(const BackendConv *c) { return (size_t)c->s.cout * c->s.cin * c->s.k * c->s.k; }

/* one pass's algorithm: what the plan keeps */
typedef struct {
  int algo;
  size_t memory;
  cudnnMathType_t math;
  int nondet, timed;
} AlgoChoice;
/* the timed choices of this backend: one per (shape, data type, determinism, pass) */
struct CudaAlgoCache {
  int32_t shape[8];
  int bf16, det, pass;
  AlgoChoice ch;
};

/* the first result that succeeded within the cap (and is deterministic when
 * asked; when no deterministic one exists, the first other one, with a
 * warning): cuDNN sorts them fastest first, by measurement or by estimate */
template <typename Perf>
static AlgoChoice pick_algo(const Perf *r, int got, int det, size_t cap, const ConvSpec *s, const char *pass) {
  for (int nd = 0; nd < 1 + det; nd++)
    for (int i = 0; i < got; i++)
      if (r[i].status == CUDNN_STATUS_SUCCESS && r[i].memory <= cap &&
          (nd || !det || r[i].determinism == CUDNN_DETERMINISTIC)) {
        if (nd)
          fprintf(stderr,
                  "cordseg: warning: cuDNN has no deterministic %s algorithm for conv %dx%d/s%d %d->%d at %dx%d, batch "
                  "%d; using algorithm %d, which is not (results may differ in the last bits between runs)\n",
                  pass, s->k, s->k, s->stride, s->cin, s->cout, s->hin, s->win, s->n, (int)r[i].algo);
        return AlgoChoice{(int)r[i].algo, r[i].memory, r[i].mathType, nd, 0};
      }
  no_algo(s, pass, det);
  return AlgoChoice{};
}

static void *find_buf(size_t bytes) {
  void *p = NULL;
  CUDA_CHECK(cudaMalloc(&p, bytes ? bytes : 256));
  return p;
}

/* pass 0 fwd, 1 bwd data, 2 bwd filter: timed on scratch buffers of the
 * plan's shapes (so the caller's buffers are never written), or estimated */
static AlgoChoice choose_algo(Backend *be, BackendConv *c, int pass) {
  CudaImpl *im = cuda_impl(be);
  const ConvSpec *s = &c->s;
  const int det = be->deterministic;
  const int32_t key[8] = {s->n, s->cin, s->cout, s->k, s->stride, s->pad, s->hin, s->win};
  static const char *names[3] = {"forward", "backward-data", "backward-filter"};
  enum { MAXA = 16 };
  int got = 0;
  if (!be->conv_benchmark) {
    if (pass == 0) {
      cudnnConvolutionFwdAlgoPerf_t r[MAXA];
      CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(im->dnn, c->xd, c->wd, c->cd[0], c->yd, MAXA, &got, r));
      return pick_algo(r, got, det, WS_CAP, s, names[0]);
    } else if (pass == 1) {
      cudnnConvolutionBwdDataAlgoPerf_t r[MAXA];
      CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(im->dnn, c->wd, c->yd, c->cd[1], c->xd, MAXA, &got, r));
      return pick_algo(r, got, det, WS_CAP, s, names[1]);
    }
    cudnnConvolutionBwdFilterAlgoPerf_t r[MAXA];
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(im->dnn, c->xd, c->yd, c->cd[2], c->wd, MAXA, &got, r));
    return pick_algo(r, got, det, WS_CAP, s, names[2]);
  }
  for (int i = 0; i < im->nalgo; i++) {
    const CudaAlgoCache *e = &im->algo[i];
    if (!memcmp(e->shape, key, sizeof key) && e->bf16 == c->bf16 && e->det == det && e->pass == pass) return e->ch;
  }
  const size_t es = c->bf16 ? 2 : 4;
  void *x = find_buf(nx(c) * es), *w = find_buf(nw(c) * es), *y = find_buf(ny(c) * es);
  void *ws = cuda_scratch(be, &im->find_ws, FIND_WS); /* one search workspace for every search of this backend */
  AlgoChoice ch;
  if (pass == 0) {
    cudnnConvolutionFwdAlgoPerf_t r[MAXA];
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(im->dnn, c->xd, x, c->wd, w, c->cd[0], c->yd, y, MAXA, &got, r, ws,
                                                       FIND_WS));
    ch = pick_algo(r, got, det, FIND_WS, s, names[0]);
  } else if (pass == 1) {
    cudnnConvolutionBwdDataAlgoPerf_t r[MAXA];
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(im->dnn, c->wd, w, c->yd, y, c->cd[1], c->xd, x, MAXA, &got,
                                                            r, ws, FIND_WS));
    ch = pick_algo(r, got, det, FIND_WS, s, names[1]);
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t r[MAXA];
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(im->dnn, c->xd, x, c->yd, y, c->cd[2], c->wd, w, MAXA, &got,
                                                              r, ws, FIND_WS));
    ch = pick_algo(r, got, det, FIND_WS, s, names[2]);
  }
  void *bufs[3] = {x, w, y};
  for (int i = 0; i < 3; i++) CUDA_CHECK(cudaFree(bufs[i])); /* cudaFree waits for the search */
  ch.timed = 1;
  if (im->nalgo == im->algo_cap) {
    im->algo_cap = im->algo_cap ? 2 * im->algo_cap : 64;
    CudaAlgoCache *grown = (CudaAlgoCache *)realloc(im->algo, (size_t)im->algo_cap * sizeof *im->algo);
    CS_CHECK(grown != NULL, NULL, "out of host memory for the cuDNN algorithm cache");
    im->algo = grown;
  }
  CudaAlgoCache *e = &im->algo[im->nalgo++];
  memcpy(e->shape, key, sizeof key);
  e->bf16 = c->bf16, e->det = det, e->pass = pass, e->ch = ch;
  return ch;
}

BackendConv *cuda_conv_plan(Backend *be, const ConvSpec *spec, float *src, float *dst, float *w, float *b, float *dsrc,
                            float *ddst, float *dw, float *db) {
  CudaImpl *im = cuda_impl(be);
  BackendConv *c = (BackendConv *)callocCheck(1, sizeof *c);
  c->s = *spec;
  const ConvSpec *s = &c->s;
  c->ho = layer_conv_out(s->hin, s->k, s->stride, s->pad), c->wo = layer_conv_out(s->win, s->k, s->stride, s->pad);
  c->src = src, c->dst = dst, c->w = w, c->b = b, c->dsrc = dsrc, c->ddst = ddst, c->dw = dw, c->db = db;
  c->bf16 = be->precision == BACKEND_PRECISION_BF16;
  const cudnnDataType_t dt = c->bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->xd));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->yd));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&c->wd));
  const cudnnTensorFormat_t fmt = c->bf16 ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW; /* filters: KRSC with NHWC */
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(c->xd, fmt, dt, s->n, s->cin, s->hin, s->win));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(c->yd, fmt, dt, s->n, s->cout, c->ho, c->wo));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(c->wd, dt, fmt, s->cout, s->cin, s->k, s->k));
  for (int i = 0; i < 3; i++) {
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&c->cd[i]));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(c->cd[i], s->pad, s->pad, s->stride, s->stride, 1, 1,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd[i], CUDNN_TENSOR_OP_MATH));
  }
  static const char *pass_name[3] = {"fwd", "bwd-data", "bwd-filter"};
  for (int pass = 0; pass < 3; pass++) {
    if (pass == 1 && !s->need_dsrc) {
      snprintf(c->desc[1], sizeof c->desc[1], "none");
      continue;
    }
    const AlgoChoice ch = choose_algo(be, c, pass);
    c->ws[pass] = ch.memory;
    if (pass == 0) c->fa = (cudnnConvolutionFwdAlgo_t)ch.algo;
    else if (pass == 1) c->da = (cudnnConvolutionBwdDataAlgo_t)ch.algo;
    else c->fwa = (cudnnConvolutionBwdFilterAlgo_t)ch.algo;
    CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd[pass], ch.math));
    snprintf(c->desc[pass], sizeof c->desc[pass], "cudnn %s algo %d (%s%s%s)", pass_name[pass], ch.algo,
             math_name(ch.math), ch.timed ? ", timed" : "", ch.nondet ? ", non-deterministic" : "");
  }
  /* workspace and bf16 staging grow now, at plan time: never inside a graph capture */
  size_t need = c->ws[0] > c->ws[1] ? c->ws[0] : c->ws[1];
  need = need > c->ws[2] ? need : c->ws[2];
  cuda_scratch(be, &im->ws, need);
  if (c->bf16) {
    cuda_scratch(be, &im->bf[1], nw(c) * 2); /* the weight gradient */
    if (s->plain_dst) cuda_scratch(be, &im->bf[2], ny(c) * 2);
    if (s->plain_src) c->x16 = (uint16_t *)cuda_dev_alloc(be, nx(c) * 2);
    c->w16 = (uint16_t *)cuda_dev_alloc(be, nw(c) * 2);
  }
  cuda_scratch(be, &im->part, (size_t)2 * s->cout * CUK_PARTS * sizeof(double));
  cuda_scratch(be, &im->stats, (size_t)2 * s->cout * sizeof(double));
  return c;
}


static uint16_t *u16(const float *p) { return (uint16_t *)(uintptr_t)p; }

void cuda_conv_forward(Backend *be, BackendConv *c) {
  CudaImpl *im = cuda_impl(be);
  const ConvSpec *s = &c->s;
  const float one = 1, zero = 0;
  const int64_t hw = (int64_t)c->ho * c->wo;
  const float *b = s->bias ? c->b : NULL;
  if (c->bf16) {
    const uint16_t *x16 = u16(c->src);
    if (s->plain_src) cuk_nchw_to_h(im->stream, c->src, c->x16, s->n, s->cin, (int64_t)s->hin * s->win), x16 = c->x16;
    cuk_w_to_krsc(im->stream, c->w, c->w16, s->cout, s->cin, s->k * s->k);
    uint16_t *y16 = s->plain_dst ? (uint16_t *)im->bf[2].p : u16(c->dst);
    CUDNN_CHECK(cudnnConvolutionForward(im->dnn, &one, c->xd, x16, c->wd, c->w16, c->cd[0], c->fa, im->ws.p, c->ws[0], &zero,
                                        c->yd, y16));
    if (s->plain_dst) cuk_h_to_nchw_bias_relu(im->stream, y16, c->dst, b, s->n, s->cout, hw, s->relu);
    else if (b || s->relu) cuk_h_bias_relu(im->stream, y16, b, s->n, s->cout, hw, s->relu);
    return;
  }
  CUDNN_CHECK(cudnnConvolutionForward(im->dnn, &one, c->xd, c->src, c->wd, c->w, c->cd[0], c->fa, im->ws.p, c->ws[0],
                                      &zero, c->yd, c->dst));
  if (b || s->relu) cuk_bias_relu(im->stream, c->dst, b, s->n, s->cout, hw, s->relu);
}

void cuda_conv_backward(Backend *be, BackendConv *c) {
  CudaImpl *im = cuda_impl(be);
  const ConvSpec *s = &c->s;
  const float one = 1, zero = 0;
  const int64_t hw = (int64_t)c->ho * c->wo;
  float *db = s->bias ? c->db : NULL;
  double *part = (double *)im->part.p, *stats = (double *)im->stats.p;
  if (c->bf16) {
    /* the output gradient: ReLU mask and bias gradient in one pass; the logits' (fp32 NCHW) then converted once */
    uint16_t *dy16 = u16(c->ddst);
    if (s->plain_dst) {
      cuk_conv_dy(im->stream, c->dst, c->ddst, db, s->relu, s->n, s->cout, hw, part, stats);
      dy16 = (uint16_t *)im->bf[2].p;
      cuk_nchw_to_h(im->stream, c->ddst, dy16, s->n, s->cout, hw);
    } else {
      cuk_h_conv_dy(im->stream, u16(c->dst), dy16, db, s->relu, s->n, s->cout, hw, part, stats);
    }
    if (s->need_dsrc) /* the weights' copy the forward wrote (they have not changed since) */
      CUDNN_CHECK(cudnnConvolutionBackwardData(im->dnn, &one, c->wd, c->w16, c->yd, dy16, c->cd[1], c->da, im->ws.p,
                                               c->ws[1], &zero, c->xd, u16(c->dsrc)));
    uint16_t *dw16 = (uint16_t *)im->bf[1].p;
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(im->dnn, &one, c->xd, s->plain_src ? c->x16 : u16(c->src), c->yd, dy16,
                                               c->cd[2], c->fwa, im->ws.p, c->ws[2], &zero, c->wd, dw16));
    cuk_w_from_krsc(im->stream, dw16, c->dw, s->cout, s->cin, s->k * s->k);
    return;
  }
  cuk_conv_dy(im->stream, c->dst, c->ddst, db, s->relu, s->n, s->cout, hw, part, stats);
  if (s->need_dsrc)
    CUDNN_CHECK(cudnnConvolutionBackwardData(im->dnn, &one, c->wd, c->w, c->yd, c->ddst, c->cd[1], c->da, im->ws.p, c->ws[1],
                                             &zero, c->xd, c->dsrc));
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(im->dnn, &one, c->xd, c->src, c->yd, c->ddst, c->cd[2], c->fwa, im->ws.p,
                                             c->ws[2], &zero, c->wd, c->dw));
}

const char *cuda_conv_describe(Backend *be, const BackendConv *c, int which) {
  (void)be;
  return c->desc[which < 0 || which > 2 ? 0 : which];
}

int cuda_conv_winograd(const BackendConv *c) {
  (void)c;
  return 0; /* cuDNN's Winograd algorithms are counted as cuDNN algorithms, not as conv_algo = auto */
}

void cuda_conv_free(Backend *be, BackendConv *c) {
  if (!c) return;
  if (c->x16) be->free(be, c->x16);
  if (c->w16) be->free(be, c->w16);
  cudnnDestroyTensorDescriptor(c->xd);
  cudnnDestroyTensorDescriptor(c->yd);
  cudnnDestroyFilterDescriptor(c->wd);
  for (int i = 0; i < 3; i++) cudnnDestroyConvolutionDescriptor(c->cd[i]);
  free(c);
}
