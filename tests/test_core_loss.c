/* tests/test_core_loss.c: checks core/loss.c: fp64 finite-difference gradients of
 * every loss kind, the squared EDT against brute force, HDL target values,
 * hand-computed loss values, float vs fp64 agreement, loss_probs, thread-count
 * independence and the fatal out-of-range label path. Prints (does not
 * assert) the timing of the training-size call. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "core/loss.h"
#include "tests/testutil.h"

/* Random labels [n][h][w]: image 0 holds every class (the first k pixels are
 * 0..k-1), image 1 (when n > 1) never holds class `absent`. */
static void make_labels(Rng *r, uint8_t *lab, int32_t n, int32_t k, int32_t h, int32_t w, int32_t absent) {
  const int64_t hw = (int64_t)h * w;
  for (int32_t b = 0; b < n; b++)
    for (int64_t i = 0; i < hw; i++) {
      uint32_t v = rng_below(r, (uint32_t)k);
      if (b == 0 && i < k) v = (uint32_t)i;
      if (b == 1) v = rng_below(r, (uint32_t)(k - 1)), v = v >= (uint32_t)absent ? v + 1 : v;
      lab[b * hw + i] = (uint8_t)v;
    }
}

static void make_logits(Rng *r, double *z, int64_t count, double scale) {
  for (int64_t i = 0; i < count; i++) z[i] = scale * rng_normal(r);
}

static double max_abs(const double *a, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
  return m;
}

/* Central finite differences of loss_compute_f64 against its gradient. */
static void check_fd(const char *what, const LossConfig *cfg, int32_t n, int32_t k, int32_t h, int32_t w, uint64_t seed) {
  Rng r;
  rng_init(&r, seed);
  const int64_t hw = (int64_t)h * w, total = (int64_t)n * k * hw;
  double *z = malloc(total * sizeof(double)), *g = malloc(total * sizeof(double)), *fd = malloc(total * sizeof(double));
  uint8_t *lab = malloc(n * hw);
  make_logits(&r, z, total, 2.0);
  make_labels(&r, lab, n, k, h, w, k / 2);
  double l0 = loss_compute_f64(cfg, z, lab, n, k, h, w, g);
  double l1 = loss_compute_f64(cfg, z, lab, n, k, h, w, NULL);
  T_CHECK(l0 == l1, "%s: loss with and without gradient differ: %.17g vs %.17g", what, l0, l1);
  const double step = 1e-5;
  for (int64_t i = 0; i < total; i++) {
    const double z0 = z[i];
    z[i] = z0 + step;
    double lp = loss_compute_f64(cfg, z, lab, n, k, h, w, NULL);
    z[i] = z0 - step;
    double lm = loss_compute_f64(cfg, z, lab, n, k, h, w, NULL);
    z[i] = z0;
    fd[i] = (lp - lm) / (2 * step);
  }
  const double gmax = max_abs(g, total);
  /* FD rounding noise is ~1e-16 |L| / step, so relative errors are taken
   * against max(|g_i|, gmax/10): still per element, but free of that noise */
  const double err = t_max_rel_err(fd, g, total, 0.1 * gmax);
  printf("  fd %-28s N=%d K=%d %dx%d loss %.6f  max|g| %.3e  rel err %.2e\n", what, n, k, h, w, l0, gmax, err);
  T_CHECK(isfinite(l0) && gmax > 0, "%s: loss %g, max|grad| %g", what, l0, gmax);
  T_CHECK(err < 1e-6, "%s: finite-difference gradient rel err %.3e (N=%d K=%d %dx%d)", what, err, n, k, h, w);
  free(z), free(g), free(fd), free(lab);
}

static void test_gradients(void) {
  /* thousands of tiny calls: one thread, so a busy machine's OpenMP barriers
   * do not dominate (thread-count independence is checked in test_float_path) */
  const int nt = omp_get_max_threads();
  omp_set_num_threads(1);
  LossConfig c;
  const int32_t shapes[][4] = {{2, 3, 6, 7}, {2, 9, 8, 8}};
  for (int s = 0; s < 2; s++) {
    const int32_t n = shapes[s][0], k = shapes[s][1], h = shapes[s][2], w = shapes[s][3];
    char name[64];
    loss_config_default(&c, LOSS_KIND_HYBRID);
    check_fd("hybrid", &c, n, k, h, w, 11 + s);
    c.focal_gamma = 1.5f; /* the general pow path */
    snprintf(name, sizeof name, "hybrid gamma=1.5");
    check_fd(name, &c, n, k, h, w, 21 + s);
    loss_config_default(&c, LOSS_KIND_CE);
    check_fd("ce", &c, n, k, h, w, 31 + s);
    loss_config_default(&c, LOSS_KIND_HDL);
    check_fd("hdl norm", &c, n, k, h, w, 41 + s);
    c.hdl_sigma = 2.0f;
    check_fd("hdl norm sigma=2", &c, n, k, h, w, 51 + s);
    c.hdl_reduce = HDL_REDUCE_MSE;
    check_fd("hdl mse", &c, n, k, h, w, 61 + s);
  }
  omp_set_num_threads(nt);
}

/* ------------------------------------------------------------------ EDT -- */
static void edt_brute(const uint8_t *m, int32_t h, int32_t w, double *out) {
  for (int32_t y = 0; y < h; y++)
    for (int32_t x = 0; x < w; x++) {
      double best = INFINITY;
      for (int32_t qy = 0; qy < h; qy++)
        for (int32_t qx = 0; qx < w; qx++)
          if (m[qy * w + qx]) {
            double d = (double)(y - qy) * (y - qy) + (double)(x - qx) * (x - qx);
            if (d < best) best = d;
          }
      out[y * w + x] = best;
    }
}

static void test_edt(void) {
  Rng r;
  rng_init(&r, 7);
  const int32_t shapes[][2] = {{1, 1}, {1, 9}, {9, 1}, {7, 13}, {16, 5}, {20, 20}, {31, 17}};
  const double dens[] = {0.0, 1.0, 0.02, 0.1, 0.5, -1.0 /* single pixel */};
  int cases = 0, bad = 0;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (size_t d = 0; d < sizeof dens / sizeof dens[0]; d++)
      for (int rep = 0; rep < 3; rep++) {
        const int32_t h = shapes[s][0], w = shapes[s][1];
        const int64_t hw = (int64_t)h * w;
        uint8_t *m = calloc(hw, 1);
        double *ref = malloc(hw * sizeof(double)), *out = malloc(hw * sizeof(double));
        float *outf = malloc(hw * sizeof(float));
        if (dens[d] < 0)
          m[rng_below(&r, (uint32_t)hw)] = 1;
        else
          for (int64_t i = 0; i < hw; i++) m[i] = rng_uniform(&r) < dens[d];
        edt_brute(m, h, w, ref);
        loss_edt_sq_f64(m, h, w, out);
        loss_edt_sq(m, h, w, outf);
        for (int64_t i = 0; i < hw; i++)
          if (out[i] != ref[i] || (double)outf[i] != ref[i]) {
            if (!bad) fprintf(stderr, "edt %dx%d density %g: pixel %ld: got %g / %g, want %g\n", h, w, dens[d], (long)i, out[i],
                              (double)outf[i], ref[i]);
            bad++;
            break;
          }
        cases++;
        free(m), free(ref), free(out), free(outf);
      }
  T_CHECK(bad == 0, "EDT differs from brute force in %d of %d masks", bad, cases);
  printf("  edt: %d random masks (empty, full, single pixel, sparse, dense) match brute force exactly\n", cases);
}

static void test_hdl_target(void) {
  const int32_t n = 1, k = 3, h = 7, w = 7;
  uint8_t lab[49] = {0};
  lab[3 * 7 + 3] = 1; /* class 1: the single centre pixel; class 2 absent */
  const double sigma = 1.5, q = 2 * sigma * sigma;
  double t[3 * 49];
  float tf[3 * 49];
  loss_hdl_target_f64(lab, n, k, h, w, sigma, t);
  loss_hdl_target(lab, n, k, h, w, (float)sigma, tf);
  const double *g0 = t, *g1 = t + 49, *g2 = t + 98;
  const double tol = 1e-15;
  T_CHECK(g1[24] == 1.0, "target inside the mask %g, want 1", g1[24]);
  T_CHECK(fabs(g1[25] - exp(-1 / q)) < tol, "distance 1 neighbour %.17g want %.17g", g1[25], exp(-1 / q));
  T_CHECK(fabs(g1[17] - exp(-1 / q)) < tol, "distance 1 (above) %.17g want %.17g", g1[17], exp(-1 / q));
  T_CHECK(fabs(g1[32] - exp(-2 / q)) < tol, "diagonal neighbour %.17g want %.17g", g1[32], exp(-2 / q));
  T_CHECK(fabs(g1[0] - exp(-18 / q)) < tol, "corner %.17g want %.17g", g1[0], exp(-18 / q));
  T_CHECK(fabs(g1[3 * 7 + 0] - exp(-9 / q)) < tol, "distance 3 %.17g want %.17g", g1[21], exp(-9 / q));
  T_CHECK(fabs(g1[1 * 7 + 5] - exp(-8 / q)) < tol, "(1,5) %.17g want %.17g", g1[12], exp(-8 / q));
  int ok0 = 1, ok2 = 1;
  for (int i = 0; i < 49; i++) {
    if (i != 24 && g0[i] != 1.0) ok0 = 0;
    if (g2[i] != 0.0) ok2 = 0;
  }
  T_CHECK(ok0 && fabs(g0[24] - exp(-1 / q)) < tol, "background target: 1 outside the hole, exp(-1/2s^2) in it (%g)", g0[24]);
  T_CHECK(ok2, "absent class must give a zero target");
  double maxd = 0;
  for (int i = 0; i < 3 * 49; i++) maxd = fmax(maxd, fabs((double)tf[i] - t[i]));
  T_CHECK(maxd < 1e-6, "float target differs from fp64 by %g", maxd);
}

/* loss_hdl_target vs its definition on brute-force distances, for random
 * labels and several sigmas (small ones exercise the far-distance cutoff:
 * G = 0 where d^2 / (2 sigma^2) > 80). */
static void test_hdl_target_brute(void) {
  Rng r;
  rng_init(&r, 17);
  const int32_t n = 2, k = 4, h = 23, w = 19;
  const int64_t hw = (int64_t)h * w;
  uint8_t lab[2 * 23 * 19], m[23 * 19];
  double t[2 * 4 * 23 * 19], d2[23 * 19];
  for (int64_t i = 0; i < n * hw; i++) lab[i] = (uint8_t)(rng_uniform(&r) < 0.97 ? 0 : 1 + rng_below(&r, 2)); /* class 3 absent */
  const double sigmas[] = {0.3, 0.5, 1.0, 2.5};
  double worst = 0;
  for (int si = 0; si < 4; si++) {
    const double sg = sigmas[si];
    loss_hdl_target_f64(lab, n, k, h, w, sg, t);
    for (int32_t b = 0; b < n; b++)
      for (int32_t c = 0; c < k; c++) {
        int any = 0;
        for (int64_t i = 0; i < hw; i++) m[i] = lab[b * hw + i] == c, any |= m[i];
        edt_brute(m, h, w, d2);
        for (int64_t i = 0; i < hw; i++) {
          const double a = d2[i] / (2 * sg * sg);
          const double want = !any ? 0.0 : a > 80 ? 0.0 : exp(-a);
          worst = fmax(worst, fabs(t[(b * k + c) * hw + i] - want) / fmax(want, 1e-300));
        }
      }
  }
  /* exp(-a) for a <= 80 inherits ~a * 2^-52 relative error from its argument */
  T_CHECK(worst < 1e-13, "HDL target differs from its brute-force definition: rel err %.3e", worst);
}

/* ------------------------------------------------------- hand values -- */
static void test_hand_values(void) {
  const int32_t n = 2, k = 4, h = 3, w = 5;
  const int64_t hw = h * w, npix = n * hw;
  Rng r;
  rng_init(&r, 3);
  uint8_t lab[2 * 15];
  make_labels(&r, lab, n, k, h, w, 1);
  double z[2 * 4 * 15] = {0};
  LossConfig c;
  loss_config_default(&c, LOSS_KIND_CE);
  double ce = loss_compute_f64(&c, z, lab, n, k, h, w, NULL);
  T_CHECK(fabs(ce - log(4.0)) < 1e-15, "ce of zero logits %.17g, want log 4 = %.17g", ce, log(4.0));
  /* hybrid: focal = alpha (1-1/K)^gamma log K; dice_c = (2 n_c/K + s) / (P/K + n_c + s) */
  loss_config_default(&c, LOSS_KIND_HYBRID);
  double cnt[4] = {0};
  for (int64_t i = 0; i < npix; i++) cnt[lab[i]] += 1;
  const double s = (double)c.dice_smooth;
  double dmean = 0;
  for (int cl = 0; cl < k; cl++) dmean += (2 * cnt[cl] / k + s) / ((double)npix / k + cnt[cl] + s);
  const double want = 0.5 * pow(0.75, 2) * log(4.0) + 1 - dmean / k;
  double hy = loss_compute_f64(&c, z, lab, n, k, h, w, NULL);
  T_CHECK(fabs(hy - want) < 1e-14, "hybrid of zero logits %.17g, want %.17g", hy, want);
  /* perfect one-hot prediction: focal ~ 0 and dice ~ 0 */
  for (int64_t b = 0; b < n; b++)
    for (int64_t i = 0; i < hw; i++) z[(b * k + lab[b * hw + i]) * hw + i] = 40.0;
  hy = loss_compute_f64(&c, z, lab, n, k, h, w, NULL);
  T_CHECK(hy >= 0 && hy < 1e-12, "hybrid of a confident correct prediction %.3g, want ~0", hy);

  /* hdl on a 1x3 image, labels [1 0 0], K=2, zero logits (H = 0.5):
   * G1 = [1, e1, e4], G0 = [e1, 1, 1], with eX = exp(-X/(2 sigma^2)) */
  loss_config_default(&c, LOSS_KIND_HDL);
  c.hdl_sigma = 1.0f;
  uint8_t l3[3] = {1, 0, 0};
  double z3[6] = {0};
  const double e1 = exp(-0.5), e4 = exp(-2.0), eps = (double)c.hdl_eps;
  double s1 = 0.25 + (0.5 - e1) * (0.5 - e1) + (0.5 - e4) * (0.5 - e4);
  double s0 = (0.5 - e1) * (0.5 - e1) + 0.25 + 0.25;
  double hd = loss_compute_f64(&c, z3, l3, 1, 2, 1, 3, NULL);
  T_CHECK(fabs(hd - (sqrt(s0 + eps) + sqrt(s1 + eps))) < 1e-14, "hdl norm %.17g want %.17g", hd, sqrt(s0 + eps) + sqrt(s1 + eps));
  c.hdl_reduce = HDL_REDUCE_MSE;
  hd = loss_compute_f64(&c, z3, l3, 1, 2, 1, 3, NULL);
  T_CHECK(fabs(hd - (s0 + s1) / 6) < 1e-15, "hdl mse %.17g want %.17g", hd, (s0 + s1) / 6);
}

/* ------------------------------------------ float vs fp64, probs, threads -- */
static void test_float_path(void) {
  const int32_t n = 3, k = 9, h = 40, w = 37; /* several blocks per image, a partial one */
  const int64_t hw = (int64_t)h * w, total = n * k * hw;
  Rng r;
  rng_init(&r, 99);
  double *z = malloc(total * sizeof(double)), *g = malloc(total * sizeof(double)), *p = malloc(total * sizeof(double));
  float *zf = malloc(total * sizeof(float)), *gf = malloc(total * sizeof(float)), *pf = malloc(total * sizeof(float));
  double *gfd = malloc(total * sizeof(double));
  uint8_t *lab = malloc(n * hw);
  for (int64_t i = 0; i < total; i++) zf[i] = (float)(3.0 * rng_normal(&r)), z[i] = zf[i];
  make_labels(&r, lab, n, k, h, w, 2);
  const char *names[] = {"hybrid", "ce", "hdl norm", "hdl mse"};
  for (int m = 0; m < 4; m++) {
    LossConfig c;
    loss_config_default(&c, m == 0 ? LOSS_KIND_HYBRID : m == 1 ? LOSS_KIND_CE : LOSS_KIND_HDL);
    if (m == 3) c.hdl_reduce = HDL_REDUCE_MSE;
    double l64 = loss_compute_f64(&c, z, lab, n, k, h, w, g);
    double l32 = loss_compute(&c, zf, lab, n, k, h, w, gf);
    for (int64_t i = 0; i < total; i++) gfd[i] = gf[i];
    double lerr = fabs(l32 - l64) / fabs(l64);
    double gerr = t_max_rel_err(gfd, g, total, 0.1 * max_abs(g, total));
    printf("  float vs fp64 %-8s loss %.8f rel %.2e, grad rel %.2e\n", names[m], l64, lerr, gerr);
    T_CHECK(lerr < 1e-5, "%s: float loss %.9g vs fp64 %.9g", names[m], l32, l64);
    T_CHECK(gerr < 1e-5, "%s: float gradient rel err %.3e", names[m], gerr);

    /* thread-count independence: 1 thread and 2 threads give identical bits */
    float *g1 = malloc(total * sizeof(float));
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    double la = loss_compute(&c, zf, lab, n, k, h, w, g1);
    omp_set_num_threads(3);
    double lb = loss_compute(&c, zf, lab, n, k, h, w, gf);
    omp_set_num_threads(nt);
    T_CHECK(la == lb && memcmp(g1, gf, total * sizeof(float)) == 0, "%s: result depends on the thread count (%.17g vs %.17g)",
            names[m], la, lb);
    free(g1);

    /* loss_probs */
    loss_probs_f64(&c, z, n, k, h, w, p);
    loss_probs(&c, zf, n, k, h, w, pf);
    double worst = 0, fworst = 0;
    for (int64_t b = 0; b < n; b++)
      for (int64_t i = 0; i < hw; i++) {
        if (c.kind != LOSS_KIND_HDL) {
          double sum = 0;
          for (int32_t cl = 0; cl < k; cl++) sum += p[(b * k + cl) * hw + i];
          worst = fmax(worst, fabs(sum - 1));
        } else {
          for (int32_t cl = 0; cl < k; cl++) {
            int64_t j = (b * k + cl) * hw + i;
            worst = fmax(worst, fabs(p[j] - 1 / (1 + exp(-z[j]))) / p[j]);
          }
        }
        for (int32_t cl = 0; cl < k; cl++) {
          int64_t j = (b * k + cl) * hw + i;
          fworst = fmax(fworst, fabs((double)pf[j] - p[j]));
        }
      }
    T_CHECK(worst < 1e-14, "%s: loss_probs_f64 off by %.3e (softmax sum / sigmoid)", names[m], worst);
    T_CHECK(fworst < 1e-6, "%s: loss_probs float vs fp64 off by %.3e", names[m], fworst);
  }
  /* extreme logits stay finite */
  for (int64_t i = 0; i < total; i++) zf[i] = (float)(200.0 * rng_normal(&r));
  for (int m = 0; m < 3; m++) {
    LossConfig c;
    loss_config_default(&c, m == 0 ? LOSS_KIND_HYBRID : m == 1 ? LOSS_KIND_CE : LOSS_KIND_HDL);
    double l = loss_compute(&c, zf, lab, n, k, h, w, gf);
    int fin = isfinite(l);
    for (int64_t i = 0; i < total; i++) fin &= isfinite(gf[i]);
    T_CHECK(fin, "%s: loss or gradient not finite for logits of magnitude ~200", names[m]);
  }
  free(z), free(g), free(p), free(zf), free(gf), free(pf), free(gfd), free(lab);
}

/* The out-of-range label path exits with a message naming value and place. */
static void test_bad_label(void) {
  int fds[2];
  if (pipe(fds) != 0) return;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    uint8_t lab[2 * 3 * 4] = {0};
    lab[12 + 2 * 4 + 3] = 7; /* n=1, y=2, x=3 */
    float z[2 * 3 * 12] = {0};
    LossConfig c;
    loss_config_default(&c, LOSS_KIND_HYBRID);
    loss_compute(&c, z, lab, 2, 3, 3, 4, NULL);
    _exit(0);
  }
  close(fds[1]);
  char buf[1024] = {0};
  size_t got = 0;
  ssize_t rd;
  while (got < sizeof buf - 1 && (rd = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)rd;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "a label >= K must be fatal (status %d)", st);
  T_CHECK(strstr(buf, "label value 7") && strstr(buf, "(n=1, y=2, x=3)") && strstr(buf, "hint:"),
          "fatal message must name the value and position, with a hint; got: %s", buf);
}

static void test_kind_names(void) {
  T_CHECK(loss_kind_parse("hybrid") == LOSS_KIND_HYBRID && loss_kind_parse("hdl") == LOSS_KIND_HDL &&
              loss_kind_parse("ce") == LOSS_KIND_CE && loss_kind_parse("dice") == -1 && loss_kind_parse(NULL) == -1,
          "loss_kind_parse");
  for (int kd = 0; kd < 3; kd++)
    T_CHECK(loss_kind_parse(loss_kind_name((LossKind)kd)) == kd, "loss_kind_name round trip %d", kd);
}

/* Training-size timing, printed only. */
static void time_training_size(void) {
  const int32_t n = 16, k = 9, h = 128, w = 128;
  const int64_t hw = (int64_t)h * w, total = n * k * hw;
  Rng r;
  rng_init(&r, 5);
  float *z = malloc(total * sizeof(float)), *g = malloc(total * sizeof(float));
  uint8_t *lab = malloc(n * hw);
  for (int64_t i = 0; i < total; i++) z[i] = (float)(2.0 * rng_normal(&r));
  for (int32_t b = 0; b < n; b++) /* concentric bands: realistic connected masks */
    for (int32_t y = 0; y < h; y++)
      for (int32_t x = 0; x < w; x++) {
        double d = sqrt((double)(y - 64) * (y - 64) + (double)(x - 64 - b) * (x - 64 - b));
        lab[b * hw + y * w + x] = (uint8_t)(d < 40 ? 1 + (int)(d / 5) : 0);
      }
  const char *names[] = {"hybrid", "hdl", "ce"};
  for (int kd = 0; kd < 3; kd++) {
    LossConfig c;
    loss_config_default(&c, (LossKind)kd);
    loss_compute(&c, z, lab, n, k, h, w, g); /* warm-up */
    double best = INFINITY, sum = 0;
    const int reps = 10;
    for (int i = 0; i < reps; i++) {
      double t0 = cs_now();
      loss_compute(&c, z, lab, n, k, h, w, g);
      double dt = cs_now() - t0;
      best = fmin(best, dt), sum += dt;
    }
    printf("  timing: loss_compute %-6s N=16 K=9 128x128 with gradient: best %.2f ms, mean %.2f ms (%d threads)\n",
           names[kd], best * 1e3, sum / reps * 1e3, omp_get_max_threads());
  }
  free(z), free(g), free(lab);
}

/* Data-parallel hybrid: two "ranks" holding half a batch each, whose Dice
 * statistics are summed through the dice_allreduce hook, must give the
 * full batch's loss (averaged over ranks) and the full batch's gradient
 * (each rank's gradient / 2 equals its half of the full gradient). The
 * fake all-reduce adds the other half's statistics, computed first. */
static double g_other[3 * 256];
static int g_pass; /* 0: record this half's stats; 1: add the recorded other half */
static void fake_allreduce(double *v, int32_t n) {
  if (g_pass == 0) {
    memcpy(g_other, v, sizeof(double) * (size_t)n);
  } else {
    for (int32_t i = 0; i < n; i++) v[i] += g_other[i];
  }
}

static void test_dice_allreduce(void) {
  enum { N = 4, K = 9, H = 12, W = 10 };
  const size_t img = (size_t)K * H * W, half = (N / 2) * img;
  float *z = mallocCheck(sizeof(float) * N * img), *g = mallocCheck(sizeof(float) * N * img);
  float *ga = mallocCheck(sizeof(float) * half), *gb = mallocCheck(sizeof(float) * half);
  uint8_t *y = mallocCheck((size_t)N * H * W);
  Rng r;
  rng_init(&r, 77);
  for (size_t i = 0; i < N * img; i++) z[i] = (float)(2 * rng_normal(&r));
  for (size_t i = 0; i < (size_t)N * H * W; i++) y[i] = (uint8_t)rng_below(&r, K);
  LossConfig full;
  loss_config_default(&full, LOSS_KIND_HYBRID);
  double lf = loss_compute(&full, z, y, N, K, H, W, g);
  LossConfig dp = full;
  dp.dice_allreduce = fake_allreduce, dp.dice_grad_scale = 2;
  const size_t hy = (size_t)(N / 2) * H * W;
  /* rank 1's statistics first (recorded), then rank 0 with them added, and vice versa */
  g_pass = 0;
  loss_compute(&dp, z + half, y + hy, N / 2, K, H, W, NULL);
  g_pass = 1;
  double l0 = loss_compute(&dp, z, y, N / 2, K, H, W, ga);
  g_pass = 0;
  loss_compute(&dp, z, y, N / 2, K, H, W, NULL);
  g_pass = 1;
  double l1 = loss_compute(&dp, z + half, y + hy, N / 2, K, H, W, gb);
  double lmean = 0.5 * (l0 + l1);
  T_CHECK(fabs(lmean - lf) <= 1e-6 * fabs(lf), "hybrid over 2 ranks: mean loss %.9f == full batch %.9f", lmean, lf);
  double err = 0, mx = 0;
  for (size_t i = 0; i < half; i++) {
    err = fmax(err, fabs(0.5 * ga[i] - g[i])), err = fmax(err, fabs(0.5 * gb[i] - g[half + i]));
    mx = fmax(mx, fabs(g[i]));
  }
  T_CHECK(err <= 1e-5 * mx, "hybrid over 2 ranks: averaged gradients == full batch (max err %.2e of %.2e)", err, mx);
  /* without the hook the halves differ from the full batch (the check can fail) */
  LossConfig local = full;
  double lloc = 0.5 * (loss_compute(&local, z, y, N / 2, K, H, W, NULL) +
                       loss_compute(&local, z + half, y + hy, N / 2, K, H, W, NULL));
  T_CHECK(fabs(lloc - lf) > 1e-6 * fabs(lf), "local-batch Dice differs from the global one (%.9f vs %.9f)", lloc, lf);
  free(z), free(g), free(ga), free(gb), free(y);
}

int main(void) {
  const double t0 = cs_now();
  test_kind_names();
  test_edt();
  test_hdl_target();
  test_hdl_target_brute();
  test_hand_values();
  test_gradients();
  test_float_path();
  test_bad_label();
  time_training_size();
  printf("  test time %.2f s\n", cs_now() - t0);
  test_dice_allreduce();
  return t_finish("test_core_loss");
}
