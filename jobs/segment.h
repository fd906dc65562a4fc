/* jobs/segment.h: `cordseg segment`: apply an exported model (io/model.h, one
 * run or a fold ensemble) to a new subject's DTI and write its ROI masks and
 * ROI-wise FA/MD/AD/RD in the subject's own grid.
 *
 * Pipeline: DWI + bvals/bvecs fitted with io/dti.c (the code import uses), or
 * B0/FA(/MD/AD/RD) maps as given -> axial slices in the store orientation
 * (io/niftigeom.h; any near-axial qform/sform: LAS, RAS, LPI, transposed;
 * oblique beyond ~45 degrees or a sagittal/coronal acquisition refused) ->
 * per slice, bilinear resampling from the subject's pixel size to the model's
 * training spacing and a crop/pad to the model's size around a centre: the
 * field-of-view centre (import's centre crop), or the centroid of --cord-mask
 * in that slice -> the normalisation of training (io/loader.h) -> every
 * member's probabilities, averaged (optionally also on the horizontally
 * flipped slice, L/R channels swapped back) -> probabilities resampled back
 * bilinearly onto the native slice -> labels: sigmoid models threshold at
 * the mean of the members' validation thresholds, softmax models take the
 * argmax -> optionally the largest 4-connected component per ROI and slice.
 *
 * Outputs in OUT (each written atomically, all after every check passed):
 * labels.nii.gz (uint8 ids 0..8, the input's grid, qform = sform = input's
 * voxel->world), probs.nii.gz (optional, float [K] volumes), b0/fa/md/ad/rd
 * .nii.gz (DWI input), metrics.csv, qc.png, and with DWI input cord_qc.csv:
 * per slice the labelled voxels inside the cord of the mean DW signal
 * (io/dti.h dti_cord_mask, +1 voxel in-plane), the cord voxels labelled and
 * the labels' centroid offset from the cord's, with a warning on stdout when
 * fewer than 90 % are inside (a bad crop or a model that does not fit).
 * defines: SegmentOptions, segment_options_default, segment_model_warnings, segment_run, segment_cohort_run */
#ifndef CORDSEG_JOBS_SEGMENT_H
#define CORDSEG_JOBS_SEGMENT_H
#include <stddef.h>
#include <stdint.h>

#include "io/model.h"

typedef struct {
  const char *model;                   /* MODEL.h5 (cordseg export) */
  const char *dwi, *bvals, *bvecs;     /* DWI mode */
  const char *b0, *fa, *md, *ad, *rd;  /* maps mode (md/ad/rd optional, for metrics only) */
  const char *cord_mask;               /* optional NIfTI, nonzero = cord: per-slice centroid centres the crop */
  const char *levels;                  /* optional NIfTI of vertebral levels (PAM50 coding), per slice the mode */
  int32_t level;                       /* one level for every slice (0 = none) */
  const char *out;                     /* output directory */
  const char *bids;                    /* segment_cohort_run: a BIDS-style folder, every subject */
  const char *fail_before;             /* test hook: fail just before writing this file of the set */
  const char *subject, *session;       /* extract_metric.tsv's Subject/Session (NULL: n/a); set by --bids */
  const char *command;                 /* the command line, for the BIDS sidecars of --bids */
  const char *assume_orientation;      /* axis codes (e.g. LAS) for volumes without qform and sform; NULL: refuse them */
  int tta, largest, write_probs, quiet;
  int32_t subject_index;               /* --bids: only this subject (0-based, sorted; a Slurm array task), -1: all */
  int collect;                         /* --bids: segment nothing; derivatives, metrics.tsv, the subjects not done */
  int32_t batch;                       /* slices per forward pass (8) */
  int device;                          /* BackendKind (default auto: a GPU when there is one) */
} SegmentOptions;
void segment_options_default(SegmentOptions *o);
/* what the model's provenance says about real data, one line each (no prefix, no newline) into w[cap]: trained on
 * a phantom store (training_source, io/model.h), input B0 alone (measured to under-cover real cords). Warnings,
 * not QC flags: segment prints them on stderr as "segment: model warning: ..." and qc.tsv keeps them in a column
 * of their own. Returns their number */
enum { SEGMENT_MODEL_WARN_MAX = 2, SEGMENT_MODEL_WARN_LEN = 512 };
int segment_model_warnings(const ModelFile *mf, char (*w)[SEGMENT_MODEL_WARN_LEN]);
/* the same on stderr, one "segment: model warning: ..." line each (with -q too: they are not QC flags) */
void segment_print_model_warnings(const ModelFile *mf);
/* every error is fatal, names the file and field, and leaves OUT untouched */
void segment_run(const SegmentOptions *o);
/* jobs/segment_cohort.c: every subject of o->bids into o->out/sub-X/dwi/, or each of its sessions into
 * o->out/sub-X/ses-Y/dwi/ (each in a child process: a failure is listed, the rest go on; one already done is
 * skipped), then o->out/metrics.tsv and dataset_description.json; returns the number that failed */
int segment_cohort_run(const SegmentOptions *o);
/* --slurm: OUT/slurm/subjects.tsv (index, subject, session|n/a, done|pending|bad: why), the pending subjects' indices in
 * pending[] as an --array list ("0-3,5"; "" when none); returns the number of subjects */
int segment_cohort_plan(const SegmentOptions *o, char *pending, size_t n);
/* jobs/segment_qcpage.c: OUT/qc.html and OUT/qc.tsv over names[n] (why[i]: "" segmented, else why it failed),
 * worst first */
void segment_qc_page(const char *out, const char *const *names, const char *const *why, int n);
#endif
