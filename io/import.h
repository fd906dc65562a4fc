/* io/import.h: one subject from NIfTI into the HDF5 slice store
 * (`cordseg import`). Two modes:
 *  - maps:  B0 and FA volumes, or only one of them (a B0-only or FA-only
 *           store: io/h5store.h has_b0/has_fa), and a label volume;
 *  - dwi:   a 4-D DWI series + FSL bvals/bvecs, fitted by io/prep.h (the
 *           code segment uses; io/dti.c, as the phantom) into B0/FA/MD/AD/RD
 *           (optionally written as NIfTI), and a label volume.
 * Label volumes are either cordseg ROI ids (0..8, io/labels.h) or a PAM50-style
 * tract atlas (IMPORT_LABELS_PAM50): voxel value v = PAM50 tract id v-1
 * (info_label.txt), 0 = background, 37 (CSF) = background. Tracts 0-3 ->
 * dorsal column, 4-13 -> lateral, 14-29 -> ventral, 30-35 -> gray matter;
 * even ids are the atlas's "left", odd ids "right". With PAM50, --labels may
 * be SCT's warped atlas folder instead (36 probability maps: import_atlas_labels).
 * Axial slices are centre-cropped / zero-padded to size x size (io/prep.h);
 * with spacing > 0 they are first resampled to spacing x spacing mm pixels
 * (maps bilinear, labels nearest; around the field-of-view centre, as
 * `segment` does), unless already at that spacing (then byte-identical to no
 * --spacing). The slices' spacing in the store says what was done.
 * Subjects are named (io/h5subjects.c): a name already in the store is
 * refused before anything is read unless replace (then the store is rebuilt
 * without that subject's slices, the new ones appended, in one atomic commit).
 * defines: ImportLabels, ImportSpec, import_subject, import_map_pam50 */
#ifndef CORDSEG_IO_IMPORT_H
#define CORDSEG_IO_IMPORT_H
#include <stdint.h>

#include "io/niftivol.h"

typedef enum { IMPORT_LABELS_ROI = 0, IMPORT_LABELS_PAM50 = 1 } ImportLabels;

typedef struct {
  const char *b0, *fa;            /* maps mode (one may be NULL: a B0-only or FA-only subject) */
  const char *dwi, *bvals, *bvecs; /* dwi mode (b0/fa NULL) */
  const char *labels;             /* label volume (required) */
  ImportLabels label_kind;        /* PAM50 with labels a folder: SCT's warped atlas (import_atlas_labels) */
  double atlas_min;               /* that folder: the cord fraction a voxel needs to be labelled (0: IMPORT_ATLAS_MIN) */
  const char *nifti_out;          /* dwi mode: write b0/fa/md/ad/rd NIfTI here (or NULL) */
  const char *store;              /* output store; appended to when it exists */
  int32_t subject;                /* subject id (used when name is NULL) */
  const char *name;               /* subject name ("sub-01"; a plain integer is the id itself); NULL: subject */
  int replace;                    /* 1: a subject of that name in the store has its slices replaced;
                                   * 0: it is refused (exit 1, nothing written) */
  const char *site;               /* the subject's site (NULL: none; with replace: the old one kept) */
  int32_t level;                  /* vertebral level for every slice (0 unknown) */
  const char *levels;             /* a level image on the label grid (SCT's *_labeled; NULL: level for every
                                   * slice): each slice's level is the most frequent one in it (niftigeom_axial_levels) */
  int32_t size;                   /* slice size after crop/pad */
  double spacing;                 /* > 0: resample to this pixel size (mm, io/prep.h) unless the
                                   * slices already have it; 0: native spacing, crop/pad only */
  const char *created_by;         /* the command line */
} ImportSpec;

/* returns the number of slices written; every error is fatal and names the
 * file, the field and the fix; the store is replaced atomically */
int32_t import_subject(const ImportSpec *spec);
#define IMPORT_ATLAS_MIN 0.5
/* SCT's warped atlas folder (`sct_warp_template` -> label/atlas/PAM50_atlas_00..35.nii[.gz], one partial-volume
 * map per tract, info_label.txt's ids) as a label volume of ROI ids into *lab (its path = dir): each voxel's
 * ROI is the one whose tracts' maps sum highest (tracts grouped as import_map_pam50 groups them), labelled
 * where the 36 maps sum to at least min_prob (the voxel at least that much cord), else background. Fatal
 * naming the file: a missing map, maps on different grids, a value outside [0, 1] */
void import_atlas_labels(const char *dir, double min_prob, NiftiVol *lab);
/* PAM50 tract value (1..36; 0/37 background) -> ROI id 0..8; -1 if invalid */
int import_map_pam50(int value);
/* fatal naming the file: a map whose voxels are all equal (what names the option) */
void import_check_not_constant(const NiftiVol *v, const char *what);
#endif
