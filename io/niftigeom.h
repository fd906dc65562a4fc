/* io/niftigeom.h: the one module that owns the geometry between NIfTI volumes
 * and cordseg's stored slices (io/labels.h): orientation, slice order and
 * pixel spacing, both directions.
 *
 * NIfTI world coordinates are RAS+ (the NIfTI-1 standard, as nibabel, FSL,
 * ITK and SCT read them): x grows toward the subject's Right, y toward
 * Anterior, z toward Superior. A voxel axis whose world direction has a
 * positive x component runs toward the patient's right.
 *
 * Stored slices: row 0 anterior (rows run A -> P), column 0 patient RIGHT
 * (columns run R -> L, radiological display), slices cranial -> caudal: every
 * stored axis runs toward -x, -y, -z (L, P, I). A voxel axis whose index grows
 * toward +x (right), +y (anterior) or +z (superior) is therefore read
 * backwards; an LPI volume is read as it lies.
 *
 * defines: NiftiAxial, niftigeom_axial_axes, niftigeom_axial_count,
 *          niftigeom_axial_slice, niftigeom_axial_levels, niftigeom_axial_put, niftigeom_store_affine,
 *          niftigeom_axcodes, niftigeom_from_axcodes */
#ifndef CORDSEG_IO_NIFTIGEOM_H
#define CORDSEG_IO_NIFTIGEOM_H
#include <stdint.h>

#include "io/niftivol.h"

/* Axial slicing of a volume: which voxel axis runs along each anatomical
 * direction (0 = i, 1 = j, 2 = k), whether it is read backwards, and the
 * pixel size along it. */
typedef struct {
  int slice_axis, row_axis, col_axis; /* S/I, A/P, R/L voxel axes */
  int row_reverse;   /* the voxel index increases toward anterior: rows read backwards */
  int col_reverse;   /* the voxel index increases toward patient right (+x): columns read backwards */
  int slice_reverse; /* the voxel index increases toward superior: slices read backwards */
  double row_mm, col_mm, slice_mm;
} NiftiAxial;

/* fatal naming the file when a voxel axis is more than ~45 degrees oblique
 * (a sagittal/coronal or strongly tilted acquisition) */
void niftigeom_axial_axes(const NiftiVol *v, NiftiAxial *ax);
int64_t niftigeom_axial_count(const NiftiVol *v, const NiftiAxial *ax);
/* axial slice s (0 = most superior) of volume t into out[rows][cols], row 0
 * anterior, column 0 patient right */
void niftigeom_axial_slice(const NiftiVol *v, const NiftiAxial *ax, int64_t t, int64_t s, float *out, int64_t *rows,
                           int64_t *cols);
/* each axial slice's vertebral level from a level image (SCT's *_labeled output, PAM50 coding: integers 1-7 =
 * C1-C7, 8-19 = T1-T12, 20-24 = L1-L5, 0 = none): the most frequent level among the slice's voxels, 0 where it has
 * none. level[] holds niftigeom_axial_count(v, ax) entries. Fatal naming `what` and the file on a voxel that is not
 * a level. Shared by `import --levels` and `segment --levels` */
void niftigeom_axial_levels(const NiftiVol *v, const NiftiAxial *ax, int32_t *level, const char *what);
/* the inverse: a slice in store orientation, in[rows][cols], written into the
 * 3-D voxel array vol [nz][ny][nx] of v's grid at axial slice s */
void niftigeom_axial_put(const NiftiVol *v, const NiftiAxial *ax, int64_t s, const float *in, float *vol);
/* voxel -> world (RAS+ mm) of a volume laid out as the store is: i = column
 * (toward patient left, -x), j = row (toward posterior, -y), k = slice
 * (toward inferior, -z), centred in-plane on the origin. nibabel reads it as
 * axis codes L, P, I. */
void niftigeom_store_affine(double row_mm, double col_mm, double slice_mm, int64_t rows, int64_t cols,
                            double xyz[4][4]);
/* nibabel's aff2axcodes: for each voxel axis the world direction it points
 * to, "R"/"L", "A"/"P", "S"/"I" (out holds 3 letters + NUL) */
void niftigeom_axcodes(const double xyz[4][4], char out[4]);
/* the affine of a volume without sform and qform, from three axis codes (as niftigeom_axcodes writes
 * them: "LAS" = i toward Left, j Anterior, k Superior) and its pixel sizes, centred on the grid; -1 for a code
 * that is not one of R/L, A/P, S/I each once */
int niftigeom_from_axcodes(const char *code, const double pix[3], const int64_t dim[3], double xyz[4][4]);
#endif
