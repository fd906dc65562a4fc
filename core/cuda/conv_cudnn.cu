/* core/cuda/conv_cudnn.cu: convolutions of the CUDA backend through cuDNN 9's
 * convolution API (forward, backward data, backward filter). Layout NCHW:
 * cordseg's concatenations are channel offsets into one buffer (see
 * core/backend.h), a contiguous block per image; cuDNN transforms
 * internally where its tensor-core kernels want NHWC (NHWC bf16 storage
 * is planned: docs/backends.md, "Not done yet").
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
 * precision = bf16: cuDNN reads bf16 src and weights and writes bf16 (fp32
 * accumulation in cuDNN, fp32 buffers and master weights outside). src and
 * weights are read from their bf16 shadows (bf16_shadow.cu), converted here
 * only where no earlier op wrote them; backward-filter reads the src copy
 * the forward read, backward-data the weights' copy. The forward's epilogue
 * widens, adds the bias, applies ReLU and writes dst's bf16 copy when a
 * convolution reads dst, in one kernel. In fp32, bias and fused ReLU run as one kernel after the
 * forward call. Backward starts with one pass over the output gradient:
 * the fused ReLU's mask (core/backend.h: conv_backward owns it), its bf16
 * copy and the bias gradient (a per-channel sum). */
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
  CudaShadow *x16, *w16; /* bf16: the bf16 copies of src and of the weights (bf16_shadow.cu) */
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
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(c->xd, CUDNN_TENSOR_NCHW, dt, s->n, s->cin, s->hin, s->win));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(c->yd, CUDNN_TENSOR_NCHW, dt, s->n, s->cout, c->ho, c->wo));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(c->wd, dt, CUDNN_TENSOR_NCHW, s->cout, s->cin, s->k, s->k));
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
    cuda_scratch(be, &im->bf[0], (size_t)s->n * s->cin * s->hin * s->win * 2);
    cuda_scratch(be, &im->bf[1], (size_t)s->cout * s->cin * s->k * s->k * 2); /* the weight gradient */
    cuda_scratch(be, &im->bf[2], (size_t)s->n * s->cout * c->ho * c->wo * 2);
    c->x16 = cuda_shadow_ref(be, src, nx(c), 0);
    c->w16 = cuda_shadow_ref(be, w, nw(c), 1);
  }
  cuda_scratch(be, &im->part, (size_t)2 * s->cout * CUK_PARTS * sizeof(double));
  cuda_scratch(be, &im->stats, (size_t)2 * s->cout * sizeof(double));
  return c;
}


/* a shadow made valid if it is not (one conversion kernel) */
static uint16_t *shadow_fresh(CudaImpl *im, CudaShadow *sh) {
  if (!sh->valid) cuk_to_bf16(im->stream, sh->f, sh->h, sh->n);
  sh->valid = 1;
  return sh->h;
}

void cuda_conv_forward(Backend *be, BackendConv *c) {
  CudaImpl *im = cuda_impl(be);
  const float one = 1, zero = 0;
  const int64_t hw = (int64_t)c->ho * c->wo;
  if (c->bf16) {
    uint16_t *y16 = (uint16_t *)im->bf[2].p;
    uint16_t *x16 = shadow_fresh(im, c->x16), *w16 = shadow_fresh(im, c->w16);
    CUDNN_CHECK(cudnnConvolutionForward(im->dnn, &one, c->xd, x16, c->wd, w16, c->cd[0], c->fa, im->ws.p, c->ws[0], &zero,
                                        c->yd, y16));
    /* dst and, when a convolution reads it, its bf16 copy: one pass */
    uint16_t *out16 = cuda_shadow_out(be, c->dst, ny(c));
    cuk_from_bf16_bias_relu(im->stream, y16, c->dst, out16, c->s.bias ? c->b : NULL, c->s.n, c->s.cout, hw, c->s.relu);
    return;
  }
  cuda_shadow_dirty(be, c->dst, ny(c) * sizeof(float));
  CUDNN_CHECK(cudnnConvolutionForward(im->dnn, &one, c->xd, c->src, c->wd, c->w, c->cd[0], c->fa, im->ws.p, c->ws[0],
                                      &zero, c->yd, c->dst));
  if (c->s.bias || c->s.relu) cuk_bias_relu(im->stream, c->dst, c->s.bias ? c->b : NULL, c->s.n, c->s.cout, hw, c->s.relu);
}

void cuda_conv_backward(Backend *be, BackendConv *c) {
  CudaImpl *im = cuda_impl(be);
  const float one = 1, zero = 0;
  uint16_t *dx16 = (uint16_t *)im->bf[0].p, *dw16 = (uint16_t *)im->bf[1].p, *dy16 = (uint16_t *)im->bf[2].p;
  /* ReLU backward, the bf16 copy of the output gradient and the bias gradient: one pass */
  if (c->s.relu) cuda_shadow_dirty(be, c->ddst, ny(c) * sizeof(float));
  if (c->s.bias) cuda_shadow_dirty(be, c->db, (size_t)c->s.cout * sizeof(float));
  cuk_conv_dy(im->stream, c->dst, c->ddst, c->bf16 ? dy16 : NULL, c->s.bias ? c->db : NULL, c->s.relu, c->s.n, c->s.cout,
              (int64_t)c->ho * c->wo, (double *)im->part.p, (double *)im->stats.p);
  if (c->s.need_dsrc) {
    cuda_shadow_dirty(be, c->dsrc, nx(c) * sizeof(float));
    if (c->bf16) { /* the weights' copy the forward read (they have not changed since) */
      CUDNN_CHECK(cudnnConvolutionBackwardData(im->dnn, &one, c->wd, c->w16->h, c->yd, dy16, c->cd[1], c->da, im->ws.p,
                                               c->ws[1], &zero, c->xd, dx16));
      cuk_from_bf16(im->stream, dx16, c->dsrc, nx(c));
    } else {
      CUDNN_CHECK(cudnnConvolutionBackwardData(im->dnn, &one, c->wd, c->w, c->yd, c->ddst, c->cd[1], c->da, im->ws.p,
                                               c->ws[1], &zero, c->xd, c->dsrc));
    }
  }
  cuda_shadow_dirty(be, c->dw, nw(c) * sizeof(float));
  if (c->bf16) { /* src's copy, as the forward made or read it (activations do not change before backward) */
    uint16_t *x16 = shadow_fresh(im, c->x16);
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(im->dnn, &one, c->xd, x16, c->yd, dy16, c->cd[2], c->fwa, im->ws.p,
                                               c->ws[2], &zero, c->wd, dw16));
    cuk_from_bf16(im->stream, dw16, c->dw, nw(c));
  } else {
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(im->dnn, &one, c->xd, c->src, c->yd, c->ddst, c->cd[2], c->fwa, im->ws.p,
                                               c->ws[2], &zero, c->wd, c->dw));
  }
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
  cuda_shadow_unref(be, c->x16);
  cuda_shadow_unref(be, c->w16);
  cudnnDestroyTensorDescriptor(c->xd);
  cudnnDestroyTensorDescriptor(c->yd);
  cudnnDestroyFilterDescriptor(c->wd);
  for (int i = 0; i < 3; i++) cudnnDestroyConvolutionDescriptor(c->cd[i]);
  free(c);
}
