/* tests/test_backend_ops.c: every op of a backend against the CPU backend, in
 * the style of ggml's test-backend-ops, then a few training steps of both
 * UNets on both backends. Built twice:
 *   test_backend_ops       the real CUDA backend when a GPU is visible (else
 *                          exit 77 with the reason);
 *   test_backend_ops_emul  the CUDA backend's own code compiled for the host
 *                          against tests/cuda_emul (no GPU needed; CI).
 * Inputs are random NCHW tensors (values quantised to create max-pool ties),
 * moved into each backend's layout (CPU: nChw16c; CUDA: NCHW fp32, or bf16
 * NHWC with precision = bf16, where both backends get the bf16-rounded
 * inputs, so an op's error is its own rounding). Errors are
 * max |a - b| / max |b| per output; limits per op and per precision below.
 * Under emulation the convolutions compute with the fp64-accumulating
 * reference, so every limit there is fp32 rounding; on a GPU fp32 may use
 * TF32 tensor cores (10-bit mantissa), hence the looser GPU limits.
 * The training steps feed a different batch at every step, so a graph replay
 * that trained on stale inputs (an upload not replayed, staging rewritten
 * too early) differs from the CPU. Under emulation the same binary also runs
 * with CUEMUL_DEFERRED=1 (work runs only at synchronisation points) and with
 * captures failed mid-way (CUEMUL_FAIL_AT_OP, CUEMUL_FAIL_CAPTURE): the steps
 * then fall back to eager with the same results. NCCL: one rank's
 * communicator and all-reduce (the GPU check's NCCL smoke test), and, under
 * emulation, the watchdog stopping a rank whose all-reduce never ends. */
#define _DEFAULT_SOURCE /* fork, mkstemp, setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/backend.h"
#include "core/common.h"
#include "core/cpu/layers.h"
#include "core/loss.h"
#include "core/step.h"
#include "core/unet.h"
#include "tests/testutil.h"

#ifdef CORDSEG_TEST_EMUL
long long cordseg_emul_graph_launches(void);
long long cordseg_emul_cudnn_calls(void);
long long cordseg_emul_captures(void);
long long cordseg_emul_kernels(void);
double cordseg_emul_bytes(void);
void cordseg_emul_traffic_mark(void);
void cordseg_emul_traffic_top(char *buf, size_t len, int top);
long long cordseg_emul_finds(void);
int cordseg_emul_bad_launch_reported(void);
#endif

static Backend *g_cpu, *g_dev;
static int g_gpu; /* a real GPU (looser limits) */
static Rng g_rng;

/* a capture is made to fail (emulation knobs): the steppers must stay eager */
static int capture_fails(void) { return getenv("CUEMUL_FAIL_CAPTURE") || getenv("CUEMUL_FAIL_AT_OP"); }
/* graphs are expected: the backend can, and neither the test nor the user switched them off */
static int graphs_expected(void) {
  return g_dev->supports(g_dev, BACKEND_CAP_GRAPH) && !getenv("CORDSEG_NO_GRAPH") && !capture_fails();
}


/* limits: emulation / GPU fp32 with TF32 (x8 for bf16); with NVIDIA_TF32_OVERRIDE=0
 * a GPU gets 20x the emulation's limits (fp32, other summation orders) */
static double tol(double emul, double gpu) {
  const char *tf = getenv("NVIDIA_TF32_OVERRIDE");
  if (g_dev->precision == BACKEND_PRECISION_BF16) return gpu * 8; /* bf16 operands: 8 mantissa bits */
  if (!g_gpu) return emul;
  return tf && !strcmp(tf, "0") ? emul * 20 : gpu;
}

static float *rnd(size_t n, double lo, double hi, int levels) {
  float *v = mallocCheck(n * sizeof(float));
  for (size_t i = 0; i < n; i++) {
    double u = rng_uniform(&g_rng);
    if (levels > 0) u = floor(u * levels) / levels;
    v[i] = (float)(lo + (hi - lo) * u);
  }
  return v;
}

/* bf16 round to nearest even (core/cuda/cuda_math.h cm_f32_to_bf16) and back */
static uint16_t bf16_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
static float f32_of(uint16_t b) {
  const uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
/* the device stores activations as bf16 NHWC */
static int dev_bf16(void) { return g_dev->act_layout == BACKEND_ACT_BF16_NHWC; }
/* an element-wise op's limit: fp32, or with bf16 storage (one rounding of
 * the output to 8 mantissa bits, 2^-9 relative, plus what an earlier bf16
 * op's rounding carries in), measured under emulation: docs/backends.md */
static double lim16(double fp32, double bf16) { return dev_bf16() ? bf16 : fp32; }

/* activation [n][c][h][w] plain <-> a backend's layout (c % 16 == 0 for the CPU; bf16 NHWC for CUDA bf16) */
static void act_set(Backend *be, float *d, const float *plain, int32_t n, int32_t c, int32_t h, int32_t w) {
  const size_t cnt = (size_t)n * c * h * w, hw = (size_t)h * w;
  if (be->kind == BACKEND_KIND_CPU) {
    layer_to_blocked(plain, d, n, c, h, w);
  } else if (be->act_layout == BACKEND_ACT_BF16_NHWC) {
    uint16_t *t = mallocCheck(cnt * sizeof(uint16_t));
    for (size_t i = 0; i < cnt; i++) t[((i / (c * hw)) * hw + i % hw) * c + i / hw % c] = bf16_of(plain[i]);
    be->upload(be, d, t, cnt * sizeof(uint16_t));
    free(t);
  } else {
    be->upload(be, d, plain, cnt * sizeof(float));
  }
}
static float *act_up(Backend *be, const float *plain, int32_t n, int32_t c, int32_t h, int32_t w) {
  float *d = be->alloc(be, (size_t)n * c * h * w * sizeof(float));
  act_set(be, d, plain, n, c, h, w);
  return d;
}
static float *act_down(Backend *be, const float *dev, int32_t n, int32_t c, int32_t h, int32_t w) {
  const size_t cnt = (size_t)n * c * h * w, hw = (size_t)h * w;
  float *p = mallocCheck(cnt * sizeof(float));
  if (be->kind == BACKEND_KIND_CPU) {
    layer_from_blocked(dev, p, n, c, h, w);
  } else if (be->act_layout == BACKEND_ACT_BF16_NHWC) {
    uint16_t *t = mallocCheck(cnt * sizeof(uint16_t));
    be->download(be, t, dev, cnt * sizeof(uint16_t));
    for (size_t i = 0; i < cnt; i++) p[i] = f32_of(t[((i / (c * hw)) * hw + i % hw) * c + i / hw % c]);
    free(t);
  } else {
    be->download(be, p, dev, cnt * sizeof(float));
  }
  return p;
}
static float *flat_up(Backend *be, const float *h, size_t n) {
  float *d = be->alloc(be, n * sizeof(float));
  be->upload(be, d, h, n * sizeof(float));
  return d;
}
static float *flat_down(Backend *be, const float *d, size_t n) {
  float *h = mallocCheck(n * sizeof(float));
  be->download(be, h, d, n * sizeof(float));
  return h;
}

static void compare(const char *op, const float *got, const float *ref, size_t n, double limit) {
  double d = 0, m = 0;
  int finite = 1;
  for (size_t i = 0; i < n; i++) {
    finite &= isfinite(got[i]);
    d = fmax(d, fabs((double)got[i] - ref[i]));
    m = fmax(m, fabs((double)ref[i]));
  }
  const double e = d / fmax(m, 1e-30);
  printf("  %-34s max rel err %.2e (limit %.0e)\n", op, e, limit);
  T_CHECK(finite && e <= limit, "%s: %s error %.3g > %.3g", op, finite ? "" : "non-finite,", e, limit);
}
static void compare_act(const char *op, float *dev_got, float *cpu_ref, int32_t n, int32_t c, int32_t h, int32_t w,
                        double limit) {
  float *a = act_down(g_dev, dev_got, n, c, h, w), *b = act_down(g_cpu, cpu_ref, n, c, h, w);
  compare(op, a, b, (size_t)n * c * h * w, limit);
  free(a), free(b);
}

/* one tensor on both backends */
typedef struct {
  float *d, *c;
} Pair;
static Pair pair_act(const float *plain, int32_t n, int32_t c, int32_t h, int32_t w) {
  if (!dev_bf16()) return (Pair){act_up(g_dev, plain, n, c, h, w), act_up(g_cpu, plain, n, c, h, w)};
  const size_t cnt = (size_t)n * c * h * w; /* both backends get the values the bf16 device holds */
  float *r = mallocCheck(cnt * sizeof(float));
  for (size_t i = 0; i < cnt; i++) r[i] = f32_of(bf16_of(plain[i]));
  Pair p = {act_up(g_dev, r, n, c, h, w), act_up(g_cpu, r, n, c, h, w)};
  free(r);
  return p;
}
static Pair pair_flat(const float *h, size_t n) { return (Pair){flat_up(g_dev, h, n), flat_up(g_cpu, h, n)}; }
static void pair_free(Pair p) { g_dev->free(g_dev, p.d), g_cpu->free(g_cpu, p.c); }

static void test_pools(void) {
  const int32_t n = 2, c = 16;
  for (int odd = 0; odd < 2; odd++) {
    const int32_t h = 8 + odd, w = 10 - odd, ho = h / 2, wo = w / 2;
    float *x = rnd((size_t)n * c * h * w, -1, 1, 7), *g = rnd((size_t)n * c * ho * wo, -1, 1, 0);
    Pair X = pair_act(x, n, c, h, w), Y = pair_act(x, n, c, ho, wo), G = pair_act(g, n, c, ho, wo),
         DX = pair_act(x, n, c, h, w);
    g_dev->maxpool2_forward(g_dev, X.d, Y.d, n, c, h, w), g_cpu->maxpool2_forward(g_cpu, X.c, Y.c, n, c, h, w);
    compare_act(odd ? "maxpool2 forward (odd edge, ties)" : "maxpool2 forward (ties)", Y.d, Y.c, n, c, ho, wo, 0);
    g_dev->maxpool2_backward(g_dev, X.d, Y.d, G.d, DX.d, n, c, h, w);
    g_cpu->maxpool2_backward(g_cpu, X.c, Y.c, G.c, DX.c, n, c, h, w);
    compare_act("maxpool2 backward", DX.d, DX.c, n, c, h, w, 0);
    pair_free(X), pair_free(Y), pair_free(G), pair_free(DX), free(x), free(g);
  }
  for (int odd = 0; odd < 2; odd++) { /* 3x3/s2 ceil mode: clipped windows at the edge */
    const int32_t h = 9 + odd, w = 8 + odd, ho = layer_pool3s2_out(h), wo = layer_pool3s2_out(w);
    float *x = rnd((size_t)n * c * h * w, -1, 1, 5), *g = rnd((size_t)n * c * ho * wo, -1, 1, 0);
    Pair X = pair_act(x, n, c, h, w), Y = pair_act(g, n, c, ho, wo), G = pair_act(g, n, c, ho, wo),
         DX = pair_act(x, n, c, h, w);
    g_dev->maxpool3s2_forward(g_dev, X.d, Y.d, n, c, h, w), g_cpu->maxpool3s2_forward(g_cpu, X.c, Y.c, n, c, h, w);
    compare_act("maxpool3s2 forward (ceil, ties)", Y.d, Y.c, n, c, ho, wo, 0);
    g_dev->maxpool3s2_backward(g_dev, X.d, Y.d, G.d, DX.d, n, c, h, w);
    g_cpu->maxpool3s2_backward(g_cpu, X.c, Y.c, G.c, DX.c, n, c, h, w);
    compare_act("maxpool3s2 backward (overlaps)", DX.d, DX.c, n, c, h, w, lim16(1e-6, 4e-3));
    pair_free(X), pair_free(Y), pair_free(G), pair_free(DX), free(x), free(g);
  }
}

static void test_upsample_copy(void) {
  const int32_t n = 2, c = 16, h = 5, w = 7, ho = 2 * h, wo = 2 * w;
  /* the upsampled map is the second half of a [2c] concatenation buffer */
  float *x = rnd((size_t)n * c * h * w, -1, 1, 0), *cat = rnd((size_t)n * 2 * c * ho * wo, -1, 1, 0);
  Pair X = pair_act(x, n, c, h, w), CAT = pair_act(cat, n, 2 * c, ho, wo);
  g_dev->upsample2_forward(g_dev, backend_view(X.d, 0, c), backend_view(CAT.d, c, 2 * c), n, c, h, w);
  g_cpu->upsample2_forward(g_cpu, backend_view(X.c, 0, c), backend_view(CAT.c, c, 2 * c), n, c, h, w);
  compare_act("upsample2 forward (into concat)", CAT.d, CAT.c, n, 2 * c, ho, wo, lim16(1e-6, 4e-3));
  Pair DX = pair_act(x, n, c, h, w);
  g_dev->upsample2_backward(g_dev, backend_view(CAT.d, c, 2 * c), backend_view(DX.d, 0, c), n, c, h, w);
  g_cpu->upsample2_backward(g_cpu, backend_view(CAT.c, c, 2 * c), backend_view(DX.c, 0, c), n, c, h, w);
  compare_act("upsample2 backward (from concat)", DX.d, DX.c, n, c, h, w, lim16(1e-6, 4e-3));
  float *s = rnd((size_t)n * c * ho * wo, -1, 1, 0);
  Pair S = pair_act(s, n, c, ho, wo);
  for (int acc = 0; acc < 2; acc++) {
    g_dev->copy_channels(g_dev, backend_view(S.d, 0, c), backend_view(CAT.d, 0, 2 * c), n, c, ho, wo, acc);
    g_cpu->copy_channels(g_cpu, backend_view(S.c, 0, c), backend_view(CAT.c, 0, 2 * c), n, c, ho, wo, acc);
    compare_act(acc ? "copy_channels (accumulate)" : "copy_channels", CAT.d, CAT.c, n, 2 * c, ho, wo, lim16(1e-7, 4e-3));
  }
  /* add: two buffers of one shape (element-wise in any layout); the second holds cat's first values (no new draws,
   * so the later tests' random inputs stay as they were) */
  Pair S2 = pair_act(cat, n, c, ho, wo);
  g_dev->add(g_dev, S.d, S2.d, (size_t)n * c * ho * wo), g_cpu->add(g_cpu, S.c, S2.c, (size_t)n * c * ho * wo);
  compare_act("add", S.d, S.c, n, c, ho, wo, lim16(1e-7, 4e-3));
  pair_free(X), pair_free(CAT), pair_free(DX), pair_free(S), pair_free(S2), free(x), free(cat), free(s);
}

static void test_bn(void) {
  const int32_t n = 2, c = 32, h = 6, w = 5;
  const size_t cnt = (size_t)n * c * h * w;
  float *x = rnd(cnt, -2, 3, 0), *res = rnd(cnt, -1, 1, 0), *g = rnd(cnt, -1, 1, 0), *gam = rnd(c, 0.5, 1.5, 0),
        *bet = rnd(c, -0.5, 0.5, 0), *rm = rnd(c, -0.1, 0.1, 0), *rv = rnd(c, 0.9, 1.1, 0);
  Pair X = pair_act(x, n, c, h, w), R = pair_act(res, n, c, h, w), Y = pair_act(x, n, c, h, w), G = pair_act(g, n, c, h, w),
       DX = pair_act(x, n, c, h, w), GA = pair_flat(gam, c), BE = pair_flat(bet, c), RM = pair_flat(rm, c),
       RV = pair_flat(rv, c), SM = pair_flat(rm, c), SI = pair_flat(rv, c), DG = pair_flat(gam, c), DB = pair_flat(bet, c);
  for (int train = 1; train >= 0; train--) {
    g_dev->bn_forward(g_dev, X.d, Y.d, R.d, GA.d, BE.d, RM.d, RV.d, SM.d, SI.d, n, c, h, w, train, 1, 0.1, 1e-5, NULL);
    g_cpu->bn_forward(g_cpu, X.c, Y.c, R.c, GA.c, BE.c, RM.c, RV.c, SM.c, SI.c, n, c, h, w, train, 1, 0.1, 1e-5, NULL);
    compare_act(train ? "bn forward train (+res, relu)" : "bn forward eval", Y.d, Y.c, n, c, h, w, lim16(1e-5, 8e-3));
    float *a = flat_down(g_dev, RV.d, c), *b = flat_down(g_cpu, RV.c, c);
    compare("bn running var", a, b, c, 1e-6);
    free(a), free(b);
  }
  g_dev->bn_forward(g_dev, X.d, Y.d, NULL, GA.d, BE.d, RM.d, RV.d, SM.d, SI.d, n, c, h, w, 1, 1, 0.1, 1e-5, NULL);
  g_cpu->bn_forward(g_cpu, X.c, Y.c, NULL, GA.c, BE.c, RM.c, RV.c, SM.c, SI.c, n, c, h, w, 1, 1, 0.1, 1e-5, NULL);
  g_dev->bn_backward(g_dev, X.d, Y.d, G.d, DX.d, GA.d, DG.d, DB.d, SM.d, SI.d, n, c, h, w, 1, NULL);
  g_cpu->bn_backward(g_cpu, X.c, Y.c, G.c, DX.c, GA.c, DG.c, DB.c, SM.c, SI.c, n, c, h, w, 1, NULL);
  compare_act("bn backward dx (relu)", DX.d, DX.c, n, c, h, w, lim16(1e-5, 8e-3));
  compare_act("bn backward masked dy", G.d, G.c, n, c, h, w, 0);
  float *a = flat_down(g_dev, DG.d, c), *b = flat_down(g_cpu, DG.c, c);
  compare("bn backward dgamma", a, b, c, 1e-5);
  free(a), free(b);
  a = flat_down(g_dev, DB.d, c), b = flat_down(g_cpu, DB.c, c);
  compare("bn backward dbeta", a, b, c, 1e-5);
  free(a), free(b);
  Pair all[] = {X, R, Y, G, DX, GA, BE, RM, RV, SM, SI, DG, DB};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(all[i]);
  free(x), free(res), free(g), free(gam), free(bet), free(rm), free(rv);
}

static void test_conv(const char *name, ConvSpec s) {
  const int32_t ho = layer_conv_out(s.hin, s.k, s.stride, s.pad), wo = layer_conv_out(s.win, s.k, s.stride, s.pad);
  const size_t nx = (size_t)s.n * s.cin * s.hin * s.win, ny = (size_t)s.n * s.cout * ho * wo,
               nw = (size_t)s.cout * s.cin * s.k * s.k;
  float *x = rnd(nx, -1, 1, 0), *wt = rnd(nw, -0.3, 0.3, 0), *b = rnd(s.cout, -0.5, 0.5, 0), *g = rnd(ny, -1, 1, 0);
  /* plain tensors stay plain on the CPU (network input, logits) */
  Pair X = s.plain_src ? pair_flat(x, nx) : pair_act(x, s.n, s.cin, s.hin, s.win);
  Pair Y = s.plain_dst ? pair_flat(g, ny) : pair_act(g, s.n, s.cout, ho, wo);
  Pair G = s.plain_dst ? pair_flat(g, ny) : pair_act(g, s.n, s.cout, ho, wo);
  Pair DX = s.plain_src ? pair_flat(x, nx) : pair_act(x, s.n, s.cin, s.hin, s.win);
  Pair W = pair_flat(wt, nw), B = pair_flat(b, s.cout), DW = pair_flat(wt, nw), DB = pair_flat(b, s.cout);
  BackendConv *cd = g_dev->conv_plan(g_dev, &s, X.d, Y.d, W.d, s.bias ? B.d : NULL, s.need_dsrc ? DX.d : NULL, G.d, DW.d,
                                     s.bias ? DB.d : NULL);
  BackendConv *cc = g_cpu->conv_plan(g_cpu, &s, X.c, Y.c, W.c, s.bias ? B.c : NULL, s.need_dsrc ? DX.c : NULL, G.c, DW.c,
                                     s.bias ? DB.c : NULL);
  g_dev->conv_forward(g_dev, cd), g_cpu->conv_forward(g_cpu, cc);
  char op[96];
  snprintf(op, sizeof op, "conv %s forward", name);
  const double lim = tol(2e-6, 2e-2);
  if (s.plain_dst) {
    float *a = flat_down(g_dev, Y.d, ny), *r = flat_down(g_cpu, Y.c, ny);
    compare(op, a, r, ny, lim);
    free(a), free(r);
  } else {
    compare_act(op, Y.d, Y.c, s.n, s.cout, ho, wo, lim);
  }
  if (s.relu) { /* the ReLU mask of conv_backward then reads the same output on both (bf16 or TF32 outputs near 0 may
                 * differ in sign) */
    float *yc = act_down(g_cpu, Y.c, s.n, s.cout, ho, wo);
    if (dev_bf16()) { /* the CPU's output as the device holds it, on both */
      for (size_t i = 0; i < ny; i++) yc[i] = f32_of(bf16_of(yc[i]));
      act_set(g_cpu, Y.c, yc, s.n, s.cout, ho, wo);
    }
    act_set(g_dev, Y.d, yc, s.n, s.cout, ho, wo);
    free(yc);
  }
  g_dev->conv_backward(g_dev, cd), g_cpu->conv_backward(g_cpu, cc);
  if (s.relu) {
    snprintf(op, sizeof op, "conv %s relu-masked output gradient", name);
    compare_act(op, G.d, G.c, s.n, s.cout, ho, wo, 0);
  }
  if (s.need_dsrc) {
    snprintf(op, sizeof op, "conv %s backward data", name);
    compare_act(op, DX.d, DX.c, s.n, s.cin, s.hin, s.win, lim);
  }
  float *a = flat_down(g_dev, DW.d, nw), *r = flat_down(g_cpu, DW.c, nw);
  snprintf(op, sizeof op, "conv %s backward weights", name);
  compare(op, a, r, nw, tol(1e-5, 2e-2));
  free(a), free(r);
  if (s.bias) {
    a = flat_down(g_dev, DB.d, s.cout), r = flat_down(g_cpu, DB.c, s.cout);
    snprintf(op, sizeof op, "conv %s backward bias", name);
    compare(op, a, r, s.cout, tol(1e-5, 1e-4));
    free(a), free(r);
  }
  printf("    %s: %s | %s | %s\n", name, g_dev->conv_describe(g_dev, cd, 0), g_dev->conv_describe(g_dev, cd, 1),
         g_dev->conv_describe(g_dev, cd, 2));
  g_dev->conv_free(g_dev, cd), g_cpu->conv_free(g_cpu, cc);
  Pair all[] = {X, Y, G, DX, W, B, DW, DB};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(all[i]);
  free(x), free(wt), free(b), free(g);
}

static void test_losses(void) {
  const int32_t n = 2, k = 9, h = 12, w = 10;
  const size_t nl = (size_t)n * k * h * w, hw = (size_t)h * w;
  float *z = rnd(nl, -3, 3, 0);
  uint8_t *y = mallocCheck((size_t)n * hw);
  for (size_t i = 0; i < (size_t)n * hw; i++) y[i] = (uint8_t)(i % 37 < 20 ? 0 : 1 + (i / 3) % (k - 1));
  uint8_t *yd = g_dev->alloc(g_dev, (size_t)n * hw);
  g_dev->upload(g_dev, yd, y, (size_t)n * hw);
  for (int kind = 0; kind < 3; kind++) {
    LossConfig lc;
    loss_config_default(&lc, (LossKind)kind);
    lc.hdl_sigma = 1.5f;
    Pair Z = pair_flat(z, nl), DZ = pair_flat(z, nl);
    g_dev->loss(g_dev, &lc, Z.d, yd, n, k, h, w, DZ.d);
    g_cpu->loss(g_cpu, &lc, Z.c, y, n, k, h, w, DZ.c);
    const double ld = g_dev->loss_value(g_dev), lcpu = g_cpu->loss_value(g_cpu);
    const double el = fabs(ld - lcpu) / fabs(lcpu);
    printf("  %-34s loss %.8g vs %.8g, rel err %.2e (limit 1e-5)\n", loss_kind_name((LossKind)kind), ld, lcpu, el);
    T_CHECK(el <= 1e-5, "%s loss: %.9g vs CPU %.9g", loss_kind_name((LossKind)kind), ld, lcpu);
    float *a = flat_down(g_dev, DZ.d, nl), *b = flat_down(g_cpu, DZ.c, nl);
    char op[64];
    snprintf(op, sizeof op, "%s dloss/dlogits", loss_kind_name((LossKind)kind));
    compare(op, a, b, nl, 1e-4);
    free(a), free(b);
    g_dev->probs(g_dev, &lc, Z.d, n, k, h, w, DZ.d), g_cpu->probs(g_cpu, &lc, Z.c, n, k, h, w, DZ.c);
    a = flat_down(g_dev, DZ.d, nl), b = flat_down(g_cpu, DZ.c, nl);
    snprintf(op, sizeof op, "%s probabilities", loss_kind_name((LossKind)kind));
    compare(op, a, b, nl, 1e-6);
    free(a), free(b);
    pair_free(Z), pair_free(DZ);
  }
  g_dev->free(g_dev, yd);
  free(z), free(y);
}

/* HDL targets made by the backend from its labels (CUDA: on the device)
 * against core/loss.c's loss_hdl_target on the host: the same bits,
 * limit 0 on a GPU too. Shapes: square and not, one-pixel rows and columns;
 * labels: random, blobs, one pixel of a class, classes absent; sigma 0.7 to
 * the default 2 and a sigma whose reach covers the image (the exact
 * transform everywhere). Its own random numbers, so the tests after it see
 * the inputs they always saw. */
static void test_hdl_targets(void) {
  typedef struct {
    int32_t n, k, h, w;
    float sigma;
    int kind; /* 0 random labels, 1 blobs, 2 one pixel of class 1, the rest absent */
  } Case;
  const Case cases[] = {{2, 9, 12, 10, 1.5f, 0}, {2, 9, 33, 47, (float)LOSS_HDL_SIGMA_DEFAULT, 1},
                        {3, 4, 40, 40, 0.7f, 1},  {1, 3, 17, 29, 1000.0f, 2},
                        {2, 5, 1, 23, 2.0f, 1},   {2, 5, 23, 1, 2.0f, 0},
                        {1, 9, 64, 64, 6.0f, 1}};
  Rng r;
  rng_init(&r, 27);
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const Case c = cases[ci];
    const size_t hw = (size_t)c.h * c.w, nl = (size_t)c.n * c.k * hw;
    uint8_t *y = mallocCheck((size_t)c.n * hw);
    for (int32_t b = 0; b < c.n; b++) {
      /* blobs: a few discs of classes 1..k-1 on background 0, one class left out per image */
      const int32_t cx = (int32_t)(rng_uniform(&r) * c.w), cy = (int32_t)(rng_uniform(&r) * c.h);
      for (size_t i = 0; i < hw; i++) {
        const int32_t py = (int32_t)(i / c.w), px = (int32_t)(i % c.w);
        const int32_t d2 = (py - cy) * (py - cy) + (px - cx) * (px - cx);
        uint8_t v = 0;
        if (c.kind == 0) v = (uint8_t)(rng_uniform(&r) * c.k);
        else if (c.kind == 1) v = d2 < 9 ? 1 : d2 < 40 ? (uint8_t)(2 + (px + b) % (c.k - 2 > 0 ? c.k - 2 : 1)) : 0;
        else v = (py == cy && px == cx) ? 1 : 0;
        y[(size_t)b * hw + i] = v < c.k ? v : (uint8_t)(c.k - 1);
      }
    }
    float *ref = mallocCheck(nl * sizeof(float));
    loss_hdl_target(y, c.n, c.k, c.h, c.w, c.sigma, ref);
    uint8_t *yd = g_dev->alloc(g_dev, (size_t)c.n * hw);
    g_dev->upload(g_dev, yd, y, (size_t)c.n * hw);
    float *td = g_dev->alloc(g_dev, nl * sizeof(float));
    g_dev->hdl_target(g_dev, yd, c.n, c.k, c.h, c.w, c.sigma, td);
    float *got = flat_down(g_dev, td, nl);
    size_t diff = 0, nonzero = 0, first = nl; /* nonzero: within reach (80 sigma^2 squared pixels) of a class pixel */
    for (size_t i = 0; i < nl; i++) {
      nonzero += ref[i] != 0;
      if (memcmp(&got[i], &ref[i], sizeof(float))) diff++, first = first < nl ? first : i;
    }
    char op[64];
    snprintf(op, sizeof op, "hdl targets %dx%dx%dx%d s%g", (int)c.n, (int)c.k, (int)c.h, (int)c.w, (double)c.sigma);
    printf("  %-34s %zu of %zu values differ in any bit (limit 0), %zu nonzero\n", op, diff, nl, nonzero);
    T_CHECK(diff == 0, "%s: %zu values differ from loss_hdl_target, first at %zu: %.9g vs %.9g", op, diff, first,
            first < nl ? (double)got[first] : 0.0, first < nl ? (double)ref[first] : 0.0);
    T_CHECK(nonzero > 0, "%s: the case has no nonzero target", op);
    g_dev->free(g_dev, yd), g_dev->free(g_dev, td);
    free(y), free(ref), free(got);
  }
}

/* cudnn_benchmark: a timed pick once per (shape, pass), cached; heuristics when off */
static void test_algo_choice(void) {
  ConvSpec s = {.n = 2, .cin = 16, .cout = 32, .k = 3, .stride = 1, .pad = 1, .hin = 14, .win = 6, .bias = 1,
                .need_dsrc = 1};
  const size_t nx = (size_t)2 * 16 * 14 * 6, ny = (size_t)2 * 32 * 14 * 6, nw = (size_t)32 * 16 * 9; /* a shape no other test plans */
  float *buf[8];
  const size_t len[8] = {nx, ny, nw, 32, nx, ny, nw, 32};
  for (int i = 0; i < 8; i++) buf[i] = g_dev->alloc(g_dev, len[i] * sizeof(float));
  char first[3][96], again[3][96], heur[3][96];
#ifdef CORDSEG_TEST_EMUL
  const long long f0 = cordseg_emul_finds();
#endif
  for (int round = 0; round < 3; round++) {
    g_dev->conv_benchmark = round < 2;
    BackendConv *c = g_dev->conv_plan(g_dev, &s, buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7]);
    for (int p = 0; p < 3; p++)
      snprintf(round == 0 ? first[p] : round == 1 ? again[p] : heur[p], 96, "%s", g_dev->conv_describe(g_dev, c, p));
    g_dev->conv_free(g_dev, c);
#ifdef CORDSEG_TEST_EMUL
    if (round == 0) T_CHECK(cordseg_emul_finds() == f0 + 3, "a new shape is timed once per pass (%lld searches)",
                            cordseg_emul_finds() - f0);
    if (round == 1) T_CHECK(cordseg_emul_finds() == f0 + 3, "the same shape again is taken from the cache");
#endif
  }
  g_dev->conv_benchmark = 1;
  printf("  %-34s timed: %s | %s | %s; heuristics: %s\n", "cudnn algorithm choice", first[0], first[1], first[2], heur[0]);
  for (int p = 0; p < 3; p++) T_CHECK(!strcmp(first[p], again[p]), "the cached choice is the timed one");
  T_CHECK(strstr(first[0], "timed") && !strstr(heur[0], "timed"), "timed vs heuristic picks are labelled");
#ifdef CORDSEG_TEST_EMUL /* the double times algorithm 6 fastest; its heuristics list 0 first among the deterministic */
  T_CHECK(strstr(first[0], "algo 6") && strstr(heur[0], "algo 0"), "the timed pick follows the measured order");
#endif
  for (int i = 0; i < 8; i++) g_dev->free(g_dev, buf[i]);
}

static void test_adam_norms(void) {
  const size_t n = 10007;
  float *p = rnd(n, -1, 1, 0), *g = rnd(n, -0.01, 0.01, 0), *m = rnd(n, -0.001, 0.001, 0), *v = rnd(n, 0, 1e-5, 0);
  Pair P = pair_flat(p, n), G = pair_flat(g, n), M = pair_flat(m, n), V = pair_flat(v, n);
  for (int64_t t = 1; t <= 3; t++) {
    g_dev->adam_step(g_dev, P.d, G.d, M.d, V.d, n, 1e-3f, t, 0.9f, 0.999f, 1e-8f, 0.0f);
    g_cpu->adam_step(g_cpu, P.c, G.c, M.c, V.c, n, 1e-3f, t, 0.9f, 0.999f, 1e-8f, 0.0f);
  }
  float *a = flat_down(g_dev, P.d, n), *b = flat_down(g_cpu, P.c, n);
  compare("adam (3 steps) params", a, b, n, 1e-6);
  free(a), free(b);
  const double sd = g_dev->sumsq(g_dev, G.d, n), sc = g_cpu->sumsq(g_cpu, G.c, n);
  printf("  %-34s %.10g vs %.10g\n", "sumsq", sd, sc);
  T_CHECK(fabs(sd - sc) <= 1e-12 * sc, "sumsq %.12g vs %.12g", sd, sc);
  g_dev->scale(g_dev, G.d, n, 0.37f), g_cpu->scale(g_cpu, G.c, n, 0.37f);
  a = flat_down(g_dev, G.d, n), b = flat_down(g_cpu, G.c, n);
  compare("scale", a, b, n, 0);
  free(a), free(b);
  pair_free(P), pair_free(G), pair_free(M), pair_free(V), free(p), free(g), free(m), free(v);
}

/* batch s of a training run: its own input and labels (a blob pattern whose
 * centre moves with s), the same for both backends */
static void make_batch(int s, int32_t N, int32_t S, float *x, uint8_t *y) {
  for (size_t i = 0; i < (size_t)N * S * S; i++) x[i] = (float)rng_uniform(&g_rng);
  const int32_t cx = S / 2 + (s % 3) - 1, cy = S / 2 - (s % 2);
  for (int32_t i = 0; i < N * S * S; i++) {
    const int32_t px = i % S, py = i / S % S, r2 = (px - cx) * (px - cx) + (py - cy) * (py - cy);
    y[i] = (uint8_t)(r2 < S * S / (9 + s) ? 1 + (px > cx) * 4 + (py > cy) * 2 + (px + py + s) % 2 : 0);
  }
}

/* one UNet on both backends from the same weights, with a Stepper each and a
 * batch buffer for make_batch */
typedef struct {
  int32_t n, s;
  Unet *nd, *nc;
  Stepper sd, sc;
  float *x;
  uint8_t *y;
} Twin;
static void twin_init(Twin *t, UnetBackbone bb, LossKind kind, int32_t S, uint64_t seed) {
  const int32_t N = 2, K = 9;
  UnetConfig cfg = {bb, 1, K, 4, UNET_CONV_DIRECT};
  t->n = N, t->s = S;
  t->nd = unet_init(g_dev, &cfg, N, S, S), t->nc = unet_init(g_cpu, &cfg, N, S, S);
  unet_init_weights(t->nd, UNET_INIT_KAIMING, seed), unet_init_weights(t->nc, UNET_INIT_KAIMING, seed);
  LossConfig lc;
  loss_config_default(&lc, kind);
  stepper_init(&t->sd, t->nd, &lc, N, S, S), stepper_init(&t->sc, t->nc, &lc, N, S, S);
  if (getenv("CORDSEG_NO_GRAPH")) t->sd.use_graph = 0;
  t->x = mallocCheck((size_t)N * S * S * sizeof(float));
  t->y = mallocCheck((size_t)N * S * S);
}
/* training step s on both (batch s); the relative difference of the losses */
static double twin_step(Twin *t, int s, double *ld, double *lc) {
  make_batch(s, t->n, t->s, t->x, t->y);
  *ld = stepper_train(&t->sd, t->x, t->y, 1e-3f);
  *lc = stepper_train(&t->sc, t->x, t->y, 1e-3f);
  return fabs(*ld - *lc) / fabs(*lc);
}
static void twin_free(Twin *t) {
  free(t->x), free(t->y);
  stepper_free(&t->sd), stepper_free(&t->sc);
  unet_free(t->nd), unet_free(t->nc);
}

/* a few Adam steps of a whole UNet from the same weights, a new batch each step */
static void test_training(UnetBackbone bb, LossKind kind, int32_t S, int steps, double tol_loss) {
  Twin t;
  twin_init(&t, bb, kind, S, 7);
  double worst = 0, ld = 0, l = 0;
  long long kern = 0, dnn = 0;
  double bytes = 0;
  for (int s = 0; s < steps; s++) {
#ifdef CORDSEG_TEST_EMUL
    const long long k0 = cordseg_emul_kernels(), d0 = cordseg_emul_cudnn_calls();
    const double b0 = cordseg_emul_bytes();
    cordseg_emul_traffic_mark();
#endif
    worst = fmax(worst, twin_step(&t, s, &ld, &l));
#ifdef CORDSEG_TEST_EMUL
    /* the last step's (the CPU step launches none) */
    kern = cordseg_emul_kernels() - k0, dnn = cordseg_emul_cudnn_calls() - d0, bytes = cordseg_emul_bytes() - b0;
#endif
    if (s == 0 || s == steps - 1) printf("    step %d: loss %.7f vs CPU %.7f\n", s + 1, ld, l);
  }
#ifdef CORDSEG_TEST_EMUL
  /* the step's own kernel launches (forward, loss, backward, Adam; not cuDNN's internal ones) and cuDNN calls:
   * the same at any size and width, so these are the figures of 128^2 batch 16 too */
  printf("  %-34s %s %s %s: %lld kernels + %lld cuDNN calls per training step\n", "launches", unet_backbone_name(bb),
         loss_kind_name(kind), g_dev->precision == BACKEND_PRECISION_BF16 ? "bf16" : "fp32", kern, dnn);
  /* the bytes those kernels, cuDNN calls, device copies and memsets declare (each operand element once at its size;
   * cuDNN's own transforms and workspace not included): this test's size, batch and width, not 128^2 batch 16 */
  char top[640];
  cordseg_emul_traffic_top(top, sizeof top, 6);
  printf("  %-34s %s %s %s: %.2f MB per training step at %dx%d, batch %d, width/4; most: %s\n", "traffic",
         unet_backbone_name(bb), loss_kind_name(kind), g_dev->precision == BACKEND_PRECISION_BF16 ? "bf16" : "fp32",
         bytes / 1e6, S, S, t.n, top);
#else
  (void)kern, (void)dnn, (void)bytes;
#endif
  printf("  %-34s %s %s: %d steps, worst loss rel err %.2e (limit %.0e)%s\n", "training", unet_backbone_name(bb),
         loss_kind_name(kind), steps, worst, tol_loss, t.sd.graph ? ", replayed from a graph" : "");
  T_CHECK(worst <= tol_loss, "%s %s training: loss differs from CPU by %.3g", unet_backbone_name(bb), loss_kind_name(kind),
          worst);
  float *pd = t_params(t.nd), *pc = t_params(t.nc);
  char op[96];
  snprintf(op, sizeof op, "params after %d steps (%s)", steps, unet_backbone_name(bb));
  compare(op, pd, pc, unet_num_params(t.nd), tol_loss * 10);
  if (capture_fails()) /* emulated capture failure: eager fallback, same trajectory as checked above */
    T_CHECK(t.sd.graph == NULL && !t.sd.use_graph, "a failed capture must leave the stepper eager");
  else if (graphs_expected())
    T_CHECK(t.sd.graph != NULL, "the CUDA step was not captured as a graph");
  free(pd), free(pc);
  twin_free(&t);
}

/* A scratch buffer that grows after a capture (a second, larger net planned
 * on the same backend, here with an eval loss) makes the graph stale: the
 * next step must capture again rather than replay into freed memory, and
 * still match the CPU. */
static void test_graph_regrow(void) {
  if (!graphs_expected()) return;
  Twin t;
  twin_init(&t, UNET_BACKBONE_VGG16, LOSS_KIND_HYBRID, 32, 9);
  double worst = 0, ld, l;
  for (int s = 0; s < 3; s++) worst = fmax(worst, twin_step(&t, s, &ld, &l));
  const int had_graph = t.sd.graph != NULL;
  /* a net of 4x the pixels on the same backend, and its eval loss: the loss scratch grows */
  const int32_t N = t.n, S2 = 2 * t.s;
  UnetConfig cfg = {UNET_BACKBONE_VGG16, 1, 9, 4, UNET_CONV_DIRECT};
  LossConfig lc;
  loss_config_default(&lc, LOSS_KIND_HYBRID);
  Unet *big = unet_init(g_dev, &cfg, N, S2, S2);
  Stepper sb;
  stepper_init(&sb, big, &lc, N, S2, S2);
  float *x2 = mallocCheck((size_t)N * S2 * S2 * sizeof(float));
  uint8_t *y2 = mallocCheck((size_t)N * S2 * S2);
  make_batch(5, N, S2, x2, y2);
  (void)stepper_eval(&sb, x2, y2);
#ifdef CORDSEG_TEST_EMUL
  const long long cap0 = cordseg_emul_captures();
#endif
  for (int s = 3; s < 5; s++) worst = fmax(worst, twin_step(&t, s, &ld, &l));
  printf("  %-34s worst loss rel err %.2e over 5 steps, graph before %d after %d\n", "graph after scratch growth", worst,
         had_graph, t.sd.graph != NULL);
  T_CHECK(had_graph && t.sd.graph != NULL, "the step should run from a graph before and after the growth");
  T_CHECK(worst <= tol(1e-4, 2e-2), "steps after a scratch growth differ from the CPU: %.3g", worst);
#ifdef CORDSEG_TEST_EMUL
  T_CHECK(cordseg_emul_captures() == cap0 + 1, "a stale graph must be captured again once (%lld captures)",
          cordseg_emul_captures() - cap0);
#endif
  free(x2), free(y2);
  stepper_free(&sb);
  unet_free(big);
  twin_free(&t);
}

/* Weights written by anything but Adam while a graph exists (a checkpoint
 * loaded into a running stepper): the graph reads the fp32 weights (bf16:
 * each forward converts them to its KRSC copy inside the graph), so it
 * replays on without a new capture and must match the CPU fed the same
 * weights. */
static void test_graph_new_weights(void) {
  if (!graphs_expected()) return;
  Twin t;
  twin_init(&t, UNET_BACKBONE_VGG16, LOSS_KIND_HYBRID, 32, 11);
  double worst = 0, ld, l;
  for (int s = 0; s < 3; s++) worst = fmax(worst, twin_step(&t, s, &ld, &l));
  const int had_graph = t.sd.graph != NULL;
  float *p = t_params(t.nc);
  for (size_t i = 0; i < unet_num_params(t.nc); i++) p[i] = 0.75f * p[i];
  unet_params_upload(t.nd, p), unet_params_upload(t.nc, p);
  free(p);
#ifdef CORDSEG_TEST_EMUL
  const long long cap0 = cordseg_emul_captures();
#endif
  for (int s = 3; s < 5; s++) worst = fmax(worst, twin_step(&t, s, &ld, &l));
  printf("  %-34s worst loss rel err %.2e over 5 steps, graph before %d after %d\n", "graph after new weights", worst,
         had_graph, t.sd.graph != NULL);
  T_CHECK(had_graph && t.sd.graph != NULL, "the step should run from a graph before and after the new weights");
  T_CHECK(worst <= tol(1e-4, 2e-2), "steps after new weights differ from the CPU: %.3g", worst);
#ifdef CORDSEG_TEST_EMUL
  T_CHECK(cordseg_emul_captures() - cap0 == 0, "new weights: %lld captures, expected none",
          cordseg_emul_captures() - cap0);
#endif
  twin_free(&t);
}

static void noop_bcast(void *ctx, void *buf, size_t bytes, int root) { (void)ctx, (void)buf, (void)bytes, (void)root; }

/* NCCL with one rank: a communicator, an all-reduce (the mean over one rank
 * is the buffer itself) and the watched wait behind it */
static void test_nccl_world1(void) {
  const BackendComm comm = {.rank = 0, .world = 1, .local_rank = 0, .local_size = 1, .host = "this host",
                            .nccl_timeout_s = 2, .nccl_world1 = 1, .bcast = noop_bcast};
  g_dev->comm_init(g_dev, &comm);
  const size_t n = BACKEND_ALLREDUCE_BUCKET_BYTES / sizeof(float) + 805696; /* past one bucket: 5000000 values */
  float *h = rnd(n, -1, 1, 0), *d = flat_up(g_dev, h, n);
  g_dev->allreduce_avg(g_dev, d, n);
  float *back = flat_down(g_dev, d, n);
  compare("nccl all-reduce, one rank", back, h, n, 0);
  free(back);
#ifdef CORDSEG_TEST_EMUL
  /* a peer that never answers: the rank must stop after nccl_timeout_s, naming itself */
  fflush(stdout);
  char log[] = "/tmp/cordseg_nccl_hang_XXXXXX";
  const int fd = mkstemp(log);
  const double t0 = cs_now();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 2);
    setenv("CUEMUL_NCCL_HANG", "1", 1);
    g_dev->allreduce_avg(g_dev, d, n);
    g_dev->sync(g_dev);
    _exit(0); /* not reached when the watchdog works */
  }
  int st = 0;
  waitpid(pid, &st, 0);
  char msg[4096] = "";
  FILE *f = fopen(log, "r");
  if (f) msg[fread(msg, 1, sizeof msg - 1, f)] = 0, fclose(f);
  close(fd), unlink(log);
  const double dt = cs_now() - t0;
  printf("  %-34s child exit %d after %.1f s: %.160s\n", "nccl watchdog (lost peer)",
         WIFEXITED(st) ? WEXITSTATUS(st) : -1, dt, msg);
  T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0, "a rank whose all-reduce never ends must stop");
  T_CHECK(strstr(msg, "rank 0 of 1") && strstr(msg, "this host") && strstr(msg, "nccl_timeout_s"),
          "the watchdog's message names rank, host and the timeout key");
  T_CHECK(dt >= 1.9 && dt < 30, "the watchdog fired after %.1f s, nccl_timeout_s = 2", dt);
#endif
  g_dev->free(g_dev, d);
  free(h);
}

int main(void) {
  rng_init(&g_rng, 2026);
  g_cpu = t_cpu();
  const char *pr = getenv("CORDSEG_TEST_PRECISION");
  const BackendPrecision prec = pr && !strcmp(pr, "bf16") ? BACKEND_PRECISION_BF16 : BACKEND_PRECISION_FP32;
#ifdef CORDSEG_TEST_EMUL
  g_dev = backend_cuda_init(prec, 1, -1);
  printf("test_backend_ops: the CUDA backend's code under host emulation (%s) vs the CPU backend\n", g_dev->version);
#else
  if (!backend_compiled(BACKEND_KIND_CUDA)) t_skip("this build has no CUDA backend (CORDSEG_WITH_CUDA=OFF)");
  if (backend_cuda_device_count() == 0)
    t_skip("no CUDA GPU visible: the CUDA ops are checked under emulation by test_backend_ops_emul");
  g_dev = backend_cuda_init(prec, 1, -1);
  g_gpu = 1;
  printf("test_backend_ops: %s vs the CPU backend\n", g_dev->version);
#endif
  test_pools();
  test_upsample_copy();
  test_bn();
  test_conv("3x3/s1 bias relu 16->32", (ConvSpec){.n = 2, .cin = 16, .cout = 32, .k = 3, .stride = 1, .pad = 1, .hin = 12,
                                                  .win = 10, .bias = 1, .relu = 1, .need_dsrc = 1});
  test_conv("1x1/s2 32->16", (ConvSpec){.n = 2, .cin = 32, .cout = 16, .k = 1, .stride = 2, .pad = 0, .hin = 12, .win = 10,
                                        .need_dsrc = 1});
  test_conv("7x7/s2 stem 1->16 (plain in)", (ConvSpec){.n = 2, .cin = 1, .cout = 16, .k = 7, .stride = 2, .pad = 3,
                                                       .hin = 16, .win = 16, .plain_src = 1});
  test_conv("3x3/s2 16->16", (ConvSpec){.n = 2, .cin = 16, .cout = 16, .k = 3, .stride = 2, .pad = 1, .hin = 9, .win = 8,
                                        .need_dsrc = 1});
  test_conv("1x1 final 16->9 (plain out)", (ConvSpec){.n = 2, .cin = 16, .cout = 9, .k = 1, .stride = 1, .pad = 0,
                                                      .hin = 8, .win = 8, .bias = 1, .plain_dst = 1, .need_dsrc = 1});
  test_algo_choice();
  test_losses();
  test_hdl_targets();
  test_adam_norms();
  test_training(UNET_BACKBONE_VGG16, LOSS_KIND_HYBRID, 32, 3, tol(1e-4, 2e-2));
  /* ResNet: BN over 8 values per channel in layer4 (N=2 at 64x64), Adam turning sign noise into +-lr moves:
   * under emulation 3.98e-3 measured with a new batch each step (1.34e-3 with one batch) */
  test_training(UNET_BACKBONE_RESNET50, LOSS_KIND_HYBRID, 64, 3, tol(6e-3, 5e-2));
  test_training(UNET_BACKBONE_VGG16, LOSS_KIND_HDL, 32, 3, tol(1e-4, 2e-2));
  test_graph_regrow();
  test_nccl_world1();
  /* the fused ReLU without a bias: conv_backward's element-wise mask (with a bias it is the reduction's); last, so
   * that the random inputs of the tests above stay as they were */
  test_conv("3x3/s1 relu 16->16 (no bias)", (ConvSpec){.n = 2, .cin = 16, .cout = 16, .k = 3, .stride = 1, .pad = 1,
                                                       .hin = 8, .win = 6, .relu = 1, .need_dsrc = 1});
  test_graph_new_weights(); /* after the tests above, so that their random inputs stay as they were */
#ifdef CORDSEG_TEST_EMUL
  printf("  emulation: %lld cuDNN calls checked, %lld graph launches%s\n", cordseg_emul_cudnn_calls(),
         cordseg_emul_graph_launches(), getenv("CUEMUL_DEFERRED") ? ", deferred execution" : "");
  T_CHECK(cordseg_emul_bad_launch_reported(), "a launch of 2048 threads per block must fail through cudaGetLastError");
  if (graphs_expected()) T_CHECK(cordseg_emul_graph_launches() > 0, "no training step ran from a graph");
  else T_CHECK(cordseg_emul_graph_launches() == 0, "a failed capture must never be launched");
#endif
  backend_free(g_dev);
  return t_finish("test_backend_ops");
}
