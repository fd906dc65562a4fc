/* io/niftigeom.c: NIfTI <-> store geometry (see io/niftigeom.h). */
#include "io/niftigeom.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/labels.h"

void niftigeom_axial_axes(const NiftiVol *v, NiftiAxial *ax) {
  int world_of[3], taken[3] = {0, 0, 0};
  memset(ax, 0, sizeof *ax);
  for (int a = 0; a < 3; a++) {
    double c[3] = {v->xyz[0][a], v->xyz[1][a], v->xyz[2][a]};
    double nrm = sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
    int best = 0;
    for (int w = 1; w < 3; w++)
      if (fabs(c[w]) > fabs(c[best])) best = w;
    if (!(nrm > 0) || !isfinite(nrm))
      cs_fatal("fix the header's sform/qform (e.g. fslorient, nibabel): a voxel axis must map to a direction in space",
               "'%s': the voxel->world matrix maps voxel axis %d to (%g, %g, %g): the affine is broken", v->path, a,
               c[0], c[1], c[2]);
    const double deg = acos(fmin(1.0, fabs(c[best]) / nrm)) * 57.29577951308232; /* off its nearest world axis */
    static const char *const WORLD[3] = {"R-L", "A-P", "S-I"};
    if (fabs(c[best]) < 0.7 * nrm || taken[best])
      cs_fatal("reslice the volume to near-axial slices first (e.g. sct_image -setorient RPI after resampling, or "
               "flirt -applyxfm to a straight grid); up to about 45 degrees of tilt is accepted per axis",
               "'%s': voxel axis %d is %.0f degrees off the %s axis (direction %.2f %.2f %.2f)%s: cannot take axial "
               "slices",
               v->path, a, deg, WORLD[best], c[0], c[1], c[2],
               taken[best] ? ", as close to it as another voxel axis" : "");
    taken[best] = 1, world_of[a] = best;
  }
  const double *pix = v->pix;
  for (int a = 0; a < 3; a++) {
    double s = v->xyz[world_of[a]][a];
    /* RAS+: +x = patient right, +y = anterior, +z = superior; the store runs R->L, A->P, S->I */
    if (world_of[a] == 0) ax->col_axis = a, ax->col_reverse = s > 0, ax->col_mm = pix[a];
    if (world_of[a] == 1) ax->row_axis = a, ax->row_reverse = s > 0, ax->row_mm = pix[a];
    if (world_of[a] == 2) ax->slice_axis = a, ax->slice_reverse = s > 0, ax->slice_mm = pix[a];
  }
}

static int64_t dim_of(const NiftiVol *v, int a) { return a == 0 ? v->nx : a == 1 ? v->ny : v->nz; }

int64_t niftigeom_axial_count(const NiftiVol *v, const NiftiAxial *ax) { return dim_of(v, ax->slice_axis); }

/* voxel offset of store pixel (s, r, c) */
static inline int64_t voxel_of(const NiftiVol *v, const NiftiAxial *ax, int64_t s, int64_t r, int64_t c) {
  const int64_t nr = dim_of(v, ax->row_axis), nc = dim_of(v, ax->col_axis), ns = dim_of(v, ax->slice_axis);
  const int64_t stride[3] = {1, v->nx, v->nx * v->ny};
  const int64_t si = ax->slice_reverse ? ns - 1 - s : s, ri = ax->row_reverse ? nr - 1 - r : r,
                ci = ax->col_reverse ? nc - 1 - c : c;
  return si * stride[ax->slice_axis] + ri * stride[ax->row_axis] + ci * stride[ax->col_axis];
}

void niftigeom_axial_slice(const NiftiVol *v, const NiftiAxial *ax, int64_t t, int64_t s, float *out, int64_t *rows,
                           int64_t *cols) {
  const int64_t nr = dim_of(v, ax->row_axis), nc = dim_of(v, ax->col_axis);
  const float *base = v->data + t * v->nx * v->ny * v->nz;
  for (int64_t r = 0; r < nr; r++)
    for (int64_t c = 0; c < nc; c++) out[r * nc + c] = base[voxel_of(v, ax, s, r, c)];
  *rows = nr, *cols = nc;
}

void niftigeom_axial_put(const NiftiVol *v, const NiftiAxial *ax, int64_t s, const float *in, float *vol) {
  const int64_t nr = dim_of(v, ax->row_axis), nc = dim_of(v, ax->col_axis);
  for (int64_t r = 0; r < nr; r++)
    for (int64_t c = 0; c < nc; c++) vol[voxel_of(v, ax, s, r, c)] = in[r * nc + c];
}

void niftigeom_store_affine(double row_mm, double col_mm, double slice_mm, int64_t rows, int64_t cols,
                            double xyz[4][4]) {
  memset(xyz, 0, sizeof(double) * 16);
  xyz[0][0] = -col_mm, xyz[0][3] = col_mm * 0.5 * (double)(cols - 1); /* i: columns, toward the patient's left */
  xyz[1][1] = -row_mm, xyz[1][3] = row_mm * 0.5 * (double)(rows - 1); /* j: rows, toward posterior */
  xyz[2][2] = -slice_mm;                                              /* k: slices, cranial -> caudal */
  xyz[3][3] = 1;
}

void niftigeom_axcodes(const double xyz[4][4], char out[4]) {
  static const char pos[3] = {'R', 'A', 'S'}, neg[3] = {'L', 'P', 'I'};
  for (int a = 0; a < 3; a++) {
    int best = 0;
    for (int w = 1; w < 3; w++)
      if (fabs(xyz[w][a]) > fabs(xyz[best][a])) best = w;
    out[a] = xyz[best][a] > 0 ? pos[best] : neg[best];
  }
  out[3] = 0;
}

int niftigeom_from_axcodes(const char *code, const double pix[3], const int64_t dim[3], double xyz[4][4]) {
  static const char pos[3] = {'R', 'A', 'S'}, neg[3] = {'L', 'P', 'I'};
  if (!code || strlen(code) != 3) return -1;
  memset(xyz, 0, sizeof(double) * 16);
  int used[3] = {0};
  for (int a = 0; a < 3; a++) {
    int w = -1;
    double sign = 0;
    for (int q = 0; q < 3; q++) {
      const char ch = (char)toupper((unsigned char)code[a]);
      if (ch == pos[q]) w = q, sign = 1;
      if (ch == neg[q]) w = q, sign = -1;
    }
    if (w < 0 || used[w]++) return -1;
    xyz[w][a] = sign * pix[a];
    xyz[w][3] = -sign * pix[a] * 0.5 * (double)(dim[a] - 1);
  }
  xyz[3][3] = 1;
  return 0;
}

void niftigeom_axial_levels(const NiftiVol *v, const NiftiAxial *ax, int32_t *level, const char *what) {
  const int64_t nvox = v->nx * v->ny * v->nz, nsl = niftigeom_axial_count(v, ax);
  for (int64_t q = 0; q < nvox; q++) { /* io/labels.h's coding: integers, 0 = none */
    const float x = v->data[q];
    if (x != 0 && (fabsf(x - rintf(x)) > 1e-3f || x < 1 || x > LABEL_LEVEL_MAX))
      cs_fatal("give a level image in the PAM50 coding: integers 1-7 = C1-C7, 8-19 = T1-T12, 20-24 = L1-L5, "
               "0 = none (SCT's *_labeled output)",
               "%s '%s': value %g at voxel %lld is not a level", what, v->path, (double)x, (long long)q);
  }
  int64_t plane = v->nx * v->ny;
  plane = v->nx * v->nz > plane ? v->nx * v->nz : plane;
  plane = v->ny * v->nz > plane ? v->ny * v->nz : plane;
  float *sl = mallocCheck(sizeof(float) * (size_t)plane);
  for (int64_t s = 0; s < nsl; s++) {
    int64_t r, c;
    niftigeom_axial_slice(v, ax, 0, s, sl, &r, &c);
    int cnt[LABEL_LEVEL_MAX + 1] = {0}, best = 0;
    for (int64_t i = 0; i < r * c; i++) {
      const int l = (int)lrintf(sl[i]);
      if (l > 0 && l <= LABEL_LEVEL_MAX) cnt[l]++;
    }
    for (int l = 1; l <= LABEL_LEVEL_MAX; l++)
      if (cnt[l] > cnt[best]) best = l;
    level[s] = best;
  }
  free(sl);
}
