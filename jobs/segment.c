/* jobs/segment.c: `cordseg segment` (see jobs/segment.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/segment.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/common.h"
#include "core/metrics.h"
#include "io/atomic.h"
#include "io/dti.h"
#include "io/niftivol.h"
#include "io/labels.h"
#include "io/prep.h"
#include "io/model.h"
#include "io/montage.h"
#include "io/niftigeom.h"
#include "io/textio.h"
#include "jobs/predict.h"
#include "io/path.h"
#include "jobs/segment_extract.h"

void segment_options_default(SegmentOptions *o) {
  memset(o, 0, sizeof *o);
  o->batch = 8;
  o->device = BACKEND_KIND_AUTO;
  o->subject_index = -1;
}

/* every file segment may write into -o: the set is staged and moved in at the end (io/atomic.h), and a file
 * of the previous set that this run does not write is removed, so the folder never mixes two runs */
static const char *const SEGMENT_OUTPUTS[] = {"labels.nii.gz", "probs.nii.gz", "b0.nii.gz",   "fa.nii.gz",
                                              "md.nii.gz",     "ad.nii.gz",    "rd.nii.gz",   "cord_qc.csv",
                                              "metrics.csv",   "qc.png",       "extract_metric.tsv"};

/* the QC check of DWI input: the inside fraction and the cord coverage below which segment warns (the quickstart's
 * B0 HDL model covers 45 % of the real series' cord, the recommended B0+FA models 82-89 %: results/2026-12-01-
 * phantom-coverage) */
#define SEGMENT_QC_WARN 0.9
#define SEGMENT_QC_COVER_WARN 0.7

int segment_model_warnings(const ModelFile *mf, char (*w)[SEGMENT_MODEL_WARN_LEN]) {
  int n = 0;
  if (strstr(mf->train.source, "phantom"))
    snprintf(w[n++], SEGMENT_MODEL_WARN_LEN,
             "the model was trained on a %s store (info MODEL.h5: 'trained on'): how much of a real cord such "
             "models cover was measured in results/2026-12-01-phantom-coverage; read cord_qc.csv (DWI input: "
             "inside, covered, offset) before the ROI values",
             strcmp(mf->train.source, "phantom") ? "partly phantom" : "phantom");
  if (mf->input == INPUT_B0)
    snprintf(w[n++], SEGMENT_MODEL_WARN_LEN,
             "the model's input is B0 alone: B0 models covered 43-78 %% of the real cord where B0+FA models "
             "covered a median 85 %% (results/2026-12-01-phantom-coverage); use a model trained with input = b0+fa");
  return n;
}

void segment_print_model_warnings(const ModelFile *mf) {
  char mw[SEGMENT_MODEL_WARN_MAX][SEGMENT_MODEL_WARN_LEN];
  for (int i = 0, n = segment_model_warnings(mf, mw); i < n; i++) fprintf(stderr, "segment: model warning: %s\n", mw[i]);
}

static void segment_progress(void *ctx, int32_t member, int pass, int64_t done, int64_t n) {
  const ModelFile *mf = ctx;
  fprintf(stderr, "\rsegment: member %d/%d%s: %lld/%lld slices", member + 1, mf->n, pass ? " (flipped)" : "",
          (long long)done, (long long)n);
}

/* a volume with neither sform nor qform: left and right are a guess, so it is refused unless
 * --assume-orientation says what its voxel axes are */
static void segment_orient(const SegmentOptions *o, NiftiVol *v) {
  if (v->oriented) return;
  if (!o->assume_orientation)
    cs_fatal("the file has no orientation (qform_code = sform_code = 0), so left and right are unknown: fix its "
             "header (e.g. fslorient, nibabel), or give --assume-orientation CODE with the axes' directions, e.g. "
             "LAS (the pixdim convention FSL and nibabel assume) or RAS, after checking a marker of the subject's left",
             "'%s' has no qform or sform", v->path);
  const int64_t dim[3] = {v->nx, v->ny, v->nz};
  if (niftigeom_from_axcodes(o->assume_orientation, v->pix, dim, v->xyz) != 0)
    cs_fatal("give three letters, one of R/L, A/P and S/I each, in voxel-axis order (i, j, k), e.g. LAS or RPI",
             "--assume-orientation '%s' is not an orientation code", o->assume_orientation);
  v->oriented = 1;
  if (!o->quiet)
    fprintf(stderr, "segment: '%s' has no orientation; taken as %s (--assume-orientation)\n", v->path,
            o->assume_orientation);
}

static void read_map(const SegmentOptions *o, NiftiVol *v, const char *path, const char *opt) {
  niftivol_read(v, path);
  segment_orient(o, v);
  niftivol_check_finite(v);
  CS_CHECK(v->nt == 1, "give a 3-D map (one volume)", "%s %s: has %lld volumes, expected a 3-D map", opt, path,
           (long long)v->nt);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* mean, sample SD, median of v[n] (v is sorted); NaN where undefined */
static void stats3(float *v, int64_t n, double out[3]) {
  if (n == 0) {
    out[0] = out[1] = out[2] = NAN;
    return;
  }
  double s = 0, ss = 0;
  for (int64_t i = 0; i < n; i++) s += v[i];
  double m = s / (double)n;
  for (int64_t i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
  qsort(v, (size_t)n, sizeof(float), cmp_float);
  out[0] = m, out[1] = n > 1 ? sqrt(ss / (double)(n - 1)) : NAN;
  out[2] = n % 2 ? v[n / 2] : 0.5 * ((double)v[n / 2 - 1] + (double)v[n / 2]);
}

/* keep the largest 4-connected component of every ROI in lab [nr][nc] */
static void keep_largest(uint8_t *lab, int64_t nr, int64_t nc) {
  const int64_t n = nr * nc;
  int32_t *comp = mallocCheck(sizeof(int32_t) * (size_t)n), *stack = mallocCheck(sizeof(int32_t) * (size_t)n);
  for (int roi = 1; roi < LABEL_COUNT; roi++) {
    for (int64_t i = 0; i < n; i++) comp[i] = -1;
    int32_t ncomp = 0, best = -1;
    int64_t best_size = 0;
    for (int64_t i = 0; i < n; i++) {
      if (lab[i] != roi || comp[i] >= 0) continue;
      int64_t top = 0, size = 0;
      stack[top++] = (int32_t)i, comp[i] = ncomp;
      while (top) {
        int64_t p = stack[--top], r = p / nc, c = p % nc;
        size++;
        const int64_t nb[4] = {r > 0 ? p - nc : -1, r < nr - 1 ? p + nc : -1, c > 0 ? p - 1 : -1, c < nc - 1 ? p + 1 : -1};
        for (int q = 0; q < 4; q++)
          if (nb[q] >= 0 && lab[nb[q]] == roi && comp[nb[q]] < 0) comp[nb[q]] = ncomp, stack[top++] = (int32_t)nb[q];
      }
      if (size > best_size) best_size = size, best = ncomp;
      ncomp++;
    }
    for (int64_t i = 0; i < n; i++)
      if (lab[i] == roi && comp[i] != best) lab[i] = 0;
  }
  free(comp), free(stack);
}

typedef struct {
  int64_t vox;
  double st[4][3]; /* fa md ad rd x (mean sd median) */
} RoiRow;

static void roi_row(const uint8_t *lab, float *const *maps, int64_t n, const int64_t *idx, int roi, float *buf,
                    RoiRow *out) {
  /* idx == NULL: pixels 0..n of one slice; else the listed pixel offsets */
  int64_t cnt = 0;
  for (int64_t i = 0; i < n; i++) cnt += lab[idx ? idx[i] : i] == roi;
  out->vox = cnt;
  for (int m = 0; m < 4; m++) {
    const float *mp = maps[PREP_FA + m];
    if (!mp) {
      out->st[m][0] = out->st[m][1] = out->st[m][2] = NAN;
      continue;
    }
    int64_t q = 0;
    for (int64_t i = 0; i < n; i++) {
      int64_t p = idx ? idx[i] : i;
      if (lab[p] == roi) buf[q++] = mp[p];
    }
    stats3(buf, q, out->st[m]);
  }
}

/* cord_ratio: the slice's (slice rows; "nan" without a predicted cord), empty on level/all rows (ratio_given 0) */
static void csv_row(FILE *f, const char *scope, const char *slice, const char *k, int level, int roi, const RoiRow *r,
                    double px_area, int ratio_given, double cord_ratio) {
  char lv[8];
  fprintf(f, "%s,%s,%s,%s,%d,%s,%lld,%.6g,%d", scope, slice, k, level > 0 ? label_level_name(level, lv) : "", roi,
          LABEL_KEYS[roi], (long long)r->vox, (double)r->vox * px_area, r->vox == 0);
  for (int m = 0; m < 4; m++)
    for (int s = 0; s < 3; s++) {
      if (isnan(r->st[m][s])) fprintf(f, ",nan");
      else fprintf(f, ",%.8g", r->st[m][s]);
    }
  if (!ratio_given) fprintf(f, ",\n");
  else if (isnan(cord_ratio)) fprintf(f, ",nan\n");
  else fprintf(f, ",%.6g\n", cord_ratio);
}

/* the QC check's cord: voxels of the mean diffusion-weighted signal (b > DTI_B0_THRESHOLD)
 * that dti_cord_mask finds (DTI_CORD_MASK_K robust SDs, largest component,
 * no erosion), as 0/1 floats on the DWI's grid; NULL without DW volumes */
static float *cord_mask_dwi(const NiftiVol *dwi, const double *bvals) {
  const int64_t nvox = dwi->nx * dwi->ny * dwi->nz;
  float *mean = callocCheck((size_t)nvox, sizeof(float));
  int64_t ndw = 0;
  for (int64_t t = 0; t < dwi->nt; t++) {
    if (!(bvals[t] > DTI_B0_THRESHOLD)) continue;
    ndw++;
    for (int64_t v = 0; v < nvox; v++) mean[v] += dwi->data[t * nvox + v];
  }
  if (!ndw) {
    free(mean);
    return NULL;
  }
  for (int64_t v = 0; v < nvox; v++) mean[v] /= (float)ndw;
  uint8_t *m = mallocCheck((size_t)nvox);
  dti_cord_mask(mean, dwi->nx, dwi->ny, dwi->nz, DTI_CORD_MASK_K, 0, m);
  for (int64_t v = 0; v < nvox; v++) mean[v] = m[v];
  free(m);
  return mean;
}

/* per slice: labelled voxels inside the QC cord (dilated by one pixel in the
 * slice), cord voxels labelled (the labels' coverage of the undilated cord: a
 * model that labels a small blob is all inside but covers little) and the
 * centroid offset, written to cord_qc.csv and summarised on stdout */
static void cord_qc(const SegmentOptions *o, const NiftiVol *ref, const NiftiAxial *ax, const float *cordvol,
                    const uint8_t *nlab, int64_t nsl, int64_t nr, int64_t nc, char *summary, size_t nsum) {
  const int64_t nhw = nr * nc;
  float *sl = mallocCheck(sizeof(float) * (size_t)nhw);
  NiftiVol v = *ref;
  v.data = (float *)cordvol;
  char p[PATH_CAP], tmp[PATH_CAP];
  path_fmt(p, sizeof p, "%s/cord_qc.csv", o->out);
  atomic_begin(p, tmp, sizeof tmp);
  FILE *f = fopen(tmp, "w");
  if (!f) cs_fatal("choose a writable -o directory", "cannot create '%s': %s", tmp, strerror(errno));
  fprintf(f, "slice,k,cord_mask_voxels,labelled_voxels,inside_voxels,inside_frac,covered_voxels,offset_ant_mm,"
             "offset_left_mm\n");
  int64_t tot = 0, tin = 0, full = 0, labelled_slices = 0, noff = 0, tcord = 0, tcov = 0;
  float *off_a = mallocCheck(sizeof(float) * (size_t)(nsl + 1)); /* per labelled slice: mm anterior, mm left */
  float *off_l = mallocCheck(sizeof(float) * (size_t)(nsl + 1));
  char outside[512] = "";
  size_t ol = 0;
  for (int64_t s = 0; s < nsl; s++) {
    int64_t r_, c_, cm = 0, n = 0, in = 0, cov = 0;
    double mr = 0, mc = 0, lr = 0, lc = 0; /* centroids (store rows A->P, columns R->L) of the cord and the labels */
    niftigeom_axial_slice(&v, ax, 0, s, sl, &r_, &c_);
    const uint8_t *lab = nlab + s * nhw;
    for (int64_t i = 0; i < nhw; i++) {
      const int64_t r = i / nc, c = i % nc;
      if (sl[i] > 0.5f) cm++, mr += (double)r, mc += (double)c, cov += lab[i] != 0;
      if (!lab[i]) continue;
      lr += (double)r, lc += (double)c;
      int on = 0;
      for (int64_t dr = -1; dr <= 1 && !on; dr++)
        for (int64_t dc = -1; dc <= 1 && !on; dc++) {
          const int64_t rr = r + dr, cc = c + dc;
          on = rr >= 0 && rr < nr && cc >= 0 && cc < nc && sl[rr * nc + cc] > 0.5f;
        }
      n++, in += on;
    }
    fprintf(f, "%lld,%lld,%lld,%lld,%lld,", (long long)s, (long long)(ax->slice_reverse ? nsl - 1 - s : s),
            (long long)cm, (long long)n, (long long)in);
    if (n) fprintf(f, "%.6f,", (double)in / (double)n);
    else fprintf(f, ",");
    fprintf(f, "%lld,", (long long)cov);
    if (n && cm) { /* the labels' centroid relative to the cord's: + = anterior, + = toward the patient's left */
      const double oa = (mr / (double)cm - lr / (double)n) * ax->row_mm;
      const double oleft = (lc / (double)n - mc / (double)cm) * ax->col_mm;
      fprintf(f, "%.3f,%.3f\n", oa, oleft);
      off_a[noff] = (float)oa, off_l[noff] = (float)oleft, noff++;
    } else
      fprintf(f, ",\n");
    tot += n, tin += in, labelled_slices += n > 0, full += n > 0 && in == n, tcord += cm, tcov += cov;
    if (n > in && ol < sizeof outside - 40)
      ol += (size_t)snprintf(outside + ol, sizeof outside - ol, "%s%lld (%lld)", ol ? ", " : "", (long long)s,
                             (long long)(n - in));
  }
  if (fclose(f) != 0) cs_fatal("check free disk space", "writing '%s' failed", tmp);
  atomic_commit(tmp, p);
  free(sl);
  const double frac = tot ? (double)tin / (double)tot : 0;
  double sa[3] = {0, 0, 0}, sl3[3] = {0, 0, 0};
  if (noff) stats3(off_a, noff, sa), stats3(off_l, noff, sl3);
  const double med_a = sa[2], med_l = sl3[2];
  free(off_a), free(off_l);
  char where[256] = "no labelled slice over the cord: no centroid offset";
  if (noff)
    snprintf(where, sizeof where,
             "the labels' centroid lies %.2f mm %s and %.2f mm to the %s of the cord's (median over %lld "
             "slices; cord_qc.csv has each)",
             fabs(med_a), med_a >= 0 ? "anterior" : "posterior", fabs(med_l), med_l >= 0 ? "left" : "right",
             (long long)noff);
  int w = snprintf(summary, nsum,
                   "segment: QC: %lld of %lld labelled voxels (%.1f %%) inside the cord of the mean DW signal "
                   "(+1 voxel); %lld of %lld labelled slices entirely inside%s%s\nsegment: QC: %s; the labels "
                   "cover %lld of the cord's %lld voxels (%.1f %%)\n",
                   (long long)tin, (long long)tot, 100 * frac, (long long)full, (long long)labelled_slices,
                   ol ? "; outside on slice (voxels): " : "", outside, where, (long long)tcov, (long long)tcord,
                   tcord ? 100.0 * (double)tcov / (double)tcord : 0.0);
  if (tot && frac < SEGMENT_QC_WARN && w > 0 && (size_t)w < nsum)
    w += snprintf(summary + w, nsum - (size_t)w,
                  "segment: QC warning: %.0f %% of the labels lie outside the cord; look at qc.png, and try "
                  "--cord-mask (crop around the cord) or a model trained on data like this subject's\n",
                  100 * (1 - frac));
  const double cover = tcord ? (double)tcov / (double)tcord : 0;
  if (tcord && cover < SEGMENT_QC_COVER_WARN && w > 0 && (size_t)w < nsum)
    snprintf(summary + w, nsum - (size_t)w,
             "segment: QC warning: the labels cover only %.0f %% of the cord (below %.0f %%): parts of the cord are "
             "left out; models given B0 and FA cover more of real cords than B0 alone (docs/segment.md)\n",
             100 * cover, 100 * SEGMENT_QC_COVER_WARN);
}

/* flags on any input: slices with labels that miss an ROI, gray-matter FA above white-matter FA (backwards
 * for a healthy or compressed cord); appended to the QC lines */
static void segment_flags(int64_t nsl, int64_t nhw, const uint8_t *nlab, const RoiRow *total, char *qc, size_t nqc) {
  int64_t missing = 0, labelled = 0;
  for (int64_t s = 0; s < nsl; s++) {
    int seen[LABEL_COUNT] = {0}, any = 0;
    for (int64_t i = 0; i < nhw; i++) seen[nlab[s * nhw + i]] = 1, any |= nlab[s * nhw + i] != 0;
    int all = 1;
    for (int roi = 1; roi < LABEL_COUNT; roi++) all &= seen[roi];
    labelled += any, missing += any && !all;
  }
  double wm = 0, gm = 0, nw = 0, ng = 0;
  for (int roi = 1; roi < LABEL_COUNT; roi++) {
    if (!total[roi].vox || !isfinite(total[roi].st[0][0])) continue;
    const int gray = roi == 4 || roi == 8;
    *(gray ? &gm : &wm) += total[roi].st[0][0] * (double)total[roi].vox;
    *(gray ? &ng : &nw) += (double)total[roi].vox;
  }
  size_t w = strlen(qc);
  if (missing && w < nqc)
    w += (size_t)snprintf(qc + w, nqc - w,
                          "segment: QC warning: %lld of %lld labelled slices miss at least one of the 8 ROIs "
                          "(metrics.csv: empty = 1)\n",
                          (long long)missing, (long long)labelled);
  if (nw > 0 && ng > 0 && gm / ng > wm / nw && w < nqc)
    snprintf(qc + w, nqc - w,
             "segment: QC warning: gray-matter FA %.3f is above white-matter FA %.3f, the reverse of a cord's: the "
             "ROIs are likely misplaced (look at qc.png)\n",
             gm / ng, wm / nw);
}

/* the subject's maps on one grid (ref: its header, no data) */
typedef struct {
  NiftiVol ref;
  PrepDwi fit;                /* DWI input: the fit (its maps are maps[]) */
  NiftiVol vols[PREP_MAPS];   /* maps input: the volumes read */
  float *maps[PREP_MAPS];     /* NULL where absent */
  float *cordvol;             /* DWI input: the cord mask of the mean DW signal (0/1), for the QC check */
  int fitted, need_b0, need_fa;
} SegInputs;

/* the axial slices in the store orientation and where the model grid sits on them */
typedef struct {
  NiftiAxial ax;
  int64_t nsl, nr, nc, nhw;
  float *ns[PREP_MAPS]; /* native slices [nsl][nr][nc] of each map */
  int32_t *level;       /* per slice (0 unknown) */
  double *cr, *cc;      /* per slice: the grid's centre (native pixels) */
  double sy, sx;        /* native pixels per model pixel */
  int centre;           /* SEG_CENTRE_*: what the crops are centred on */
} SegStack;
enum { SEG_CENTRE_FOV = 0, SEG_CENTRE_MASK = 1, SEG_CENTRE_DWI = 2 };

static void segment_fit_dwi(const SegmentOptions *o, SegInputs *in) {
  CS_CHECK(!o->b0 && !o->fa && !o->md && !o->ad && !o->rd, "give either --dwi (with --bvals/--bvecs) or maps",
           "segment: --dwi and --b0/--fa/--md/--ad/--rd together");
  CS_CHECK(o->bvals && o->bvecs, "--dwi needs --bvals and --bvecs (FSL text files)", "segment: %s without bvals/bvecs",
           o->dwi);
  prep_dwi_fit(&in->fit, o->dwi, o->bvals, o->bvecs, NULL);
  for (int i = 0; i < PREP_MAPS; i++) in->maps[i] = in->fit.maps[i];
  in->cordvol = cord_mask_dwi(&in->fit.dwi, in->fit.bvals);
  in->ref = in->fit.dwi;
  in->ref.nt = 1, in->ref.data = NULL;
  segment_orient(o, &in->ref);
  niftivol_free(&in->fit.dwi);
  in->fitted = 1;
}

/* the options that give the maps, by PREP_* index, and the files they name */
static const char *const MAP_OPTS[PREP_MAPS] = {"--b0", "--fa", "--md", "--ad", "--rd"};
static void map_paths(const SegmentOptions *o, const char *paths[PREP_MAPS]) {
  paths[PREP_B0] = o->b0, paths[PREP_FA] = o->fa, paths[PREP_MD] = o->md, paths[PREP_AD] = o->ad,
  paths[PREP_RD] = o->rd;
}

static void segment_read_maps(const SegmentOptions *o, SegInputs *in) {
  const char *paths[PREP_MAPS];
  map_paths(o, paths);
  if (in->need_b0 && !o->b0)
    cs_fatal("give --b0 B0.nii.gz (or --dwi with --bvals/--bvecs)", "model '%s' takes input %s, and no B0 was given",
             o->model, in->need_fa ? "b0+fa" : "b0");
  if (in->need_fa && !o->fa)
    cs_fatal("give --fa FA.nii.gz (or --dwi with --bvals/--bvecs)", "model '%s' takes input %s, and no FA was given",
             o->model, in->need_b0 ? "b0+fa" : "fa");
  int first = -1;
  for (int i = 0; i < PREP_MAPS; i++) {
    if (!paths[i]) continue;
    read_map(o, &in->vols[i], paths[i], MAP_OPTS[i]);
    if (first < 0) first = i;
    else niftivol_check_same_grid(&in->vols[i], &in->vols[first]);
    in->maps[i] = in->vols[i].data;
  }
  in->ref = in->vols[first];
  in->ref.data = NULL;
}

/* the maps the model reads hold signal: not all 0, not one constant, a B0 with positive signal; a map given
 * for the metrics is a diffusivity (not negative in bulk); FA given as a map is FA */
static void segment_check_inputs(const SegmentOptions *o, const SegInputs *in) {
  const int64_t nvox = in->ref.nx * in->ref.ny * in->ref.nz;
  const char *paths[PREP_MAPS];
  map_paths(o, paths);
  static const char *const fitted[PREP_MAPS] = {"the B0 of --dwi", "the FA fitted from --dwi",
                                                "the MD fitted from --dwi", "the AD fitted from --dwi",
                                                "the RD fitted from --dwi"};
  for (int i = 0; i < PREP_MAPS; i++) {
    if (!in->maps[i]) continue;
    const char *path = in->fitted ? o->dwi : paths[i];
    const char *name = in->fitted ? fitted[i] : MAP_OPTS[i];
    float lo = in->maps[i][0], hi = lo;
    int64_t neg = 0, nonzero = 0;
    for (int64_t v = 0; v < nvox; v++) {
      const float x = in->maps[i][v];
      lo = fminf(lo, x), hi = fmaxf(hi, x), neg += x < 0, nonzero += x != 0;
    }
    const int read = i == PREP_B0 ? in->need_b0 : i == PREP_FA ? in->need_fa : 0; /* the network reads it */
    CS_CHECK(lo != 0 || hi != 0, "give a volume that holds the subject's image (check the file and its scl_slope)",
             "%s '%s' is empty: every voxel is 0", name, path);
    if (read)
      CS_CHECK(lo != hi, "give the subject's map: a constant volume holds no image", "%s '%s': every voxel is %g",
               name, path, (double)lo);
    if (i == PREP_B0 && read)
      CS_CHECK(hi > 0, "give the B0 (b = 0 s/mm^2) image: its signal is positive (check the file and its scl_slope)",
               "%s '%s': no voxel is positive (largest %g)", name, path, (double)hi);
    if (i >= PREP_MD && !in->fitted) /* a fitted series' noise may leave a few negative voxels; a map given is checked */
      CS_CHECK(hi > 0 && neg * 20 <= nonzero,
               "give the diffusivity map (mm^2/s, positive in tissue); a map of the wrong sign or another quantity "
               "would reach metrics.csv as numbers",
               "%s '%s': %lld of its %lld nonzero voxels are negative (range %g .. %g)", name, path, (long long)neg,
               (long long)nonzero, (double)lo, (double)hi);
  }
  const int64_t v = in->maps[PREP_FA] && !in->fitted ? prep_fa_invalid(in->maps[PREP_FA], nvox) : -1;
  if (v >= 0)
    cs_fatal("pass the FA map as --fa (values in [0, 1])", "--fa %s: value %g at voxel %lld is outside [%g, %g]", o->fa,
             (double)in->maps[PREP_FA][v], (long long)v, (double)PREP_FA_MIN, (double)PREP_FA_MAX);
}

static void segment_read_inputs(const SegmentOptions *o, const ModelFile *mf, SegInputs *in) {
  memset(in, 0, sizeof *in);
  in->need_b0 = mf->input != INPUT_FA, in->need_fa = mf->input != INPUT_B0;
  if (o->dwi) segment_fit_dwi(o, in);
  else segment_read_maps(o, in);
  segment_check_inputs(o, in);
}

static void segment_inputs_free(SegInputs *in) {
  if (in->fitted) prep_dwi_free(&in->fit);
  else
    for (int i = 0; i < PREP_MAPS; i++) niftivol_free(&in->vols[i]);
  free(in->cordvol);
}

/* an axial acquisition's slices in the store orientation, every map */
static void segment_axial(const SegInputs *in, SegStack *st) {
  const NiftiVol *ref = &in->ref;
  NiftiAxial *ax = &st->ax;
  niftigeom_axial_axes(ref, ax);
  if (fmax(ax->row_mm, ax->col_mm) > 1.5 * ax->slice_mm)
    cs_fatal("segment takes axial acquisitions (thin in-plane pixels, thick S-I slices); reslice a sagittal or "
             "coronal series to axial first",
             "'%s': in-plane pixels %.3g x %.3g mm are thicker than its %.3g mm S-I spacing: not an axial acquisition",
             ref->path, ax->row_mm, ax->col_mm, ax->slice_mm);
  const int64_t nvox = ref->nx * ref->ny * ref->nz;
  st->nsl = niftigeom_axial_count(ref, ax);
  float *probe = mallocCheck(sizeof(float) * (size_t)nvox);
  NiftiVol v = *ref;
  v.data = in->maps[in->need_b0 ? PREP_B0 : PREP_FA];
  niftigeom_axial_slice(&v, ax, 0, 0, probe, &st->nr, &st->nc);
  free(probe);
  CS_CHECK(st->nr >= 8 && st->nc >= 8, "give a 3-D volume whose axial slices hold the cord (at least 8 x 8 pixels)",
           "'%s': axial slices are %lld x %lld pixels", ref->path, (long long)st->nr, (long long)st->nc);
  st->nhw = st->nr * st->nc;
  for (int i = 0; i < PREP_MAPS; i++) {
    if (!in->maps[i]) continue;
    st->ns[i] = mallocCheck(sizeof(float) * (size_t)(st->nsl * st->nhw));
    v.data = in->maps[i];
    int64_t r_, c_;
    for (int64_t s = 0; s < st->nsl; s++) niftigeom_axial_slice(&v, ax, 0, s, st->ns[i] + s * st->nhw, &r_, &c_);
  }
}

/* the vertebral level of each slice: --level, or the mode of --levels in the slice */
static void segment_levels(const SegmentOptions *o, const SegInputs *in, SegStack *st) {
  st->level = callocCheck((size_t)st->nsl, sizeof(int32_t));
  for (int64_t s = 0; s < st->nsl; s++) st->level[s] = o->level;
  if (!o->levels) return;
  NiftiVol lv;
  read_map(o, &lv, o->levels, "--levels");
  niftivol_check_same_grid(&lv, &in->ref);
  niftigeom_axial_levels(&lv, &st->ax, st->level, "--levels");
  niftivol_free(&lv);
}

/* each slice's grid centred on a cord mask's centroid there (the mask's overall centroid on slices without
 * mask voxels); 0 when the mask is empty (the centres are left as they were) */
static int segment_centres_mask(const NiftiVol *cm, SegStack *st) {
  double gr = 0, gc = 0, gn = 0;
  int64_t r_, c_;
  int8_t *has = callocCheck((size_t)st->nsl, 1);
  double *cr = mallocCheck(sizeof(double) * (size_t)st->nsl), *cc = mallocCheck(sizeof(double) * (size_t)st->nsl);
  float *sl = mallocCheck(sizeof(float) * (size_t)st->nhw);
  for (int64_t s = 0; s < st->nsl; s++) {
    niftigeom_axial_slice(cm, &st->ax, 0, s, sl, &r_, &c_);
    double sr = 0, sc = 0, n = 0;
    for (int64_t i = 0; i < st->nhw; i++)
      if (sl[i] > 0.5f) sr += (double)(i / st->nc), sc += (double)(i % st->nc), n++;
    if (n > 0) cr[s] = sr / n, cc[s] = sc / n, has[s] = 1;
    gr += sr, gc += sc, gn += n;
  }
  if (gn > 0)
    for (int64_t s = 0; s < st->nsl; s++) st->cr[s] = has[s] ? cr[s] : gr / gn, st->cc[s] = has[s] ? cc[s] : gc / gn;
  free(has), free(sl), free(cr), free(cc);
  return gn > 0;
}

/* where the model grid sits on each slice (io/prep.h): --cord-mask's centroid; with DWI input the centroid of
 * the cord found in the mean DW signal (the QC's mask); else, or where that mask is empty, the field-of-view
 * centre, which segment_print says */
static void segment_centres(const SegmentOptions *o, const ModelFile *mf, const SegInputs *in, SegStack *st) {
  st->sy = mf->spacing[0] / st->ax.row_mm, st->sx = mf->spacing[1] / st->ax.col_mm;
  const int same = prep_same_spacing(st->sy, st->sx);
  st->cr = mallocCheck(sizeof(double) * (size_t)st->nsl), st->cc = mallocCheck(sizeof(double) * (size_t)st->nsl);
  for (int64_t s = 0; s < st->nsl; s++) prep_centre_fov(st->nr, st->nc, mf->height, mf->width, same, &st->cr[s], &st->cc[s]);
  st->centre = SEG_CENTRE_FOV;
  if (o->cord_mask) {
    NiftiVol cm;
    read_map(o, &cm, o->cord_mask, "--cord-mask");
    niftivol_check_same_grid(&cm, &in->ref);
    CS_CHECK(segment_centres_mask(&cm, st), "give a cord mask with voxels > 0.5 inside the cord",
             "--cord-mask %s is empty", o->cord_mask);
    niftivol_free(&cm);
    st->centre = SEG_CENTRE_MASK;
  } else if (in->cordvol) {
    NiftiVol cm = in->ref;
    cm.data = in->cordvol;
    if (segment_centres_mask(&cm, st)) st->centre = SEG_CENTRE_DWI;
  }
}

static void segment_stack_free(SegStack *st) {
  for (int i = 0; i < PREP_MAPS; i++) free(st->ns[i]);
  free(st->level), free(st->cr), free(st->cc);
}

/* the network's input [nsl][cin][H][W]: each slice on the model grid, normalised (io/prep.h) */
static float *segment_model_input(const ModelFile *mf, const SegInputs *in, const SegStack *st) {
  const int32_t H = mf->height, W = mf->width, cin = input_channels(mf->input);
  const size_t hw = (size_t)H * W;
  float *xin = callocCheck((size_t)st->nsl * cin * hw, sizeof(float));
  for (int64_t s = 0; s < st->nsl; s++) {
    int ch = 0;
    for (int i = PREP_B0; i <= PREP_FA; i++) {
      if ((i == PREP_B0 && !in->need_b0) || (i == PREP_FA && !in->need_fa)) continue;
      float *d = xin + ((size_t)s * cin + ch++) * hw;
      prep_grid_slice(st->ns[i] + s * st->nhw, st->nr, st->nc, st->cr[s], st->cc[s], st->sy, st->sx, H, W, d);
      if (i == PREP_B0) prep_normalize_b0(d, (int32_t)hw);
      else prep_clamp_fa(d, d, hw);
    }
  }
  return xin;
}

/* the mean probabilities back onto the native slices, then labels [nsl][nr][nc];
 * the native probabilities [K][nvox] into *probvol with --probs */
static uint8_t *segment_labels(const SegmentOptions *o, const ModelFile *mf, const SegInputs *in, const SegStack *st,
                               const float *acc, const double *thr, float **probvol) {
  const int32_t K = LABEL_COUNT, H = mf->height, W = mf->width;
  const size_t hw = (size_t)H * W;
  const int64_t nvox = in->ref.nx * in->ref.ny * in->ref.nz, nhw = st->nhw;
  uint8_t *nlab = mallocCheck((size_t)(st->nsl * nhw));
  float *nprob = mallocCheck(sizeof(float) * (size_t)K * nhw);
  *probvol = callocCheck((size_t)K * nvox, sizeof(float)); /* extract_metric.tsv's weights; probs.nii.gz with --probs */
  for (int64_t s = 0; s < st->nsl; s++) {
    const float *a = acc + (size_t)s * K * hw;
    for (int32_t c = 0; c < K; c++) {
      const float outside = (!mf->sigmoid && c == 0) ? 1.0f : 0.0f; /* outside the model's field: background */
      prep_grid_to_native(a + (size_t)c * hw, H, W, st->cr[s], st->cc[s], st->sy, st->sx, st->nr, st->nc, outside,
                          nprob + c * nhw);
    }
    uint8_t *lab = nlab + s * nhw;
    predict_labels(nprob, K, nhw, mf->sigmoid, thr, lab);
    if (o->largest) keep_largest(lab, st->nr, st->nc);
    if (*probvol)
      for (int32_t c = 0; c < K; c++) niftigeom_axial_put(&in->ref, &st->ax, s, nprob + c * nhw, *probvol + (size_t)c * nvox);
  }
  free(nprob);
  return nlab;
}

/* labels.nii.gz, probs.nii.gz (--probs) and the fitted maps (DWI input) on the input's grid */
static void segment_write_volumes(const SegmentOptions *o, const SegInputs *in, const SegStack *st,
                                  const uint8_t *nlab, const float *probvol) {
  const int64_t nvox = in->ref.nx * in->ref.ny * in->ref.nz;
  float *labvol_f = mallocCheck(sizeof(float) * (size_t)nvox), *sl = mallocCheck(sizeof(float) * (size_t)st->nhw);
  uint8_t *labvol = mallocCheck((size_t)nvox);
  for (int64_t s = 0; s < st->nsl; s++) {
    for (int64_t p = 0; p < st->nhw; p++) sl[p] = nlab[s * st->nhw + p];
    niftigeom_axial_put(&in->ref, &st->ax, s, sl, labvol_f);
  }
  for (int64_t v = 0; v < nvox; v++) labvol[v] = (uint8_t)labvol_f[v];
  textio_mkdir_p(o->out, "choose a writable -o directory");
  char p[PATH_CAP];
  path_fmt(p, sizeof p, "%s/labels.nii.gz", o->out);
  niftivol_write_u8(p, &in->ref, labvol);
  if (probvol) {
    path_fmt(p, sizeof p, "%s/probs.nii.gz", o->out);
    niftivol_write(p, &in->ref, LABEL_COUNT, probvol);
  }
  if (in->fitted)
    for (int i = 0; i < PREP_MAPS; i++) {
      path_fmt(p, sizeof p, "%s/%s.nii.gz", o->out, PREP_MAP_NAMES[i]);
      niftivol_write(p, &in->ref, 1, in->maps[i]);
    }
  free(labvol_f), free(sl), free(labvol);
}

/* metrics.csv rows per level, then over all slices (total[] holds the latter) */
static void segment_metrics_levels(FILE *f, const SegStack *st, const uint8_t *nlab, float *buf, double px_area,
                                   RoiRow *total) {
  const int64_t nsl = st->nsl, nhw = st->nhw;
  int64_t *idx = mallocCheck(sizeof(int64_t) * (size_t)(nsl * nhw));
  int32_t levels_seen[32], nlev = 0;
  for (int64_t s = 0; s < nsl; s++) {
    int seen = 0;
    for (int32_t q = 0; q < nlev; q++) seen |= levels_seen[q] == st->level[s];
    if (!seen && st->level[s] > 0 && nlev < 32) levels_seen[nlev++] = st->level[s];
  }
  for (int32_t q = 0; q <= nlev; q++) {
    int64_t n = 0;
    for (int64_t s = 0; s < nsl; s++)
      if (q == nlev || st->level[s] == levels_seen[q])
        for (int64_t i = 0; i < nhw; i++) idx[n++] = s * nhw + i;
    for (int roi = 1; roi < LABEL_COUNT; roi++) {
      RoiRow r;
      roi_row(nlab, st->ns, n, idx, roi, buf, &r);
      if (q == nlev) total[roi] = r;
      csv_row(f, q == nlev ? "all" : "level", "", "", q == nlev ? 0 : levels_seen[q], roi, &r, px_area, 0, NAN);
    }
  }
  free(idx);
}

/* metrics.csv: rows per (slice, ROI), per (level, ROI) and over all slices */
static void segment_write_metrics(const SegmentOptions *o, const SegStack *st, const uint8_t *nlab, RoiRow *total) {
  char p[PATH_CAP], tmp[PATH_CAP];
  path_fmt(p, sizeof p, "%s/metrics.csv", o->out);
  atomic_begin(p, tmp, sizeof tmp);
  FILE *f = fopen(tmp, "w");
  if (!f) cs_fatal("choose a writable -o directory", "cannot create '%s': %s", tmp, strerror(errno));
  fprintf(f, "scope,slice,k,level,roi_id,roi,voxels,area_mm2,empty");
  for (int m = 0; m < 4; m++)
    fprintf(f, ",%s_mean,%s_sd,%s_median", PREP_MAP_NAMES[1 + m], PREP_MAP_NAMES[1 + m], PREP_MAP_NAMES[1 + m]);
  fprintf(f, ",cord_ratio\n"); /* last: the predicted cord's AP/LR diameter ratio (core/metrics.h), slice rows */
  const double px_area = st->ax.row_mm * st->ax.col_mm;
  const int64_t nsl = st->nsl, nhw = st->nhw;
  float *buf = mallocCheck(sizeof(float) * (size_t)(nsl * nhw));
  for (int64_t s = 0; s < nsl; s++) {
    float *sm[PREP_MAPS];
    for (int i = 0; i < PREP_MAPS; i++) sm[i] = st->ns[i] ? st->ns[i] + s * nhw : NULL;
    char sl[24], kk[24];
    snprintf(sl, sizeof sl, "%lld", (long long)s);
    snprintf(kk, sizeof kk, "%lld", (long long)(st->ax.slice_reverse ? nsl - 1 - s : s));
    const float spacing[2] = {(float)st->ax.row_mm, (float)st->ax.col_mm};
    const double ratio = metrics_cord_ratio(nlab + s * nhw, (int32_t)st->nr, (int32_t)st->nc, spacing, LABEL_COUNT);
    for (int roi = 1; roi < LABEL_COUNT; roi++) {
      RoiRow r;
      roi_row(nlab + s * nhw, sm, nhw, NULL, roi, buf, &r);
      csv_row(f, "slice", sl, kk, st->level[s], roi, &r, px_area, 1, ratio);
    }
  }
  segment_metrics_levels(f, st, nlab, buf, px_area, total);
  free(buf);
  if (fclose(f) != 0) cs_fatal("check free disk space", "writing '%s' failed", tmp);
  atomic_commit(tmp, p);
}

/* extract_metric.tsv (jobs/segment_extract.h): the ROI table in sct_extract_metric's shape, with the
 * partial-volume weighted average from the native probabilities probvol [9][nvox] */
static void segment_write_extract(const SegmentOptions *so, const SegmentOptions *o, const SegInputs *in,
                                  const SegStack *st, const uint8_t *nlab, const float *probvol) {
  const int64_t nhw = st->nhw, nsl = st->nsl;
  float *probs = mallocCheck(sizeof(float) * (size_t)(nsl * LABEL_COUNT * nhw));
  NiftiVol pv = in->ref;
  pv.nt = LABEL_COUNT, pv.data = (float *)probvol;
  int64_t r_, c_;
  for (int64_t s = 0; s < nsl; s++)
    for (int c = 0; c < LABEL_COUNT; c++)
      niftigeom_axial_slice(&pv, &st->ax, c, s, probs + ((size_t)s * LABEL_COUNT + (size_t)c) * (size_t)nhw, &r_, &c_);
  const char *given[4] = {o->fa, o->md, o->ad, o->rd};
  char fitted[4][32];
  SegExtract e = {.nsl = nsl, .nhw = nhw, .labels = nlab, .probs = probs, .level = st->level,
                  .voxel_mm3 = st->ax.row_mm * st->ax.col_mm * st->ax.slice_mm, .subject = o->subject,
                  .session = o->session};
  for (int m = 0; m < 4; m++) {
    e.maps[m] = st->ns[PREP_FA + m];
    snprintf(fitted[m], sizeof fitted[m], "%s.nii.gz", PREP_MAP_NAMES[PREP_FA + m]); /* written beside it */
    e.files[m] = in->fitted ? fitted[m] : given[m];
  }
  char p[PATH_CAP];
  path_fmt(p, sizeof p, "%s/extract_metric.tsv", so->out);
  segment_extract_write(p, &e);
  free(probs);
}

/* qc.png: every slice (b0, FA, labels), native grid, store orientation */
static void segment_write_png(const SegmentOptions *o, const SegStack *st, const uint8_t *nlab) {
  char p[PATH_CAP];
  path_fmt(p, sizeof p, "%s/qc.png", o->out);
  int32_t zoom = (int32_t)(160 / (st->nr > st->nc ? st->nr : st->nc));
  const float *b0 = st->ns[PREP_B0], *fa = st->ns[PREP_FA];
  montage_write_png(p, (int32_t)st->nsl, (int32_t)st->nr, (int32_t)st->nc, b0 ? b0 : fa, fa ? fa : b0, nlab,
                    zoom < 1 ? 1 : zoom > 8 ? 8 : zoom);
}

/* a test hook: stop with an error just before writing NAME (tests/test_cmd_segment.sh checks the set) */
static void segment_hook(const SegmentOptions *o, const char *name) {
  if (o->fail_before && !strcmp(o->fail_before, name))
    cs_fatal("a test hook (--test-fail-before)", "segment: stopping before %s, as asked", name);
}

static void segment_print(const SegmentOptions *o, const ModelFile *mf, const SegInputs *in, const SegStack *st,
                          const RoiRow *total, const char *qcline, double t0, double tnet) {
  const double px_area = st->ax.row_mm * st->ax.col_mm;
  printf("segment: %s: %lld axial slices of %lld x %lld at %.3g x %.3g mm (%s) -> model grid %d x %d at %.3g x %.3g mm\n",
         in->ref.path, (long long)st->nsl, (long long)st->nr, (long long)st->nc, st->ax.row_mm, st->ax.col_mm,
         in->fitted ? "DTI fitted" : "maps as given", mf->height, mf->width, mf->spacing[0], mf->spacing[1]);
  printf("segment: %d member(s)%s, %s; crop centre: %s\n", mf->n, o->tta ? " x flip TTA" : "",
         mf->sigmoid ? "sigmoid, mean validation thresholds" : "softmax argmax",
         st->centre == SEG_CENTRE_MASK ? "--cord-mask centroid per slice"
         : st->centre == SEG_CENTRE_DWI ? "centroid of the cord of the mean DW signal, per slice"
                                         : "the field-of-view centre (give --cord-mask, e.g. from sct_deepseg_sc, to "
                                           "centre on the cord)");
  printf("segment: %-18s %8s %9s %8s %8s\n", "ROI", "voxels", "area_mm2", "FA_mean", "FA_sd");
  for (int roi = 1; roi < LABEL_COUNT; roi++)
    printf("segment: %-18s %8lld %9.2f %8.3f %8.3f\n", LABEL_NAMES[roi], (long long)total[roi].vox,
           (double)total[roi].vox * px_area, total[roi].st[0][0], total[roi].st[0][1]);
  fputs(qcline, stdout);
  printf("segment: -> %s/{labels.nii.gz%s%s,metrics.csv,qc.png} in %.2f s (network %.2f s)\n", o->out,
         o->write_probs ? ",probs.nii.gz" : "", in->fitted ? ",b0/fa/md/ad/rd.nii.gz,cord_qc.csv" : "", cs_now() - t0,
         tnet);
}

void segment_run(const SegmentOptions *o) {
  const double t0 = cs_now();
  CS_CHECK(o->model && o->out, "give -m MODEL.h5 and -o OUTDIR", "segment: model and output are required");
  ModelFile mf;
  model_open(&mf, o->model);
  segment_print_model_warnings(&mf);
  SegInputs in;
  segment_read_inputs(o, &mf, &in);                                   /* DWI fit or maps, checks */
  SegStack st = {0};
  segment_axial(&in, &st);                                            /* axial slices, store orientation */
  segment_levels(o, &in, &st);
  segment_centres(o, &mf, &in, &st);                                  /* where the model grid sits */
  float *xin = segment_model_input(&mf, &in, &st);                    /* io/prep.h: grid + normalisation */
  float *acc = mallocCheck(sizeof(float) * (size_t)st.nsl * LABEL_COUNT * mf.height * mf.width);
  double thr[LABEL_COUNT], tnet = cs_now();
  predict_model_file(&mf, xin, st.nsl, (BackendKind)o->device, o->tta, o->batch > 0 ? o->batch : 8, acc, thr,
                     o->quiet ? NULL : segment_progress, &mf);            /* jobs/predict.h: ensemble, TTA */
  if (!o->quiet) fprintf(stderr, "\n");
  tnet = cs_now() - tnet;
  float *probvol;
  uint8_t *nlab = segment_labels(o, &mf, &in, &st, acc, thr, &probvol); /* back to native, labels */
  textio_mkdir_p(o->out, "choose a writable -o directory");
  atomic_remove_stale(o->out);                                        /* stages and temp files of killed runs */
  char stage[4096];
  atomic_set_begin(o->out, stage, sizeof stage);                      /* the output set, staged */
  SegmentOptions so = *o;
  so.out = stage;
  segment_write_volumes(&so, &in, &st, nlab, o->write_probs ? probvol : NULL);
  RoiRow total[LABEL_COUNT];
  segment_hook(o, "metrics.csv");
  segment_write_metrics(&so, &st, nlab, total);
  segment_write_extract(&so, o, &in, &st, nlab, probvol);
  char qcline[2400] = "";
  if (in.cordvol) cord_qc(&so, &in.ref, &st.ax, in.cordvol, nlab, st.nsl, st.nr, st.nc, qcline, sizeof qcline);
  segment_flags(st.nsl, st.nhw, nlab, total, qcline, sizeof qcline);
  segment_hook(o, "qc.png");
  segment_write_png(&so, &st, nlab);
  atomic_set_commit(stage, o->out, SEGMENT_OUTPUTS, (int)(sizeof SEGMENT_OUTPUTS / sizeof *SEGMENT_OUTPUTS));
  if (!o->quiet) segment_print(o, &mf, &in, &st, total, qcline, t0, tnet);
  else
    for (const char *q = strstr(qcline, "QC warning"); q; q = strstr(q + 1, "QC warning")) /* -q: warnings still */
      fprintf(stderr, "segment: %.*s\n", (int)(strchr(q, '\n') ? strchr(q, '\n') - q : (long)strlen(q)), q);
  free(xin), free(acc), free(probvol), free(nlab);
  segment_stack_free(&st);
  segment_inputs_free(&in);
  model_close(&mf);
}
