/* jobs/segment.c: `cordseg segment` (see jobs/segment.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/segment.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/loss.h"
#include "core/metrics.h"
#include "core/unet.h"
#include "io/atomic.h"
#include "io/dti.h"
#include "io/import.h"
#include "io/labels.h"
#include "io/loader.h"
#include "io/model.h"
#include "io/montage.h"
#include "io/niftigeom.h"
#include "io/textio.h"
#include "jobs/predict.h"

void segment_options_default(SegmentOptions *o) {
  memset(o, 0, sizeof *o);
  o->batch = 8;
}

enum { M_B0, M_FA, M_MD, M_AD, M_RD, M_N };
/* the QC check of DWI input: the inside fraction below which segment warns */
#define SEGMENT_QC_WARN 0.9

static const char *MAP_NAMES[M_N] = {"b0", "fa", "md", "ad", "rd"};

static void segment_progress(void *ctx, int32_t member, int pass, int64_t done, int64_t n) {
  const ModelFile *mf = ctx;
  fprintf(stderr, "\rsegment: member %d/%d%s: %lld/%lld slices", member + 1, mf->n, pass ? " (flipped)" : "",
          (long long)done, (long long)n);
}

static float bilinear(const float *img, int64_t nr, int64_t nc, double r, double c, float outside) {
  if (!(r > -1 && c > -1 && r < nr && c < nc)) return outside;
  int64_t r0 = (int64_t)floor(r), c0 = (int64_t)floor(c);
  double fr = r - r0, fc = c - c0, v = 0, wsum = 0;
  for (int dr = 0; dr < 2; dr++)
    for (int dc = 0; dc < 2; dc++) {
      int64_t rr = r0 + dr, cc = c0 + dc;
      double wgt = (dr ? fr : 1 - fr) * (dc ? fc : 1 - fc);
      if (wgt == 0) continue;
      v += wgt * (rr >= 0 && rr < nr && cc >= 0 && cc < nc ? img[rr * nc + cc] : outside);
      wsum += wgt;
    }
  return (float)(wsum > 0 ? v / wsum : outside);
}

static void read_map(NiftiVol *v, const char *path, const char *opt) {
  niftivol_read(v, path);
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
    const float *mp = maps[M_FA + m];
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

static void csv_row(FILE *f, const char *scope, const char *slice, const char *k, int level, int roi, const RoiRow *r,
                    double px_area) {
  char lv[8];
  fprintf(f, "%s,%s,%s,%s,%d,%s,%lld,%.6g,%d", scope, slice, k, level > 0 ? label_level_name(level, lv) : "", roi,
          LABEL_KEYS[roi], (long long)r->vox, (double)r->vox * px_area, r->vox == 0);
  for (int m = 0; m < 4; m++)
    for (int s = 0; s < 3; s++) {
      if (isnan(r->st[m][s])) fprintf(f, ",nan");
      else fprintf(f, ",%.8g", r->st[m][s]);
    }
  fprintf(f, "\n");
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
  char p[4400], tmp[4600];
  snprintf(p, sizeof p, "%s/cord_qc.csv", o->out);
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
    snprintf(summary + w, nsum - (size_t)w,
             "segment: QC warning: %.0f %% of the labels lie outside the cord; look at qc.png, and try "
             "--cord-mask (crop around the cord) or a model trained on data like this subject's\n",
             100 * (1 - frac));
}

void segment_run(const SegmentOptions *o) {
  double t0 = cs_now();
  CS_CHECK(o->model && o->out, "give -m MODEL.h5 and -o OUTDIR", "segment: model and output are required");
  ModelFile mf;
  model_open(&mf, o->model);
  const int need_b0 = mf.input != INPUT_FA, need_fa = mf.input != INPUT_B0;

  /* ---- inputs: every map on one grid ---- */
  NiftiVol ref, vols[M_N];
  memset(vols, 0, sizeof vols);
  float *maps[M_N] = {0};
  float *cordvol = NULL; /* DWI mode: the cord mask of the mean DW signal (0/1), for the QC check */
  int fitted = 0;
  if (o->dwi) {
    CS_CHECK(!o->b0 && !o->fa && !o->md && !o->ad && !o->rd, "give either --dwi (with --bvals/--bvecs) or maps",
             "segment: --dwi and --b0/--fa/--md/--ad/--rd together");
    CS_CHECK(o->bvals && o->bvecs, "--dwi needs --bvals and --bvecs (FSL text files)", "segment: %s without bvals/bvecs",
             o->dwi);
    NiftiVol dwi;
    niftivol_read(&dwi, o->dwi);
    niftivol_check_finite(&dwi);
    import_check_dwi(&dwi);
    CS_CHECK(dwi.nt >= 7, "give the 4-D DWI series (b=0 and >= 6 directions)", "--dwi %s: has %lld volumes", o->dwi,
             (long long)dwi.nt);
    double *bv = NULL, *bg = NULL;
    dti_read_bvals_bvecs(o->bvals, o->bvecs, (int32_t)dwi.nt, &bv, &bg);
    DtiModel m;
    dti_model_init(&m, bv, bg, (int32_t)dwi.nt, o->bvals);
    const int64_t nvox = dwi.nx * dwi.ny * dwi.nz;
    for (int i = 0; i < M_N; i++) maps[i] = mallocCheck(sizeof(float) * (size_t)nvox);
    dti_fit_volume(&m, dwi.data, nvox, maps[M_B0], maps[M_FA], maps[M_MD], maps[M_AD], maps[M_RD]);
    dti_model_free(&m);
    cordvol = cord_mask_dwi(&dwi, bv);
    free(bv), free(bg);
    ref = dwi;
    ref.nt = 1, ref.data = NULL;
    niftivol_free(&dwi);
    fitted = 1;
  } else {
    const char *paths[M_N] = {o->b0, o->fa, o->md, o->ad, o->rd};
    static const char *opts[M_N] = {"--b0", "--fa", "--md", "--ad", "--rd"};
    if (need_b0 && !o->b0)
      cs_fatal("give --b0 B0.nii.gz (or --dwi with --bvals/--bvecs)",
               "model '%s' takes input %s, and no B0 was given", o->model, need_fa ? "b0+fa" : "b0");
    if (need_fa && !o->fa)
      cs_fatal("give --fa FA.nii.gz (or --dwi with --bvals/--bvecs)",
               "model '%s' takes input %s, and no FA was given", o->model, need_b0 ? "b0+fa" : "fa");
    int first = -1;
    for (int i = 0; i < M_N; i++) {
      if (!paths[i]) continue;
      read_map(&vols[i], paths[i], opts[i]);
      if (first < 0) first = i;
      else niftivol_check_same_grid(&vols[i], &vols[first]);
      maps[i] = vols[i].data;
    }
    ref = vols[first];
    ref.data = NULL;
  }
  const int64_t nvox = ref.nx * ref.ny * ref.nz;
  /* an input the model reads must hold signal; FA must be FA */
  for (int i = M_B0; i <= M_FA; i++) {
    if (!maps[i] || (i == M_B0 && !need_b0) || (i == M_FA && !need_fa)) continue;
    float hi = 0;
    for (int64_t v = 0; v < nvox; v++) hi = fmaxf(hi, fabsf(maps[i][v]));
    CS_CHECK(hi > 0, "give a volume that holds the subject's image (check the file and its scl_slope)",
             "%s '%s' is empty: every voxel is 0", i == M_B0 ? "B0" : "FA",
             fitted ? o->dwi : i == M_B0 ? o->b0 : o->fa);
  }
  if (maps[M_FA] && !fitted)
    for (int64_t v = 0; v < nvox; v++)
      if (maps[M_FA][v] < -1e-3f || maps[M_FA][v] > 1.001f)
        cs_fatal("pass the FA map as --fa (values in [0, 1])", "--fa %s: value %g at voxel %lld is outside [0, 1]",
                 o->fa, (double)maps[M_FA][v], (long long)v);

  /* ---- geometry ---- */
  NiftiAxial ax;
  niftigeom_axial_axes(&ref, &ax);
  if (fmax(ax.row_mm, ax.col_mm) > 1.5 * ax.slice_mm)
    cs_fatal("segment takes axial acquisitions (thin in-plane pixels, thick S-I slices); reslice a sagittal or "
             "coronal series to axial first",
             "'%s': in-plane pixels %.3g x %.3g mm are thicker than its %.3g mm S-I spacing: not an axial acquisition",
             ref.path, ax.row_mm, ax.col_mm, ax.slice_mm);
  const int64_t nsl = niftigeom_axial_count(&ref, &ax);
  int64_t nr = 0, nc = 0;
  {
    float *probe = mallocCheck(sizeof(float) * (size_t)nvox);
    NiftiVol v = ref;
    v.data = maps[need_b0 ? M_B0 : M_FA];
    niftigeom_axial_slice(&v, &ax, 0, 0, probe, &nr, &nc);
    free(probe);
  }
  CS_CHECK(nr >= 8 && nc >= 8, "give a 3-D volume whose axial slices hold the cord (at least 8 x 8 pixels)",
           "'%s': axial slices are %lld x %lld pixels", ref.path, (long long)nr, (long long)nc);
  const int64_t nhw = nr * nc;
  /* per-map native slices in store orientation [nsl][nr][nc] */
  float *ns[M_N] = {0};
  for (int i = 0; i < M_N; i++) {
    if (!maps[i]) continue;
    ns[i] = mallocCheck(sizeof(float) * (size_t)(nsl * nhw));
    NiftiVol v = ref;
    v.data = maps[i];
    int64_t r_, c_;
    for (int64_t s = 0; s < nsl; s++) niftigeom_axial_slice(&v, &ax, 0, s, ns[i] + s * nhw, &r_, &c_);
  }
  /* levels per slice */
  int32_t *level = callocCheck((size_t)nsl, sizeof(int32_t));
  for (int64_t s = 0; s < nsl; s++) level[s] = o->level;
  float *tmpsl = mallocCheck(sizeof(float) * (size_t)nhw);
  if (o->levels) {
    NiftiVol lv;
    read_map(&lv, o->levels, "--levels");
    niftivol_check_same_grid(&lv, &ref);
    int64_t r_, c_;
    for (int64_t s = 0; s < nsl; s++) {
      niftigeom_axial_slice(&lv, &ax, 0, s, tmpsl, &r_, &c_);
      int cnt[32] = {0}, best = 0;
      for (int64_t i = 0; i < nhw; i++) {
        int l = (int)lrintf(tmpsl[i]);
        if (l > 0 && l < 32) cnt[l]++;
      }
      for (int l = 1; l < 32; l++)
        if (cnt[l] > cnt[best]) best = l;
      level[s] = best;
    }
    niftivol_free(&lv);
  }
  /* crop centres (native pixels, store orientation) */
  const int32_t H = mf.height, W = mf.width;
  const double sy = mf.spacing[0] / ax.row_mm, sx = mf.spacing[1] / ax.col_mm; /* native pixels per model pixel */
  const int same_spacing = fabs(sy - 1) < 1e-4 && fabs(sx - 1) < 1e-4;
  double *cr = mallocCheck(sizeof(double) * (size_t)nsl), *cc = mallocCheck(sizeof(double) * (size_t)nsl);
  for (int64_t s = 0; s < nsl; s++) {
    /* import's centre crop: offset (n - size) / 2 in C integer division */
    cr[s] = same_spacing ? (double)((nr - H) / 2) + 0.5 * (H - 1) : 0.5 * (double)(nr - 1);
    cc[s] = same_spacing ? (double)((nc - W) / 2) + 0.5 * (W - 1) : 0.5 * (double)(nc - 1);
  }
  if (o->cord_mask) {
    NiftiVol cm;
    read_map(&cm, o->cord_mask, "--cord-mask");
    niftivol_check_same_grid(&cm, &ref);
    double gr = 0, gc = 0, gn = 0;
    int64_t r_, c_;
    int8_t *has = callocCheck((size_t)nsl, 1);
    for (int64_t s = 0; s < nsl; s++) {
      niftigeom_axial_slice(&cm, &ax, 0, s, tmpsl, &r_, &c_);
      double sr = 0, sc = 0, n = 0;
      for (int64_t i = 0; i < nhw; i++)
        if (tmpsl[i] > 0.5f) sr += (double)(i / nc), sc += (double)(i % nc), n++;
      if (n > 0) cr[s] = sr / n, cc[s] = sc / n, has[s] = 1;
      gr += sr, gc += sc, gn += n;
    }
    CS_CHECK(gn > 0, "give a cord mask with voxels > 0.5 inside the cord", "--cord-mask %s is empty", o->cord_mask);
    for (int64_t s = 0; s < nsl; s++)
      if (!has[s]) cr[s] = gr / gn, cc[s] = gc / gn;
    free(has);
    niftivol_free(&cm);
  }

  /* ---- model-grid inputs [nsl][cin][H][W] ---- */
  const int32_t cin = input_channels(mf.input), K = LABEL_COUNT;
  const size_t hw = (size_t)H * W;
  float *xin = callocCheck((size_t)nsl * cin * hw, sizeof(float));
  for (int64_t s = 0; s < nsl; s++) {
    int ch = 0;
    for (int i = M_B0; i <= M_FA; i++) {
      if ((i == M_B0 && !need_b0) || (i == M_FA && !need_fa)) continue;
      float *d = xin + ((size_t)s * cin + ch++) * hw;
      const float *src = ns[i] + s * nhw;
      for (int32_t y = 0; y < H; y++)
        for (int32_t x = 0; x < W; x++) {
          double r = cr[s] + (y - 0.5 * (H - 1)) * sy, c = cc[s] + (x - 0.5 * (W - 1)) * sx;
          d[(size_t)y * W + x] = same_spacing ? ((r >= 0 && r < nr && c >= 0 && c < nc)
                                                     ? src[(int64_t)lrint(r) * nc + (int64_t)lrint(c)] : 0.0f)
                                              : bilinear(src, nr, nc, r, c, 0.0f);
        }
      if (i == M_B0) loader_normalize_b0(d, (int32_t)hw);
      else
        for (size_t p = 0; p < hw; p++) d[p] = d[p] < 0 ? 0 : d[p] > 1 ? 1 : d[p];
    }
  }

  /* ---- ensemble (and flip TTA) ---- */
  float *acc = mallocCheck(sizeof(float) * (size_t)nsl * K * hw);
  double thr[LABEL_COUNT];
  double tnet = cs_now();
  predict_model_file(&mf, xin, nsl, o->tta, o->batch > 0 ? o->batch : 8, acc, thr, o->quiet ? NULL : segment_progress,
                     (void *)&mf);
  if (!o->quiet) fprintf(stderr, "\n");
  tnet = cs_now() - tnet;

  /* ---- back onto the native slices ---- */
  uint8_t *nlab = mallocCheck((size_t)(nsl * nhw));
  float *nprob = mallocCheck(sizeof(float) * (size_t)K * nhw);
  float *probvol = o->write_probs ? callocCheck((size_t)K * nvox, sizeof(float)) : NULL;
  for (int64_t s = 0; s < nsl; s++) {
    const float *a = acc + (size_t)s * K * hw;
    for (int32_t c = 0; c < K; c++) {
      const float outside = (!mf.sigmoid && c == 0) ? 1.0f : 0.0f; /* outside the model's field: background */
      for (int64_t p = 0; p < nhw; p++) {
        const double r = (double)(p / nc), col = (double)(p % nc);
        const double y = (r - cr[s]) / sy + 0.5 * (H - 1), x = (col - cc[s]) / sx + 0.5 * (W - 1);
        nprob[c * nhw + p] = bilinear(a + (size_t)c * hw, H, W, y, x, outside);
      }
    }
    uint8_t *lab = nlab + s * nhw;
    if (mf.sigmoid) metrics_labels_threshold(nprob, K, nhw, thr, lab);
    else metrics_labels_argmax(nprob, K, nhw, lab);
    if (o->largest) keep_largest(lab, nr, nc);
    if (probvol)
      for (int32_t c = 0; c < K; c++) niftigeom_axial_put(&ref, &ax, s, nprob + c * nhw, probvol + (size_t)c * nvox);
  }
  float *labvol_f = mallocCheck(sizeof(float) * (size_t)nvox);
  uint8_t *labvol = mallocCheck((size_t)nvox);
  for (int64_t s = 0; s < nsl; s++) {
    for (int64_t p = 0; p < nhw; p++) tmpsl[p] = nlab[s * nhw + p];
    niftigeom_axial_put(&ref, &ax, s, tmpsl, labvol_f);
  }
  for (int64_t v = 0; v < nvox; v++) labvol[v] = (uint8_t)labvol_f[v];

  /* ---- write ---- */
  textio_mkdir_p(o->out, "choose a writable -o directory");
  char p[4400], tmp[4600];
  snprintf(p, sizeof p, "%s/labels.nii.gz", o->out);
  niftivol_write_u8(p, &ref, labvol);
  if (probvol) {
    snprintf(p, sizeof p, "%s/probs.nii.gz", o->out);
    niftivol_write(p, &ref, K, probvol);
  }
  if (fitted)
    for (int i = 0; i < M_N; i++) {
      snprintf(p, sizeof p, "%s/%s.nii.gz", o->out, MAP_NAMES[i]);
      niftivol_write(p, &ref, 1, maps[i]);
    }
  /* metrics.csv */
  snprintf(p, sizeof p, "%s/metrics.csv", o->out);
  atomic_begin(p, tmp, sizeof tmp);
  FILE *f = fopen(tmp, "w");
  if (!f) cs_fatal("choose a writable -o directory", "cannot create '%s': %s", tmp, strerror(errno));
  fprintf(f, "scope,slice,k,level,roi_id,roi,voxels,area_mm2,empty");
  for (int m = 0; m < 4; m++) fprintf(f, ",%s_mean,%s_sd,%s_median", MAP_NAMES[1 + m], MAP_NAMES[1 + m], MAP_NAMES[1 + m]);
  fprintf(f, "\n");
  const double px_area = ax.row_mm * ax.col_mm;
  float *buf = mallocCheck(sizeof(float) * (size_t)(nsl * nhw));
  int64_t *idx = mallocCheck(sizeof(int64_t) * (size_t)(nsl * nhw));
  RoiRow total[LABEL_COUNT];
  for (int64_t s = 0; s < nsl; s++) {
    float *sm[M_N];
    for (int i = 0; i < M_N; i++) sm[i] = ns[i] ? ns[i] + s * nhw : NULL;
    char sl[24], kk[24];
    snprintf(sl, sizeof sl, "%lld", (long long)s);
    snprintf(kk, sizeof kk, "%lld", (long long)(ax.slice_reverse ? nsl - 1 - s : s));
    for (int roi = 1; roi < LABEL_COUNT; roi++) {
      RoiRow r;
      roi_row(nlab + s * nhw, sm, nhw, NULL, roi, buf, &r);
      csv_row(f, "slice", sl, kk, level[s], roi, &r, px_area);
    }
  }
  /* per level, then all slices: pixel lists over the slices */
  int32_t levels_seen[32], nlev = 0;
  for (int64_t s = 0; s < nsl; s++) {
    int seen = 0;
    for (int32_t q = 0; q < nlev; q++) seen |= levels_seen[q] == level[s];
    if (!seen && level[s] > 0 && nlev < 32) levels_seen[nlev++] = level[s];
  }
  for (int32_t q = 0; q <= nlev; q++) {
    int64_t n = 0;
    for (int64_t s = 0; s < nsl; s++)
      if (q == nlev || level[s] == levels_seen[q])
        for (int64_t i = 0; i < nhw; i++) idx[n++] = s * nhw + i;
    for (int roi = 1; roi < LABEL_COUNT; roi++) {
      RoiRow r;
      roi_row(nlab, ns, n, idx, roi, buf, &r);
      if (q == nlev) total[roi] = r;
      csv_row(f, q == nlev ? "all" : "level", "", "", q == nlev ? 0 : levels_seen[q], roi, &r, px_area);
    }
  }
  if (fclose(f) != 0) cs_fatal("check free disk space", "writing '%s' failed", tmp);
  atomic_commit(tmp, p);
  char qcline[1200] = "";
  if (cordvol) cord_qc(o, &ref, &ax, cordvol, nlab, nsl, nr, nc, qcline, sizeof qcline);
  /* qc.png: every slice (b0, FA, labels), native grid, store orientation */
  snprintf(p, sizeof p, "%s/qc.png", o->out);
  int32_t zoom = (int32_t)(160 / (nr > nc ? nr : nc));
  montage_write_png(p, (int32_t)nsl, (int32_t)nr, (int32_t)nc, ns[M_B0] ? ns[M_B0] : ns[M_FA],
                    ns[M_FA] ? ns[M_FA] : ns[M_B0], nlab, zoom < 1 ? 1 : zoom > 8 ? 8 : zoom);

  if (!o->quiet) {
    printf("segment: %s: %lld axial slices of %lld x %lld at %.3g x %.3g mm (%s) -> model grid %d x %d at %.3g x %.3g mm\n",
           ref.path, (long long)nsl, (long long)nr, (long long)nc, ax.row_mm, ax.col_mm,
           fitted ? "DTI fitted" : "maps as given", H, W, mf.spacing[0], mf.spacing[1]);
    printf("segment: %d member(s)%s, %s; crop centre: %s\n", mf.n, o->tta ? " x flip TTA" : "",
           mf.sigmoid ? "sigmoid, mean validation thresholds" : "softmax argmax",
           o->cord_mask ? "--cord-mask centroid per slice" : "field-of-view centre");
    printf("segment: %-18s %8s %9s %8s %8s\n", "ROI", "voxels", "area_mm2", "FA_mean", "FA_sd");
    for (int roi = 1; roi < LABEL_COUNT; roi++)
      printf("segment: %-18s %8lld %9.2f %8.3f %8.3f\n", LABEL_NAMES[roi], (long long)total[roi].vox,
             (double)total[roi].vox * px_area, total[roi].st[0][0], total[roi].st[0][1]);
    fputs(qcline, stdout);
    printf("segment: -> %s/{labels.nii.gz%s%s,metrics.csv,qc.png} in %.2f s (network %.2f s)\n", o->out,
           probvol ? ",probs.nii.gz" : "", fitted ? ",b0/fa/md/ad/rd.nii.gz,cord_qc.csv" : "", cs_now() - t0, tnet);
  }
  for (int i = 0; i < M_N; i++) {
    free(ns[i]);
    if (fitted) free(maps[i]);
    else niftivol_free(&vols[i]);
  }
  free(level), free(tmpsl), free(cr), free(cc), free(xin), free(acc), free(nlab), free(nprob);
  free(probvol), free(labvol_f), free(labvol), free(buf), free(idx), free(cordvol);
  model_close(&mf);
}
