/* io/atlasdir.c: SCT's warped PAM50 atlas folder as an import label volume
 * (`import --label-map pam50 --labels DIR`, io/import.h import_atlas_labels).
 * `sct_warp_template` writes one partial-volume map per tract into
 * label/atlas/ (PAM50_atlas_00 .. _35, ids as in info_label.txt; _36 is the
 * CSF contour, not read). Each voxel: the 36 maps grouped into cordseg's 8
 * ROIs (import_map_pam50), summed per ROI; the ROI with the largest sum, where
 * all 36 sum to at least the minimum (the voxel that much cord). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "io/import.h"
#include "io/labels.h"

#define ATLAS_HINT                                                                                                 \
  "give the folder sct_warp_template wrote (label/atlas/ with PAM50_atlas_00.nii.gz .. PAM50_atlas_35.nii.gz; "   \
  "docs/data.md, 'SCT's warped atlas')"

/* the path of tract id's map in dir (.nii.gz, else .nii) */
static void atlas_map_path(const char *dir, int id, char *out, size_t n) {
  struct stat sb;
  snprintf(out, n, "%.4000s/PAM50_atlas_%02d.nii.gz", dir, id);
  if (stat(out, &sb) == 0) return;
  snprintf(out, n, "%.4000s/PAM50_atlas_%02d.nii", dir, id);
  if (stat(out, &sb) != 0)
    cs_fatal(ATLAS_HINT, "--labels '%s': no PAM50_atlas_%02d.nii.gz (or .nii): the folder needs the 36 tract maps 00..35",
             dir, id);
}

void import_atlas_labels(const char *dir, double min_prob, NiftiVol *lab) {
  CS_CHECK(min_prob > 0 && min_prob <= 1, "use --atlas-min in (0, 1]", "--atlas-min %g", min_prob);
  float *roi = NULL, *cord = NULL;
  int64_t nvox = 0;
  for (int id = 0; id < 36; id++) {
    char p[4200];
    atlas_map_path(dir, id, p, sizeof p);
    NiftiVol v;
    niftivol_read(&v, p);
    CS_CHECK(v.nt == 1, ATLAS_HINT, "'%s': %lld volumes, a tract map is 3-D", p, (long long)v.nt);
    if (id == 0) {
      *lab = v, lab->data = NULL; /* the grid of the first map; the labels computed below */
      snprintf(lab->path, sizeof lab->path, "%.4000s", dir);
      nvox = v.nx * v.ny * v.nz;
      roi = callocCheck((size_t)nvox * LABEL_MAX, sizeof(float));
      cord = callocCheck((size_t)nvox, sizeof(float));
    } else {
      niftivol_check_same_grid(&v, lab);
    }
    const int r = import_map_pam50(id + 1) - 1; /* 0..7 */
    for (int64_t q = 0; q < nvox; q++) {
      const float x = v.data[q];
      if (!(x >= -1e-3f && x <= 1.001f))
        cs_fatal(ATLAS_HINT, "'%s': value %g at voxel %lld is not a probability in [0, 1]", p, (double)x, (long long)q);
      roi[(size_t)r * nvox + q] += x, cord[q] += x;
    }
    niftivol_free(&v);
  }
  lab->data = mallocCheck(sizeof(float) * (size_t)nvox);
  for (int64_t q = 0; q < nvox; q++) {
    int best = 0;
    for (int r = 1; r < LABEL_MAX; r++)
      if (roi[(size_t)r * nvox + q] > roi[(size_t)best * nvox + q]) best = r;
    lab->data[q] = cord[q] >= (float)min_prob - 1e-6f ? (float)(best + 1) : 0.0f;
  }
  free(roi), free(cord);
}
