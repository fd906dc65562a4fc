#define _POSIX_C_SOURCE 200809L
/* io/dti.c: weighted linear least-squares diffusion-tensor fit (see dti.h),
 * b-table reading, analytic 3x3 eigen-decomposition, and the FA-independent
 * cord mask used to check fits on real data. */
#include "io/dti.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"

/* Cholesky solve of the 7x7 SPD system A x = b (A overwritten). 0 on failure. */
static int chol7_solve(double A[7][7], double b[7], double x[7]) {
  for (int j = 0; j < 7; j++) {
    double d = A[j][j];
    for (int k = 0; k < j; k++) d -= A[j][k] * A[j][k];
    if (!(d > 1e-300)) return 0;
    d = sqrt(d);
    A[j][j] = d;
    for (int i = j + 1; i < 7; i++) {
      double s = A[i][j];
      for (int k = 0; k < j; k++) s -= A[i][k] * A[j][k];
      A[i][j] = s / d;
    }
  }
  double y[7];
  for (int i = 0; i < 7; i++) {
    double s = b[i];
    for (int k = 0; k < i; k++) s -= A[i][k] * y[k];
    y[i] = s / A[i][i];
  }
  for (int i = 6; i >= 0; i--) {
    double s = y[i];
    for (int k = i + 1; k < 7; k++) s -= A[k][i] * x[k];
    x[i] = s / A[i][i];
  }
  return 1;
}

void dti_model_init(DtiModel *m, const double *bvals, const double *bvecs, int32_t n, const char *what) {
  memset(m, 0, sizeof *m);
  CS_CHECK(n >= 7 && n <= DTI_MAX_VOLUMES, "a tensor fit needs at least 1 b=0 and 6 diffusion-weighted volumes",
           "%s: %d volumes (need 7..%d)", what, n, DTI_MAX_VOLUMES);
  m->n = n;
  m->bvals = mallocCheck(sizeof(double) * (size_t)n);
  m->bvecs = mallocCheck(sizeof(double) * 3 * (size_t)n);
  m->X = mallocCheck(sizeof(double) * 7 * (size_t)n);
  m->pinv = mallocCheck(sizeof(double) * 7 * (size_t)n);
  m->is_b0 = mallocCheck((size_t)n);
  int32_t nb0 = 0;
  for (int32_t i = 0; i < n; i++) nb0 += isfinite(bvals[i]) && bvals[i] >= 0 && bvals[i] <= DTI_B0_THRESHOLD;
  CS_CHECK(nb0 >= 1, "add a b=0 volume (bval <= 50) to the acquisition", "%s: no b=0 volume", what);
  for (int32_t i = 0; i < n; i++) {
    double b = bvals[i], g[3] = {bvecs[3 * i], bvecs[3 * i + 1], bvecs[3 * i + 2]};
    CS_CHECK(isfinite(b) && b >= 0, "bvals must be finite and >= 0 (s/mm^2)", "%s: bval %d is %g", what, i, b);
    m->is_b0[i] = b <= DTI_B0_THRESHOLD;
    double nrm = sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]);
    if (m->is_b0[i]) {
      m->n_b0++;
      b = 0, nrm = 0;
    } else {
      CS_CHECK(nrm > 0.5 && nrm < 1.5, "each diffusion-weighted volume needs a unit gradient direction in bvecs",
               "%s: bvec %d has length %g for b=%g", what, i, nrm, b);
    }
    for (int k = 0; k < 3; k++) m->bvecs[3 * i + k] = nrm > 0 ? g[k] / nrm : 0;
    m->bvals[i] = b;
    const double *u = &m->bvecs[3 * i];
    double *x = &m->X[7 * i];
    x[0] = 1, x[1] = -b * u[0] * u[0], x[2] = -b * u[1] * u[1], x[3] = -b * u[2] * u[2];
    x[4] = -2 * b * u[0] * u[1], x[5] = -2 * b * u[0] * u[2], x[6] = -2 * b * u[1] * u[2];
  }
  CS_CHECK(m->n_b0 >= 1, "add a b=0 volume (bval <= 50) to the acquisition", "%s: no b=0 volume", what);
  /* pinv = (X^T X)^-1 X^T, column by column through the Cholesky solver */
  double XtX[7][7];
  for (int a = 0; a < 7; a++)
    for (int c = 0; c < 7; c++) {
      double s = 0;
      for (int32_t i = 0; i < n; i++) s += m->X[7 * i + a] * m->X[7 * i + c];
      XtX[a][c] = s;
    }
  for (int32_t i = 0; i < n; i++) {
    double A[7][7], rhs[7], col[7];
    memcpy(A, XtX, sizeof A);
    for (int a = 0; a < 7; a++) rhs[a] = m->X[7 * i + a];
    if (!chol7_solve(A, rhs, col))
      cs_fatal("the gradient directions must span 3-D (at least 6 non-coplanar directions)",
               "%s: the tensor design matrix is singular", what);
    for (int a = 0; a < 7; a++) m->pinv[(size_t)a * n + i] = col[a];
  }
}

void dti_model_free(DtiModel *m) {
  free(m->bvals), free(m->bvecs), free(m->X), free(m->pinv), free(m->is_b0);
  memset(m, 0, sizeof *m);
}

double dti_fa(const double e[3]) {
  double den = e[0] * e[0] + e[1] * e[1] + e[2] * e[2];
  if (!(den > 0)) return 0;
  double num = (e[0] - e[1]) * (e[0] - e[1]) + (e[1] - e[2]) * (e[1] - e[2]) + (e[2] - e[0]) * (e[2] - e[0]);
  double fa = sqrt(0.5 * num / den);
  return fa > 1 ? 1 : fa;
}

void dti_tensor_eig(const double D[6], double eig[3], double v1[3]) {
  double a00 = D[0], a11 = D[1], a22 = D[2], a01 = D[3], a02 = D[4], a12 = D[5];
  double p1 = a01 * a01 + a02 * a02 + a12 * a12;
  double q = (a00 + a11 + a22) / 3;
  double p2 = (a00 - q) * (a00 - q) + (a11 - q) * (a11 - q) + (a22 - q) * (a22 - q) + 2 * p1;
  double p = sqrt(p2 / 6);
  if (!(p > 1e-30 * (fabs(q) + 1e-300))) {
    eig[0] = eig[1] = eig[2] = q;
    v1[0] = 0, v1[1] = 0, v1[2] = 1;
    return;
  }
  double b00 = (a00 - q) / p, b11 = (a11 - q) / p, b22 = (a22 - q) / p, b01 = a01 / p, b02 = a02 / p, b12 = a12 / p;
  double r = 0.5 * (b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02) + b02 * (b01 * b12 - b11 * b02));
  r = r < -1 ? -1 : r > 1 ? 1 : r;
  double phi = acos(r) / 3;
  eig[0] = q + 2 * p * cos(phi);
  eig[2] = q + 2 * p * cos(phi + 2.0943951023931954923);
  eig[1] = 3 * q - eig[0] - eig[2];
  /* principal eigenvector: the largest cross product of two rows of A - e1 I */
  double r0[3] = {a00 - eig[0], a01, a02}, r1[3] = {a01, a11 - eig[0], a12}, r2[3] = {a02, a12, a22 - eig[0]};
  const double *ra[3] = {r0, r0, r1}, *rb[3] = {r1, r2, r2};
  double best = -1;
  for (int k = 0; k < 3; k++) {
    const double *x = ra[k], *y = rb[k];
    double c[3] = {x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]};
    double nn = c[0] * c[0] + c[1] * c[1] + c[2] * c[2];
    if (nn > best) best = nn, v1[0] = c[0], v1[1] = c[1], v1[2] = c[2];
  }
  double nrm = sqrt(best);
  if (nrm > 0) v1[0] /= nrm, v1[1] /= nrm, v1[2] /= nrm;
  else v1[0] = 0, v1[1] = 0, v1[2] = 1;
}

void dti_fit_voxel(const DtiModel *m, const double *signal, DtiResult *out) {
  const int32_t n = m->n;
  double y[DTI_MAX_VOLUMES], smax = 0, b0 = 0;
  for (int32_t i = 0; i < n; i++) smax = fmax(smax, signal[i]);
  double floor = smax > 0 ? smax * 1e-6 : 1e-6;
  for (int32_t i = 0; i < n; i++) {
    double s = signal[i] > floor ? signal[i] : floor;
    y[i] = log(s);
    if (m->is_b0[i]) b0 += signal[i];
  }
  out->b0 = b0 / m->n_b0;
  /* OLS start */
  double beta[7];
  for (int a = 0; a < 7; a++) {
    double s = 0;
    const double *pr = &m->pinv[(size_t)a * n];
    for (int32_t i = 0; i < n; i++) s += pr[i] * y[i];
    beta[a] = s;
  }
  /* one WLS step, weights = predicted signal^2 (normalised to avoid overflow) */
  double w[DTI_MAX_VOLUMES], wmax = 0;
  for (int32_t i = 0; i < n; i++) {
    const double *x = &m->X[7 * i];
    double lp = 0;
    for (int a = 1; a < 7; a++) lp += x[a] * beta[a];
    w[i] = 2 * lp;
    wmax = i == 0 || w[i] > wmax ? w[i] : wmax;
  }
  double A[7][7] = {{0}}, rhs[7] = {0}, sol[7];
  for (int32_t i = 0; i < n; i++) {
    double wi = exp(w[i] - wmax);
    const double *x = &m->X[7 * i];
    for (int a = 0; a < 7; a++) {
      double wx = wi * x[a];
      rhs[a] += wx * y[i];
      for (int c = 0; c <= a; c++) A[a][c] += wx * x[c];
    }
  }
  for (int a = 0; a < 7; a++)
    for (int c = a + 1; c < 7; c++) A[a][c] = A[c][a];
  if (chol7_solve(A, rhs, sol)) memcpy(beta, sol, sizeof beta);
  for (int k = 0; k < 6; k++) out->D[k] = beta[k + 1];
  dti_tensor_eig(out->D, out->eig, out->v1);
  for (int k = 0; k < 3; k++)
    if (!(out->eig[k] >= DTI_EIG_FLOOR)) out->eig[k] = DTI_EIG_FLOOR; /* positive-definite guard (also NaN) */
  out->fa = dti_fa(out->eig);
  out->md = (out->eig[0] + out->eig[1] + out->eig[2]) / 3;
  out->ad = out->eig[0];
  out->rd = 0.5 * (out->eig[1] + out->eig[2]);
}

void dti_fit_volume(const DtiModel *m, const float *dwi, int64_t nvox, float *b0, float *fa, float *md, float *ad,
                    float *rd) {
#pragma omp parallel for schedule(dynamic, 256)
  for (int64_t i = 0; i < nvox; i++) {
    double s[DTI_MAX_VOLUMES];
    for (int32_t v = 0; v < m->n; v++) s[v] = dwi[(int64_t)v * nvox + i];
    DtiResult r;
    dti_fit_voxel(m, s, &r);
    if (b0) b0[i] = (float)r.b0;
    if (fa) fa[i] = (float)r.fa;
    if (md) md[i] = (float)r.md;
    if (ad) ad[i] = (float)r.ad;
    if (rd) rd[i] = (float)r.rd;
  }
}

/* reads all numbers of a text file; returns count and the number of non-empty lines */
static double *read_numbers(const char *path, const char *what, int32_t *count, int32_t *lines) {
  struct stat sb;
  if (stat(path, &sb) != 0)
    cs_fatal("give the FSL text file of the acquisition", "cannot open %s file '%s': %s", what, path, strerror(errno));
  if (!S_ISREG(sb.st_mode))
    cs_fatal("give the FSL text file, not a directory", "%s '%s' is not a regular file", what, path);
  FILE *f = fopenCheck(path, "r");
  int32_t cap = 256, n = 0, nl = 0;
  double *v = mallocCheck(sizeof(double) * (size_t)cap);
  char line[65536];
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    if (!strchr(line, '\n') && !feof(f))
      cs_fatal("bvals/bvecs lines are at most 65535 characters", "%s '%s' line %d is too long", what, path, lineno);
    char *p = line, *end;
    int any = 0;
    for (;;) {
      while (*p && (isspace((unsigned char)*p) || *p == ',')) p++;
      if (!*p || *p == '#') break;
      double x = strtod(p, &end);
      if (end == p || (*end && !isspace((unsigned char)*end) && *end != ',' && *end != '#'))
        cs_fatal("bvals/bvecs files hold plain numbers separated by spaces (FSL format)",
                 "%s '%s' line %d: cannot parse '%.20s' as a number", what, path, lineno, p);
      if (!isfinite(x))
        cs_fatal("bvals/bvecs files hold finite numbers", "%s '%s' line %d: value '%.20s' is not finite", what, path,
                 lineno, p);
      if (n == cap) {
        cap *= 2;
        double *nv = mallocCheck(sizeof(double) * (size_t)cap);
        memcpy(nv, v, sizeof(double) * (size_t)n);
        free(v);
        v = nv;
      }
      v[n++] = x, any = 1, p = end;
    }
    nl += any;
  }
  if (ferror(f)) cs_fatal("check the file", "cannot read %s file '%s': %s", what, path, strerror(errno));
  fclose(f);
  *count = n, *lines = nl;
  return v;
}

int32_t dti_read_bvals_bvecs(const char *bvals_path, const char *bvecs_path, int32_t n_expected, double **bvals,
                             double **bvecs) {
  int32_t nb, lb, ng, lg;
  double *b = read_numbers(bvals_path, "bvals", &nb, &lb);
  double *g = read_numbers(bvecs_path, "bvecs", &ng, &lg);
  if (nb == 0) cs_fatal("bvals must list one b-value per DWI volume (FSL format)", "bvals '%s' holds no numbers", bvals_path);
  if (n_expected >= 0 && nb != n_expected)
    cs_fatal("bvals must list one b-value per DWI volume, in volume order",
             "'%s' has %d b-values but the DWI has %d volumes", bvals_path, nb, n_expected);
  if (ng != 3 * nb)
    cs_fatal("bvecs must hold 3 numbers per volume (3 rows of n, FSL format, or n rows of 3)",
             "'%s' has %d numbers, expected 3 x %d (one direction per b-value in '%s')", bvecs_path, ng, nb,
             bvals_path);
  double *out = mallocCheck(sizeof(double) * 3 * (size_t)nb);
  int rows3 = lg == 3 && nb != 3; /* FSL: 3 rows of n */
  for (int32_t i = 0; i < nb; i++)
    for (int k = 0; k < 3; k++) out[3 * i + k] = rows3 ? g[(size_t)k * nb + i] : g[3 * i + k];
  free(g);
  /* content checks that name the right file: b-values, then each direction */
  int32_t n_b0 = 0;
  for (int32_t i = 0; i < nb; i++) {
    if (b[i] < 0)
      cs_fatal("bvals must be >= 0 (s/mm^2)", "bvals '%s': b-value %d is %g", bvals_path, i, b[i]);
    n_b0 += b[i] <= DTI_B0_THRESHOLD;
  }
  if (n_b0 == 0)
    cs_fatal("add a b=0 volume (bval <= 50) to the acquisition, or check that bvals belongs to this DWI",
             "bvals '%s': no b=0 volume among its %d b-values", bvals_path, nb);
  for (int32_t i = 0; i < nb; i++) {
    if (b[i] <= DTI_B0_THRESHOLD) continue;
    const double *u = &out[3 * i];
    double nrm = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
    if (!(nrm > 0.5 && nrm < 1.5))
      cs_fatal("each diffusion-weighted volume needs a unit gradient direction in bvecs",
               "bvecs '%s': direction %d has length %g (b=%g in '%s')", bvecs_path, i, nrm, b[i], bvals_path);
  }
  /* a tensor needs 6 distinct directions (g and -g are one); fewer is a bvecs fault, named as one */
  int32_t distinct = 0;
  for (int32_t i = 0; i < nb && distinct < 6; i++) {
    if (b[i] <= DTI_B0_THRESHOLD) continue;
    const double *u = &out[3 * i];
    int seen = 0;
    for (int32_t j = 0; j < i && !seen; j++) {
      if (b[j] <= DTI_B0_THRESHOLD) continue;
      const double *w = &out[3 * j];
      double d = fabs(u[0] * w[0] + u[1] * w[1] + u[2] * w[2]) /
                 (sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]) * sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]));
      seen = d > 0.9999;
    }
    distinct += !seen;
  }
  if (distinct < 6)
    cs_fatal("a tensor fit needs at least 6 distinct gradient directions; check that bvecs belongs to this DWI",
             "bvecs '%s': its diffusion-weighted volumes have only %d distinct directions", bvecs_path, distinct);
  *bvals = b, *bvecs = out;
  return nb;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

int64_t dti_cord_mask(const float *img, int64_t nx, int64_t ny, int64_t nz, double k, int erode, uint8_t *mask) {
  int64_t nv = nx * ny * nz;
  float *tmp = mallocCheck(sizeof(float) * (size_t)nv);
  memcpy(tmp, img, sizeof(float) * (size_t)nv);
  qsort(tmp, (size_t)nv, sizeof(float), cmp_float);
  float med = tmp[nv / 2];
  for (int64_t i = 0; i < nv; i++) tmp[i] = fabsf(img[i] - med);
  qsort(tmp, (size_t)nv, sizeof(float), cmp_float);
  double thr = med + k * 1.4826 * tmp[nv / 2];
  free(tmp);
  /* label 6-connected components by flood fill, keep the largest */
  int32_t *comp = callocCheck((size_t)nv, sizeof(int32_t));
  int64_t *stack = mallocCheck(sizeof(int64_t) * (size_t)nv);
  int32_t ncomp = 0, best = 0;
  int64_t best_size = 0;
  for (int64_t s = 0; s < nv; s++) {
    if (comp[s] || !(img[s] > thr)) continue;
    int64_t sp = 0, size = 0;
    comp[s] = ++ncomp, stack[sp++] = s;
    while (sp) {
      int64_t v = stack[--sp];
      size++;
      int64_t x = v % nx, y = (v / nx) % ny, z = v / (nx * ny);
      int64_t nb[6] = {x > 0 ? v - 1 : -1, x < nx - 1 ? v + 1 : -1, y > 0 ? v - nx : -1,
                       y < ny - 1 ? v + nx : -1, z > 0 ? v - nx * ny : -1, z < nz - 1 ? v + nx * ny : -1};
      for (int j = 0; j < 6; j++)
        if (nb[j] >= 0 && !comp[nb[j]] && img[nb[j]] > thr) comp[nb[j]] = ncomp, stack[sp++] = nb[j];
    }
    if (size > best_size) best_size = size, best = ncomp;
  }
  for (int64_t i = 0; i < nv; i++) mask[i] = best && comp[i] == best;
  free(stack), free(comp);
  for (int e = 0; e < erode; e++) {
    uint8_t *m2 = mallocCheck((size_t)nv);
    for (int64_t v = 0; v < nv; v++) {
      int64_t x = v % nx, y = (v / nx) % ny;
      m2[v] = mask[v] && x > 0 && x < nx - 1 && y > 0 && y < ny - 1 && mask[v - 1] && mask[v + 1] && mask[v - nx] &&
              mask[v + nx];
    }
    memcpy(mask, m2, (size_t)nv);
    free(m2);
  }
  int64_t c = 0;
  for (int64_t i = 0; i < nv; i++) c += mask[i];
  return c;
}
