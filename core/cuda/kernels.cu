/* core/cuda/kernels.cu: the backend's kernels (see core/cuda/kernels.h).
 * Each is a grid-stride loop around the arithmetic of core/cuda/cuda_math.h;
 * none synchronises inside a block, so the host emulation may run threads
 * in any order. */
#include "core/cuda/kernels.h"

#include "core/cuda/cuda_math.h"
#include "core/loss_exp.h"

#define GTID ((int64_t)blockIdx.x * blockDim.x + threadIdx.x)
#define GSTRIDE ((int64_t)gridDim.x * blockDim.x)
#define FOR_EACH(i, n) for (int64_t i = GTID; i < (int64_t)(n); i += GSTRIDE)

/* ---------------------------------------------------------- element-wise -- */
__global__ void k_add(float *y, const float *x, int64_t n) {
  FOR_EACH(i, n) y[i] += x[i];
}
void cuk_add(cudaStream_t s, float *y, const float *x, size_t n) { CS_LAUNCH(k_add, 12.0 * n, cs_grid(n), CS_BLOCK, s, y, x, (int64_t)n); }

__global__ void k_scale(float *x, int64_t n, float a) {
  FOR_EACH(i, n) x[i] *= a;
}
void cuk_scale(cudaStream_t s, float *x, size_t n, float a) { CS_LAUNCH(k_scale, 8.0 * n, cs_grid(n), CS_BLOCK, s, x, (int64_t)n, a); }


__global__ void k_bias_relu(float *y, const float *b, int32_t c, int64_t hw, int64_t total, int relu) {
  FOR_EACH(i, total) {
    float v = y[i] + (b ? b[(i / hw) % c] : 0.0f);
    y[i] = relu && !(v > 0) ? 0.0f : v;
  }
}
void cuk_bias_relu(cudaStream_t s, float *y, const float *b, int32_t n, int32_t c, int64_t hw, int relu) {
  const int64_t total = (int64_t)n * c * hw;
  CS_LAUNCH(k_bias_relu, 8.0 * total + (b ? 4.0 * c : 0), cs_grid(total), CS_BLOCK, s, y, b, c, hw, total, relu);
}

/* ---------------------------------------------------------------- pools -- */
__global__ void k_maxpool2_f(const float *x, float *y, int64_t planes, int32_t h, int32_t w) {
  const int32_t ho = h / 2, wo = w / 2;
  FOR_EACH(i, planes * ho * wo) {
    const int64_t p = i / ((int64_t)ho * wo), o = i % ((int64_t)ho * wo);
    y[i] = cm_maxpool2(x + p * h * w, w, (int32_t)(o / wo), (int32_t)(o % wo));
  }
}
void cuk_maxpool2_forward(cudaStream_t s, const float *x, float *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int64_t planes = (int64_t)n * c;
  CS_LAUNCH(k_maxpool2_f, planes * (4.0 * h * w + 4.0 * (h / 2) * (w / 2)), cs_grid(planes * (h / 2) * (w / 2)), CS_BLOCK, s, x, y, planes, h, w);
}
__global__ void k_maxpool2_b(const float *x, const float *y, const float *dy, float *dx, int64_t planes, int32_t h,
                             int32_t w) {
  const int64_t hw = (int64_t)h * w, ohw = (int64_t)(h / 2) * (w / 2);
  FOR_EACH(i, planes * hw) {
    const int64_t p = i / hw, q = i % hw;
    dx[i] = cm_maxpool2_grad(x + p * hw, y + p * ohw, dy + p * ohw, h, w, (int32_t)(q / w), (int32_t)(q % w));
  }
}
void cuk_maxpool2_backward(cudaStream_t s, const float *x, const float *y, const float *dy, float *dx, int32_t n,
                           int32_t c, int32_t h, int32_t w) {
  const int64_t planes = (int64_t)n * c;
  CS_LAUNCH(k_maxpool2_b, planes * (8.0 * h * w + 8.0 * (h / 2) * (w / 2)), cs_grid(planes * h * w), CS_BLOCK, s, x, y, dy, dx, planes, h, w);
}
__global__ void k_maxpool3_f(const float *x, float *y, int64_t planes, int32_t h, int32_t w) {
  const int32_t ho = cm_pool3s2_out(h), wo = cm_pool3s2_out(w);
  FOR_EACH(i, planes * ho * wo) {
    const int64_t p = i / ((int64_t)ho * wo), o = i % ((int64_t)ho * wo);
    y[i] = cm_maxpool3s2(x + p * h * w, h, w, (int32_t)(o / wo), (int32_t)(o % wo));
  }
}
void cuk_maxpool3s2_forward(cudaStream_t s, const float *x, float *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int64_t planes = (int64_t)n * c;
  CS_LAUNCH(k_maxpool3_f,
            planes * (4.0 * h * w + 4.0 * cm_pool3s2_out(h) * cm_pool3s2_out(w)), cs_grid(planes * cm_pool3s2_out(h) * cm_pool3s2_out(w)), CS_BLOCK, s, x, y, planes, h,
            w);
}
__global__ void k_maxpool3_b(const float *x, const float *y, const float *dy, float *dx, int64_t planes, int32_t h,
                             int32_t w) {
  const int64_t hw = (int64_t)h * w, ohw = (int64_t)cm_pool3s2_out(h) * cm_pool3s2_out(w);
  FOR_EACH(i, planes * hw) {
    const int64_t p = i / hw, q = i % hw;
    dx[i] = cm_maxpool3s2_grad(x + p * hw, y + p * ohw, dy + p * ohw, h, w, (int32_t)(q / w), (int32_t)(q % w));
  }
}
void cuk_maxpool3s2_backward(cudaStream_t s, const float *x, const float *y, const float *dy, float *dx, int32_t n,
                             int32_t c, int32_t h, int32_t w) {
  const int64_t planes = (int64_t)n * c;
  CS_LAUNCH(k_maxpool3_b, planes * (8.0 * h * w + 8.0 * cm_pool3s2_out(h) * cm_pool3s2_out(w)), cs_grid(planes * h * w), CS_BLOCK, s, x, y, dy, dx, planes, h, w);
}

/* ------------------------------------------------- upsample, copy, concat -- */
__global__ void k_up_f(const float *x, int64_t xs, float *y, int64_t ys, int32_t n, int32_t c, int32_t h,
                       int32_t w) {
  const int64_t ohw = (int64_t)4 * h * w, hw = (int64_t)h * w;
  FOR_EACH(i, (int64_t)n * c * ohw) {
    const int64_t img = i / ((int64_t)c * ohw), ch = i / ohw % c, o = i % ohw, at = img * ys + ch * ohw + o;
    y[at] = cm_upsample2(x + img * xs + ch * hw, h, w, (int32_t)(o / (2 * w)), (int32_t)(o % (2 * w)));
  }
}
void cuk_upsample2_forward(cudaStream_t s, const float *x, int64_t xs, float *y, int64_t ys, int32_t n,
                           int32_t c, int32_t h, int32_t w) {
  CS_LAUNCH(k_up_f, 20.0 * n * c * h * w, cs_grid((size_t)n * c * 4 * h * w), CS_BLOCK, s, x, xs, y, ys, n, c, h, w);
}
__global__ void k_up_b(const float *dy, int64_t ys, float *dx, int64_t xs, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int64_t ohw = (int64_t)4 * h * w, hw = (int64_t)h * w;
  FOR_EACH(i, (int64_t)n * c * hw) {
    const int64_t img = i / ((int64_t)c * hw), ch = i / hw % c, q = i % hw;
    dx[img * xs + ch * hw + q] = cm_upsample2_grad(dy + img * ys + ch * ohw, h, w, (int32_t)(q / w), (int32_t)(q % w));
  }
}
void cuk_upsample2_backward(cudaStream_t s, const float *dy, int64_t ys, float *dx, int64_t xs, int32_t n, int32_t c,
                            int32_t h, int32_t w) {
  CS_LAUNCH(k_up_b, 20.0 * n * c * h * w, cs_grid((size_t)n * c * h * w), CS_BLOCK, s, dy, ys, dx, xs, n, c, h, w);
}
__global__ void k_copy_ch(const float *src, int64_t ss, float *dst, int64_t ds, int32_t n, int64_t per,
                          int acc) {
  FOR_EACH(i, (int64_t)n * per) {
    const int64_t img = i / per, j = i % per, at = img * ds + j;
    dst[at] = acc ? dst[at] + src[img * ss + j] : src[img * ss + j];
  }
}
void cuk_copy_channels(cudaStream_t s, const float *src, int64_t ss, float *dst, int64_t ds, int32_t n,
                       int32_t c, int32_t h, int32_t w, int acc) {
  const int64_t per = (int64_t)c * h * w;
  CS_LAUNCH(k_copy_ch, (acc ? 12.0 : 8.0) * n * per, cs_grid((size_t)n * per), CS_BLOCK, s, src, ss, dst, ds, n, per, acc);
}

/* ------------------------------------------------------------ reductions --
 * Pass 1: thread (r, p) sums f(r, j) for j = p, p + P, p + 2P, ... < len
 * (neighbouring threads read neighbouring elements); pass 2: thread r adds
 * its P partials in order. */
template <typename F>
__global__ void k_rows_part(F f, int64_t rows, int64_t len, int64_t parts, double *part) {
  FOR_EACH(t, rows * parts) {
    const int64_t r = t / parts, p = t % parts;
    double acc = 0;
    for (int64_t j = p; j < len; j += parts) acc += f(r, j);
    part[t] = acc;
  }
}
__global__ void k_rows_total(const double *part, int64_t rows, int64_t parts, double *out) {
  FOR_EACH(r, rows) {
    double acc = 0;
    for (int64_t p = 0; p < parts; p++) acc += part[r * parts + p];
    out[r] = acc;
  }
}
template <typename F>
static void rows_sum(cudaStream_t s, F f, double bytes, int64_t rows, int64_t len, double *part, double *out) {
  const int64_t parts = cuk_parts(len);
  CS_LAUNCH(k_rows_part<F>, bytes + 8.0 * rows * parts, cs_grid((size_t)(rows * parts)), CS_BLOCK, s, f, rows, len, parts, part);
  CS_LAUNCH(k_rows_total, 8.0 * rows * (parts + 1), cs_grid((size_t)rows), CS_BLOCK, s, part, rows, parts, out);
}

/* Two sums per row in one pass over the data (f(r, j, &a, &b) adds to both):
 * partials [2][rows][parts], then per row both totals in order and an
 * epilogue epi(r, A, B) that may finish the row's work in the same kernel. */
template <typename F>
__global__ void k_rows_part2(F f, int64_t rows, int64_t len, int64_t parts, double *part) {
  FOR_EACH(t, rows * parts) {
    const int64_t r = t / parts, p = t % parts;
    double a = 0, b = 0;
    for (int64_t j = p; j < len; j += parts) f(r, j, &a, &b);
    part[t] = a, part[rows * parts + t] = b;
  }
}
template <typename E>
__global__ void k_rows_total2(const double *part, int64_t rows, int64_t parts, double *out, E epi) {
  FOR_EACH(r, rows) {
    double a = 0, b = 0;
    for (int64_t p = 0; p < parts; p++) a += part[r * parts + p], b += part[(rows + r) * parts + p];
    out[r] = a, out[rows + r] = b;
    epi(r, a, b);
  }
}
template <typename F, typename E>
static void rows_sum2(cudaStream_t s, F f, E epi, double bytes, int64_t rows, int64_t len, double *part, double *out) {
  const int64_t parts = cuk_parts(len);
  CS_LAUNCH(k_rows_part2<F>, bytes + 16.0 * rows * parts, cs_grid((size_t)(rows * parts)), CS_BLOCK, s, f, rows, len, parts, part);
  CS_LAUNCH(k_rows_total2<E>, 16.0 * rows * (parts + 1), cs_grid((size_t)rows), CS_BLOCK, s, part, rows, parts, out, epi);
}
struct NoEpi {
  CS_HD void operator()(int64_t, double, double) const {}
};

/* the index of element j (of the n*hw values) of channel ch in NCHW */
CS_HD static inline int64_t chan_at(int64_t ch, int64_t j, int32_t c, int64_t hw) { return ((j / hw) * c + ch) * hw + j % hw; }
/* dy[at], masked by y > 0 in place when relu (in a row reduction each element
 * belongs to one thread, so it is written once) */
CS_HD static inline float relu_grad(const float *y, float *dy, int relu, int64_t at) {
  float g = dy[at];
  if (relu) dy[at] = g = y[at] > 0 ? g : 0.0f;
  return g;
}

/* ------------------------------------------------------------- BatchNorm -- */
/* eval: mean and 1/std from the running statistics */
__global__ void k_bn_eval_stats(float *save_mean, float *save_istd, const float *run_mean, const float *run_var, int32_t c,
                                double eps) {
  FOR_EACH(ch, c) {
    save_mean[ch] = run_mean[ch];
    save_istd[ch] = (float)(1.0 / sqrt((double)run_var[ch] + eps));
  }
}
void cuk_bn_eval_stats(cudaStream_t s, float *save_mean, float *save_istd, const float *run_mean, const float *run_var,
                       int32_t c, double eps) {
  CS_LAUNCH(k_bn_eval_stats, 16.0 * c, cs_grid(c), CS_BLOCK, s, save_mean, save_istd, run_mean, run_var, c, eps);
}
__global__ void k_bn_apply(const float *x, float *y, const float *res, const float *gamma,
                           const float *beta, const float *mean, const float *istd, int32_t c, int64_t hw, int64_t total,
                           int relu) {
  FOR_EACH(i, total) {
    const int32_t ch = (int32_t)(i / hw % c);
    const float sc = gamma[ch] * istd[ch], sh = beta[ch] - mean[ch] * sc;
    y[i] = cm_bn_apply(x[i], sc, sh, res ? res[i] : 0.0f, relu);
  }
}
void cuk_bn_apply(cudaStream_t s, const float *x, float *y, const float *res, const float *gamma,
                  const float *beta, const float *save_mean, const float *save_istd, int32_t n, int32_t c, int64_t hw,
                  int relu) {
  const int64_t total = (int64_t)n * c * hw;
  CS_LAUNCH(k_bn_apply, (8.0 + (res ? 4 : 0)) * total + 16.0 * c, cs_grid(total), CS_BLOCK, s, x, y, res, gamma, beta, save_mean, save_istd, c, hw, total,
            relu);
}
__global__ void k_bn_dx(const float *x, const float *dy, float *dx, const float *gamma, const float *mean,
                        const float *istd, const double *st, double m, int32_t c, int64_t hw, int64_t total) {
  FOR_EACH(i, total) {
    const int32_t ch = (int32_t)(i / hw % c);
    const float k1 = gamma[ch] * istd[ch], k2 = (float)(st[ch] / m), k3 = (float)(st[c + ch] / m);
    dx[i] = cm_bn_dx(x[i], dy[i], mean[ch], istd[ch], k1, k2, k3);
  }
}
void cuk_bn_dx(cudaStream_t s, const float *x, const float *dy, float *dx, const float *gamma, const float *save_mean,
               const float *save_istd, const double *stats, double m, int32_t n, int32_t c, int64_t hw) {
  const int64_t total = (int64_t)n * c * hw;
  CS_LAUNCH(k_bn_dx, 12.0 * total + 28.0 * c, cs_grid(total), CS_BLOCK, s, x, dy, dx, gamma, save_mean, save_istd, stats, m, c, hw, total);
}

/* ---- fused BatchNorm: forward statistics in one pass (sum and sum of
 * squares in double; var = E[x^2] - mean^2), finalize in the totals kernel;
 * backward: ReLU mask, sum dy and sum dy (x - mean) in one pass, the
 * parameter gradients in the totals kernel ---- */
struct BnMoments {
  const float *x;
  int32_t c;
  int64_t hw;
  CS_HD void operator()(int64_t ch, int64_t j, double *a, double *b) const {
    const double v = x[chan_at(ch, j, c, hw)];
    *a += v, *b += v * v;
  }
};
CS_HD static inline void bn_finalize_one(int64_t ch, double sum, double sumsq, double m, float *save_mean, float *save_istd,
                                         float *run_mean, float *run_var, double momentum, double eps) {
  const double mean = sum / m, v = sumsq / m - mean * mean, var = v > 0 ? v : 0;
  save_mean[ch] = (float)mean;
  save_istd[ch] = (float)(1.0 / sqrt(var + eps));
  run_mean[ch] = (float)((1 - momentum) * run_mean[ch] + momentum * mean);
  run_var[ch] = (float)((1 - momentum) * run_var[ch] + momentum * (m > 1 ? var * m / (m - 1) : var));
}
struct BnFinalizeEpi {
  double m, momentum, eps;
  float *save_mean, *save_istd, *run_mean, *run_var;
  CS_HD void operator()(int64_t ch, double a, double b) const {
    bn_finalize_one(ch, a, b, m, save_mean, save_istd, run_mean, run_var, momentum, eps);
  }
};
void cuk_bn_moments(cudaStream_t s, const float *x, int32_t n, int32_t c, int64_t hw, double *part, double *stats,
                    const CukBnFinalize *fin) {
  BnMoments f = {x, c, hw};
  if (fin) {
    BnFinalizeEpi e = {fin->m, fin->momentum, fin->eps, fin->save_mean, fin->save_istd, fin->run_mean, fin->run_var};
    rows_sum2(s, f, e, 4.0 * n * c * hw, c, (int64_t)n * hw, part, stats);
  } else {
    rows_sum2(s, f, NoEpi{}, 4.0 * n * c * hw, c, (int64_t)n * hw, part, stats);
  }
}
__global__ void k_bn_finalize_moments(const double *st, CukBnFinalize fin, int32_t c) {
  FOR_EACH(ch, c) bn_finalize_one(ch, st[ch], st[c + ch], fin.m, fin.save_mean, fin.save_istd, fin.run_mean, fin.run_var,
                                  fin.momentum, fin.eps);
}
void cuk_bn_finalize_moments(cudaStream_t s, const double *stats, const CukBnFinalize *fin, int32_t c) {
  CS_LAUNCH(k_bn_finalize_moments, 32.0 * c, cs_grid(c), CS_BLOCK, s, stats, *fin, c);
}
struct BnGradSums {
  const float *x, *y, *mean;
  float *dy;
  int relu;
  int32_t c;
  int64_t hw;
  CS_HD void operator()(int64_t ch, int64_t j, double *a, double *b) const {
    const int64_t at = chan_at(ch, j, c, hw);
    const float g = relu_grad(y, dy, relu, at);
    *a += (double)g, *b += (double)g * (double)(x[at] - mean[ch]);
  }
};
struct BnPgradEpi {
  double *st;
  const float *istd;
  float *dgamma, *dbeta;
  int32_t c;
  CS_HD void operator()(int64_t ch, double a, double b) const {
    const double sgx = b * istd[ch];
    st[c + ch] = sgx;
    dgamma[ch] = (float)sgx;
    dbeta[ch] = (float)a;
  }
};
void cuk_bn_grad_sums(cudaStream_t s, const float *x, const float *y, float *dy, const float *save_mean,
                      const float *save_istd, float *dgamma, float *dbeta, int relu, int32_t n, int32_t c, int64_t hw,
                      double *part, double *stats) {
  BnGradSums f = {x, y, save_mean, dy, relu, c, hw};
  BnPgradEpi e = {stats, save_istd, dgamma, dbeta, c};
  rows_sum2(s, f, e, (8.0 + (relu ? 8 : 0)) * n * c * hw, c, (int64_t)n * hw, part, stats); /* x, dy (+ y, dy written) */
}

/* ---- the convolution's output gradient: with relu, masked by y > 0 in place;
 * with db, the bias gradient (per-channel sums
 * straight into the fp32 gradient): one pass and one totals kernel ---- */
struct ChanDy {
  const float *y;
  float *dy;
  int relu;
  int32_t c;
  int64_t hw;
  CS_HD void operator()(int64_t ch, int64_t j, double *a, double *b) const {
    const int64_t at = chan_at(ch, j, c, hw);
    *a += (double)relu_grad(y, dy, relu, at);
    (void)b;
  }
};
/* the same without a bias: element-wise */
__global__ void k_relu_mask(const float *y, float *dy, int64_t n) {
  FOR_EACH(i, n) relu_grad(y, dy, 1, i);
}
struct ToFloatEpi {
  float *out;
  CS_HD void operator()(int64_t r, double a, double b) const {
    out[r] = (float)a;
    (void)b;
  }
};
void cuk_conv_dy(cudaStream_t s, const float *y, float *dy, float *db, int relu, int32_t n, int32_t c,
                 int64_t hw, double *part, double *stats) {
  if (db) {
    ChanDy f = {y, dy, relu, c, hw};
    ToFloatEpi e = {db};
    rows_sum2(s, f, e, (4.0 + (relu ? 8 : 0)) * n * c * hw, c, (int64_t)n * hw, part, stats);
  } else if (relu) {
    const int64_t total = (int64_t)n * c * hw;
    CS_LAUNCH(k_relu_mask, 12.0 * total, cs_grid(total), CS_BLOCK, s, y, dy, total);
  }
}

/* ---------------------------------------------------------------- losses -- */
__global__ void k_softmax1(const float *z, const uint8_t *lab, int32_t k, int64_t hw, int64_t npix, int hybrid,
                           float alpha, float gamma, float *p, float *pl, float *coef) {
  const float inv_p = (float)(1.0 / (double)npix);
  FOR_EACH(i, npix) {
    const int64_t b = i / hw, q = i % hw;
    const float *zn = z + b * k * hw + q;
    float *pn = p + b * k * hw + q;
    float mx = zn[0];
    for (int32_t c = 1; c < k; c++) mx = zn[c * hw] > mx ? zn[c * hw] : mx;
    float sum = 0;
    for (int32_t c = 0; c < k; c++) {
      const float e = expf(zn[c * hw] - mx);
      pn[c * hw] = e;
      sum += e;
    }
    const float lse = mx + logf(sum), rs = 1.0f / sum;
    for (int32_t c = 0; c < k; c++) pn[c * hw] *= rs;
    const int32_t y = lab[i];
    const float logpt = zn[y * hw] - lse, pt = pn[y * hw];
    float cf;
    const float l = hybrid ? cm_focal(logpt, pt, alpha, gamma, inv_p, &cf) : -logpt;
    if (!hybrid) cf = -inv_p;
    pl[i] = l;
    if (coef) coef[i] = cf;
  }
}
struct SoftSum { /* rows: 0 loss, 1..K sum p_c, K+1..2K count_c, 2K+1..3K sum p_y [y == c] */
  const float *p, *pl;
  const uint8_t *lab;
  int32_t k;
  int64_t hw;
  CS_HD double operator()(int64_t r, int64_t i) const {
    if (r == 0) return (double)pl[i];
    const int64_t b = i / hw, q = i % hw;
    const int32_t c = (int32_t)((r - 1) % k), kind = (int32_t)((r - 1) / k), y = lab[i];
    if (kind == 0) return (double)p[(b * k + c) * hw + q];
    if (y != c) return 0.0;
    return kind == 1 ? 1.0 : (double)p[(b * k + c) * hw + q];
  }
};
void cuk_softmax_pass1(cudaStream_t s, const float *logits, const uint8_t *labels, int32_t n, int32_t k, int64_t hw,
                       int hybrid, float alpha, float gamma, float *probs, float *pix_loss, float *coef, double *part,
                       double *sums) {
  const int64_t npix = (int64_t)n * hw;
  CS_LAUNCH(k_softmax1, npix * (8.0 * k + 5 + (coef ? 4 : 0)), cs_grid(npix), CS_BLOCK, s, logits, labels, k, hw, npix, hybrid, alpha, gamma, probs, pix_loss,
            coef);
  SoftSum f = {probs, pix_loss, labels, k, hw};
  rows_sum(s, f, (hybrid ? 4.0 * k + 1 : 0) * npix + 4.0 * npix, hybrid ? 1 + 3 * k : 1, npix, part, sums);
}
__global__ void k_softmax_fin(const double *tot, int32_t k, double npix, int hybrid, double smooth, double gs,
                              double *loss, float *ga, float *gb) {
  if (GTID != 0) return;
  double l = tot[0] / npix;
  for (int32_t c = 0; c < k; c++) ga[c] = gb[c] = 0;
  if (hybrid) {
    const double *sp = tot + 1, *st = sp + k, *tp = st + k;
    double mean = 0;
    for (int32_t c = 0; c < k; c++) {
      const double den = sp[c] + st[c] + smooth, dc = (2.0 * tp[c] + smooth) / den;
      mean += dc;
      ga[c] = (float)(-2.0 * gs / ((double)k * den));
      gb[c] = (float)(dc * gs / ((double)k * den));
    }
    l += 1.0 - mean / (double)k;
  }
  *loss = l;
}
void cuk_softmax_finalize(cudaStream_t s, const double *sums, int32_t k, double npix, int hybrid, double smooth,
                          double grad_scale, double *loss, float *ga, float *gb) {
  CS_LAUNCH(k_softmax_fin, 8.0 * (2 + 3 * k) + 8.0 * k, 1, 1, s, sums, k, npix, hybrid, smooth, grad_scale, loss, ga, gb);
}
__global__ void k_softmax_grad(float *p, const uint8_t *lab, const float *coef, const float *ga, const float *gb,
                               int32_t k, int64_t hw, int64_t npix) {
  FOR_EACH(i, npix) {
    const int64_t b = i / hw, q = i % hw;
    float *pn = p + b * k * hw + q;
    const int32_t y = lab[i];
    float sg = ga[y] * pn[y * hw];
    for (int32_t c = 0; c < k; c++) sg += pn[c * hw] * gb[c];
    for (int32_t c = 0; c < k; c++) pn[c * hw] = cm_softmax_grad(pn[c * hw], y == c, coef[i], ga[c], gb[c], sg);
  }
}
void cuk_softmax_grad(cudaStream_t s, float *probs_to_dlogits, const uint8_t *labels, const float *coef,
                      const float *ga, const float *gb, int32_t n, int32_t k, int64_t hw) {
  const int64_t npix = (int64_t)n * hw;
  CS_LAUNCH(k_softmax_grad, npix * (8.0 * k + 5) + 8.0 * k, cs_grid(npix), CS_BLOCK, s, probs_to_dlogits, labels, coef, ga, gb, k, hw, npix);
}

struct HdlSum {
  const float *z, *g;
  int64_t hw;
  CS_HD double operator()(int64_t pl, int64_t i) const {
    float dh;
    const float d = cm_sigmoid(z[pl * hw + i], &dh) - g[pl * hw + i];
    return (double)d * (double)d;
  }
};
__global__ void k_hdl_fin(const double *ss, int64_t npl, int32_t n, int64_t hw, int norm, double eps, double *loss) {
  if (GTID != 0) return;
  double l = 0;
  for (int64_t p = 0; p < npl; p++) l += norm ? sqrt(ss[p] + eps) : ss[p];
  *loss = l / (norm ? (double)n : (double)npl * (double)hw);
}
__global__ void k_hdl_grad(const float *z, const float *g, const double *ss, float *dz, int32_t n, int64_t npl, int64_t hw,
                           int norm, double eps) {
  FOR_EACH(i, npl * hw) {
    const int64_t pl = i / hw;
    float dh;
    const float d = cm_sigmoid(z[i], &dh) - g[i];
    const float sc = norm ? (float)(1.0 / ((double)n * sqrt(ss[pl] + eps))) : (float)(2.0 / ((double)npl * (double)hw));
    dz[i] = (d * dh) * sc;
  }
}
void cuk_hdl_loss(cudaStream_t s, const float *logits, const float *target, int32_t n, int32_t k, int64_t hw, int norm,
                  double eps, double *part, double *ss, double *loss, float *dlogits) {
  const int64_t npl = (int64_t)n * k;
  HdlSum f = {logits, target, hw};
  rows_sum(s, f, 8.0 * npl * hw, npl, hw, part, ss);
  CS_LAUNCH(k_hdl_fin, 8.0 * (npl + 1), 1, 1, s, ss, npl, n, hw, norm, eps, loss);
  if (dlogits) CS_LAUNCH(k_hdl_grad, 12.0 * npl * hw + 8.0 * npl, cs_grid(npl * hw), CS_BLOCK, s, logits, target, ss, dlogits, n, npl, hw, norm, eps);
}

/* HDL targets (core/loss.h loss_hdl_target) from the device labels, in the
 * two separable passes of core/loss.c's loss_edt_core. Column pass: one
 * thread per (image, class, column) sweeps the rows down and up, as the CPU's
 * row loops do for all columns at once; d2 = the squared distance along the
 * column to the nearest pixel of the class, INT32_MAX where the column has
 * none. */
__global__ void k_hdl_col(const uint8_t *lab, int32_t *d2, int32_t k, int32_t h, int32_t w, int64_t ncols) {
  FOR_EACH(i, ncols) {
    const int64_t pl = i / w, hw = (int64_t)h * w;
    const int32_t x = (int32_t)(i % w), c = (int32_t)(pl % k);
    const uint8_t *m = lab + (pl / k) * hw + x;
    int32_t *o = d2 + pl * hw + x, last = -1;
    for (int32_t y = 0; y < h; y++) {
      last = m[(int64_t)y * w] == c ? y : last;
      o[(int64_t)y * w] = last >= 0 ? (y - last) * (y - last) : INT32_MAX;
    }
    last = -1;
    for (int32_t y = h - 1; y >= 0; y--) {
      last = m[(int64_t)y * w] == c ? y : last;
      const int32_t d = last - y;
      if (last >= 0 && d * d < o[(int64_t)y * w]) o[(int64_t)y * w] = d * d;
    }
  }
}
/* Row pass: one thread per pixel takes the minimum of d2[x'] + (x - x')^2
 * over the columns x' of its row, nearest first, stopping once (x - x')^2
 * reaches the best so far or passes the cutoff. That is exact wherever the
 * result is <= cutoff; beyond it the target is 0 on both sides, as in
 * loss_hdl_plane (which skips parabolas above the cutoff in its envelope),
 * so the targets are the CPU's bits: the same integers into loss_expf. */
__global__ void k_hdl_row(const int32_t *d2, float *g, int32_t w, int64_t total, int32_t cutoff, float rinv) {
  FOR_EACH(i, total) {
    const int32_t x = (int32_t)(i % w);
    const int32_t *f = d2 + (i - x);
    int64_t best = (int64_t)cutoff + 1;
    for (int32_t dx = 0; (int64_t)dx * dx < best && (x - dx >= 0 || x + dx < w); dx++) {
      const int64_t dd = (int64_t)dx * dx;
      if (x - dx >= 0 && f[x - dx] <= cutoff && f[x - dx] + dd < best) best = f[x - dx] + dd;
      if (x + dx < w && f[x + dx] <= cutoff && f[x + dx] + dd < best) best = f[x + dx] + dd;
    }
    g[i] = best <= cutoff ? loss_expf(-(float)(int32_t)best * rinv) : 0.0f;
  }
}
void cuk_hdl_target(cudaStream_t s, const uint8_t *labels, int32_t *d2, float *target, int32_t n, int32_t k, int32_t h,
                    int32_t w, int32_t cutoff, float rinv) {
  const int64_t npl = (int64_t)n * k, total = npl * h * w, ncols = npl * w;
  CS_LAUNCH(k_hdl_col, 5.0 * total, cs_grid(ncols), CS_BLOCK, s, labels, d2, k, h, w, ncols);
  CS_LAUNCH(k_hdl_row, 8.0 * total, cs_grid(total), CS_BLOCK, s, d2, target, w, total, cutoff, rinv);
}

__global__ void k_probs(const float *z, float *p, int32_t k, int64_t hw, int64_t npix, int sigmoid) {
  FOR_EACH(i, npix) {
    const int64_t b = i / hw, q = i % hw;
    const float *zn = z + b * k * hw + q;
    float *pn = p + b * k * hw + q;
    if (sigmoid) {
      for (int32_t c = 0; c < k; c++) {
        float dh;
        pn[c * hw] = cm_sigmoid(zn[c * hw], &dh);
      }
      continue;
    }
    float mx = zn[0], sum = 0;
    for (int32_t c = 1; c < k; c++) mx = zn[c * hw] > mx ? zn[c * hw] : mx;
    for (int32_t c = 0; c < k; c++) {
      const float e = expf(zn[c * hw] - mx);
      pn[c * hw] = e;
      sum += e;
    }
    const float rs = 1.0f / sum;
    for (int32_t c = 0; c < k; c++) pn[c * hw] *= rs;
  }
}
void cuk_probs(cudaStream_t s, const float *logits, float *probs, int32_t n, int32_t k, int64_t hw, int sigmoid) {
  const int64_t npix = (int64_t)n * hw;
  CS_LAUNCH(k_probs, 8.0 * k * npix, cs_grid(npix), CS_BLOCK, s, logits, probs, k, hw, npix, sigmoid);
}

/* ------------------------------------------------------ optimizer, misc -- */
__global__ void k_adam(float *p, const float *g, float *m, float *v, int64_t n, float step, float rs,
                       float b1, float b2, float eps, float wd) {
  FOR_EACH(i, n) {
    cm_adam(&p[i], g[i], &m[i], &v[i], step, rs, b1, b2, eps, wd);
  }
}
void cuk_adam(cudaStream_t s, float *p, const float *g, float *m, float *v, size_t n, float step, float rs,
              float b1, float b2, float eps, float wd) {
  CS_LAUNCH(k_adam, 28.0 * n, cs_grid(n), CS_BLOCK, s, p, g, m, v, (int64_t)n, step, rs, b1, b2, eps, wd);
}
struct SqSum {
  const float *x;
  CS_HD double operator()(int64_t r, int64_t i) const {
    (void)r;
    return (double)x[i] * x[i];
  }
};
void cuk_sumsq(cudaStream_t s, const float *x, size_t n, double *part, double *out) {
  SqSum f = {x};
  rows_sum(s, f, 4.0 * n, 1, (int64_t)n, part, out);
}
/* ================================================= bf16 NHWC activations ==
 * precision = bf16 (core/backend.h, BACKEND_ACT_BF16_NHWC): element
 * (n, c, y, x) of a buffer of ct channels at ((n*H + y)*W + x)*ct + c. One
 * thread per element with the channel fastest, so neighbouring threads touch
 * neighbouring channels of one pixel. Arithmetic in fp32 from the widened
 * values, one rounding to bf16 on each write. Per-channel sums are column
 * reductions (cols_sum2): no atomics, a fixed order, so deterministic. */
typedef uint16_t bf16_t;
CS_HD static inline float ld16(const bf16_t *p, int64_t i) { return cm_bf16_to_f32(p[i]); }

/* Two sums per channel of an NHWC tensor of c channels and npix pixels
 * (f(ch, j, &a, &b) adds pixel j's contribution): pass 1, thread (chunk q,
 * channel ch), channel fastest so that neighbouring threads read
 * neighbouring channels of one pixel, sums the pixels of chunk q (a
 * contiguous run, cuk_parts(npix) chunks) in order into part [2][parts][c];
 * pass 2, one thread per channel adds its chunks in order (neighbouring
 * threads read neighbouring partials), writes out [2][c] and runs epi. */
template <typename F>
__global__ void k_cols_part2(F f, int64_t c, int64_t npix, int64_t parts, double *part) {
  FOR_EACH(t, c * parts) {
    const int64_t ch = t % c, q = t / c, j1 = (q + 1) * npix / parts;
    double a = 0, b = 0;
    for (int64_t j = q * npix / parts; j < j1; j++) f(ch, j, &a, &b);
    part[t] = a, part[c * parts + t] = b;
  }
}
template <typename E>
__global__ void k_cols_total2(const double *part, int64_t c, int64_t parts, double *out, E epi) {
  FOR_EACH(ch, c) {
    double a = 0, b = 0;
    for (int64_t q = 0; q < parts; q++) a += part[q * c + ch], b += part[(parts + q) * c + ch];
    out[ch] = a, out[c + ch] = b;
    epi(ch, a, b);
  }
}
template <typename F, typename E>
static void cols_sum2(cudaStream_t s, F f, E epi, double bytes, int64_t c, int64_t npix, double *part, double *out) {
  const int64_t parts = cuk_parts(npix);
  CS_LAUNCH(k_cols_part2<F>, bytes + 16.0 * c * parts, cs_grid((size_t)(c * parts)), CS_BLOCK, s, f, c, npix, parts, part);
  CS_LAUNCH(k_cols_total2<E>, 16.0 * c * (parts + 1), cs_grid((size_t)c), CS_BLOCK, s, part, c, parts, out, epi);
}

__global__ void k_h_add(bf16_t *y, const bf16_t *x, int64_t n) {
  FOR_EACH(i, n) y[i] = cm_f32_to_bf16(ld16(y, i) + ld16(x, i));
}
void cuk_h_add(cudaStream_t s, uint16_t *y, const uint16_t *x, size_t n) {
  CS_LAUNCH(k_h_add, 6.0 * n, cs_grid(n), CS_BLOCK, s, y, x, (int64_t)n);
}

__global__ void k_h_bias_relu(bf16_t *y, const float *b, int32_t c, int64_t total, int relu) {
  FOR_EACH(i, total) {
    const float v = ld16(y, i) + (b ? b[i % c] : 0.0f);
    y[i] = cm_f32_to_bf16(relu && !(v > 0) ? 0.0f : v);
  }
}
void cuk_h_bias_relu(cudaStream_t s, uint16_t *y, const float *b, int32_t n, int32_t c, int64_t hw, int relu) {
  const int64_t total = (int64_t)n * c * hw;
  CS_LAUNCH(k_h_bias_relu, 4.0 * total + (b ? 4.0 * c : 0), cs_grid(total), CS_BLOCK, s, y, b, c, total, relu);
}

/* the plane reader of channel ch of image img of a buffer of ct channels and hw pixels */
CS_HD static inline CmNhwc16 plane16(const bf16_t *p, int64_t img, int64_t hw, int64_t ct, int64_t ch) {
  return CmNhwc16{p + img * hw * ct + ch, ct};
}

__global__ void k_h_maxpool2_f(const bf16_t *x, bf16_t *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int32_t ho = h / 2, wo = w / 2;
  FOR_EACH(i, (int64_t)n * ho * wo * c) {
    const int64_t ch = i % c, o = i / c % ((int64_t)ho * wo), img = i / c / ((int64_t)ho * wo);
    y[i] = cm_f32_to_bf16(cm_maxpool2(plane16(x, img, (int64_t)h * w, c, ch), w, (int32_t)(o / wo), (int32_t)(o % wo)));
  }
}
void cuk_h_maxpool2_forward(cudaStream_t s, const uint16_t *x, uint16_t *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int64_t out = (int64_t)n * c * (h / 2) * (w / 2);
  CS_LAUNCH(k_h_maxpool2_f, 2.0 * n * c * h * w + 2.0 * out, cs_grid(out), CS_BLOCK, s, x, y, n, c, h, w);
}
__global__ void k_h_maxpool2_b(const bf16_t *x, const bf16_t *y, const bf16_t *dy, bf16_t *dx, int32_t n, int32_t c,
                               int32_t h, int32_t w) {
  const int64_t hw = (int64_t)h * w, ohw = (int64_t)(h / 2) * (w / 2);
  FOR_EACH(i, (int64_t)n * hw * c) {
    const int64_t ch = i % c, q = i / c % hw, img = i / c / hw;
    dx[i] = cm_f32_to_bf16(cm_maxpool2_grad(plane16(x, img, hw, c, ch), plane16(y, img, ohw, c, ch),
                                            plane16(dy, img, ohw, c, ch), h, w, (int32_t)(q / w), (int32_t)(q % w)));
  }
}
void cuk_h_maxpool2_backward(cudaStream_t s, const uint16_t *x, const uint16_t *y, const uint16_t *dy, uint16_t *dx,
                             int32_t n, int32_t c, int32_t h, int32_t w) {
  const int64_t in = (int64_t)n * c * h * w;
  CS_LAUNCH(k_h_maxpool2_b, 4.0 * in + 4.0 * n * c * (h / 2) * (w / 2), cs_grid(in), CS_BLOCK, s, x, y, dy, dx, n, c, h, w);
}
__global__ void k_h_maxpool3_f(const bf16_t *x, bf16_t *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int32_t ho = cm_pool3s2_out(h), wo = cm_pool3s2_out(w);
  FOR_EACH(i, (int64_t)n * ho * wo * c) {
    const int64_t ch = i % c, o = i / c % ((int64_t)ho * wo), img = i / c / ((int64_t)ho * wo);
    y[i] = cm_f32_to_bf16(cm_maxpool3s2(plane16(x, img, (int64_t)h * w, c, ch), h, w, (int32_t)(o / wo), (int32_t)(o % wo)));
  }
}
void cuk_h_maxpool3s2_forward(cudaStream_t s, const uint16_t *x, uint16_t *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int64_t out = (int64_t)n * c * cm_pool3s2_out(h) * cm_pool3s2_out(w);
  CS_LAUNCH(k_h_maxpool3_f, 2.0 * n * c * h * w + 2.0 * out, cs_grid(out), CS_BLOCK, s, x, y, n, c, h, w);
}
__global__ void k_h_maxpool3_b(const bf16_t *x, const bf16_t *y, const bf16_t *dy, bf16_t *dx, int32_t n, int32_t c,
                               int32_t h, int32_t w) {
  const int64_t hw = (int64_t)h * w, ohw = (int64_t)cm_pool3s2_out(h) * cm_pool3s2_out(w);
  FOR_EACH(i, (int64_t)n * hw * c) {
    const int64_t ch = i % c, q = i / c % hw, img = i / c / hw;
    dx[i] = cm_f32_to_bf16(cm_maxpool3s2_grad(plane16(x, img, hw, c, ch), plane16(y, img, ohw, c, ch),
                                              plane16(dy, img, ohw, c, ch), h, w, (int32_t)(q / w), (int32_t)(q % w)));
  }
}
void cuk_h_maxpool3s2_backward(cudaStream_t s, const uint16_t *x, const uint16_t *y, const uint16_t *dy, uint16_t *dx,
                               int32_t n, int32_t c, int32_t h, int32_t w) {
  const int64_t in = (int64_t)n * c * h * w;
  CS_LAUNCH(k_h_maxpool3_b, 4.0 * in + 4.0 * n * c * cm_pool3s2_out(h) * cm_pool3s2_out(w), cs_grid(in), CS_BLOCK, s, x, y,
            dy, dx, n, c, h, w);
}

/* views: x channels [xc0, xc0 + c) of xct, y channels [yc0, yc0 + c) of yct */
__global__ void k_h_up_f(const bf16_t *x, int32_t xct, bf16_t *y, int32_t yct, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int64_t ohw = (int64_t)4 * h * w, hw = (int64_t)h * w;
  FOR_EACH(i, (int64_t)n * ohw * c) {
    const int64_t ch = i % c, o = i / c % ohw, img = i / c / ohw;
    y[(img * ohw + o) * yct + ch] =
        cm_f32_to_bf16(cm_upsample2(plane16(x, img, hw, xct, ch), h, w, (int32_t)(o / (2 * w)), (int32_t)(o % (2 * w))));
  }
}
void cuk_h_upsample2_forward(cudaStream_t s, const uint16_t *x, int32_t xct, uint16_t *y, int32_t yct, int32_t n,
                             int32_t c, int32_t h, int32_t w) {
  CS_LAUNCH(k_h_up_f, 10.0 * n * c * h * w, cs_grid((size_t)n * c * 4 * h * w), CS_BLOCK, s, x, xct, y, yct, n, c, h, w);
}
__global__ void k_h_up_b(const bf16_t *dy, int32_t yct, bf16_t *dx, int32_t xct, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int64_t ohw = (int64_t)4 * h * w, hw = (int64_t)h * w;
  FOR_EACH(i, (int64_t)n * hw * c) {
    const int64_t ch = i % c, q = i / c % hw, img = i / c / hw;
    dx[(img * hw + q) * xct + ch] =
        cm_f32_to_bf16(cm_upsample2_grad(plane16(dy, img, ohw, yct, ch), h, w, (int32_t)(q / w), (int32_t)(q % w)));
  }
}
void cuk_h_upsample2_backward(cudaStream_t s, const uint16_t *dy, int32_t yct, uint16_t *dx, int32_t xct, int32_t n,
                              int32_t c, int32_t h, int32_t w) {
  CS_LAUNCH(k_h_up_b, 10.0 * n * c * h * w, cs_grid((size_t)n * c * h * w), CS_BLOCK, s, dy, yct, dx, xct, n, c, h, w);
}
__global__ void k_h_copy_ch(const bf16_t *src, int32_t sct, bf16_t *dst, int32_t dct, int32_t c, int64_t npix, int acc) {
  FOR_EACH(i, npix * c) {
    const int64_t ch = i % c, px = i / c, at = px * dct + ch;
    const float v = ld16(src, px * sct + ch);
    dst[at] = acc ? cm_f32_to_bf16(ld16(dst, at) + v) : src[px * sct + ch];
  }
}
void cuk_h_copy_channels(cudaStream_t s, const uint16_t *src, int32_t sct, uint16_t *dst, int32_t dct, int32_t n,
                         int32_t c, int64_t hw, int acc) {
  const int64_t total = (int64_t)n * c * hw;
  CS_LAUNCH(k_h_copy_ch, (acc ? 6.0 : 4.0) * total, cs_grid(total), CS_BLOCK, s, src, sct, dst, dct, c, (int64_t)n * hw, acc);
}

/* network input / output gradient in (NCHW fp32 -> NHWC bf16), logits out (NHWC bf16 -> NCHW fp32, bias, ReLU) */
__global__ void k_nchw_to_h(const float *x, bf16_t *y, int32_t c, int64_t hw, int64_t total) {
  FOR_EACH(i, total) {
    const int64_t ch = i % c, q = i / c % hw, img = i / c / hw;
    y[i] = cm_f32_to_bf16(x[(img * c + ch) * hw + q]);
  }
}
void cuk_nchw_to_h(cudaStream_t s, const float *x, uint16_t *y, int32_t n, int32_t c, int64_t hw) {
  const int64_t total = (int64_t)n * c * hw;
  CS_LAUNCH(k_nchw_to_h, 6.0 * total, cs_grid(total), CS_BLOCK, s, x, y, c, hw, total);
}
__global__ void k_h_to_nchw(const bf16_t *x, float *y, const float *b, int32_t c, int64_t hw, int64_t total, int relu) {
  FOR_EACH(i, total) {
    const int64_t q = i % hw, ch = i / hw % c, img = i / hw / c;
    const float v = ld16(x, (img * hw + q) * c + ch) + (b ? b[ch] : 0.0f);
    y[i] = relu && !(v > 0) ? 0.0f : v;
  }
}
void cuk_h_to_nchw_bias_relu(cudaStream_t s, const uint16_t *x, float *y, const float *b, int32_t n, int32_t c, int64_t hw,
                             int relu) {
  const int64_t total = (int64_t)n * c * hw;
  CS_LAUNCH(k_h_to_nchw, 6.0 * total + (b ? 4.0 * c : 0), cs_grid(total), CS_BLOCK, s, x, y, b, c, hw, total, relu);
}
/* weights: fp32 KCRS (PyTorch's order, the master) <-> bf16 KRSC (NHWC convolutions' filters) */
__global__ void k_w_to_krsc(const float *w, bf16_t *w16, int32_t c, int32_t rs, int64_t total) {
  FOR_EACH(i, total) { /* i in KRSC */
    const int64_t ci = i % c, r = i / c % rs, k = i / c / rs;
    w16[i] = cm_f32_to_bf16(w[(k * c + ci) * rs + r]);
  }
}
void cuk_w_to_krsc(cudaStream_t s, const float *w, uint16_t *w16, int32_t k, int32_t c, int32_t rs) {
  const int64_t total = (int64_t)k * c * rs;
  CS_LAUNCH(k_w_to_krsc, 6.0 * total, cs_grid(total), CS_BLOCK, s, w, w16, c, rs, total);
}
__global__ void k_w_from_krsc(const bf16_t *w16, float *w, int32_t c, int32_t rs, int64_t total) {
  FOR_EACH(i, total) { /* i in KCRS */
    const int64_t r = i % rs, ci = i / rs % c, k = i / rs / c;
    w[i] = ld16(w16, (k * rs + r) * c + ci);
  }
}
void cuk_w_from_krsc(cudaStream_t s, const uint16_t *w16, float *w, int32_t k, int32_t c, int32_t rs) {
  const int64_t total = (int64_t)k * c * rs;
  CS_LAUNCH(k_w_from_krsc, 6.0 * total, cs_grid(total), CS_BLOCK, s, w16, w, c, rs, total);
}

/* the output gradient of a convolution: masked by y > 0 in place (relu), the bias gradient (db) */
CS_HD static inline float relu_grad16(const bf16_t *y, bf16_t *dy, int relu, int64_t at) {
  float g = ld16(dy, at);
  if (relu && !(ld16(y, at) > 0)) g = 0.0f, dy[at] = cm_f32_to_bf16(0.0f);
  return g;
}
struct ChanDy16 {
  const bf16_t *y;
  bf16_t *dy;
  int relu;
  int32_t c;
  CS_HD void operator()(int64_t ch, int64_t j, double *a, double *b) const {
    *a += (double)relu_grad16(y, dy, relu, j * c + ch);
    (void)b;
  }
};
__global__ void k_h_relu_mask(const bf16_t *y, bf16_t *dy, int64_t n) {
  FOR_EACH(i, n) relu_grad16(y, dy, 1, i);
}
void cuk_h_conv_dy(cudaStream_t s, const uint16_t *y, uint16_t *dy, float *db, int relu, int32_t n, int32_t c, int64_t hw,
                   double *part, double *stats) {
  const int64_t total = (int64_t)n * c * hw;
  if (db) {
    ChanDy16 f = {y, dy, relu, c};
    ToFloatEpi e = {db};
    cols_sum2(s, f, e, (2.0 + (relu ? 4 : 0)) * total, c, (int64_t)n * hw, part, stats);
  } else if (relu) {
    CS_LAUNCH(k_h_relu_mask, 6.0 * total, cs_grid(total), CS_BLOCK, s, y, dy, total);
  }
}

/* BatchNorm on bf16 NHWC (statistics and parameters fp32, sums in double) */
struct BnMoments16 {
  const bf16_t *x;
  int32_t c;
  CS_HD void operator()(int64_t ch, int64_t j, double *a, double *b) const {
    const double v = ld16(x, j * c + ch);
    *a += v, *b += v * v;
  }
};
void cuk_h_bn_moments(cudaStream_t s, const uint16_t *x, int32_t n, int32_t c, int64_t hw, double *part, double *stats,
                      const CukBnFinalize *fin) {
  BnMoments16 f = {x, c};
  if (fin) {
    BnFinalizeEpi e = {fin->m, fin->momentum, fin->eps, fin->save_mean, fin->save_istd, fin->run_mean, fin->run_var};
    cols_sum2(s, f, e, 2.0 * n * c * hw, c, (int64_t)n * hw, part, stats);
  } else {
    cols_sum2(s, f, NoEpi{}, 2.0 * n * c * hw, c, (int64_t)n * hw, part, stats);
  }
}
__global__ void k_h_bn_apply(const bf16_t *x, bf16_t *y, const bf16_t *res, const float *gamma, const float *beta,
                             const float *mean, const float *istd, int32_t c, int64_t total, int relu) {
  FOR_EACH(i, total) {
    const int32_t ch = (int32_t)(i % c);
    const float sc = gamma[ch] * istd[ch], sh = beta[ch] - mean[ch] * sc;
    y[i] = cm_f32_to_bf16(cm_bn_apply(ld16(x, i), sc, sh, res ? ld16(res, i) : 0.0f, relu));
  }
}
void cuk_h_bn_apply(cudaStream_t s, const uint16_t *x, uint16_t *y, const uint16_t *res, const float *gamma,
                    const float *beta, const float *save_mean, const float *save_istd, int32_t n, int32_t c, int64_t hw,
                    int relu) {
  const int64_t total = (int64_t)n * c * hw;
  CS_LAUNCH(k_h_bn_apply, (4.0 + (res ? 2 : 0)) * total + 16.0 * c, cs_grid(total), CS_BLOCK, s, x, y, res, gamma, beta,
            save_mean, save_istd, c, total, relu);
}
struct BnGradSums16 {
  const bf16_t *x, *y;
  const float *mean;
  bf16_t *dy;
  int relu;
  int32_t c;
  CS_HD void operator()(int64_t ch, int64_t j, double *a, double *b) const {
    const int64_t at = j * c + ch;
    const float g = relu_grad16(y, dy, relu, at);
    *a += (double)g, *b += (double)g * (double)(ld16(x, at) - mean[ch]);
  }
};
void cuk_h_bn_grad_sums(cudaStream_t s, const uint16_t *x, const uint16_t *y, uint16_t *dy, const float *save_mean,
                        const float *save_istd, float *dgamma, float *dbeta, int relu, int32_t n, int32_t c, int64_t hw,
                        double *part, double *stats) {
  BnGradSums16 f = {x, y, save_mean, dy, relu, c};
  BnPgradEpi e = {stats, save_istd, dgamma, dbeta, c};
  cols_sum2(s, f, e, (4.0 + (relu ? 4 : 0)) * n * c * hw, c, (int64_t)n * hw, part, stats);
}
__global__ void k_h_bn_dx(const bf16_t *x, const bf16_t *dy, bf16_t *dx, const float *gamma, const float *mean,
                          const float *istd, const double *st, double m, int32_t c, int64_t total) {
  FOR_EACH(i, total) {
    const int32_t ch = (int32_t)(i % c);
    const float k1 = gamma[ch] * istd[ch], k2 = (float)(st[ch] / m), k3 = (float)(st[c + ch] / m);
    dx[i] = cm_f32_to_bf16(cm_bn_dx(ld16(x, i), ld16(dy, i), mean[ch], istd[ch], k1, k2, k3));
  }
}
void cuk_h_bn_dx(cudaStream_t s, const uint16_t *x, const uint16_t *dy, uint16_t *dx, const float *gamma,
                 const float *save_mean, const float *save_istd, const double *stats, double m, int32_t n, int32_t c,
                 int64_t hw) {
  const int64_t total = (int64_t)n * c * hw;
  CS_LAUNCH(k_h_bn_dx, 6.0 * total + 28.0 * c, cs_grid(total), CS_BLOCK, s, x, dy, dx, gamma, save_mean, save_istd, stats, m,
            c, total);
}
