/* io/dti.h: diffusion-tensor fitting shared by `cordseg import --dwi` and the
 * phantom: weighted linear least squares on log signals (OLS start, weights =
 * predicted signal^2), positive-definite guard (eigenvalues clamped to
 * DTI_EIG_FLOOR), scalar maps B0 (mean of b=0 volumes), FA, MD, AD, RD.
 * Units: b in s/mm^2, diffusivities in mm^2/s.
 * defines: DtiModel, DtiResult, dti_model_init/free, dti_fit_voxel,
 *          dti_fit_volume, dti_read_bvals_bvecs, dti_tensor_eig,
 *          dti_cord_mask */
#ifndef CORDSEG_IO_DTI_H
#define CORDSEG_IO_DTI_H
#include <stdint.h>

#define DTI_MAX_VOLUMES 1024
#define DTI_B0_THRESHOLD 50.0 /* b <= this counts as a b=0 volume */
#define DTI_EIG_FLOOR 1e-7    /* mm^2/s, the positive-definite guard */

typedef struct {
  int32_t n;        /* volumes */
  int32_t n_b0;     /* b=0 volumes */
  double *bvals;    /* [n] */
  double *bvecs;    /* [n][3], unit (zero for b=0) */
  double *X;        /* [n][7] design: ln S = X beta, beta = (ln S0, Dxx, Dyy, Dzz, Dxy, Dxz, Dyz) */
  double *pinv;     /* [7][n] (X^T X)^-1 X^T, the OLS start */
  uint8_t *is_b0;   /* [n] */
} DtiModel;

typedef struct {
  double b0, fa, md, ad, rd;
  double D[6];      /* Dxx Dyy Dzz Dxy Dxz Dyz as fitted (before the guard) */
  double eig[3];    /* guarded eigenvalues, descending */
  double v1[3];     /* principal eigenvector */
} DtiResult;

/* validates (>= 1 b=0 volume, >= 6 non-coplanar directions, unit-able
 * bvecs); `what` names the source in error messages */
void dti_model_init(DtiModel *m, const double *bvals, const double *bvecs, int32_t n, const char *what);
void dti_model_free(DtiModel *m);

/* signal[n] for one voxel; non-positive samples are clamped to a tiny value */
void dti_fit_voxel(const DtiModel *m, const double *signal, DtiResult *out);

/* dwi is volume-major: dwi[v * nvox + i]; outputs may be NULL. OpenMP. */
void dti_fit_volume(const DtiModel *m, const float *dwi, int64_t nvox, float *b0, float *fa, float *md, float *ad,
                    float *rd);

/* FSL-style text files: bvals one row of n numbers; bvecs 3 rows of n (or n
 * rows of 3). Fatal naming the file when counts differ from n_expected
 * (pass -1 to accept any). Returns n; *bvals [n], *bvecs [n][3] malloc'ed. */
int32_t dti_read_bvals_bvecs(const char *bvals_path, const char *bvecs_path, int32_t n_expected, double **bvals,
                             double **bvecs);

/* eigen-decomposition of a symmetric 3x3 tensor (Dxx Dyy Dzz Dxy Dxz Dyz):
 * eigenvalues descending, principal eigenvector */
void dti_tensor_eig(const double D[6], double eig[3], double v1[3]);
/* FA of three eigenvalues (0 when all are 0) */
double dti_fa(const double eig[3]);

/* A cord mask for real acquisitions without labels, independent of FA: voxels
 * whose mean diffusion-weighted signal exceeds the volume's median by k robust
 * SDs (1.4826 MAD), largest 6-connected 3-D component, then eroded in-plane
 * by `erode` voxels (partial volume with CSF). mean_dw [nz][ny][nx].
 * Returns the voxel count. */
int64_t dti_cord_mask(const float *mean_dw, int64_t nx, int64_t ny, int64_t nz, double k, int erode, uint8_t *mask);
/* the k of cordseg's cord masks of real series (phantom --compare, segment's QC) */
#define DTI_CORD_MASK_K 5.0
#endif
