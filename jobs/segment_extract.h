/* jobs/segment_extract.h: segment's ROI table in the shape of SCT's
 * sct_extract_metric output (extract_metric.tsv, and the cohort's metrics.tsv,
 * which is every subject's rows under one header).
 * Columns (tab-separated; SCT's own names where the quantity is SCT's):
 *   Subject, Session, Timestamp, Version, Filename, Slice (I->S), VertLevel,
 *   Label, Metric (FA|MD|AD|RD), Method, Size [vox], Size [mm3], Value, STD()
 * Method "bin" is SCT's -method bin (Value = its BIN() column): the mean over
 * the voxels labelled with the ROI, Size = their count; "wa" is SCT's -method
 * wa (Value = its WA() column): the partial-volume weighted average with each
 * voxel weighted by the model's probability of the ROI there, Size = the sum
 * of the weights. STD() is SCT's: the SD with the same weights, over the sum
 * of the weights (not n - 1). Rows per slice, per vertebral level and over all
 * slices, each computed from its voxels (nothing summed from slices); Slice
 * (I->S) counts from the most inferior slice (0) as SCT does, a group as
 * "a:b" (consecutive) or "a;b;c"; VertLevel in the PAM50 coding (2 = C2),
 * "None" without levels (SCT's word). Labels: the 8 ROIs of io/labels.h
 * (LABEL_NAMES), then "white matter" (the 6 columns), "gray matter" and
 * "spinal cord" (all 8). An empty group's Value and STD() are "n/a".
 * defines: SegExtract, segment_extract_write, SEGMENT_EXTRACT_HEADER */
#ifndef CORDSEG_JOBS_SEGMENT_EXTRACT_H
#define CORDSEG_JOBS_SEGMENT_EXTRACT_H
#include <stdint.h>

#define SEGMENT_EXTRACT_HEADER                                                                                        \
  "Subject\tSession\tTimestamp\tVersion\tFilename\tSlice (I->S)\tVertLevel\tLabel\tMetric\tMethod\tSize [vox]\t"    \
  "Size [mm3]\tValue\tSTD()"

typedef struct {
  int64_t nsl, nhw;          /* slices (0 = most superior, the store orientation), pixels per slice */
  const uint8_t *labels;     /* [nsl][nhw] ids 0..8 */
  const float *probs;        /* [nsl][9][nhw] the probabilities the labels came from; NULL: no wa rows */
  const float *maps[4];      /* FA, MD, AD, RD [nsl][nhw]; NULL where absent (no rows) */
  const char *files[4];      /* the files those maps are (Filename) */
  const int32_t *level;      /* [nsl] vertebral level, 0 = unknown */
  double voxel_mm3;
  const char *subject, *session; /* NULL: n/a */
} SegExtract;

/* writes path atomically (io/atomic.h): the header, then every row */
void segment_extract_write(const char *path, const SegExtract *e);
#endif
