/* tests/test_core_layers.c: fp64 finite-difference gradient checks of every
 * non-convolution layer and of the reference convolution, then the oneDNN
 * convolution (float, every stride/kernel/layout the UNets use) against the
 * reference in forward, backward-data and backward-weights.
 * Tolerances: FD relative error <= 1e-5 (central differences, step 1e-5, fp64,
 * relative to max(|num|, |analytic|, 1e-3 max|grad|));
 * oneDNN vs reference: max |diff| / max|ref| <= 1e-5 (fp32 accumulation). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/cpu/conv.h"
#include "core/cpu/layers.h"
#include "tests/testutil.h"

static Rng g_rng;

static double *rand_vec(size_t n, double lo, double hi) {
  double *v = mallocCheck(n * sizeof(double));
  for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng_uniform(&g_rng);
  return v;
}

/* Loss = sum(r .* out) evaluated by a callback; checks analytic gradient g of
 * parameter vector a (length n) against central differences. */
typedef double (*EvalFn)(void *ctx);
static void fd_check(const char *name, double *a, const double *g, size_t n, EvalFn f, void *ctx) {
  /* step 1e-5; error relative to max(|num|, |ana|, 1e-3 * max|g|) so that
   * round-off on near-zero entries does not dominate */
  const double eps = 1e-5;
  double gmax = 0;
  for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < n; i++) {
    double keep = a[i];
    a[i] = keep + eps;
    double fp = f(ctx);
    a[i] = keep - eps;
    double fm = f(ctx);
    a[i] = keep;
    double num = (fp - fm) / (2 * eps);
    double err = fabs(num - g[i]) / fmax(fmax(fabs(num), fabs(g[i])), fmax(1e-3 * gmax, 1e-12));
    if (!(err <= worst)) worst = err, worst_i = i;
  }
  T_CHECK(worst < 1e-5, "%s: finite-difference relative error %.3g at element %zu (analytic %.9g)", name, worst, worst_i,
          g[worst_i]);
  printf("  fd %-28s n=%-6zu max rel err %.2e\n", name, n, worst);
}

static double dot(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* ---- pools / upsample / relu ------------------------------------------ */
typedef struct {
  int kind; /* 0 maxpool2, 1 maxpool3s2, 2 upsample2, 3 relu */
  int32_t n, c, h, w, ho, wo;
  double *x, *y, *r;
} SpatialCtx;

static size_t sp_out(const SpatialCtx *s) { return (size_t)s->n * s->c * s->ho * s->wo; }
static double sp_eval(void *p) {
  SpatialCtx *s = p;
  if (s->kind == 0) layer_maxpool2_forward_f64(s->x, s->y, s->n, s->c, s->h, s->w);
  if (s->kind == 1) layer_maxpool3s2_forward_f64(s->x, s->y, s->n, s->c, s->h, s->w);
  if (s->kind == 2)
    layer_upsample2_forward_f64(s->x, (int64_t)s->c * s->h * s->w, s->y, (int64_t)s->c * s->ho * s->wo, s->n, s->c, s->h,
                                s->w);
  if (s->kind == 3) {
    memcpy(s->y, s->x, sp_out(s) * sizeof(double));
    layer_relu_forward_f64(s->y, sp_out(s));
  }
  return dot(s->y, s->r, sp_out(s));
}

static void check_spatial(int kind, const char *name, int32_t h, int32_t w) {
  SpatialCtx s = {.kind = kind, .n = 2, .c = 32, .h = h, .w = w};
  s.ho = kind == 0 ? h / 2 : kind == 1 ? layer_pool3s2_out(h) : kind == 2 ? 2 * h : h;
  s.wo = kind == 0 ? w / 2 : kind == 1 ? layer_pool3s2_out(w) : kind == 2 ? 2 * w : w;
  size_t nin = (size_t)s.n * s.c * h * w, nout = sp_out(&s);
  s.x = rand_vec(nin, -1, 1); /* continuous random values: no pooling ties, no exact ReLU kinks */
  s.y = mallocCheck(nout * sizeof(double));
  s.r = rand_vec(nout, -1, 1);
  double *dx = mallocCheck(nin * sizeof(double));
  sp_eval(&s);
  if (kind == 0) layer_maxpool2_backward_f64(s.x, s.y, s.r, dx, s.n, s.c, h, w);
  if (kind == 1) layer_maxpool3s2_backward_f64(s.x, s.y, s.r, dx, s.n, s.c, h, w);
  if (kind == 2) layer_upsample2_backward_f64(s.r, (int64_t)s.c * s.ho * s.wo, dx, (int64_t)s.c * h * w, s.n, s.c, h, w);
  if (kind == 3) {
    memcpy(dx, s.r, nout * sizeof(double));
    layer_relu_backward_f64(s.y, dx, nout);
  }
  fd_check(name, s.x, dx, nin, sp_eval, &s);
  free(s.x), free(s.y), free(s.r), free(dx);
}

/* maxpool3s2 ceil-mode output values on a hand-made ramp (model.md section 2) */
static void check_pool3_values(void) {
  int32_t h = 5, w = 4; /* ho = 2, wo = 2 (ceil) */
  double x[5 * 4 * 16], y[2 * 2 * 16];
  for (int i = 0; i < h * w; i++)
    for (int l = 0; l < 16; l++) x[i * 16 + l] = i + 100 * l;
  layer_maxpool3s2_forward_f64(x, y, 1, 16, h, w);
  /* window (oy,ox): rows 2oy..2oy+2, cols 2ox..2ox+2 clipped; max = largest index */
  const int expect[4] = {2 * 4 + 2, 2 * 4 + 3, 4 * 4 + 2, 4 * 4 + 3};
  for (int i = 0; i < 4; i++) T_CHECK(y[i * 16 + 3] == expect[i] + 300, "maxpool3s2 ceil value %d: %g", i, y[i * 16 + 3]);
  T_CHECK(layer_pool3s2_out(64) == 32 && layer_pool3s2_out(7) == 3 && layer_pool3s2_out(5) == 2, "ceil-mode out size");
}

/* upsample align_corners values: corners copied exactly, midpoints interpolated */
static void check_upsample_values(void) {
  double x[2 * 2 * 16], y[4 * 4 * 16];
  const double v[4] = {0, 3, 6, 9};
  for (int i = 0; i < 4; i++)
    for (int l = 0; l < 16; l++) x[i * 16 + l] = v[i];
  layer_upsample2_forward_f64(x, 64, y, 256, 1, 16, 2, 2);
  /* along a row: positions 0..3 map to source 0, 1/3, 2/3, 1 */
  T_CHECK(fabs(y[0] - 0) < 1e-12 && fabs(y[1 * 16] - 1) < 1e-12 && fabs(y[2 * 16] - 2) < 1e-12 && fabs(y[3 * 16] - 3) < 1e-12,
          "upsample row values %g %g %g %g", y[0], y[16], y[32], y[48]);
  T_CHECK(fabs(y[15 * 16] - 9) < 1e-12 && fabs(y[4 * 16] - 2) < 1e-12, "upsample corner/column values");
}

/* ---- batch norm -------------------------------------------------------- */
typedef struct {
  int32_t n, c, h, w;
  int relu, use_res;
  double *x, *res, *gamma, *beta, *rm, *rv, *sm, *si, *y, *r;
} BnCtx;

static double bn_eval(void *p) {
  BnCtx *b = p;
  layer_bn_forward_f64(b->x, b->y, b->use_res ? b->res : NULL, b->gamma, b->beta, b->rm, b->rv, b->sm, b->si, b->n, b->c,
                       b->h, b->w, 1, b->relu, 0.1, 1e-5, NULL);
  return dot(b->y, b->r, (size_t)b->n * b->c * b->h * b->w);
}

static void check_bn(int relu, int use_res) {
  BnCtx b = {.n = 2, .c = 32, .h = 3, .w = 4, .relu = relu, .use_res = use_res};
  size_t cnt = (size_t)b.n * b.c * b.h * b.w;
  b.x = rand_vec(cnt, -2, 3);
  b.res = rand_vec(cnt, -1, 1);
  b.gamma = rand_vec(b.c, 0.5, 1.5);
  b.beta = rand_vec(b.c, -0.5, 0.5);
  b.rm = calloc(b.c, sizeof(double)), b.rv = calloc(b.c, sizeof(double));
  b.sm = calloc(b.c, sizeof(double)), b.si = calloc(b.c, sizeof(double));
  b.y = calloc(cnt, sizeof(double));
  b.r = rand_vec(cnt, -1, 1);
  bn_eval(&b);
  double *dy = mallocCheck(cnt * sizeof(double)), *dx = mallocCheck(cnt * sizeof(double));
  double *dg = mallocCheck(b.c * sizeof(double)), *db = mallocCheck(b.c * sizeof(double));
  memcpy(dy, b.r, cnt * sizeof(double));
  layer_bn_backward_f64(b.x, b.y, dy, dx, b.gamma, dg, db, b.sm, b.si, b.n, b.c, b.h, b.w, relu, NULL);
  char nm[64];
  snprintf(nm, sizeof nm, "bn%s%s d/dx", relu ? "+relu" : "", use_res ? "+res" : "");
  fd_check(nm, b.x, dx, cnt, bn_eval, &b);
  snprintf(nm, sizeof nm, "bn%s%s d/dgamma", relu ? "+relu" : "", use_res ? "+res" : "");
  fd_check(nm, b.gamma, dg, b.c, bn_eval, &b);
  snprintf(nm, sizeof nm, "bn%s%s d/dbeta", relu ? "+relu" : "", use_res ? "+res" : "");
  fd_check(nm, b.beta, db, b.c, bn_eval, &b);
  if (use_res) {
    snprintf(nm, sizeof nm, "bn%s+res d/dres", relu ? "+relu" : "");
    fd_check(nm, b.res, dy, cnt, bn_eval, &b); /* dy now holds d/d(bn(x)+res) */
  }
  /* running stats after one more train step with momentum 0.1 from (0, 1) */
  for (int32_t ch = 0; ch < b.c; ch++) b.rm[ch] = 0, b.rv[ch] = 1;
  bn_eval(&b);
  double m = 0, q = 0, cntc = (double)b.n * b.h * b.w;
  for (int32_t i = 0; i < b.n; i++)
    for (int32_t j = 0; j < b.h * b.w; j++) m += b.x[(size_t)i * b.c * b.h * b.w + j * 16 + 0];
  m /= cntc;
  for (int32_t i = 0; i < b.n; i++)
    for (int32_t j = 0; j < b.h * b.w; j++) {
      double d = b.x[(size_t)i * b.c * b.h * b.w + j * 16 + 0] - m;
      q += d * d;
    }
  T_CHECK(fabs(b.rm[0] - 0.1 * m) < 1e-12, "bn running mean %g vs %g", b.rm[0], 0.1 * m);
  T_CHECK(fabs(b.rv[0] - (0.9 + 0.1 * q / (cntc - 1))) < 1e-12, "bn running var (unbiased) %g", b.rv[0]);
  free(b.x), free(b.res), free(b.gamma), free(b.beta), free(b.rm), free(b.rv), free(b.sm), free(b.si), free(b.y), free(b.r);
  free(dy), free(dx), free(dg), free(db);
}

/* ---- reference convolution (fp64 FD) ----------------------------------- */
typedef struct {
  int32_t n, ci, h, w, co, k, s, p, ho, wo;
  double *x, *wt, *b, *y, *r;
} RefConvCtx;

static double conv_eval(void *p) {
  RefConvCtx *c = p;
  layer_conv_ref_forward_f64(c->x, c->wt, c->b, c->y, c->n, c->ci, c->h, c->w, c->co, c->k, c->s, c->p);
  return dot(c->y, c->r, (size_t)c->n * c->co * c->ho * c->wo);
}

static void check_conv_ref(int32_t k, int32_t s, int32_t p) {
  RefConvCtx c = {.n = 2, .ci = 3, .h = 7, .w = 6, .co = 4, .k = k, .s = s, .p = p};
  c.ho = layer_conv_out(c.h, k, s, p), c.wo = layer_conv_out(c.w, k, s, p);
  size_t nx = (size_t)c.n * c.ci * c.h * c.w, nw = (size_t)c.co * c.ci * k * k, ny = (size_t)c.n * c.co * c.ho * c.wo;
  c.x = rand_vec(nx, -1, 1), c.wt = rand_vec(nw, -1, 1), c.b = rand_vec(c.co, -1, 1);
  c.y = mallocCheck(ny * sizeof(double)), c.r = rand_vec(ny, -1, 1);
  double *dx = mallocCheck(nx * 8), *dw = mallocCheck(nw * 8), *db = mallocCheck(c.co * 8);
  layer_conv_ref_backward_f64(c.x, c.wt, c.r, dx, dw, db, c.n, c.ci, c.h, c.w, c.co, k, s, p);
  char nm[64];
  snprintf(nm, sizeof nm, "conv%dx%d/s%d/p%d d/dx", k, k, s, p);
  fd_check(nm, c.x, dx, nx, conv_eval, &c);
  snprintf(nm, sizeof nm, "conv%dx%d/s%d/p%d d/dw", k, k, s, p);
  fd_check(nm, c.wt, dw, nw, conv_eval, &c);
  snprintf(nm, sizeof nm, "conv%dx%d/s%d/p%d d/db", k, k, s, p);
  fd_check(nm, c.b, db, c.co, conv_eval, &c);
  free(c.x), free(c.wt), free(c.b), free(c.y), free(c.r), free(dx), free(dw), free(db);
}

/* ---- oneDNN conv vs reference ------------------------------------------ */
static float *frand(size_t n, double lo, double hi) {
  float *v = alignedAllocCheck(n * sizeof(float));
  for (size_t i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * rng_uniform(&g_rng));
  return v;
}

static double rel_max(const float *a, const float *b, size_t n) {
  double m = 0, s = 0;
  for (size_t i = 0; i < n; i++) {
    m = fmax(m, fabs((double)a[i] - b[i]));
    s = fmax(s, fabs((double)b[i]));
  }
  return m / fmax(s, 1e-30);
}

/* Winograd: errors relative to the largest reference value; measured here up
 * to 1.7e-6 forward and 1.4e-6 for the gradients (direct: <= 6e-7). oneDNN 2.6
 * has Winograd kernels only for AVX-512 CPUs; elsewhere the direct ones run. */
#define TOL_WINOGRAD 1e-5

static void check_dnnl_conv(ConvSpec sp) {
  const int32_t cpi = sp.plain_src ? sp.cin : (sp.cin + 15) / 16 * 16;
  const int32_t ho = layer_conv_out(sp.hin, sp.k, sp.stride, sp.pad), wo = layer_conv_out(sp.win, sp.k, sp.stride, sp.pad);
  const size_t nx = (size_t)sp.n * sp.cin * sp.hin * sp.win, ny = (size_t)sp.n * sp.cout * ho * wo;
  const size_t nw = (size_t)sp.cout * sp.cin * sp.k * sp.k;
  float *x = frand(nx, -1, 1), *wt = frand(nw, -0.2, 0.2), *b = frand(sp.cout, -0.5, 0.5), *r = frand(ny, -1, 1);
  float *xb = alignedAllocCheck((size_t)sp.n * cpi * sp.hin * sp.win * 4), *yb = alignedAllocCheck(ny * 4 + 64 * 4);
  float *dxb = alignedAllocCheck((size_t)sp.n * cpi * sp.hin * sp.win * 4), *dyb = alignedAllocCheck(ny * 4 + 64 * 4);
  float *dw = alignedAllocCheck(nw * 4), *db = alignedAllocCheck(sp.cout * 4);
  if (sp.plain_src) memcpy(xb, x, nx * 4);
  else layer_to_blocked(x, xb, sp.n, sp.cin, sp.hin, sp.win);
  static ConvCtx ctx;
  if (!ctx.engine) conv_ctx_init(&ctx);
  Conv c;
  conv_init(&c, &ctx, &sp, xb, yb, wt, sp.bias ? b : NULL, dxb, dyb, dw, sp.bias ? db : NULL);
  conv_forward(&c);
  float *y = mallocCheck(ny * 4), *yr = mallocCheck(ny * 4);
  if (sp.plain_dst) memcpy(y, yb, ny * 4);
  else layer_from_blocked(yb, y, sp.n, sp.cout, ho, wo);
  layer_conv_ref_forward(x, wt, sp.bias ? b : NULL, yr, sp.n, sp.cin, sp.hin, sp.win, sp.cout, sp.k, sp.stride, sp.pad);
  if (sp.relu) layer_relu_forward(yr, ny);
  char tag[96];
  snprintf(tag, sizeof tag, "%dx%d/s%d %d->%d %dx%d%s%s%s%s", sp.k, sp.k, sp.stride, sp.cin, sp.cout, sp.hin, sp.win,
           sp.relu ? " relu" : "", sp.plain_src ? " plain-in" : "", sp.plain_dst ? " plain-out" : "",
           sp.winograd ? " winograd" : "");
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    T_CHECK(c.winograd == sp.winograd, "oneDNN conv %s: winograd requested %d, created %d", tag, sp.winograd, c.winograd);
  const double tol = sp.winograd ? TOL_WINOGRAD : 1e-5;
  double ef = rel_max(y, yr, ny);
  T_CHECK(ef < tol, "oneDNN conv %s forward differs from reference: %.3g", tag, ef);
  /* backward: dy = r masked by relu when fused */
  float *dyp = mallocCheck(ny * 4);
  memcpy(dyp, r, ny * 4);
  if (sp.relu) layer_relu_backward(yr, dyp, ny);
  if (sp.plain_dst) memcpy(dyb, dyp, ny * 4);
  else layer_to_blocked(dyp, dyb, sp.n, sp.cout, ho, wo);
  conv_backward(&c);
  float *dxr = mallocCheck(nx * 4), *dwr = mallocCheck(nw * 4), *dbr = mallocCheck(sp.cout * 4), *dx = mallocCheck(nx * 4);
  layer_conv_ref_backward(x, wt, dyp, dxr, dwr, dbr, sp.n, sp.cin, sp.hin, sp.win, sp.cout, sp.k, sp.stride, sp.pad);
  double ed = 0, ew = rel_max(dw, dwr, nw), eb = sp.bias ? rel_max(db, dbr, sp.cout) : 0;
  if (sp.need_dsrc) {
    layer_from_blocked(dxb, dx, sp.n, sp.cin, sp.hin, sp.win);
    ed = rel_max(dx, dxr, nx);
  }
  T_CHECK(ed < tol && ew < tol && eb < tol, "oneDNN conv %s backward differs: data %.3g weights %.3g bias %.3g", tag, ed,
          ew, eb);
  printf("  dnnl %-40s fwd %.1e bwd-data %.1e bwd-w %.1e bias %.1e  [%s | %s | %s]\n", tag, ef, ed, ew, eb,
         conv_impl_name(&c, 0), sp.need_dsrc ? conv_impl_name(&c, 1) : "-", conv_impl_name(&c, 2));
  conv_free(&c);
  free(x), free(wt), free(b), free(r), free(xb), free(yb), free(dxb), free(dyb), free(dw), free(db);
  free(y), free(yr), free(dyp), free(dxr), free(dwr), free(dbr), free(dx);
}

int main(void) {
  rng_init(&g_rng, 42);
  printf("non-convolution layers (fp64 finite differences):\n");
  check_spatial(0, "maxpool2x2", 6, 8);
  check_spatial(1, "maxpool3x3/s2 ceil (even)", 8, 6);
  check_spatial(1, "maxpool3x3/s2 ceil (odd)", 7, 5);
  check_spatial(2, "upsample2 bilinear ac", 3, 4);
  check_spatial(3, "relu", 4, 4);
  check_pool3_values();
  check_upsample_values();
  for (int relu = 0; relu < 2; relu++)
    for (int res = 0; res < 2; res++) check_bn(relu, res);
  printf("reference convolution (fp64 finite differences):\n");
  check_conv_ref(3, 1, 1);
  check_conv_ref(3, 2, 1);
  check_conv_ref(1, 1, 0);
  check_conv_ref(1, 2, 0);
  check_conv_ref(7, 2, 3);
  printf("oneDNN convolution vs reference (fp32):\n");
  /* n, cin, cout, k, stride, pad, h, w, bias, relu, plain_src, plain_dst, need_dsrc, winograd */
  check_dnnl_conv((ConvSpec){2, 32, 16, 3, 1, 1, 12, 12, 1, 1, 0, 0, 1, 0});
  check_dnnl_conv((ConvSpec){2, 16, 32, 3, 2, 1, 12, 12, 0, 0, 0, 0, 1, 0});
  check_dnnl_conv((ConvSpec){2, 32, 64, 1, 1, 0, 8, 8, 0, 0, 0, 0, 1, 0});
  check_dnnl_conv((ConvSpec){2, 32, 64, 1, 2, 0, 8, 8, 0, 0, 0, 0, 1, 0});
  check_dnnl_conv((ConvSpec){2, 1, 16, 7, 2, 3, 16, 16, 0, 0, 1, 0, 0, 0});
  check_dnnl_conv((ConvSpec){2, 2, 16, 7, 2, 3, 16, 16, 0, 0, 1, 0, 0, 0});
  check_dnnl_conv((ConvSpec){2, 1, 16, 3, 1, 1, 16, 16, 1, 1, 1, 0, 0, 0});
  check_dnnl_conv((ConvSpec){2, 16, 9, 1, 1, 0, 16, 16, 1, 0, 0, 1, 1, 0});
  /* Winograd F(4x4,3x3) (conv_algo = auto): fp32 transforms round differently */
  check_dnnl_conv((ConvSpec){2, 32, 16, 3, 1, 1, 16, 16, 1, 1, 0, 0, 1, 1});
  check_dnnl_conv((ConvSpec){2, 16, 48, 3, 1, 1, 18, 22, 1, 0, 0, 0, 1, 1});
  check_dnnl_conv((ConvSpec){3, 64, 32, 3, 1, 1, 32, 32, 0, 1, 0, 0, 1, 1});
  return t_finish("test_core_layers");
}
