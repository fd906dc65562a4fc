/* io/prep.h: the one rule from a subject's images to what the network reads,
 * shared by `import` (io/import.c), the loader (io/loader.c: training,
 * validation, evaluate) and `segment` (jobs/segment.c):
 *  - maps: a 4-D DWI series + FSL bvals/bvecs fitted into B0, FA, MD, AD, RD
 *    (io/dti.c weighted least squares): prep_dwi_fit;
 *  - geometry: an axial slice in the store orientation (io/niftigeom.h) onto
 *    the model grid H x W around a centre (row cr, column cc in native
 *    pixels). At the model's spacing it is a crop/pad that copies native
 *    pixels: the field-of-view centre puts the grid at offset (n - size) / 2
 *    (C integer division), import's rule; at another spacing each grid pixel
 *    is a bilinear sample, sy x sx native pixels per grid pixel, around the
 *    centre of the field of view (0.5 (n - 1)) unless a centre is given
 *    (label maps: the nearest pixel): prep_centre_fov, prep_grid_slice,
 *    prep_grid_labels, and back: prep_grid_to_native. `segment` always
 *    brings a slice to the model's spacing; `import` keeps the native spacing
 *    unless --spacing asks for another;
 *  - normalisation: b0 divided by its slice's 99.5th percentile, FA clamped
 *    to [0, 1]: prep_normalize_b0, prep_clamp_fa; FA maps outside
 *    [PREP_FA_MIN, PREP_FA_MAX] are refused (prep_fa_invalid);
 *  - the input kinds: which maps the network reads, in which channel order.
 * defines: InputKind, INPUT_KIND_ENUM, input_channels, input_kind_name, input_kind_parse, PREP_B0..PREP_RD,
 *          PREP_MAPS, PREP_MAP_NAMES, PREP_FA_MIN, PREP_FA_MAX, prep_fa_out_of_range, PrepDwi, prep_dwi_fit, prep_dwi_free, prep_check_dwi,
 *          prep_fa_invalid, prep_normalize_b0, prep_clamp_fa, prep_bilinear, prep_same_spacing,
 *          prep_centre_fov, prep_grid_slice, prep_grid_labels, prep_grid_to_native */
#ifndef CORDSEG_IO_PREP_H
#define CORDSEG_IO_PREP_H
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "io/niftivol.h"

typedef enum { INPUT_B0 = 1, INPUT_FA = 2, INPUT_B0_FA = 3 } InputKind;
static inline int input_channels(InputKind k) { return k == INPUT_B0_FA ? 2 : 1; }
/* the names of the input kinds by value, '|'-separated (value 0 is none):
 * the one spelling the config key `input`, the options, the logs and model files use */
extern const CsEnum INPUT_KIND_ENUM; /* value 0 has no spelling; b0, fa, b0+fa */
/* "b0", "fa" or "b0+fa" ("?" for another value) */
const char *input_kind_name(InputKind k);
/* the inverse; -1 when name is none of them */
int input_kind_parse(const char *name);

/* the maps of a DTI fit, in this order everywhere (store datasets, NIfTI names) */
enum { PREP_B0, PREP_FA, PREP_MD, PREP_AD, PREP_RD, PREP_MAPS };
extern const char *const PREP_MAP_NAMES[PREP_MAPS]; /* "b0", "fa", "md", "ad", "rd" */

/* the FA values a map may hold: [0, 1] with a little slack for rounding in other tools. The one FA tolerance:
 * import, segment and the store reader test a value with prep_fa_out_of_range and name these bounds */
#define PREP_FA_MIN (-1e-3f)
#define PREP_FA_MAX 1.001f
static inline int prep_fa_out_of_range(float v) { return v < PREP_FA_MIN || v > PREP_FA_MAX; }
/* the first voxel of fa[n] outside [PREP_FA_MIN, PREP_FA_MAX], or -1 */
int64_t prep_fa_invalid(const float *fa, int64_t n);

/* a fitted DWI series: the series itself (its grid is the maps' grid), its
 * b-values and directions, and the maps [PREP_MAPS][nx*ny*nz] */
typedef struct {
  NiftiVol dwi;
  double *bvals, *bvecs;
  float *maps[PREP_MAPS];
} PrepDwi;
/* reads the series (finite, >= 0, no empty volume, >= 7 volumes; on grid's
 * grid unless grid is NULL) and bvals/bvecs, and fits every voxel; every
 * error is fatal and names the file */
void prep_dwi_fit(PrepDwi *d, const char *dwi, const char *bvals, const char *bvecs, const NiftiVol *grid);
void prep_dwi_free(PrepDwi *d);
/* fatal naming the file: a 4-D DWI series with a negative signal or an all-zero volume */
void prep_check_dwi(const NiftiVol *v);

/* b0[hw] divided by its 99.5th percentile (unchanged when that is <= 0) */
void prep_normalize_b0(float *b0, int32_t hw);
/* dst[i] = src[i] clamped to [0, 1] (dst may be src) */
void prep_clamp_fa(const float *src, float *dst, size_t n);

/* img [nr][nc] at (r, c), bilinear; outside the image: outside */
float prep_bilinear(const float *img, int64_t nr, int64_t nc, double r, double c, float outside);
/* sy, sx (native pixels per grid pixel) say the slice is at the model's spacing */
int prep_same_spacing(double sy, double sx);
/* the centre of an nr x nc slice for an H x W grid: at the same spacing the
 * one of import's crop/pad, else the middle of the field of view */
void prep_centre_fov(int64_t nr, int64_t nc, int32_t H, int32_t W, int same, double *cr, double *cc);
/* native slice src [nr][nc] -> grid dst [H][W] around (cr, cc); outside the slice: 0 */
void prep_grid_slice(const float *src, int64_t nr, int64_t nc, double cr, double cc, double sy, double sx, int32_t H,
                     int32_t W, float *dst);
/* label maps: the same grid, the nearest native pixel (labels are not averaged) */
void prep_grid_labels(const float *src, int64_t nr, int64_t nc, double cr, double cc, double sy, double sx, int32_t H,
                      int32_t W, float *dst);
/* the inverse: grid g [H][W] -> native dst [nr][nc], bilinear; outside the grid: outside */
void prep_grid_to_native(const float *g, int32_t H, int32_t W, double cr, double cc, double sy, double sx, int64_t nr,
                         int64_t nc, float outside, float *dst);
#endif
