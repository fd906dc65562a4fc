/* sim/phantom.h: a CSM-like labelled DTI cohort built from the PAM50 atlas
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
 *  anatomy (PhantomConfig.anatomy = PHANTOM_ANATOMY_FULL, `--anatomy full`;
 *    sim/anatomy.h): the CSF is a dural sac drawn per level around the
 *    rendered cord (wide at C2, thin below C3) instead of PAM50's CSF map,
 *    inside a bony canal sized per level; what the cord and CSF leave is
 *    split among vertebrae, disc, facets, fat, muscles, vessels, soft tissue
 *    and air per vertebral level (disc_w), with their own tensors and b=0
 *    signal; bias field, Nyquist ghost, AP distortion (labels follow it),
 *    inter-volume motion, CSF pulsation, cord + anatomy shifted in the FOV, a
 *    reduced AP FOV in half the subjects; from a separate random stream, so
 *    PHANTOM_ANATOMY_NONE (default) keeps the original bytes.
 * defines: PhantomConfig, phantom_config_default, PHANTOM_ANATOMY_*,
 *          phantom_anatomy_parse, PT_*, PHANTOM_TISSUE_NAMES, PhantomAtlas,
 *          PHANTOM_ATLAS_SYNTHETIC, phantom_atlas_load/synth/finish/free, phantom_subject(_ex), phantom_measure,
 *          phantom_build(_atlas) */
#ifndef CORDSEG_SIM_PHANTOM_H
#define CORDSEG_SIM_PHANTOM_H
#include <stdint.h>

#include "sim/anatomy.h"
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
  int32_t anatomy;                /* PHANTOM_ANATOMY_NONE (default: the cord on a flat background, the
                                   * original bytes) or PHANTOM_ANATOMY_FULL (sim/anatomy.h: vertebrae,
                                   * muscles, vessels, fat; bias field, ghost, distortion, motion,
                                   * CSF pulsation, cord position in the FOV) */
} PhantomConfig;
void phantom_config_default(PhantomConfig *c);
enum { PHANTOM_ANATOMY_NONE = 0, PHANTOM_ANATOMY_FULL = 1 };
/* "none" / "full" -> PHANTOM_ANATOMY_*, -1 when unknown */
int phantom_anatomy_parse(const char *s);

/* dominant tissue of a pixel (phantom_subject_ex's tissue output) */
enum { PT_AIR, PT_WM, PT_GM, PT_CSF, PT_OTHER, PT_BONE, PT_MARROW, PT_DISC, PT_FLUID, PT_FAT, PT_MUSCLE_L,
       PT_MUSCLE_R, PT_PLEXUS, PT_ROOT, PT_VESSEL, PT_N };
extern const char *const PHANTOM_TISSUE_NAMES[PT_N];

#define PHANTOM_NCH 9 /* channels 0..7 = label ids 1..8, 8 = CSF */
typedef struct {
  int32_t n;           /* slab centres (1 mm apart, cranial -> caudal) */
  int32_t hw;          /* atlas in-plane size (141) */
  double px_mm;        /* atlas in-plane pixel (0.5) */
  double step_mm;      /* distance between centres */
  int32_t first_c2, last_c7; /* centre indices spanning C2 .. C7/T1 */
  float *maps;         /* [n][PHANTOM_NCH][hw][hw], row 0 anterior, col 0 right */
  float *crow, *ccol;  /* [n] cord centroid (atlas pixels) */
  double *cord_ext;    /* [n][4] the cord's (8 ROI maps summed > 0.5) extent from its centroid, mm: toward the
                        * patient's left (higher columns), right, anterior (lower rows), posterior */
  int32_t *level;      /* [n] vertebral level at the centre */
  float *disc_w;       /* [n] fraction of the slab inside an intervertebral disc (5 mm at each level change) */
} PhantomAtlas;
/* pam50_dir: the PAM50 directory (atlas/, template/), or PHANTOM_ATLAS_SYNTHETIC for the built-in
 * geometric stand-in (sim/atlas_synth.c) */
#define PHANTOM_ATLAS_SYNTHETIC "synthetic"
void phantom_atlas_load(PhantomAtlas *a, const char *pam50_dir, double slab_mm);
/* sim/atlas_synth.c: the stand-in on PAM50's grid (a caricature: see its header) */
void phantom_atlas_synth(PhantomAtlas *a, double slab_mm);
/* after the maps and levels are in: disc weights, fractions normalised, centroids, cord extents */
void phantom_atlas_finish(PhantomAtlas *a, double slab_mm);
void phantom_atlas_free(PhantomAtlas *a);

/* one subject: arrays [slices][size][size]; any float output may be NULL */
void phantom_subject(const PhantomAtlas *a, const PhantomConfig *c, int32_t subject, float *b0, float *fa, float *md,
                     float *ad, float *rd, uint8_t *labels, SliceMeta *meta);
/* the same, also the dominant tissue per pixel (PT_*, [slices][size][size], may be NULL) and the
 * acquisition's noise-free centre of the cord in mm (store frame, may be NULL) */
void phantom_subject_ex(const PhantomAtlas *a, const PhantomConfig *c, int32_t subject, float *b0, float *fa,
                        float *md, float *ad, float *rd, uint8_t *labels, SliceMeta *meta, uint8_t *tissue);

/* the measurements of sim/anatomy.h (the --compare procedure) on subjects 1..nsubj of the cohort c,
 * each subject measured alone, the fields averaged */
void phantom_measure(const PhantomAtlas *a, const PhantomConfig *c, int32_t nsubj, AnatomyStats *out);

/* whole cohort -> HDF5 store (+ optional NIfTI directory and PNG montage) */
void phantom_build(const PhantomConfig *c, const char *pam50_dir, const char *out_h5, const char *created_by,
                   const char *nifti_dir, const char *png_path);
/* the same with an atlas already loaded (tests build several cohorts) */
void phantom_build_atlas(const PhantomAtlas *a, const PhantomConfig *c, const char *out_h5, const char *created_by,
                         const char *nifti_dir, const char *png_path);
#endif
