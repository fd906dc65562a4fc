/* core/layers.h: every non-convolution layer of the UNets, forward and
 * backward, on oneDNN's blocked nChw16c layout: an image is [C/16][H][W][16],
 * images are `ns` elements apart (ns = C*H*W for a plain tensor; larger for a
 * view into a concatenation buffer). C is a multiple of 16 everywhere.
 * One source (core/layers_impl.h) gives the float production path and the
 * double path (_f64) that the finite-difference tests check; plus a naive
 * reference convolution on plain NCHW for checking the oneDNN one.
 * Backward functions OVERWRITE their input-gradient unless named *_acc.
 * defines: layer_relu_backward, layer_maxpool2_*, layer_maxpool3s2_*,
 *          layer_upsample2_*, layer_copy_blocks, layer_add, layer_bn_*,
 *          layer_conv_ref_*, layer_to_blocked, layer_from_blocked (+ _f64) */
#ifndef CORDSEG_LAYERS_H
#define CORDSEG_LAYERS_H
#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LAYER_DECLS(REAL, SFX)                                                                                          \
  /* dy *= (y > 0), in place: ReLU backward given the ReLU output y */                                                  \
  void layer_relu_backward##SFX(const REAL *y, REAL *dy, size_t count);                                                 \
  void layer_relu_forward##SFX(REAL *x, size_t count);                                                                  \
  /* 2x2 stride-2 max pool (floor). x [n][c][h][w] -> y [n][c][h/2][w/2]; ties: first in row-major order */             \
  void layer_maxpool2_forward##SFX(const REAL *x, REAL *y, int32_t n, int32_t c, int32_t h, int32_t w);                  \
  void layer_maxpool2_backward##SFX(const REAL *x, const REAL *y, const REAL *dy, REAL *dx, int32_t n, int32_t c,        \
                                    int32_t h, int32_t w);                                                              \
  /* 3x3 stride-2 pad-0 ceil-mode max pool: ho = ceil((h-3)/2)+1, windows clipped at the edge */                        \
  void layer_maxpool3s2_forward##SFX(const REAL *x, REAL *y, int32_t n, int32_t c, int32_t h, int32_t w);                \
  void layer_maxpool3s2_backward##SFX(const REAL *x, const REAL *y, const REAL *dy, REAL *dx, int32_t n, int32_t c,      \
                                      int32_t h, int32_t w);                                                            \
  /* bilinear x2, align_corners=True. x [n][c][h][w] (image stride xs) -> y [n][c][2h][2w] (image stride ys) */         \
  void layer_upsample2_forward##SFX(const REAL *x, int64_t xs, REAL *y, int64_t ys, int32_t n, int32_t c, int32_t h,     \
                                    int32_t w);                                                                         \
  void layer_upsample2_backward##SFX(const REAL *dy, int64_t ys, REAL *dx, int64_t xs, int32_t n, int32_t c, int32_t h,  \
                                     int32_t w);                                                                        \
  /* copy (acc=0) or add (acc=1) `c` channels of n images between buffers of different image strides */                \
  void layer_copy_blocks##SFX(const REAL *src, int64_t ss, REAL *dst, int64_t ds, int32_t n, int32_t c, int32_t h,       \
                              int32_t w, int acc);                                                                      \
  void layer_add##SFX(REAL *y, const REAL *x, size_t count); /* y += x */                                               \
  /* BatchNorm (+ optional residual add, + optional ReLU): y = relu(bn(x) + res).                                    \
   * train: batch statistics (biased var for normalising), running stats updated with momentum (unbiased var);       \
   * saves mean / inv-std per channel for backward. eval: running statistics. */                                      \
  void layer_bn_forward##SFX(const REAL *x, REAL *y, const REAL *res, const REAL *gamma, const REAL *beta,              \
                             REAL *run_mean, REAL *run_var, REAL *save_mean, REAL *save_istd, int32_t n, int32_t c,       \
                             int32_t h, int32_t w, int train, int relu, double momentum, double eps,           \
                             const BackendSync *sync);                    \
  /* dy is masked in place by (y > 0) when relu; afterwards dy holds d(bn(x)+res), i.e. the residual's gradient.      \
   * dx overwritten; dgamma/dbeta overwritten. */                                                                     \
  void layer_bn_backward##SFX(const REAL *x, const REAL *y, REAL *dy, REAL *dx, const REAL *gamma, REAL *dgamma,        \
                              REAL *dbeta, const REAL *save_mean, const REAL *save_istd, int32_t n, int32_t c, int32_t h, \
                              int32_t w, int relu, const BackendSync *sync);                                             \
  /* plain NCHW <-> blocked nChw16c (channels padded with zeros to a multiple of 16) */                                \
  void layer_to_blocked##SFX(const REAL *plain, REAL *blk, int32_t n, int32_t c, int32_t h, int32_t w);                  \
  void layer_from_blocked##SFX(const REAL *blk, REAL *plain, int32_t n, int32_t c, int32_t h, int32_t w);                \
  /* naive reference convolution on plain NCHW, weights OIHW, optional bias, zero padding */                           \
  void layer_conv_ref_forward##SFX(const REAL *x, const REAL *wt, const REAL *b, REAL *y, int32_t n, int32_t ci,         \
                                   int32_t h, int32_t w, int32_t co, int32_t k, int32_t stride, int32_t pad);           \
  void layer_conv_ref_backward##SFX(const REAL *x, const REAL *wt, const REAL *dy, REAL *dx, REAL *dw, REAL *db,         \
                                    int32_t n, int32_t ci, int32_t h, int32_t w, int32_t co, int32_t k, int32_t stride,  \
                                    int32_t pad);

LAYER_DECLS(float, )
LAYER_DECLS(double, _f64)
#undef LAYER_DECLS

#ifdef __cplusplus
}
#endif
#endif
