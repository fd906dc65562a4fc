/* io/import.c: NIfTI (maps or raw DWI) -> HDF5 slice store (io/import.h). */
#include "io/import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "io/dti.h"
#include "io/h5store.h"
#include "io/niftigeom.h"
#include "io/niftivol.h"
#include "io/textio.h"

int import_map_pam50(int value) {
  if (value == 0 || value == 37) return 0;
  if (value < 1 || value > 36) return -1;
  const int id = value - 1, right = id % 2;
  const int group = id <= 3 ? 0 : id <= 13 ? 1 : id <= 29 ? 2 : 3; /* dorsal, lateral, ventral, gray matter */
  return 1 + group + 4 * right;
}

/* centre crop/pad src [r][c] into dst [s][s] */
static void fit_square(const float *src, int64_t r, int64_t c, float *dst, int32_t s) {
  const int64_t r0 = (r - s) / 2, c0 = (c - s) / 2;
  for (int32_t y = 0; y < s; y++)
    for (int32_t x = 0; x < s; x++) {
      const int64_t sy = y + r0, sx = x + c0;
      dst[(size_t)y * s + x] = sy >= 0 && sy < r && sx >= 0 && sx < c ? src[sy * c + sx] : 0.0f;
    }
}

/* one 3-D map held as a NiftiVol view on a buffer */
static NiftiVol vol_view(const NiftiVol *ref, float *data) {
  NiftiVol v = *ref;
  v.nt = 1;
  v.data = data;
  return v;
}

void import_check_not_constant(const NiftiVol *v, const char *what) {
  const int64_t n = v->nx * v->ny * v->nz * v->nt;
  float lo = n ? v->data[0] : 0, hi = lo;
  for (int64_t i = 1; i < n; i++) lo = fminf(lo, v->data[i]), hi = fmaxf(hi, v->data[i]);
  if (!(hi > lo))
    cs_fatal("give the subject's map (check the file and its scl_slope): a constant image carries no anatomy",
             "%s '%s': every voxel is %g", what, v->path, (double)lo);
}

void import_check_dwi(const NiftiVol *v) {
  const int64_t nvox = v->nx * v->ny * v->nz;
  for (int64_t t = 0; t < v->nt; t++) {
    const float *d = v->data + t * nvox;
    float hi = 0;
    for (int64_t i = 0; i < nvox; i++) {
      if (d[i] < 0) {
        const int64_t x = i % v->nx, y = (i / v->nx) % v->ny, z = i / (v->nx * v->ny);
        cs_fatal("diffusion signals are magnitudes (>= 0): give the magnitude DWI series, not phase or a "
                 "difference image (check scl_slope/scl_inter)",
                 "--dwi '%s': voxel (%lld,%lld,%lld) of volume %lld has negative signal %g", v->path, (long long)x,
                 (long long)y, (long long)z, (long long)t, (double)d[i]);
      }
      hi = fmaxf(hi, d[i]);
    }
    if (!(hi > 0))
      cs_fatal("give the acquired DWI series (every volume must hold signal; drop empty volumes and their bvals/bvecs "
               "entries)",
               "--dwi '%s': volume %lld is all zero", v->path, (long long)t);
  }
}

int32_t import_subject(const ImportSpec *sp) {
  CS_CHECK(sp->labels, "pass --labels LABELS.nii.gz", "import: a label volume is required");
  CS_CHECK((sp->b0 && sp->fa) != (sp->dwi != NULL), "give either --b0 and --fa, or --dwi with --bvals and --bvecs",
           "import: choose one input mode");
  CS_CHECK(sp->size >= 16 && sp->size <= 4096, "use --size between 16 and 4096", "import: size %d", sp->size);
  NiftiVol lab;
  niftivol_read(&lab, sp->labels);
  niftivol_check_finite(&lab);
  CS_CHECK(lab.nt == 1, "give a 3-D label volume", "%s: label volume has %lld volumes", sp->labels, (long long)lab.nt);
  const int64_t nvox = lab.nx * lab.ny * lab.nz;
  float *maps[5] = {0}; /* b0 fa md ad rd, each [nvox] in the label grid */
  NiftiVol in[2];
  int have_dti = 0;
  if (sp->dwi) {
    NiftiVol dwi;
    niftivol_read(&dwi, sp->dwi);
    niftivol_check_finite(&dwi);
    import_check_dwi(&dwi);
    niftivol_check_same_grid(&dwi, &lab);
    double *bv = NULL, *bg = NULL;
    dti_read_bvals_bvecs(sp->bvals, sp->bvecs, (int32_t)dwi.nt, &bv, &bg);
    DtiModel m;
    dti_model_init(&m, bv, bg, (int32_t)dwi.nt, sp->bvals);
    for (int i = 0; i < 5; i++) maps[i] = mallocCheck((size_t)nvox * sizeof(float));
    dti_fit_volume(&m, dwi.data, nvox, maps[0], maps[1], maps[2], maps[3], maps[4]); /* volume-major, as NIfTI */
    have_dti = 1;
    if (sp->nifti_out) {
      static const char *nm[5] = {"b0", "fa", "md", "ad", "rd"};
      textio_mkdir_p(sp->nifti_out, "choose a writable --nifti-out directory");
      for (int i = 0; i < 5; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/sub-%03d_%s.nii.gz", sp->nifti_out, sp->subject, nm[i]);
        NiftiVol view = vol_view(&lab, maps[i]);
        niftivol_write(p, &view, 1, maps[i]);
      }
    }
    dti_model_free(&m);
    free(bv), free(bg);
    niftivol_free(&dwi);
  } else {
    const char *paths[2] = {sp->b0, sp->fa};
    for (int i = 0; i < 2; i++) {
      niftivol_read(&in[i], paths[i]);
      niftivol_check_finite(&in[i]);
      CS_CHECK(in[i].nt == 1, "give 3-D maps", "%s: has %lld volumes, expected a 3-D map", paths[i], (long long)in[i].nt);
      niftivol_check_same_grid(&in[i], &lab);
      import_check_not_constant(&in[i], i == 0 ? "--b0" : "--fa");
      maps[i] = in[i].data;
    }
    for (int64_t v = 0; v < nvox; v++)
      if (maps[1][v] < -1e-3f || maps[1][v] > 1.001f)
        cs_fatal("pass the FA map as --fa (values in [0, 1]) and the B0 as --b0", "%s: FA value %g at voxel %lld is outside [0, 1]",
                 sp->fa, (double)maps[1][v], (long long)v);
  }
  NiftiAxial ax;
  niftigeom_axial_axes(&lab, &ax);
  const int64_t nsl = niftigeom_axial_count(&lab, &ax);
  const int32_t S = sp->size;
  const size_t plane = (size_t)S * S;
  float *out[5] = {0}, *tmp = mallocCheck((size_t)nvox * sizeof(float)), *lf = mallocCheck(plane * sizeof(float));
  for (int i = 0; i < (have_dti ? 5 : 2); i++) out[i] = mallocCheck((size_t)nsl * plane * sizeof(float));
  uint8_t *labels = mallocCheck((size_t)nsl * plane);
  SliceMeta *meta = callocCheck((size_t)nsl, sizeof(SliceMeta));
  for (int64_t s = 0; s < nsl; s++) {
    int64_t r, c;
    for (int i = 0; i < (have_dti ? 5 : 2); i++) {
      NiftiVol view = vol_view(&lab, maps[i]);
      niftigeom_axial_slice(&view, &ax, 0, s, tmp, &r, &c);
      fit_square(tmp, r, c, out[i] + s * plane, S);
    }
    niftigeom_axial_slice(&lab, &ax, 0, s, tmp, &r, &c);
    fit_square(tmp, r, c, lf, S);
    for (size_t p = 0; p < plane; p++) {
      const float v = lf[p];
      const int iv = (int)lrintf(v);
      if (fabsf(v - (float)iv) > 1e-3f)
        cs_fatal("give an integer label volume (ROI ids 0..8, or PAM50 tract values with --label-map pam50)",
                 "%s: non-integer label %g in axial slice %lld", sp->labels, (double)v, (long long)s);
      const int roi = sp->label_kind == IMPORT_LABELS_PAM50 ? import_map_pam50(iv) : (iv >= 0 && iv <= 8 ? iv : -1);
      if (roi < 0)
        cs_fatal(sp->label_kind == IMPORT_LABELS_PAM50 ? "PAM50 values are 1..36 (tract id + 1), 0 or 37 for background"
                                                       : "cordseg ROI ids are 0..8; for a PAM50 tract atlas use --label-map pam50",
                 "%s: label value %d in axial slice %lld is outside the label map", sp->labels, iv, (long long)s);
      labels[s * plane + p] = (uint8_t)roi;
    }
    meta[s] = (SliceMeta){.subject = sp->subject, .slice = (int32_t)s, .level = sp->level,
                          .spacing = {(float)ax.row_mm, (float)ax.col_mm}};
  }
  H5Store st;
  struct stat sb;
  if (stat(sp->store, &sb) == 0) h5store_open_append(&st, sp->store, sp->created_by);
  else h5store_create(&st, sp->store, S, S, have_dti, sp->created_by);
  CS_CHECK(st.h == S && st.w == S, "use the store's --size, or write to a new store",
           "%s: store slices are %dx%d, import size is %dx%d", sp->store, st.h, st.w, S, S);
  /* a store without MD/AD/RD takes B0/FA only; one with them needs them (h5store says so) */
  h5store_append(&st, (int32_t)nsl, out[0], out[1], st.has_dti ? out[2] : NULL, st.has_dti ? out[3] : NULL,
                 st.has_dti ? out[4] : NULL, labels, meta);
  h5store_commit(&st);
  for (int i = 0; i < 5; i++) free(out[i]);
  if (have_dti)
    for (int i = 0; i < 5; i++) free(maps[i]);
  else
    niftivol_free(&in[0]), niftivol_free(&in[1]);
  niftivol_free(&lab);
  free(tmp), free(lf), free(labels), free(meta);
  return (int32_t)nsl;
}
