/* tests/test_io_dti.c: the tensor fit recovers known tensors exactly from
 * noise-free signals (FA within 1e-6), the positive-definite guard keeps
 * FA in [0,1], a bvals/volume count mismatch is fatal, and on the real
 * cervical acquisition ../shared/data/sct_dmri the cord white-matter FA lands
 * in the physiological range (cord mask from the mean DWI, independent of FA). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/dti.h"
#include "io/niftivol.h"
#include "tests/testutil.h"

static void rot(double a, double b, double c, double R[3][3]) {
  double ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b), cc = cos(c), sc = sin(c);
  double Rz[3][3] = {{ca, -sa, 0}, {sa, ca, 0}, {0, 0, 1}}, Ry[3][3] = {{cb, 0, sb}, {0, 1, 0}, {-sb, 0, cb}},
         Rx[3][3] = {{1, 0, 0}, {0, cc, -sc}, {0, sc, cc}}, T[3][3];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      T[i][j] = 0;
      for (int k = 0; k < 3; k++) T[i][j] += Rz[i][k] * Ry[k][j];
    }
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      R[i][j] = 0;
      for (int k = 0; k < 3; k++) R[i][j] += T[i][k] * Rx[k][j];
    }
}

static void synthetic(void) {
  enum { N = 1 + 15 + 15 };
  double bv[N], g[3 * N];
  Rng r;
  rng_init(&r, 7);
  bv[0] = 0, g[0] = g[1] = g[2] = 0;
  for (int i = 1; i < N; i++) {
    double x = rng_normal(&r), y = rng_normal(&r), z = rng_normal(&r), n = sqrt(x * x + y * y + z * z);
    g[3 * i] = x / n, g[3 * i + 1] = y / n, g[3 * i + 2] = z / n;
    bv[i] = i <= 15 ? 600 : 1200;
  }
  DtiModel m;
  dti_model_init(&m, bv, g, N, "synthetic");
  T_CHECK(m.n_b0 == 1, "one b0 volume");
  double worst_fa = 0, worst_md = 0, worst_v = 0;
  for (int t = 0; t < 200; t++) {
    double l[3] = {0.1e-3 + 2.9e-3 * rng_uniform(&r), 0.1e-3 + 2.9e-3 * rng_uniform(&r), 0};
    l[2] = t % 10 == 0 ? l[0] : 0.1e-3 + 2.9e-3 * rng_uniform(&r);
    if (t % 10 == 0) l[1] = l[0]; /* isotropic cases */
    double R[3][3], D[3][3];
    rot(6.28 * rng_uniform(&r), 6.28 * rng_uniform(&r), 6.28 * rng_uniform(&r), R);
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++) {
        D[i][j] = 0;
        for (int k = 0; k < 3; k++) D[i][j] += R[i][k] * l[k] * R[j][k];
      }
    double s[N], S0 = 200 + 1000 * rng_uniform(&r);
    for (int i = 0; i < N; i++) {
      const double *u = &g[3 * i];
      double q = 0;
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) q += u[a] * D[a][b] * u[b];
      s[i] = S0 * exp(-bv[i] * q);
    }
    DtiResult res;
    dti_fit_voxel(&m, s, &res);
    double ls[3] = {l[0], l[1], l[2]}, tmp;
    for (int a = 0; a < 3; a++)
      for (int b = a + 1; b < 3; b++)
        if (ls[b] > ls[a]) tmp = ls[a], ls[a] = ls[b], ls[b] = tmp;
    double fa = dti_fa(ls), md = (l[0] + l[1] + l[2]) / 3;
    worst_fa = fmax(worst_fa, fabs(res.fa - fa));
    worst_md = fmax(worst_md, fabs(res.md - md) / md);
    worst_md = fmax(worst_md, fabs(res.ad - ls[0]) / ls[0]);
    worst_md = fmax(worst_md, fabs(res.rd - 0.5 * (ls[1] + ls[2])) / ls[2]);
    T_CHECK(fabs(res.b0 - S0) < 1e-9 * S0, "b0 is the b=0 signal");
    if (ls[0] - ls[1] > 0.1e-3) { /* principal direction: the column of R with the largest eigenvalue */
      int k = l[0] == ls[0] ? 0 : l[1] == ls[0] ? 1 : 2;
      double dot = fabs(res.v1[0] * R[0][k] + res.v1[1] * R[1][k] + res.v1[2] * R[2][k]);
      worst_v = fmax(worst_v, 1 - dot);
    }
  }
  printf("synthetic: max |FA err| %.3g, max rel diffusivity err %.3g, max 1-|v1.e1| %.3g\n", worst_fa, worst_md, worst_v);
  T_CHECK(worst_fa < 1e-6, "FA recovered within 1e-6 (worst %.3g)", worst_fa);
  T_CHECK(worst_md < 1e-6, "MD/AD/RD recovered within 1e-6 relative (worst %.3g)", worst_md);
  T_CHECK(worst_v < 1e-6, "principal eigenvector recovered (worst %.3g)", worst_v);

  /* positive-definite guard: signal rising with b along some directions */
  double s[N];
  for (int i = 0; i < N; i++) s[i] = 1000 * exp(-bv[i] * (g[3 * i] * g[3 * i] * 2e-3 - g[3 * i + 2] * g[3 * i + 2] * 1e-3));
  DtiResult res;
  dti_fit_voxel(&m, s, &res);
  T_CHECK(res.eig[2] >= DTI_EIG_FLOOR && res.fa >= 0 && res.fa <= 1 && isfinite(res.md),
          "non-PD tensor is guarded: eig3 %g FA %g", res.eig[2], res.fa);
  for (int i = 0; i < N; i++) s[i] = i % 3 ? 0 : -5; /* zero and negative samples */
  dti_fit_voxel(&m, s, &res);
  T_CHECK(isfinite(res.fa) && res.fa >= 0 && res.fa <= 1, "zero/negative signals give a finite FA (%g)", res.fa);
  dti_model_free(&m);
}

static const char *g_dir;
static void read_mismatch(const char *bvals) {
  double *b, *g;
  char bvecs[512];
  snprintf(bvecs, sizeof bvecs, "%s/bvecs.txt", g_dir);
  dti_read_bvals_bvecs(bvals, bvecs, 36, &b, &g);
}
static void read_mismatch_cb(void *bvals) { read_mismatch(bvals); }

static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static void real_data(void) {
  char dir[1024], p[1100], bv[1100], bg[1100];
  snprintf(dir, sizeof dir, "%s/sct_dmri", t_data_dir());
  snprintf(p, sizeof p, "%s/dmri.nii.gz", dir);
  snprintf(bv, sizeof bv, "%s/bvals.txt", dir);
  snprintf(bg, sizeof bg, "%s/bvecs.txt", dir);
  struct stat st;
  if (stat(p, &st) != 0) {
    printf("real-data part skipped: %s not found (the shared sct_dmri data set)\n", p);
    return;
  }
  g_dir = dir;
  /* a count mismatch (36 expected, 35 in the file) is fatal */
  T_CHECK(t_child_exit(read_mismatch_cb, bv) == 1, "bvals count mismatch is a fatal error");

  double t0 = cs_now();
  NiftiVol v;
  niftivol_read(&v, p);
  double *b, *g;
  int32_t n = dti_read_bvals_bvecs(bv, bg, (int32_t)v.nt, &b, &g);
  DtiModel m;
  dti_model_init(&m, b, g, n, p);
  int64_t nvox = v.nx * v.ny * v.nz;
  float *fa = mallocCheck(sizeof(float) * nvox), *md = mallocCheck(sizeof(float) * nvox),
        *b0 = mallocCheck(sizeof(float) * nvox), *dw = callocCheck(nvox, sizeof(float));
  dti_fit_volume(&m, v.data, nvox, b0, fa, md, NULL, NULL);
  double t1 = cs_now();
  for (int32_t k = 0; k < n; k++)
    if (!m.is_b0[k])
      for (int64_t i = 0; i < nvox; i++) dw[i] += v.data[k * nvox + i] / (float)(n - m.n_b0);
  uint8_t *mask = mallocCheck(nvox);
  int64_t nm = dti_cord_mask(dw, v.nx, v.ny, v.nz, 5.0, 1, mask);
  float *sel = mallocCheck(sizeof(float) * (nm + 1));
  int64_t k = 0;
  double mdsum = 0;
  for (int64_t i = 0; i < nvox; i++)
    if (mask[i]) sel[k++] = fa[i], mdsum += md[i];
  qsort(sel, (size_t)k, sizeof(float), cmp_f);
  double med = k ? sel[k / 2] : 0;
  printf("sct_dmri: %lldx%lldx%lld x %d volumes (%d b=0), fit %.2f s; cord mask %lld voxels (%.1f per slice), "
         "FA median %.3f [p10 %.3f, p90 %.3f], MD mean %.2e mm^2/s\n",
         (long long)v.nx, (long long)v.ny, (long long)v.nz, n, m.n_b0, t1 - t0, (long long)nm, (double)nm / v.nz, med,
         k ? sel[k / 10] : 0, k ? sel[k * 9 / 10] : 0, k ? mdsum / k : 0);
  T_CHECK(nm > 10 * v.nz && nm < 200 * v.nz, "cord mask size plausible (%lld voxels)", (long long)nm);
  T_CHECK(med > 0.45 && med < 0.85, "cord white-matter FA %.3f in the physiological range 0.45..0.85", med);
  T_CHECK(k && mdsum / k > 0.3e-3 && mdsum / k < 1.5e-3, "cord MD %.2e in 0.3e-3..1.5e-3 mm^2/s", k ? mdsum / k : 0);
  free(sel), free(mask), free(fa), free(md), free(b0), free(dw), free(b), free(g);
  dti_model_free(&m);
  niftivol_free(&v);
}

/* bvecs with 5 distinct directions for 7 DW volumes (one repeated, once as its negative): refused as a bvecs
 * fault; with 7 distinct directions, read */
static char g_tab[2][600];
static void read_tab(void *arg) {
  (void)arg;
  double *b, *g;
  dti_read_bvals_bvecs(g_tab[0], g_tab[1], -1, &b, &g);
  free(b), free(g);
}

static void few_directions(void) {
  snprintf(g_tab[0], sizeof g_tab[0], "/tmp/cordseg-test-dti-%d.bval", (int)getpid());
  snprintf(g_tab[1], sizeof g_tab[1], "/tmp/cordseg-test-dti-%d.bvec", (int)getpid());
  FILE *f = fopen(g_tab[0], "w");
  fprintf(f, "0 1000 1000 1000 1000 1000 1000 1000\n");
  fclose(f);
  f = fopen(g_tab[1], "w");
  fprintf(f, "0 1 0 0 0.7071 0.7071 1 -1\n0 0 1 0 0.7071 0 0 0\n0 0 0 1 0 0.7071 0 0\n");
  fclose(f);
  T_CHECK(t_child_exit(read_tab, NULL) == 1, "bvecs with 5 distinct directions for 7 volumes (x thrice, once as -x): fatal");
  f = fopen(g_tab[1], "w");
  fprintf(f, "0 1 0 0 0.7071 0.7071 0 0.5774\n0 0 1 0 0.7071 0 0.7071 0.5774\n0 0 0 1 0 0.7071 0.7071 0.5774\n");
  fclose(f);
  T_CHECK(t_child_exit(read_tab, NULL) == 0, "7 distinct directions: read");
  remove(g_tab[0]), remove(g_tab[1]);
}

int main(void) {
  synthetic();
  few_directions();
  real_data();
  return t_finish("test_io_dti");
}
