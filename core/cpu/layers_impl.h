/* core/layers_impl.h: the bodies of the layers declared in core/layers.h,
 * written once over REAL and instantiated twice by core/layers.c (float and
 * double, function-name suffix SFX). Blocked layout: see layers.h.
 * Parallel loops are over independent (image, channel-block) planes or
 * channel blocks with fixed static schedules, so results are deterministic
 * for a given thread count and do not depend on it for these layers. */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SFX)

void FN(layer_relu_forward)(REAL *x, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

void FN(layer_relu_backward)(const REAL *y, REAL *dy, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; i++) dy[i] = y[i] > 0 ? dy[i] : 0;
}

void FN(layer_add)(REAL *y, const REAL *x, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; i++) y[i] += x[i];
}

void FN(layer_maxpool2_forward)(const REAL *x, REAL *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int32_t ho = h / 2, wo = w / 2, planes = n * (c / 16);
#pragma omp parallel for schedule(static)
  for (int32_t p = 0; p < planes; p++) {
    const REAL *xp = x + (size_t)p * h * w * 16;
    REAL *yp = y + (size_t)p * ho * wo * 16;
    for (int32_t oy = 0; oy < ho; oy++)
      for (int32_t ox = 0; ox < wo; ox++) {
        const REAL *a = xp + ((size_t)(2 * oy) * w + 2 * ox) * 16, *b = a + 16, *cc = a + (size_t)w * 16, *d = cc + 16;
        REAL *o = yp + ((size_t)oy * wo + ox) * 16;
        for (int l = 0; l < 16; l++) {
          REAL m = a[l];
          if (b[l] > m) m = b[l];
          if (cc[l] > m) m = cc[l];
          if (d[l] > m) m = d[l];
          o[l] = m;
        }
      }
  }
}

void FN(layer_maxpool2_backward)(const REAL *x, const REAL *y, const REAL *dy, REAL *dx, int32_t n, int32_t c, int32_t h,
                                 int32_t w) {
  const int32_t ho = h / 2, wo = w / 2, planes = n * (c / 16);
#pragma omp parallel for schedule(static)
  for (int32_t p = 0; p < planes; p++) {
    const REAL *xp = x + (size_t)p * h * w * 16;
    REAL *dxp = dx + (size_t)p * h * w * 16;
    const REAL *yp = y + (size_t)p * ho * wo * 16, *dyp = dy + (size_t)p * ho * wo * 16;
    if (h % 2 || w % 2) memset(dxp, 0, sizeof(REAL) * (size_t)h * w * 16); /* odd edge rows/cols get 0 */
    for (int32_t oy = 0; oy < ho; oy++)
      for (int32_t ox = 0; ox < wo; ox++) {
        size_t i00 = ((size_t)(2 * oy) * w + 2 * ox) * 16, i01 = i00 + 16, i10 = i00 + (size_t)w * 16, i11 = i10 + 16;
        const REAL *m = yp + ((size_t)oy * wo + ox) * 16, *g = dyp + ((size_t)oy * wo + ox) * 16;
        for (int l = 0; l < 16; l++) {
          int which = xp[i00 + l] == m[l] ? 0 : xp[i01 + l] == m[l] ? 1 : xp[i10 + l] == m[l] ? 2 : 3;
          dxp[i00 + l] = which == 0 ? g[l] : 0;
          dxp[i01 + l] = which == 1 ? g[l] : 0;
          dxp[i10 + l] = which == 2 ? g[l] : 0;
          dxp[i11 + l] = which == 3 ? g[l] : 0;
        }
      }
  }
}

void FN(layer_maxpool3s2_forward)(const REAL *x, REAL *y, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int32_t ho = layer_pool3s2_out(h), wo = layer_pool3s2_out(w), planes = n * (c / 16);
#pragma omp parallel for schedule(static)
  for (int32_t p = 0; p < planes; p++) {
    const REAL *xp = x + (size_t)p * h * w * 16;
    REAL *yp = y + (size_t)p * ho * wo * 16;
    for (int32_t oy = 0; oy < ho; oy++)
      for (int32_t ox = 0; ox < wo; ox++) {
        REAL m[16];
        for (int l = 0; l < 16; l++) m[l] = xp[((size_t)(2 * oy) * w + 2 * ox) * 16 + l];
        for (int32_t iy = 2 * oy; iy < 2 * oy + 3 && iy < h; iy++)
          for (int32_t ix = 2 * ox; ix < 2 * ox + 3 && ix < w; ix++) {
            const REAL *v = xp + ((size_t)iy * w + ix) * 16;
            for (int l = 0; l < 16; l++) m[l] = v[l] > m[l] ? v[l] : m[l];
          }
        for (int l = 0; l < 16; l++) yp[((size_t)oy * wo + ox) * 16 + l] = m[l];
      }
  }
}

void FN(layer_maxpool3s2_backward)(const REAL *x, const REAL *y, const REAL *dy, REAL *dx, int32_t n, int32_t c,
                                   int32_t h, int32_t w) {
  const int32_t ho = layer_pool3s2_out(h), wo = layer_pool3s2_out(w), planes = n * (c / 16);
#pragma omp parallel for schedule(static)
  for (int32_t p = 0; p < planes; p++) {
    const REAL *xp = x + (size_t)p * h * w * 16;
    REAL *dxp = dx + (size_t)p * h * w * 16;
    const REAL *yp = y + (size_t)p * ho * wo * 16, *dyp = dy + (size_t)p * ho * wo * 16;
    memset(dxp, 0, sizeof(REAL) * (size_t)h * w * 16);
    for (int32_t oy = 0; oy < ho; oy++)
      for (int32_t ox = 0; ox < wo; ox++) {
        const REAL *m = yp + ((size_t)oy * wo + ox) * 16, *g = dyp + ((size_t)oy * wo + ox) * 16;
        for (int l = 0; l < 16; l++) {
          int done = 0; /* first maximum in row-major window order gets the gradient (as PyTorch) */
          for (int32_t iy = 2 * oy; iy < 2 * oy + 3 && iy < h && !done; iy++)
            for (int32_t ix = 2 * ox; ix < 2 * ox + 3 && ix < w; ix++) {
              size_t i = ((size_t)iy * w + ix) * 16 + l;
              if (xp[i] == m[l]) {
                dxp[i] += g[l];
                done = 1;
                break;
              }
            }
        }
      }
  }
}

/* align_corners=True: source coordinate of output o is o*(in-1)/(out-1). */
static inline void FN(up_coord)(int32_t o, int32_t in, int32_t out, int32_t *i0, int32_t *i1, REAL *t) {
  if (in == 1) {
    *i0 = *i1 = 0;
    *t = 0;
    return;
  }
  double s = (double)o * (double)(in - 1) / (double)(out - 1);
  int32_t f = (int32_t)s;
  if (f > in - 1) f = in - 1;
  *i0 = f;
  *i1 = f + 1 < in ? f + 1 : in - 1;
  *t = (REAL)(s - f);
}

/* The 4 source taps (offsets into a [h][w][16] plane) and bilinear weights of
 * output pixel (oy, ox): forward gathers with them, backward scatters. */
static inline void FN(up_taps)(int32_t oy, int32_t ox, int32_t h, int32_t w, size_t off[4], REAL wt[4]) {
  int32_t y0, y1, x0, x1;
  REAL ty, tx;
  FN(up_coord)(oy, h, 2 * h, &y0, &y1, &ty);
  FN(up_coord)(ox, w, 2 * w, &x0, &x1, &tx);
  off[0] = ((size_t)y0 * w + x0) * 16, off[1] = ((size_t)y0 * w + x1) * 16;
  off[2] = ((size_t)y1 * w + x0) * 16, off[3] = ((size_t)y1 * w + x1) * 16;
  wt[0] = (1 - ty) * (1 - tx), wt[1] = (1 - ty) * tx, wt[2] = ty * (1 - tx), wt[3] = ty * tx;
}

void FN(layer_upsample2_forward)(const REAL *x, int64_t xs, REAL *y, int64_t ys, int32_t n, int32_t c, int32_t h,
                                 int32_t w) {
  const int32_t ho = 2 * h, wo = 2 * w, cb = c / 16, planes = n * cb;
#pragma omp parallel for schedule(static)
  for (int32_t p = 0; p < planes; p++) {
    const REAL *xp = x + (size_t)(p / cb) * xs + (size_t)(p % cb) * h * w * 16;
    REAL *yp = y + (size_t)(p / cb) * ys + (size_t)(p % cb) * ho * wo * 16;
    for (int32_t oy = 0; oy < ho; oy++)
      for (int32_t ox = 0; ox < wo; ox++) {
        size_t off[4];
        REAL wt[4];
        FN(up_taps)(oy, ox, h, w, off, wt);
        REAL *o = yp + ((size_t)oy * wo + ox) * 16;
        for (int l = 0; l < 16; l++)
          o[l] = wt[0] * xp[off[0] + l] + wt[1] * xp[off[1] + l] + wt[2] * xp[off[2] + l] + wt[3] * xp[off[3] + l];
      }
  }
}

void FN(layer_upsample2_backward)(const REAL *dy, int64_t ys, REAL *dx, int64_t xs, int32_t n, int32_t c, int32_t h,
                                  int32_t w) {
  const int32_t ho = 2 * h, wo = 2 * w, cb = c / 16, planes = n * cb;
#pragma omp parallel for schedule(static)
  for (int32_t p = 0; p < planes; p++) {
    const REAL *dyp = dy + (size_t)(p / cb) * ys + (size_t)(p % cb) * ho * wo * 16;
    REAL *dxp = dx + (size_t)(p / cb) * xs + (size_t)(p % cb) * h * w * 16;
    memset(dxp, 0, sizeof(REAL) * (size_t)h * w * 16);
    for (int32_t oy = 0; oy < ho; oy++)
      for (int32_t ox = 0; ox < wo; ox++) {
        size_t off[4];
        REAL wt[4];
        FN(up_taps)(oy, ox, h, w, off, wt);
        const REAL *g = dyp + ((size_t)oy * wo + ox) * 16;
        for (int t = 0; t < 4; t++)
          for (int l = 0; l < 16; l++) dxp[off[t] + l] += wt[t] * g[l];
      }
  }
}

void FN(layer_copy_blocks)(const REAL *src, int64_t ss, REAL *dst, int64_t ds, int32_t n, int32_t c, int32_t h,
                           int32_t w, int acc) {
  const size_t per = (size_t)c * h * w;
  for (int32_t i = 0; i < n; i++) {
    const REAL *s = src + (size_t)i * ss;
    REAL *d = dst + (size_t)i * ds;
    if (acc) {
#pragma omp parallel for schedule(static)
      for (size_t j = 0; j < per; j++) d[j] += s[j];
    } else {
#pragma omp parallel for schedule(static)
      for (size_t j = 0; j < per; j++) d[j] = s[j];
    }
  }
}

void FN(layer_bn_forward)(const REAL *x, REAL *y, const REAL *res, const REAL *gamma, const REAL *beta, REAL *run_mean,
                          REAL *run_var, REAL *save_mean, REAL *save_istd, int32_t n, int32_t c, int32_t h, int32_t w,
                          int train, int relu, double momentum, double eps, const BackendSync *sync) {
  const int32_t cb = c / 16;
  const size_t hw = (size_t)h * w, img = (size_t)c * hw;
  if (train) {
    /* synchronized BN (sync != NULL): the per-channel sums are
     * summed over the ranks between the passes; without it, local batch */
    const double m = (double)n * (double)hw * (sync ? sync->world : 1);
    double *st = (double *)callocCheck(2 * (size_t)c, sizeof(double)); /* [2][C]: sum, centred sum of squares */
#pragma omp parallel for schedule(static)
    for (int32_t b = 0; b < cb; b++) {
      double s[16] = {0};
      for (int32_t i = 0; i < n; i++) {
        const REAL *xp = x + i * img + (size_t)b * hw * 16;
        for (size_t j = 0; j < hw; j++)
          for (int l = 0; l < 16; l++) s[l] += xp[j * 16 + l];
      }
      for (int l = 0; l < 16; l++) st[b * 16 + l] = s[l];
    }
    if (sync) sync->sum_f64(sync->ctx, st, c);
#pragma omp parallel for schedule(static)
    for (int32_t b = 0; b < cb; b++) {
      double q[16] = {0}, mean[16];
      for (int l = 0; l < 16; l++) mean[l] = st[b * 16 + l] / m;
      for (int32_t i = 0; i < n; i++) { /* second pass: centred sum of squares (no cancellation) */
        const REAL *xp = x + i * img + (size_t)b * hw * 16;
        for (size_t j = 0; j < hw; j++)
          for (int l = 0; l < 16; l++) {
            double d = xp[j * 16 + l] - mean[l];
            q[l] += d * d;
          }
      }
      for (int l = 0; l < 16; l++) st[c + b * 16 + l] = q[l];
    }
    if (sync) sync->sum_f64(sync->ctx, st + c, c);
    for (int32_t ch = 0; ch < c; ch++) {
      double mean = st[ch] / m, var = st[c + ch] / m;
      save_mean[ch] = (REAL)mean;
      save_istd[ch] = (REAL)(1.0 / sqrt(var + eps));
      run_mean[ch] = (REAL)((1 - momentum) * run_mean[ch] + momentum * mean);
      run_var[ch] = (REAL)((1 - momentum) * run_var[ch] + momentum * (m > 1 ? var * m / (m - 1) : var));
    }
    free(st);
  } else {
    for (int32_t ch = 0; ch < c; ch++) {
      save_mean[ch] = run_mean[ch];
      save_istd[ch] = (REAL)(1.0 / sqrt((double)run_var[ch] + eps));
    }
  }
  const int32_t planes = n * cb;
#pragma omp parallel for schedule(static)
  for (int32_t p = 0; p < planes; p++) {
    const int32_t b = p % cb;
    REAL sc[16], sh[16];
    for (int l = 0; l < 16; l++) {
      int32_t ch = b * 16 + l;
      sc[l] = gamma[ch] * save_istd[ch];
      sh[l] = beta[ch] - save_mean[ch] * sc[l];
    }
    const size_t off = (size_t)p * hw * 16;
    const REAL *xp = x + off, *rp = res ? res + off : NULL;
    REAL *yp = y + off;
    for (size_t j = 0; j < hw; j++)
      for (int l = 0; l < 16; l++) {
        REAL v = xp[j * 16 + l] * sc[l] + sh[l];
        if (rp) v += rp[j * 16 + l];
        if (relu) v = v > 0 ? v : 0;
        yp[j * 16 + l] = v;
      }
  }
}

void FN(layer_bn_backward)(const REAL *x, const REAL *y, REAL *dy, REAL *dx, const REAL *gamma, REAL *dgamma,
                           REAL *dbeta, const REAL *save_mean, const REAL *save_istd, int32_t n, int32_t c, int32_t h,
                           int32_t w, int relu, const BackendSync *sync) {
  const int32_t cb = c / 16;
  const size_t hw = (size_t)h * w, img = (size_t)c * hw;
  const double m = (double)n * (double)hw * (sync ? sync->world : 1);
  double *st = (double *)mallocCheck(2 * (size_t)c * sizeof(double)); /* [2][C]: sum dy, sum dy*xhat */
#pragma omp parallel for schedule(static)
  for (int32_t b = 0; b < cb; b++) {
    double sg[16] = {0}, sgx[16] = {0};
    REAL mu[16], is[16];
    for (int l = 0; l < 16; l++) {
      mu[l] = save_mean[b * 16 + l];
      is[l] = save_istd[b * 16 + l];
    }
    for (int32_t i = 0; i < n; i++) {
      const size_t off = i * img + (size_t)b * hw * 16;
      const REAL *xp = x + off, *yp = y + off;
      REAL *g = dy + off;
      /* branch-free (a conditional store kept this loop scalar: 4x slower);
       * sums in double: dy has both signs and the split-independence test
       * of ResNet's sync BN measured float partial sums 20x worse */
      if (relu)
        for (size_t j = 0; j < hw * 16; j++) g[j] = yp[j] > 0 ? g[j] : (REAL)0;
      for (size_t j = 0; j < hw; j++)
        for (int l = 0; l < 16; l++) {
          const double gv = g[j * 16 + l];
          sg[l] += gv;
          sgx[l] += gv * (double)(xp[j * 16 + l] - mu[l]);
        }
    }
    for (int l = 0; l < 16; l++) {
      int32_t ch = b * 16 + l;
      sgx[l] *= is[l];
      dgamma[ch] = (REAL)sgx[l]; /* this rank's part: the trainer sums parameter gradients */
      dbeta[ch] = (REAL)sg[l];
      st[ch] = sg[l], st[c + ch] = sgx[l];
    }
  }
  if (sync) sync->sum_f64(sync->ctx, st, 2 * c);
#pragma omp parallel for schedule(static)
  for (int32_t b = 0; b < cb; b++) {
    REAL mu[16], is[16], k1[16], k2[16], k3[16];
    for (int l = 0; l < 16; l++) {
      int32_t ch = b * 16 + l;
      mu[l] = save_mean[ch];
      is[l] = save_istd[ch];
      /* dx = gamma*istd * (dy - mean(dy) - xhat*mean(dy*xhat)) */
      k1[l] = gamma[ch] * is[l];
      k2[l] = (REAL)(st[ch] / m);
      k3[l] = (REAL)(st[c + ch] / m);
    }
    for (int32_t i = 0; i < n; i++) {
      const size_t off = i * img + (size_t)b * hw * 16;
      const REAL *xp = x + off, *g = dy + off;
      REAL *dxp = dx + off;
      for (size_t j = 0; j < hw; j++)
        for (int l = 0; l < 16; l++) {
          REAL xh = (xp[j * 16 + l] - mu[l]) * is[l];
          dxp[j * 16 + l] = k1[l] * (g[j * 16 + l] - k2[l] - xh * k3[l]);
        }
    }
  }
  free(st);
}

void FN(layer_to_blocked)(const REAL *plain, REAL *blk, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int32_t cp = (c + 15) / 16 * 16;
  const size_t hw = (size_t)h * w;
#pragma omp parallel for schedule(static)
  for (int32_t i = 0; i < n; i++)
    for (int32_t ch = 0; ch < cp; ch++)
      for (size_t j = 0; j < hw; j++)
        blk[(size_t)i * cp * hw + (size_t)(ch / 16) * hw * 16 + j * 16 + ch % 16] =
            ch < c ? plain[((size_t)i * c + ch) * hw + j] : 0;
}

void FN(layer_from_blocked)(const REAL *blk, REAL *plain, int32_t n, int32_t c, int32_t h, int32_t w) {
  const int32_t cp = (c + 15) / 16 * 16;
  const size_t hw = (size_t)h * w;
#pragma omp parallel for schedule(static)
  for (int32_t i = 0; i < n; i++)
    for (int32_t ch = 0; ch < c; ch++)
      for (size_t j = 0; j < hw; j++)
        plain[((size_t)i * c + ch) * hw + j] = blk[(size_t)i * cp * hw + (size_t)(ch / 16) * hw * 16 + j * 16 + ch % 16];
}

void FN(layer_conv_ref_forward)(const REAL *x, const REAL *wt, const REAL *b, REAL *y, int32_t n, int32_t ci, int32_t h,
                                int32_t w, int32_t co, int32_t k, int32_t stride, int32_t pad) {
  const int32_t ho = layer_conv_out(h, k, stride, pad), wo = layer_conv_out(w, k, stride, pad);
#pragma omp parallel for collapse(2) schedule(static)
  for (int32_t i = 0; i < n; i++)
    for (int32_t o = 0; o < co; o++)
      for (int32_t oy = 0; oy < ho; oy++)
        for (int32_t ox = 0; ox < wo; ox++) {
          double acc = b ? b[o] : 0;
          for (int32_t c = 0; c < ci; c++)
            for (int32_t ky = 0; ky < k; ky++)
              for (int32_t kx = 0; kx < k; kx++) {
                int32_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                acc += (double)x[(((size_t)i * ci + c) * h + iy) * w + ix] * wt[(((size_t)o * ci + c) * k + ky) * k + kx];
              }
          y[(((size_t)i * co + o) * ho + oy) * wo + ox] = (REAL)acc;
        }
}

void FN(layer_conv_ref_backward)(const REAL *x, const REAL *wt, const REAL *dy, REAL *dx, REAL *dw, REAL *db, int32_t n,
                                 int32_t ci, int32_t h, int32_t w, int32_t co, int32_t k, int32_t stride, int32_t pad) {
  const int32_t ho = layer_conv_out(h, k, stride, pad), wo = layer_conv_out(w, k, stride, pad);
  if (dx) memset(dx, 0, sizeof(REAL) * (size_t)n * ci * h * w);
  if (dw) memset(dw, 0, sizeof(REAL) * (size_t)co * ci * k * k);
  if (db) memset(db, 0, sizeof(REAL) * (size_t)co);
  for (int32_t i = 0; i < n; i++)
    for (int32_t o = 0; o < co; o++)
      for (int32_t oy = 0; oy < ho; oy++)
        for (int32_t ox = 0; ox < wo; ox++) {
          REAL g = dy[(((size_t)i * co + o) * ho + oy) * wo + ox];
          if (db) db[o] += g;
          for (int32_t c = 0; c < ci; c++)
            for (int32_t ky = 0; ky < k; ky++)
              for (int32_t kx = 0; kx < k; kx++) {
                int32_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                size_t xi = (((size_t)i * ci + c) * h + iy) * w + ix, wi = (((size_t)o * ci + c) * k + ky) * k + kx;
                if (dx) dx[xi] += g * wt[wi];
                if (dw) dw[wi] += g * x[xi];
              }
        }
}

#undef FN
#undef CAT
#undef CAT_
