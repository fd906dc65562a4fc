/* io/import.c: NIfTI (maps or raw DWI) -> HDF5 slice store (io/import.h). */
#include "io/import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "io/labels.h"
#include "io/h5store.h"
#include "io/niftigeom.h"
#include "io/niftivol.h"
#include "io/prep.h"
#include "io/textio.h"
#include "io/path.h"

int import_map_pam50(int value) {
  if (value == 0 || value == 37) return 0;
  if (value < 1 || value > 36) return -1;
  const int id = value - 1, right = id % 2;
  const int group = id <= 3 ? 0 : id <= 13 ? 1 : id <= 29 ? 2 : 3; /* dorsal, lateral, ventral, gray matter */
  return 1 + group + 4 * right;
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

/* the subject's maps on the label grid: fitted from the DWI series (all
 * five, have_dti) or B0 and FA as given (in[] holds them) */
typedef struct {
  PrepDwi fit;
  NiftiVol in[2];
  float *maps[PREP_MAPS];
  int have_dti;
} ImportMaps;

/* the label volume; SCT's warped atlas folder (with PAM50) as ROI ids, sp->label_kind then set to ROI */
static void import_read_labels(ImportSpec *sp, NiftiVol *lab) {
  struct stat sb;
  if (sp->label_kind == IMPORT_LABELS_PAM50 && stat(sp->labels, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    import_atlas_labels(sp->labels, sp->atlas_min > 0 ? sp->atlas_min : IMPORT_ATLAS_MIN, lab);
    sp->label_kind = IMPORT_LABELS_ROI;
    return;
  }
  niftivol_read(lab, sp->labels);
  niftivol_check_finite(lab);
  CS_CHECK(lab->nt == 1, "give a 3-D label volume", "%s: label volume has %lld volumes", sp->labels, (long long)lab->nt);
}

/* dwi mode: the fitted maps, written as NIfTI to --nifti-out when asked */
static void import_fit_dwi(const ImportSpec *sp, const NiftiVol *lab, ImportMaps *m) {
  prep_dwi_fit(&m->fit, sp->dwi, sp->bvals, sp->bvecs, lab);
  for (int i = 0; i < PREP_MAPS; i++) m->maps[i] = m->fit.maps[i];
  m->have_dti = 1;
  niftivol_free(&m->fit.dwi);
  if (!sp->nifti_out) return;
  textio_mkdir_p(sp->nifti_out, "choose a writable --nifti-out directory");
  for (int i = 0; i < PREP_MAPS; i++) {
    char p[PATH_CAP];
    int32_t id;
    if (sp->name && !h5store_name_is_id(sp->name, &id))
      path_fmt(p, sizeof p, "%s/%s_%s.nii.gz", sp->nifti_out, sp->name, PREP_MAP_NAMES[i]);
    else path_fmt(p, sizeof p, "%s/sub-%03d_%s.nii.gz", sp->nifti_out, sp->subject, PREP_MAP_NAMES[i]);
    NiftiVol view = vol_view(lab, m->maps[i]);
    niftivol_write(p, &view, 1, m->maps[i]);
  }
}

/* maps mode: B0 and FA as given (or one of them: maps[] NULL for the other), on the label grid, FA within its
 * bounds */
static void import_read_maps(const ImportSpec *sp, const NiftiVol *lab, ImportMaps *m) {
  const char *paths[2] = {sp->b0, sp->fa};
  for (int i = 0; i < 2; i++) {
    if (!paths[i]) continue;
    niftivol_read(&m->in[i], paths[i]);
    niftivol_check_finite(&m->in[i]);
    CS_CHECK(m->in[i].nt == 1, "give 3-D maps", "%s: has %lld volumes, expected a 3-D map", paths[i],
             (long long)m->in[i].nt);
    niftivol_check_same_grid(&m->in[i], lab);
    import_check_not_constant(&m->in[i], i == 0 ? "--b0" : "--fa");
    m->maps[i] = m->in[i].data;
  }
  if (!sp->fa) return;
  const int64_t v = prep_fa_invalid(m->maps[PREP_FA], lab->nx * lab->ny * lab->nz);
  if (v >= 0)
    cs_fatal("pass the FA map as --fa (values in [0, 1]) and the B0 as --b0", "%s: FA value %g at voxel %lld is outside [%g, %g]",
             sp->fa, (double)m->maps[PREP_FA][v], (long long)v, (double)PREP_FA_MIN, (double)PREP_FA_MAX);
}

static void import_maps_free(ImportMaps *m) {
  if (m->have_dti) prep_dwi_free(&m->fit);
  else niftivol_free(&m->in[0]), niftivol_free(&m->in[1]);
}

/* a label voxel's ROI id (io/labels.h), fatal on a value outside the label map */
static uint8_t import_label(const ImportSpec *sp, float v, int64_t s) {
  const int iv = (int)lrintf(v);
  if (fabsf(v - (float)iv) > 1e-3f)
    cs_fatal("give an integer label volume (ROI ids 0..8, or PAM50 tract values with --label-map pam50)",
             "%s: non-integer label %g in axial slice %lld", sp->labels, (double)v, (long long)s);
  const int roi = sp->label_kind == IMPORT_LABELS_PAM50 ? import_map_pam50(iv) : (iv >= 0 && iv <= LABEL_MAX ? iv : -1);
  if (roi < 0)
    cs_fatal(sp->label_kind == IMPORT_LABELS_PAM50 ? "PAM50 values are 1..36 (tract id + 1), 0 or 37 for background"
                                                   : "cordseg ROI ids are 0..8; for a PAM50 tract atlas use --label-map pam50",
             "%s: label value %d in axial slice %lld is outside the label map", sp->labels, iv, (long long)s);
  return (uint8_t)roi;
}

/* the subject's slices on the store grid (io/prep.h: import's centre crop/pad) */
typedef struct {
  int64_t n;
  float *maps[PREP_MAPS]; /* [n][S][S] */
  uint8_t *labels;        /* [n][S][S] */
  SliceMeta *meta;
} ImportSlices;

/* native axial slice s of vol (store orientation) onto the S x S grid, sy x sx native pixels per grid
 * pixel (io/prep.h: a crop/pad at the native spacing; labels take the nearest pixel) */
static void import_grid_slice(const NiftiVol *vol, const NiftiAxial *ax, int64_t s, int32_t S, double sy, double sx,
                              int labels, float *tmp, float *dst) {
  int64_t r, c;
  double cr, cc;
  niftigeom_axial_slice(vol, ax, 0, s, tmp, &r, &c);
  prep_centre_fov(r, c, S, S, prep_same_spacing(sy, sx), &cr, &cc);
  if (labels) prep_grid_labels(tmp, r, c, cr, cc, sy, sx, S, S, dst);
  else prep_grid_slice(tmp, r, c, cr, cc, sy, sx, S, S, dst);
}

/* --levels: each axial slice's level from the level image (on the label grid) */
static int32_t *import_levels(const ImportSpec *sp, const NiftiVol *lab, const NiftiAxial *ax, int64_t nsl) {
  NiftiVol lv;
  niftivol_read(&lv, sp->levels);
  niftivol_check_finite(&lv);
  CS_CHECK(lv.nt == 1, "give a 3-D level image (SCT's *_labeled output)", "--levels %s: has %lld volumes", sp->levels,
           (long long)lv.nt);
  niftivol_check_same_grid(&lv, lab);
  int32_t *lev = mallocCheck(sizeof(int32_t) * (size_t)(nsl + 1));
  niftigeom_axial_levels(&lv, ax, lev, "--levels");
  niftivol_free(&lv);
  return lev;
}

static void import_slices(const ImportSpec *sp, const NiftiVol *lab, const ImportMaps *m, ImportSlices *out) {
  NiftiAxial ax;
  niftigeom_axial_axes(lab, &ax);
  const int64_t nsl = niftigeom_axial_count(lab, &ax), nvox = lab->nx * lab->ny * lab->nz;
  const int32_t S = sp->size;
  const size_t plane = (size_t)S * S;
  const int nmaps = m->have_dti ? PREP_MAPS : 2;
  /* --spacing: native pixels per store pixel; at the native spacing (or without it) a crop/pad */
  double sy = sp->spacing > 0 ? sp->spacing / ax.row_mm : 1, sx = sp->spacing > 0 ? sp->spacing / ax.col_mm : 1;
  if (prep_same_spacing(sy, sx)) sy = sx = 1;
  const float row_mm = sy == 1 && sx == 1 ? (float)ax.row_mm : (float)sp->spacing;
  const float col_mm = sy == 1 && sx == 1 ? (float)ax.col_mm : (float)sp->spacing;
  memset(out, 0, sizeof *out);
  out->n = nsl;
  float *tmp = mallocCheck((size_t)nvox * sizeof(float)), *lf = mallocCheck(plane * sizeof(float));
  for (int i = 0; i < nmaps; i++)
    if (m->maps[i]) out->maps[i] = mallocCheck((size_t)nsl * plane * sizeof(float));
  out->labels = mallocCheck((size_t)nsl * plane);
  out->meta = callocCheck((size_t)nsl, sizeof(SliceMeta));
  int32_t *lev = sp->levels ? import_levels(sp, lab, &ax, nsl) : NULL;
  for (int64_t s = 0; s < nsl; s++) {
    for (int i = 0; i < nmaps; i++) {
      if (!m->maps[i]) continue; /* a B0-only or FA-only subject */
      NiftiVol view = vol_view(lab, m->maps[i]);
      import_grid_slice(&view, &ax, s, S, sy, sx, 0, tmp, out->maps[i] + s * plane);
    }
    import_grid_slice(lab, &ax, s, S, sy, sx, 1, tmp, lf);
    for (size_t p = 0; p < plane; p++) out->labels[s * plane + p] = import_label(sp, lf[p], s);
    out->meta[s] = (SliceMeta){.subject = sp->subject, .slice = (int32_t)s, .level = lev ? lev[s] : sp->level,
                               .spacing = {row_mm, col_mm}};
  }
  free(tmp), free(lf), free(lev);
}

static void import_slices_free(ImportSlices *sl) {
  for (int i = 0; i < PREP_MAPS; i++) free(sl->maps[i]);
  free(sl->labels), free(sl->meta);
}

/* the subject's place in the store: its id, and whether the store already holds it */
typedef struct {
  char name[H5STORE_NAME_MAX];
  int32_t id, old_slices;
  int have_store, exists;
} ImportTarget;

/* before any input is read: the name checked, an existing subject refused unless --replace */
static void import_target(const ImportSpec *sp, ImportTarget *t) {
  memset(t, 0, sizeof *t);
  char why[128];
  if (sp->name) snprintf(t->name, sizeof t->name, "%.63s", sp->name);
  else snprintf(t->name, sizeof t->name, "%d", sp->subject);
  CS_CHECK(sp->name == NULL || strlen(sp->name) < H5STORE_NAME_MAX, "name subjects like sub-01",
           "--subject '%s' is longer than %d characters", sp->name, H5STORE_NAME_MAX - 1);
  CS_CHECK(h5store_name_valid(t->name, why, sizeof why), "name subjects like sub-01 (letters, digits, '-', '_', '.')",
           "--subject '%s' %s", t->name, why);
  struct stat sb;
  int32_t next = 0;
  t->have_store = stat(sp->store, &sb) == 0;
  if (t->have_store) {
    H5Store r;
    h5store_open(&r, sp->store);
    t->exists = h5store_subject_find(&r, t->name, &t->id, &t->old_slices);
    char nb[H5STORE_NAME_MAX];
    if (t->exists && !sp->replace)
      cs_fatal("pass --replace to replace that subject's slices, or import it under another --subject name",
               "subject '%s' is already in store '%s' (%d slices): nothing written", h5store_subject_name(&r, t->id, nb),
               sp->store, t->old_slices);
    next = h5store_subject_next_id(&r);
    h5store_close(&r);
  }
  if (!t->exists && !h5store_name_is_id(t->name, &t->id)) t->id = next;
}

/* the slices appended to the store (created when missing), replaced atomically; with a subject
 * being replaced, the store is rebuilt without its old slices in the same commit */
static void import_store(const ImportSpec *sp, const ImportTarget *t, int have_dti, const ImportSlices *sl) {
  const int32_t S = sp->size;
  H5Store st;
  if (!t->have_store)
    h5store_create_maps(&st, sp->store, S, S, sl->maps[PREP_B0] != NULL, sl->maps[PREP_FA] != NULL, have_dti,
                        sp->created_by);
  else if (!t->exists) h5store_open_append(&st, sp->store, sp->created_by);
  else {
    H5Store r;
    h5store_open(&r, sp->store);
    h5store_require_verified(&r, "refusing to replace a subject in it");
    char by[1100];
    snprintf(by, sizeof by, "%.500s; %.500s", r.created_by, sp->created_by ? sp->created_by : "");
    h5store_create_maps(&st, sp->store, r.h, r.w, r.has_b0, r.has_fa, r.has_dti, by);
    h5store_append_store(&st, &r, t->id, -1);
    h5store_subject_set_site(&st, t->id, h5store_subject_site(&r, t->id)); /* kept unless a new one is given */
    h5store_close(&r);
  }
  CS_CHECK(st.h == S && st.w == S, "use the store's --size, or write to a new store",
           "%s: store slices are %dx%d, import size is %dx%d", sp->store, st.h, st.w, S, S);
  /* a store without MD/AD/RD takes B0/FA only; one with them needs them (h5store says so) */
  float *const *m = sl->maps;
  /* a map the store does not hold is dropped (DWI into a B0-only store); one it holds and the subject lacks is
   * refused, naming both */
  if ((st.has_b0 && !m[PREP_B0]) || (st.has_fa && !m[PREP_FA]))
    cs_fatal("give the subject's other map too (--b0, --fa), or import it into a store of the maps it has",
             "store '%s' holds %s maps; subject '%s' has %s only: nothing written", sp->store,
             h5store_maps_name(st.has_b0, st.has_fa), t->name, h5store_maps_name(m[PREP_B0] != NULL, m[PREP_FA] != NULL));
  h5store_append(&st, (int32_t)sl->n, st.has_b0 ? m[PREP_B0] : NULL, st.has_fa ? m[PREP_FA] : NULL, st.has_dti ? m[PREP_MD] : NULL,
                 st.has_dti ? m[PREP_AD] : NULL, st.has_dti ? m[PREP_RD] : NULL, sl->labels, sl->meta);
  h5store_subject_set_name(&st, t->id, t->name);
  if (sp->site) h5store_subject_set_site(&st, t->id, sp->site);
  h5store_commit(&st);
}

int32_t import_subject(const ImportSpec *spec) {
  CS_CHECK(spec->labels, "pass --labels LABELS.nii.gz", "import: a label volume is required");
  CS_CHECK((spec->b0 || spec->fa) != (spec->dwi != NULL), "give --b0 and/or --fa, or --dwi with --bvals and --bvecs",
           "import: choose one input mode");
  CS_CHECK(spec->size >= 16 && spec->size <= 4096, "use --size between 16 and 4096", "import: size %d", spec->size);
  CS_CHECK(spec->spacing == 0 || (spec->spacing >= 0.05 && spec->spacing <= 10), "use --spacing between 0.05 and 10 mm",
           "import: spacing %g", spec->spacing);
  ImportTarget t;
  import_target(spec, &t);
  ImportSpec s2 = *spec;
  s2.subject = t.id;
  NiftiVol lab;
  import_read_labels(&s2, &lab);
  const ImportSpec *sp = &s2;
  ImportMaps m = {0};
  if (sp->dwi) import_fit_dwi(sp, &lab, &m);
  else import_read_maps(sp, &lab, &m);
  ImportSlices sl;
  import_slices(sp, &lab, &m, &sl);
  import_store(sp, &t, m.have_dti, &sl);
  import_slices_free(&sl);
  import_maps_free(&m);
  niftivol_free(&lab);
  return (int32_t)sl.n;
}
