/* io/prep.c: DWI fit, slice geometry and normalisation of model input, one
 * rule for import, the loader and segment (see io/prep.h). */
#include "io/prep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/dti.h"

const char *const PREP_MAP_NAMES[PREP_MAPS] = {"b0", "fa", "md", "ad", "rd"};

static const char *const INPUT_NAMES[] = {NULL, "b0", "fa", "b0+fa"};
const CsEnum INPUT_KIND_ENUM = {INPUT_NAMES, 4};

const char *input_kind_name(InputKind k) { return cs_enum_name(&INPUT_KIND_ENUM, (int)k); }
int input_kind_parse(const char *name) { return cs_enum_parse(&INPUT_KIND_ENUM, name); }

int64_t prep_fa_invalid(const float *fa, int64_t n) {
  for (int64_t v = 0; v < n; v++)
    if (prep_fa_out_of_range(fa[v])) return v;
  return -1;
}

/* ---- DWI -> maps ---- */

void prep_check_dwi(const NiftiVol *v) {
  const int64_t nvox = v->nx * v->ny * v->nz;
  for (int64_t t = 0; t < v->nt; t++) {
    const float *d = v->data + t * nvox;
    float hi = 0;
    for (int64_t i = 0; i < nvox; i++) {
      if (d[i] < 0) {
        const int64_t x = i % v->nx, y = (i / v->nx) % v->ny, z = i / (v->nx * v->ny);
        cs_fatal("diffusion signals are magnitudes (>= 0): give the magnitude DWI series, not phase or a "
                 "difference image (check scl_slope/scl_inter)",
                 "--dwi '%s': voxel (%lld,%lld,%lld) of volume %lld has negative signal %g", v->path, (long long)x,
                 (long long)y, (long long)z, (long long)t, (double)d[i]);
      }
      hi = fmaxf(hi, d[i]);
    }
    if (!(hi > 0))
      cs_fatal("give the acquired DWI series (every volume must hold signal; drop empty volumes and their bvals/bvecs "
               "entries)",
               "--dwi '%s': volume %lld is all zero", v->path, (long long)t);
  }
}

void prep_dwi_fit(PrepDwi *d, const char *dwi, const char *bvals, const char *bvecs, const NiftiVol *grid) {
  memset(d, 0, sizeof *d);
  niftivol_read(&d->dwi, dwi);
  niftivol_check_finite(&d->dwi);
  prep_check_dwi(&d->dwi);
  CS_CHECK(d->dwi.nt >= 7, "give the 4-D DWI series (b=0 and >= 6 directions)", "--dwi %s: has %lld volumes", dwi,
           (long long)d->dwi.nt);
  if (grid) niftivol_check_same_grid(&d->dwi, grid);
  dti_read_bvals_bvecs(bvals, bvecs, (int32_t)d->dwi.nt, &d->bvals, &d->bvecs);
  DtiModel m;
  dti_model_init(&m, d->bvals, d->bvecs, (int32_t)d->dwi.nt, bvals);
  const int64_t nvox = d->dwi.nx * d->dwi.ny * d->dwi.nz;
  for (int i = 0; i < PREP_MAPS; i++) d->maps[i] = mallocCheck(sizeof(float) * (size_t)nvox);
  dti_fit_volume(&m, d->dwi.data, nvox, d->maps[PREP_B0], d->maps[PREP_FA], d->maps[PREP_MD], d->maps[PREP_AD],
                 d->maps[PREP_RD]); /* volume-major, as NIfTI */
  dti_model_free(&m);
}

void prep_dwi_free(PrepDwi *d) {
  niftivol_free(&d->dwi);
  free(d->bvals), free(d->bvecs);
  for (int i = 0; i < PREP_MAPS; i++) free(d->maps[i]);
  memset(d, 0, sizeof *d);
}

/* ---- normalisation ---- */

/* quickselect the k-th smallest of v[0..n) (v is reordered) */
static float select_kth(float *v, int32_t n, int32_t k) {
  int32_t lo = 0, hi = n - 1;
  while (lo < hi) {
    float p = v[lo + (hi - lo) / 2];
    int32_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] < p) i++;
      while (v[j] > p) j--;
      if (i <= j) {
        float t = v[i];
        v[i] = v[j], v[j] = t, i++, j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return v[k];
  }
  return v[k];
}

void prep_normalize_b0(float *b0, int32_t hw) {
  float *tmp = mallocCheck(sizeof(float) * (size_t)hw);
  memcpy(tmp, b0, sizeof(float) * (size_t)hw);
  float hi = select_kth(tmp, hw, (int32_t)(0.995 * (hw - 1)));
  free(tmp);
  float inv = hi > 0 ? 1.0f / hi : 1.0f;
  for (int32_t i = 0; i < hw; i++) b0[i] *= inv;
}

void prep_clamp_fa(const float *src, float *dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = src[i] < 0 ? 0 : src[i] > 1 ? 1 : src[i];
}

/* ---- geometry ---- */

float prep_bilinear(const float *img, int64_t nr, int64_t nc, double r, double c, float outside) {
  if (!(r > -1 && c > -1 && r < nr && c < nc)) return outside;
  int64_t r0 = (int64_t)floor(r), c0 = (int64_t)floor(c);
  double fr = r - r0, fc = c - c0, v = 0, wsum = 0;
  for (int dr = 0; dr < 2; dr++)
    for (int dc = 0; dc < 2; dc++) {
      int64_t rr = r0 + dr, cc = c0 + dc;
      double wgt = (dr ? fr : 1 - fr) * (dc ? fc : 1 - fc);
      if (wgt == 0) continue;
      v += wgt * (rr >= 0 && rr < nr && cc >= 0 && cc < nc ? img[rr * nc + cc] : outside);
      wsum += wgt;
    }
  return (float)(wsum > 0 ? v / wsum : outside);
}

int prep_same_spacing(double sy, double sx) { return fabs(sy - 1) < 1e-4 && fabs(sx - 1) < 1e-4; }

void prep_centre_fov(int64_t nr, int64_t nc, int32_t H, int32_t W, int same, double *cr, double *cc) {
  /* import's centre crop: offset (n - size) / 2 in C integer division */
  *cr = same ? (double)((nr - H) / 2) + 0.5 * (H - 1) : 0.5 * (double)(nr - 1);
  *cc = same ? (double)((nc - W) / 2) + 0.5 * (W - 1) : 0.5 * (double)(nc - 1);
}

void prep_grid_slice(const float *src, int64_t nr, int64_t nc, double cr, double cc, double sy, double sx, int32_t H,
                     int32_t W, float *dst) {
  const int same = prep_same_spacing(sy, sx);
  for (int32_t y = 0; y < H; y++)
    for (int32_t x = 0; x < W; x++) {
      const double r = cr + (y - 0.5 * (H - 1)) * sy, c = cc + (x - 0.5 * (W - 1)) * sx;
      dst[(size_t)y * W + x] = same ? ((r >= 0 && r < nr && c >= 0 && c < nc)
                                           ? src[(int64_t)lrint(r) * nc + (int64_t)lrint(c)] : 0.0f)
                                    : prep_bilinear(src, nr, nc, r, c, 0.0f);
    }
}

void prep_grid_labels(const float *src, int64_t nr, int64_t nc, double cr, double cc, double sy, double sx, int32_t H,
                      int32_t W, float *dst) {
  for (int32_t y = 0; y < H; y++)
    for (int32_t x = 0; x < W; x++) {
      const int64_t r = (int64_t)lrint(cr + (y - 0.5 * (H - 1)) * sy), c = (int64_t)lrint(cc + (x - 0.5 * (W - 1)) * sx);
      dst[(size_t)y * W + x] = r >= 0 && r < nr && c >= 0 && c < nc ? src[r * nc + c] : 0.0f;
    }
}

void prep_grid_to_native(const float *g, int32_t H, int32_t W, double cr, double cc, double sy, double sx, int64_t nr,
                         int64_t nc, float outside, float *dst) {
  for (int64_t p = 0; p < nr * nc; p++) {
    const double r = (double)(p / nc), col = (double)(p % nc);
    const double y = (r - cr) / sy + 0.5 * (H - 1), x = (col - cc) / sx + 0.5 * (W - 1);
    dst[p] = prep_bilinear(g, H, W, y, x, outside);
  }
}
