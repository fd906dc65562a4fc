/* io/phantom.h: a CSM-like labelled DTI cohort built from the PAM50 atlas
 * (../shared/data/PAM50), standing in for the paper's private 89 patients.
 *
 * Pipeline per subject (seeded by (seed, subject); thread-count independent):
 *  atlas: the 36 PAM50 tract/GM maps grouped into the 8 ROIs (info_label.txt:
 *    dorsal columns 0-3, lateral funiculi 4-13, ventral funiculi 14-29, gray
 *    matter 30-35, left/right by name) + CSF, averaged over a 7 mm slab
 *    (through-plane partial volume), sampled at 1 mm steps from C2 to C7/T1.
 *  geometry: cord size (scale 0.85-1.15), aspect, rotation (sd 5 deg),
 *    translation (+-5 mm); CSM compression at one or two levels (AP ratio
 *    0.45-0.95, Gaussian along the cord, sd 6 mm), flattening (widening),
 *    left/right asymmetry; CSF deformed with the cord.
 *  acquisition: FOV 80 mm, 128x128 at 0.625 mm; rendered at 0.3125 mm,
 *    area-averaged, blurred to the acquired 1.0 (L-R) x 1.26 (A-P) mm
 *    resolution; b=0 + 15 directions at b=600 s/mm^2; per-tissue tensors (WM
 *    along the cord axis, GM less anisotropic, CSF isotropic, other tissue
 *    mildly anisotropic) with per-subject variation, WM FA lowered where the
 *    cord is compressed; smooth gain field; Rician noise at SNR (b=0 WM).
 *  fit: the same dti_fit_volume as `cordseg import --dwi`.
 *  labels: area-averaged slab ROIs on the 128 grid, argmax with background.
 * defines: PhantomConfig, phantom_config_default, PhantomAtlas,
 *          phantom_atlas_load/free, phantom_subject, phantom_build */
#ifndef CORDSEG_IO_PHANTOM_H
#define CORDSEG_IO_PHANTOM_H
#include <stdint.h>

#include "io/h5store.h"

typedef struct {
  int32_t subjects, slices, size; /* 89, 12, 128 */
  double fov_mm;                  /* 80 */
  double acq_row_mm, acq_col_mm;  /* acquired resolution: 1.26 (A-P rows), 1.0 (L-R columns) */
  double slab_mm;                 /* 7 */
  double bval;                    /* 600 */
  int32_t ndirs;                  /* 15 */
  double snr;                     /* b=0 white-matter signal / noise sigma, default 20 */
  uint64_t seed;
} PhantomConfig;
void phantom_config_default(PhantomConfig *c);

#define PHANTOM_NCH 9 /* channels 0..7 = label ids 1..8, 8 = CSF */
typedef struct {
  int32_t n;           /* slab centres (1 mm apart, cranial -> caudal) */
  int32_t hw;          /* atlas in-plane size (141) */
  double px_mm;        /* atlas in-plane pixel (0.5) */
  double step_mm;      /* distance between centres */
  int32_t first_c2, last_c7; /* centre indices spanning C2 .. C7/T1 */
  float *maps;         /* [n][PHANTOM_NCH][hw][hw], row 0 anterior, col 0 right */
  float *crow, *ccol;  /* [n] cord centroid (atlas pixels) */
  int32_t *level;      /* [n] vertebral level at the centre */
} PhantomAtlas;
void phantom_atlas_load(PhantomAtlas *a, const char *pam50_dir, double slab_mm);
void phantom_atlas_free(PhantomAtlas *a);

/* one subject: arrays [slices][size][size]; any float output may be NULL */
void phantom_subject(const PhantomAtlas *a, const PhantomConfig *c, int32_t subject, float *b0, float *fa, float *md,
                     float *ad, float *rd, uint8_t *labels, SliceMeta *meta);

/* whole cohort -> HDF5 store (+ optional NIfTI directory and PNG montage) */
void phantom_build(const PhantomConfig *c, const char *pam50_dir, const char *out_h5, const char *created_by,
                   const char *nifti_dir, const char *png_path);
/* the same with an atlas already loaded (tests build several cohorts) */
void phantom_build_atlas(const PhantomAtlas *a, const PhantomConfig *c, const char *out_h5, const char *created_by,
                         const char *nifti_dir, const char *png_path);
#endif
