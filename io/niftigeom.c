/* io/niftigeom.c: NIfTI <-> store geometry (see io/niftigeom.h). */
#include "io/niftigeom.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "core/common.h"

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
