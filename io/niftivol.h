/* io/niftivol.h: NIfTI volumes through Debian's libnifti2 (nifti_clib): read
 * any datatype as float (scl_slope/inter applied), geometry checks, and an
 * atomic float NIfTI-1 writer (temp file + rename).
 * defines: NiftiVol, niftivol_read, niftivol_free, niftivol_check_same_grid,
 *          niftivol_write, niftivol_write_u8 */
#ifndef CORDSEG_IO_NIFTIVOL_H
#define CORDSEG_IO_NIFTIVOL_H
#include <stdint.h>

typedef struct {
  char path[4096];
  int64_t nx, ny, nz, nt; /* nt = 1 for 3-D */
  double pix[3];          /* mm */
  double xyz[4][4];       /* voxel (i,j,k) -> world (RAS+ mm): sform, else qform, else pixdim scaling with x
                           * negated (nibabel's and the Analyze convention) */
  int32_t oriented;       /* 1: xyz from the sform or qform; 0: neither is set, xyz is the pixdim guess (LAS) */
  float *data;            /* [nt][nz][ny][nx] */
} NiftiVol;

void niftivol_read(NiftiVol *v, const char *path);
void niftivol_free(NiftiVol *v);
/* streams k-planes [k0, k1) of a 3-D volume as float into out[k1-k0][ny][nx]
 * without loading the whole file (big gzipped atlases); fills v's header
 * fields (v->data stays NULL) */
void niftivol_read_header(NiftiVol *v, const char *path); /* geometry only, data NULL */
void niftivol_read_planes(NiftiVol *v, const char *path, int64_t k0, int64_t k1, float *out);
/* fatal naming both files unless the 3-D grids (dims and voxel->world within
 * 1e-3 mm) agree */
void niftivol_check_same_grid(const NiftiVol *a, const NiftiVol *b);
/* fatal naming the file and voxel if any value is NaN/Inf */
void niftivol_check_finite(const NiftiVol *v);
/* writes data [nt][nz][ny][nx] as float32 NIfTI-1 (.nii or .nii.gz by name)
 * with the geometry of ref (nt may differ); sform and qform both carry ref->xyz */
void niftivol_write(const char *path, const NiftiVol *ref, int64_t nt, const float *data);
/* the same as uint8 (label volumes), 3-D */
void niftivol_write_u8(const char *path, const NiftiVol *ref, const uint8_t *data);

/* axial slicing in the store orientation: io/niftigeom.h */
#endif
