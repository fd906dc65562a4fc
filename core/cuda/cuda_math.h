/* core/cuda/cuda_math.h: the per-element and per-window arithmetic of every
 * CUDA kernel, as __host__ __device__ functions over plain NCHW planes (the
 * window functions also over bf16 NHWC planes, CmNhwc16). The kernels
 * (core/cuda/kernels.cu) are thin loops around these; tests/test_backend_ops.c
 * runs those kernels (under host emulation in CI, on a GPU in the device
 * check) and compares them with the CPU backend (core/cpu/layers_impl.h,
 * core/loss_impl.h), whose
 * semantics they copy: max-pool ties go to the first maximum in row-major
 * window order, the 3x3/s2 ceil-mode windows are clipped at the edge,
 * bilinear x2 uses align_corners=True with taps summed in output row-major
 * order, and the losses follow core/loss.h.
 * defines: cm_* */
#ifndef CORDSEG_CUDA_MATH_H
#define CORDSEG_CUDA_MATH_H
#include <math.h>
#include <stdint.h>

#ifndef CS_HD
#if defined(__CUDACC__)
#define CS_HD __host__ __device__
#else
#define CS_HD
#endif
#endif

/* ---- bf16: round to nearest even, as __float2bfloat16_rn ---- */
static CS_HD inline uint16_t cm_f32_to_bf16(float f) {
  union {
    float f;
    uint32_t u;
  } v;
  v.f = f;
  if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40u); /* NaN stays NaN */
  const uint32_t lsb = (v.u >> 16) & 1u;
  v.u += 0x7fffu + lsb;
  return (uint16_t)(v.u >> 16);
}
static CS_HD inline float cm_bf16_to_f32(uint16_t b) {
  union {
    float f;
    uint32_t u;
  } v;
  v.u = (uint32_t)b << 16;
  return v.f;
}
/* a plane of a bf16 NHWC buffer read as floats: element i of the plane is
 * pixel i, ct (the buffer's channels) apart; p points at the plane's
 * (image, channel). The window functions below take either this or a plain
 * const float * plane. */
struct CmNhwc16 {
  const uint16_t *p;
  int64_t ct;
  CS_HD float operator[](int64_t i) const { return cm_bf16_to_f32(p[i * ct]); }
  CS_HD CmNhwc16 operator+(int64_t i) const { return CmNhwc16{p + i * ct, ct}; }
};

/* ---- pools ---- */
/* 2x2/s2 (floor): output (oy, ox) of an h x w plane */
template <typename PX>
static CS_HD inline float cm_maxpool2(PX x, int32_t w, int32_t oy, int32_t ox) {
  const auto a = x + (int64_t)(2 * oy) * w + 2 * ox;
  float m = a[0];
  if (a[1] > m) m = a[1];
  if (a[w] > m) m = a[w];
  if (a[w + 1] > m) m = a[w + 1];
  return m;
}
/* gradient reaching input (iy, ix) from its 2x2 window: all of it when it is
 * the window's first maximum, else 0 (inputs past an odd edge get 0) */
template <typename PX, typename PY>
static CS_HD inline float cm_maxpool2_grad(PX x, PY y, PY dy, int32_t h, int32_t w,
                                           int32_t iy, int32_t ix) {
  const int32_t ho = h / 2, wo = w / 2, oy = iy / 2, ox = ix / 2;
  if (oy >= ho || ox >= wo) return 0;
  const int64_t o = (int64_t)oy * wo + ox;
  const float m = y[o];
  const auto a = x + (int64_t)(2 * oy) * w + 2 * ox;
  const int which = a[0] == m ? 0 : a[1] == m ? 1 : a[w] == m ? 2 : 3;
  const int me = (iy - 2 * oy) * 2 + (ix - 2 * ox);
  return which == me ? dy[o] : 0.0f;
}
static CS_HD inline int32_t cm_pool3s2_out(int32_t in) { return (in - 3 + 1) / 2 + 1; }
/* 3x3/s2/p0 ceil mode: window rows 2oy .. min(2oy+2, h-1) */
template <typename PX>
static CS_HD inline float cm_maxpool3s2(PX x, int32_t h, int32_t w, int32_t oy, int32_t ox) {
  float m = x[(int64_t)(2 * oy) * w + 2 * ox];
  for (int32_t iy = 2 * oy; iy < 2 * oy + 3 && iy < h; iy++)
    for (int32_t ix = 2 * ox; ix < 2 * ox + 3 && ix < w; ix++) {
      const float v = x[(int64_t)iy * w + ix];
      m = v > m ? v : m;
    }
  return m;
}
/* 1 when input (iy, ix) is the first maximum (row-major) of output (oy, ox)'s window */
template <typename PX>
static CS_HD inline int cm_pool3s2_is_first_max(PX x, int32_t h, int32_t w, int32_t oy, int32_t ox, float m,
                                                int32_t iy, int32_t ix) {
  for (int32_t y = 2 * oy; y < 2 * oy + 3 && y < h; y++)
    for (int32_t xx = 2 * ox; xx < 2 * ox + 3 && xx < w; xx++)
      if (x[(int64_t)y * w + xx] == m) return y == iy && xx == ix;
  return 0;
}
/* gradient at input (iy, ix): the outputs whose windows hold it, in output row-major order */
template <typename PX, typename PY>
static CS_HD inline float cm_maxpool3s2_grad(PX x, PY y, PY dy, int32_t h, int32_t w,
                                             int32_t iy, int32_t ix) {
  const int32_t ho = cm_pool3s2_out(h), wo = cm_pool3s2_out(w);
  float g = 0;
  const int32_t oy0 = iy >= 2 ? (iy - 1) / 2 : 0, ox0 = ix >= 2 ? (ix - 1) / 2 : 0;
  for (int32_t oy = oy0; oy <= iy / 2 && oy < ho; oy++)
    for (int32_t ox = ox0; ox <= ix / 2 && ox < wo; ox++) {
      if (iy < 2 * oy || iy > 2 * oy + 2 || ix < 2 * ox || ix > 2 * ox + 2) continue;
      const int64_t o = (int64_t)oy * wo + ox;
      if (cm_pool3s2_is_first_max(x, h, w, oy, ox, y[o], iy, ix)) g += dy[o];
    }
  return g;
}

/* ---- bilinear x2, align_corners=True ---- */
static CS_HD inline void cm_up_coord(int32_t o, int32_t in, int32_t out, int32_t *i0, int32_t *i1, float *t) {
  if (in == 1) {
    *i0 = *i1 = 0;
    *t = 0;
    return;
  }
  const double s = (double)o * (double)(in - 1) / (double)(out - 1);
  int32_t f = (int32_t)s;
  if (f > in - 1) f = in - 1;
  *i0 = f;
  *i1 = f + 1 < in ? f + 1 : in - 1;
  *t = (float)(s - f);
}
/* the 4 taps (plane offsets) and weights of output (oy, ox) from an h x w plane */
static CS_HD inline void cm_up_taps(int32_t oy, int32_t ox, int32_t h, int32_t w, int64_t off[4], float wt[4]) {
  int32_t y0, y1, x0, x1;
  float ty, tx;
  cm_up_coord(oy, h, 2 * h, &y0, &y1, &ty);
  cm_up_coord(ox, w, 2 * w, &x0, &x1, &tx);
  off[0] = (int64_t)y0 * w + x0, off[1] = (int64_t)y0 * w + x1;
  off[2] = (int64_t)y1 * w + x0, off[3] = (int64_t)y1 * w + x1;
  wt[0] = (1 - ty) * (1 - tx), wt[1] = (1 - ty) * tx, wt[2] = ty * (1 - tx), wt[3] = ty * tx;
}
template <typename PX>
static CS_HD inline float cm_upsample2(PX x, int32_t h, int32_t w, int32_t oy, int32_t ox) {
  int64_t off[4];
  float wt[4];
  cm_up_taps(oy, ox, h, w, off, wt);
  return wt[0] * x[off[0]] + wt[1] * x[off[1]] + wt[2] * x[off[2]] + wt[3] * x[off[3]];
}
/* gradient at input (iy, ix) of an h x w plane: a gather over the outputs
 * that tap it, in the CPU's scatter order (output row-major, then tap) */
template <typename PY>
static CS_HD inline float cm_upsample2_grad(PY dy, int32_t h, int32_t w, int32_t iy, int32_t ix) {
  const int32_t wo = 2 * w, ho = 2 * h;
  /* outputs within -3..+3 rows/cols of 2*i can reach input i (scale (in-1)/(2in-1) < 1/2); the
   * row and column taps are computed once each, then combined in output row-major, tap order */
  int32_t oy0 = 2 * iy - 3, ox0 = 2 * ix - 3;
  if (oy0 < 0) oy0 = 0;
  if (ox0 < 0) ox0 = 0;
  int32_t ry0[7], ry1[7], cx0[7], cx1[7], ny = 0, nx = 0;
  float ty[7], tx[7];
  for (int32_t oy = oy0; oy <= 2 * iy + 3 && oy < ho; oy++, ny++) cm_up_coord(oy, h, ho, &ry0[ny], &ry1[ny], &ty[ny]);
  for (int32_t ox = ox0; ox <= 2 * ix + 3 && ox < wo; ox++, nx++) cm_up_coord(ox, w, wo, &cx0[nx], &cx1[nx], &tx[nx]);
  float g = 0;
  for (int32_t a = 0; a < ny; a++) {
    if (ry0[a] != iy && ry1[a] != iy) continue;
    for (int32_t b = 0; b < nx; b++) {
      if (cx0[b] != ix && cx1[b] != ix) continue;
      const float v = dy[(int64_t)(oy0 + a) * wo + ox0 + b];
      const float w00 = (1 - ty[a]) * (1 - tx[b]), w01 = (1 - ty[a]) * tx[b], w10 = ty[a] * (1 - tx[b]), w11 = ty[a] * tx[b];
      if (ry0[a] == iy && cx0[b] == ix) g += w00 * v;
      if (ry0[a] == iy && cx1[b] == ix) g += w01 * v;
      if (ry1[a] == iy && cx0[b] == ix) g += w10 * v;
      if (ry1[a] == iy && cx1[b] == ix) g += w11 * v;
    }
  }
  return g;
}

/* ---- BatchNorm ---- */
/* y = relu?(x * sc + sh + res), sc = gamma*istd, sh = beta - mean*sc */
static CS_HD inline float cm_bn_apply(float x, float sc, float sh, float res, int relu) {
  float v = x * sc + sh + res;
  return relu && !(v > 0) ? 0.0f : v;
}
/* dx = k1 * (dy - k2 - xhat * k3), xhat = (x - mu) * istd */
static CS_HD inline float cm_bn_dx(float x, float dy, float mu, float istd, float k1, float k2, float k3) {
  const float xh = (x - mu) * istd;
  return k1 * (dy - k2 - xh * k3);
}

/* ---- losses ---- */
/* sigmoid and its derivative from one exp(-|z|) (core/loss_impl.h) */
static CS_HD inline float cm_sigmoid(float z, float *deriv) {
  const float e = expf(-(z < 0 ? -z : z));
  const float r = 1.0f / (1.0f + e);
  *deriv = e * r * r;
  return z >= 0 ? r : e * r;
}
/* focal term of one pixel given log p_t and p_t: loss, and coef = dL/dlogpt / npix */
static CS_HD inline float cm_focal(float logpt, float pt, float alpha, float gamma, float inv_p, float *coef) {
  const float om = 1.0f - pt;
  float wgt, dwgt;
  if (gamma == 2.0f) {
    wgt = om * om;
    dwgt = 2 * om;
  } else {
    wgt = (float)pow((double)om, (double)gamma);
    dwgt = (gamma == 0 || om == 0) ? 0 : gamma * (float)pow((double)om, (double)gamma - 1.0);
  }
  *coef = alpha * inv_p * (-wgt + dwgt * pt * logpt);
  return -alpha * wgt * logpt;
}
/* softmax + Dice/Focal gradient of class c at one pixel:
 * coef (d_cy - p_c) + p_c (g_c - sum_j p_j g_j), g_j = a_j [y == j] + b_j */
static CS_HD inline float cm_softmax_grad(float p, int is_y, float coef, float a, float b, float sg) {
  const float g = is_y ? a + b : b;
  return coef * ((is_y ? 1.0f : 0.0f) - p) + p * (g - sg);
}

/* ---- Adam (PyTorch semantics, core/adam.c) ---- */
static CS_HD inline void cm_adam(float *p, float g, float *m, float *v, float step, float rs, float b1, float b2,
                                 float eps, float wd) {
  g = g + wd * *p;
  const float mi = b1 * *m + (1 - b1) * g;
  const float vi = b2 * *v + (1 - b2) * g * g;
  *m = mi, *v = vi;
  *p -= step * mi / (sqrtf(vi) * rs + eps);
}

#endif
