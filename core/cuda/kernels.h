/* core/cuda/kernels.h: the CUDA kernels of the backend, as host functions
 * that queue them on a stream (core/cuda/kernels.cu). Layout: plain NCHW fp32
 * (cuk_h_*: bf16 NHWC, at the end);
 * an image is C planes of H*W, images `xs`/`ys` elements apart where a
 * function takes strides (views into a concatenation buffer).
 * Reductions never use atomics: each is two passes (fixed interleaved
 * partial sums, then the partials in order), so results are deterministic
 * and independent of the launch configuration's timing.
 * defines: cuk_* */
#ifndef CORDSEG_CUDA_KERNELS_H
#define CORDSEG_CUDA_KERNELS_H
#include "core/cuda/cuda_common.h"

/* partial sums per row of the two-pass reductions: a function of the row
 * length only (so results depend on the shape, never on timing), at most
 * CUK_PARTS, which sizes every partial-sum scratch buffer */
#define CUK_PARTS 1024
static inline int64_t cuk_parts(int64_t len) { return len >= 262144 ? 1024 : len >= 16384 ? 256 : 64; }

void cuk_add(cudaStream_t s, float *y, const float *x, size_t n);
void cuk_scale(cudaStream_t s, float *x, size_t n, float a);
void cuk_bias_relu(cudaStream_t s, float *y, const float *b, int32_t n, int32_t c, int64_t hw, int relu);
void cuk_maxpool2_forward(cudaStream_t s, const float *x, float *y, int32_t n, int32_t c, int32_t h, int32_t w);
void cuk_maxpool2_backward(cudaStream_t s, const float *x, const float *y, const float *dy, float *dx, int32_t n,
                           int32_t c, int32_t h, int32_t w);
void cuk_maxpool3s2_forward(cudaStream_t s, const float *x, float *y, int32_t n, int32_t c, int32_t h, int32_t w);
void cuk_maxpool3s2_backward(cudaStream_t s, const float *x, const float *y, const float *dy, float *dx, int32_t n,
                             int32_t c, int32_t h, int32_t w);
void cuk_upsample2_forward(cudaStream_t s, const float *x, int64_t xs, float *y, int64_t ys, int32_t n,
                           int32_t c, int32_t h, int32_t w);
void cuk_upsample2_backward(cudaStream_t s, const float *dy, int64_t ys, float *dx, int64_t xs, int32_t n, int32_t c,
                            int32_t h, int32_t w);
void cuk_copy_channels(cudaStream_t s, const float *src, int64_t ss, float *dst, int64_t ds, int32_t n,
                       int32_t c, int32_t h, int32_t w, int acc);

/* BN eval: save_mean, save_istd from the running statistics */
void cuk_bn_eval_stats(cudaStream_t s, float *save_mean, float *save_istd, const float *run_mean, const float *run_var,
                       int32_t c, double eps);
void cuk_bn_apply(cudaStream_t s, const float *x, float *y, const float *res, const float *gamma,
                  const float *beta, const float *save_mean, const float *save_istd, int32_t n, int32_t c, int64_t hw,
                  int relu);
/* BatchNorm (training): the statistics a BN layer finalizes with */
typedef struct {
  double m, momentum, eps;
  float *save_mean, *save_istd, *run_mean, *run_var;
} CukBnFinalize;
/* stats [2][C] = per-channel sum and sum of squares of x in one pass (part
 * [2][C][CUK_PARTS]); with fin, the finalize (mean, 1/std, running stats
 * with the unbiased variance) in the same totals kernel */
void cuk_bn_moments(cudaStream_t s, const float *x, int32_t n, int32_t c, int64_t hw, double *part, double *stats,
                    const CukBnFinalize *fin);
/* the finalize of cuk_bn_moments on its own (after a host all-reduce of stats) */
void cuk_bn_finalize_moments(cudaStream_t s, const double *stats, const CukBnFinalize *fin, int32_t c);
/* backward: with relu, dy <- dy masked by y > 0 in place; stats [0][C] = sum
 * dy, [1][C] = istd * sum dy (x - mean); dgamma = [1], dbeta = [0]: one pass
 * and one totals kernel */
void cuk_bn_grad_sums(cudaStream_t s, const float *x, const float *y, float *dy, const float *save_mean,
                      const float *save_istd, float *dgamma, float *dbeta, int relu, int32_t n, int32_t c, int64_t hw,
                      double *part, double *stats);
/* a convolution's output gradient before its backward calls, in one pass:
 * with relu, dy masked by y > 0 in place; with db (else NULL), db[c] = sum of dy over channel c (part
 * [2][C][CUK_PARTS], stats [2][C] scratch) */
void cuk_conv_dy(cudaStream_t s, const float *y, float *dy, float *db, int relu, int32_t n, int32_t c,
                 int64_t hw, double *part, double *stats);
/* BN backward dx from the stats of cuk_bn_grad_sums */
void cuk_bn_dx(cudaStream_t s, const float *x, const float *dy, float *dx, const float *gamma, const float *save_mean,
               const float *save_istd, const double *stats, double m, int32_t n, int32_t c, int64_t hw);

/* softmax losses (hybrid, ce): pass 1 writes probs (into dlogits' buffer or
 * probs), per-pixel loss and coef; sums [1+3K] = loss sum, sum p[K], count[K], tp[K] */
void cuk_softmax_pass1(cudaStream_t s, const float *logits, const uint8_t *labels, int32_t n, int32_t k, int64_t hw,
                       int hybrid, float alpha, float gamma, float *probs, float *pix_loss, float *coef, double *part,
                       double *sums);
/* from sums: loss (device scalar) and the Dice gradient pieces ga[K], gb[K] */
void cuk_softmax_finalize(cudaStream_t s, const double *sums, int32_t k, double npix, int hybrid, double smooth,
                          double grad_scale, double *loss, float *ga, float *gb);
void cuk_softmax_grad(cudaStream_t s, float *probs_to_dlogits, const uint8_t *labels, const float *coef,
                      const float *ga, const float *gb, int32_t n, int32_t k, int64_t hw);
/* HDL: sums of squares per (image, class) plane of sigmoid(z) - target, the
 * loss (norm: sum sqrt(ss + eps) / n; mse: sum ss / (n k hw)), gradient */
void cuk_hdl_loss(cudaStream_t s, const float *logits, const float *target, int32_t n, int32_t k, int64_t hw, int norm,
                  double eps, double *part, double *ss, double *loss, float *dlogits);
/* HDL targets [N][K][H][W] from labels [N][H][W] (core/loss.h
 * loss_hdl_target, the same bits): d2 [N][K][H][W] scratch; cutoff and rinv
 * = 1 / (2 sigma^2) as loss_hdl_plane computes them */
void cuk_hdl_target(cudaStream_t s, const uint8_t *labels, int32_t *d2, float *target, int32_t n, int32_t k, int32_t h,
                    int32_t w, int32_t cutoff, float rinv);
void cuk_probs(cudaStream_t s, const float *logits, float *probs, int32_t n, int32_t k, int64_t hw, int sigmoid);

void cuk_adam(cudaStream_t s, float *p, const float *g, float *m, float *v, size_t n, float step, float rs,
              float b1, float b2, float eps, float wd);
/* sum of squares of x[0..n) into *out (part [CUK_PARTS]) */
void cuk_sumsq(cudaStream_t s, const float *x, size_t n, double *part, double *out);
/* ---- bf16 NHWC activations (precision = bf16; core/backend.h
 * BACKEND_ACT_BF16_NHWC): the ops above on uint16 buffers where element
 * (n, c, y, x) of a buffer of ct channels is at ((n*H + y)*W + x)*ct + c.
 * Views pass the pointer at their first channel and the buffer's channels
 * (xct, yct, sct, dct). Same arithmetic in fp32, one bf16 rounding per write. */
void cuk_h_add(cudaStream_t s, uint16_t *y, const uint16_t *x, size_t n);
void cuk_h_bias_relu(cudaStream_t s, uint16_t *y, const float *b, int32_t n, int32_t c, int64_t hw, int relu);
void cuk_h_maxpool2_forward(cudaStream_t s, const uint16_t *x, uint16_t *y, int32_t n, int32_t c, int32_t h, int32_t w);
void cuk_h_maxpool2_backward(cudaStream_t s, const uint16_t *x, const uint16_t *y, const uint16_t *dy, uint16_t *dx,
                             int32_t n, int32_t c, int32_t h, int32_t w);
void cuk_h_maxpool3s2_forward(cudaStream_t s, const uint16_t *x, uint16_t *y, int32_t n, int32_t c, int32_t h, int32_t w);
void cuk_h_maxpool3s2_backward(cudaStream_t s, const uint16_t *x, const uint16_t *y, const uint16_t *dy, uint16_t *dx,
                               int32_t n, int32_t c, int32_t h, int32_t w);
void cuk_h_upsample2_forward(cudaStream_t s, const uint16_t *x, int32_t xct, uint16_t *y, int32_t yct, int32_t n,
                             int32_t c, int32_t h, int32_t w);
void cuk_h_upsample2_backward(cudaStream_t s, const uint16_t *dy, int32_t yct, uint16_t *dx, int32_t xct, int32_t n,
                              int32_t c, int32_t h, int32_t w);
void cuk_h_copy_channels(cudaStream_t s, const uint16_t *src, int32_t sct, uint16_t *dst, int32_t dct, int32_t n,
                         int32_t c, int64_t hw, int acc);
/* plain NCHW fp32 -> NHWC bf16 (the network input, the logits' gradient) */
void cuk_nchw_to_h(cudaStream_t s, const float *x, uint16_t *y, int32_t n, int32_t c, int64_t hw);
/* NHWC bf16 -> plain NCHW fp32, + b[c], then ReLU when relu (the logits) */
void cuk_h_to_nchw_bias_relu(cudaStream_t s, const uint16_t *x, float *y, const float *b, int32_t n, int32_t c, int64_t hw,
                             int relu);
/* weights: fp32 KCRS masters -> bf16 KRSC (the NHWC convolutions' filters), and a KRSC gradient back to fp32 KCRS */
void cuk_w_to_krsc(cudaStream_t s, const float *w, uint16_t *w16, int32_t k, int32_t c, int32_t rs);
void cuk_w_from_krsc(cudaStream_t s, const uint16_t *w16, float *w, int32_t k, int32_t c, int32_t rs);
/* cuk_conv_dy on bf16 NHWC (db fp32) */
void cuk_h_conv_dy(cudaStream_t s, const uint16_t *y, uint16_t *dy, float *db, int relu, int32_t n, int32_t c, int64_t hw,
                   double *part, double *stats);
void cuk_h_bn_moments(cudaStream_t s, const uint16_t *x, int32_t n, int32_t c, int64_t hw, double *part, double *stats,
                      const CukBnFinalize *fin);
void cuk_h_bn_apply(cudaStream_t s, const uint16_t *x, uint16_t *y, const uint16_t *res, const float *gamma,
                    const float *beta, const float *save_mean, const float *save_istd, int32_t n, int32_t c, int64_t hw,
                    int relu);
void cuk_h_bn_grad_sums(cudaStream_t s, const uint16_t *x, const uint16_t *y, uint16_t *dy, const float *save_mean,
                        const float *save_istd, float *dgamma, float *dbeta, int relu, int32_t n, int32_t c, int64_t hw,
                        double *part, double *stats);
void cuk_h_bn_dx(cudaStream_t s, const uint16_t *x, const uint16_t *dy, uint16_t *dx, const float *gamma,
                 const float *save_mean, const float *save_istd, const double *stats, double m, int32_t n, int32_t c,
                 int64_t hw);
#endif
