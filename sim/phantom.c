/* sim/phantom.c: the PAM50-based CSM-like phantom cohort (model in phantom.h):
 * atlas slab maps, per-subject deformation and acquisition simulation, DTI
 * fit, and the cohort build (store, NIfTI, montage). */
#define _POSIX_C_SOURCE 200809L
#include "sim/phantom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "sim/anatomy.h"
#include "io/dti.h"
#include "io/hash.h"
#include "io/montage.h"
#include "io/niftigeom.h"
#include "io/niftivol.h"
#include "io/textio.h"
#include "io/path.h"

#define PAM50_HINT "point --pam50 at the PAM50 template directory (with atlas/ and template/), e.g. ../shared/data/PAM50"

void phantom_config_default(PhantomConfig *c) {
  *c = (PhantomConfig){.subjects = 89, .slices = 12, .size = 128, .fov_mm = 80, .acq_row_mm = 1.26,
                       .acq_col_mm = 1.0, .slab_mm = 7, .bval = 600, .ndirs = 15, .snr = 20, .seed = 42,
                       .anatomy = PHANTOM_ANATOMY_NONE};
}

int phantom_anatomy_parse(const char *s) {
  return !strcmp(s, "none") ? PHANTOM_ANATOMY_NONE : !strcmp(s, "full") ? PHANTOM_ANATOMY_FULL : -1;
}

const char *const PHANTOM_TISSUE_NAMES[PT_N] = {"air",    "wm",  "gm",  "csf",      "other",    "bone",  "marrow",
                                                "disc",   "fluid", "fat", "muscle_l", "muscle_r", "plexus", "root",
                                                "vessel"};

/* ------------------------------------------------------------ atlas ---- */
/* atlas id (0..35) -> channel 0..7 (label id - 1) from its name in info_label.txt */
static void parse_info_label(const char *dir, int chan[36], char files[37][64]) {
  char p[PATH_CAP], line[512];
  path_fmt(p, sizeof p, "%s/atlas/info_label.txt", dir);
  FILE *f = fopen(p, "r");
  if (!f) cs_fatal(PAM50_HINT, "cannot open the PAM50 atlas index '%s'", p);
  for (int i = 0; i < 36; i++) chan[i] = -1;
  for (int i = 0; i < 37; i++) files[i][0] = 0;
  int section = 0;
  while (fgets(line, sizeof line, f)) {
    if (strstr(line, "Keyword=")) section = strstr(line, "IndivLabels") != NULL;
    if (!section || line[0] == '#') continue;
    int id;
    char name[256] = "", file[128] = "";
    if (sscanf(line, "%d, %255[^,], %127s", &id, name, file) != 3 || id < 0 || id > 36) continue;
    snprintf(files[id], 64, "%s", file);
    if (id == 36) continue;
    int left = strstr(name, "left") != NULL, right = strstr(name, "right") != NULL;
    int group = id <= 3 ? 0 : id <= 13 ? 1 : id <= 29 ? 2 : 3; /* dorsal, lateral, ventral, gray */
    if (left == right) cs_fatal(PAM50_HINT, "'%s': label %d ('%s') names neither left nor right", p, id, name);
    chan[id] = (left ? 0 : 4) + group;
  }
  fclose(f);
  for (int i = 0; i < 36; i++)
    if (chan[i] < 0 || !files[i][0]) cs_fatal(PAM50_HINT, "'%s': atlas label %d is missing", p, i);
}

static int32_t level_mode(const float *lv, int64_t n) {
  int cnt[32] = {0};
  for (int64_t i = 0; i < n; i++) {
    int l = (int)lrintf(lv[i]);
    if (l > 0 && l < 32) cnt[l]++;
  }
  int best = 0;
  for (int l = 1; l < 32; l++)
    if (cnt[l] > cnt[best]) best = l;
  return best;
}

/* the atlas cord's (8 ROI maps summed > 0.5) extent from its centroid at slab m, mm:
 * [0] toward the patient's left (higher columns), [1] right, [2] anterior (lower rows), [3] posterior */
static void atlas_cord_extent(const PhantomAtlas *a, int32_t m, double *ext) {
  const size_t hw2 = (size_t)a->hw * a->hw;
  const float *mp = a->maps + (size_t)m * PHANTOM_NCH * hw2;
  ext[0] = ext[1] = ext[2] = ext[3] = 0;
  for (size_t i = 0; i < hw2; i++) {
    float c = 0;
    for (int ch = 0; ch < 8; ch++) c += mp[(size_t)ch * hw2 + i];
    if (c <= 0.5f) continue;
    double dc = ((double)(i % (size_t)a->hw) - a->ccol[m]) * a->px_mm;
    double dr = ((double)(i / (size_t)a->hw) - a->crow[m]) * a->px_mm;
    ext[0] = fmax(ext[0], dc), ext[1] = fmax(ext[1], -dc), ext[2] = fmax(ext[2], -dr), ext[3] = fmax(ext[3], dr);
  }
}

/* the atlas grid: PAM50_levels' geometry, the C2..C7 range and the slabs' k-planes */
typedef struct {
  NiftiVol lv;
  NiftiAxial ax;
  int64_t ns, s_c2, s_c7;       /* axial slices; the first C2 and the last C7 slice */
  int64_t step, half, s0;       /* slab centres step slices apart from s0; half a slab in slices */
  int64_t sa, sb, klo, khi, s_off; /* axial slices [sa, sb) every slab covers, their k-planes */
  size_t hw2;
} AtlasGrid;

/* levels fix the cranio-caudal range and the grid; *lev: each axial slice's level (caller frees) */
static void atlas_levels(const char *dir, AtlasGrid *g, int32_t **lev_out) {
  char p[PATH_CAP];
  path_fmt(p, sizeof p, "%s/template/PAM50_levels.nii.gz", dir);
  niftivol_read_header(&g->lv, p);
  niftigeom_axial_axes(&g->lv, &g->ax);
  CS_CHECK(g->ax.slice_axis == 2 && fabs(g->ax.row_mm - g->ax.col_mm) < 1e-6 && g->lv.nx == g->lv.ny, PAM50_HINT,
           "'%s': expected axial k-planes with square in-plane pixels", p);
  const int64_t ns = g->ns = g->lv.nz, rows = g->lv.ny, cols = g->lv.nx;
  const size_t hw2 = g->hw2 = (size_t)rows * (size_t)cols;
  float *lvbuf = mallocCheck(sizeof(float) * hw2 * (size_t)ns);
  niftivol_read_planes(&g->lv, p, 0, ns, lvbuf);
  g->lv.data = lvbuf;
  float *plane = mallocCheck(sizeof(float) * hw2);
  int32_t *lev = mallocCheck(sizeof(int32_t) * (size_t)ns);
  int64_t r_, c_;
  g->s_c2 = -1, g->s_c7 = -1;
  for (int64_t s = 0; s < ns; s++) {
    niftigeom_axial_slice(&g->lv, &g->ax, 0, s, plane, &r_, &c_);
    lev[s] = level_mode(plane, rows * cols);
    if (lev[s] == 2 && g->s_c2 < 0) g->s_c2 = s;
    if (lev[s] == 7) g->s_c7 = s;
  }
  free(g->lv.data);
  g->lv.data = NULL;
  free(plane);
  CS_CHECK(g->s_c2 >= 0 && g->s_c7 > g->s_c2, PAM50_HINT, "'%s': levels C2..C7 not found", p);
  *lev_out = lev;
}

/* slab centres 1 mm apart over C2 .. C7 with a margin for the subjects' jitter; each slab's level */
static void atlas_slabs(PhantomAtlas *a, AtlasGrid *g, const int32_t *lev, double slab_mm) {
  const NiftiAxial *ax = &g->ax;
  int step = (int)lrint(1.0 / ax->slice_mm); /* centres 1 mm apart */
  int half = (int)lrint(slab_mm / ax->slice_mm / 2);
  if (step < 1) step = 1;
  if (half < 1) half = 1;
  int64_t s0 = g->s_c2 - 10 * step, s1 = g->s_c7 + 10 * step; /* margin for per-subject jitter */
  if (s0 < half) s0 = half;
  if (s1 > g->ns - half - 1) s1 = g->ns - half - 1;
  g->step = step, g->half = half, g->s0 = s0;
  a->n = (int32_t)((s1 - s0) / step + 1);
  a->hw = (int32_t)g->lv.ny, a->px_mm = ax->row_mm, a->step_mm = step * ax->slice_mm;
  a->first_c2 = (int32_t)((g->s_c2 - s0) / step), a->last_c7 = (int32_t)((g->s_c7 - s0) / step);
  a->maps = callocCheck((size_t)a->n * PHANTOM_NCH * g->hw2, sizeof(float));
  a->level = mallocCheck(sizeof(int32_t) * (size_t)a->n);
  for (int32_t m = 0; m < a->n; m++) a->level[m] = lev[s0 + (int64_t)m * step];
  /* the k-plane range holding axial slices [s0 - half, s_last + half) */
  const int64_t ns = g->ns, s_last = s0 + (int64_t)(a->n - 1) * step;
  g->sa = s0 - half, g->sb = s_last + half;
  g->klo = ax->slice_reverse ? ns - g->sb : g->sa, g->khi = ax->slice_reverse ? ns - g->sa : g->sb;
  g->s_off = ax->slice_reverse ? ns - g->khi : g->klo;
}

/* discs: 5 mm at every level change; a slab's weight = its overlap with the nearest disc */
static void atlas_discs(PhantomAtlas *a, double slab_mm) {
  a->disc_w = mallocCheck(sizeof(float) * (size_t)a->n);
  for (int32_t m = 0; m < a->n; m++) {
    double best = 1e9;
    for (int32_t q = 0; q + 1 < a->n; q++)
      if (a->level[q] != a->level[q + 1]) best = fmin(best, fabs((q + 0.5 - m) * a->step_mm));
    double h = slab_mm / 2, lo = fmax(-h, best - 2.5), hi = fmin(h, best + 2.5);
    a->disc_w[m] = (float)(hi > lo ? (hi - lo) / (2 * h) : 0);
  }
}

/* one map (fi < 36 a tract, 36 the CSF) slab-averaged into channel ch of every slab; 0 on a grid mismatch */
static int atlas_add_map(PhantomAtlas *a, const AtlasGrid *g, const char *fp, int ch, float *buf, float *slab,
                         float *pl) {
  const size_t hw2 = g->hw2;
  NiftiVol v;
  niftivol_read_header(&v, fp); /* grid check first */
  if (v.nx != g->lv.nx || v.ny != g->lv.ny || v.nz != g->lv.nz) return 0;
  niftivol_read_planes(&v, fp, g->klo, g->khi, buf);
  v.data = buf, v.nz = g->khi - g->klo;
  int64_t r2, c2;
  for (int64_t s = g->sa; s < g->sb; s++)
    niftigeom_axial_slice(&v, &g->ax, 0, s - g->s_off, pl + (size_t)(s - g->sa) * hw2, &r2, &c2);
  memset(slab, 0, sizeof(float) * (size_t)a->n * hw2);
  for (int32_t m = 0; m < a->n; m++) {
    int64_t sc = g->s0 + (int64_t)m * g->step;
    float *dst = slab + (size_t)m * hw2;
    for (int64_t s = sc - g->half; s < sc + g->half; s++) {
      const float *src = pl + (size_t)(s - g->sa) * hw2;
      for (size_t i = 0; i < hw2; i++) dst[i] += src[i];
    }
  }
  float inv = 1.0f / (float)(2 * g->half);
#pragma omp critical(phantom_atlas)
  for (int32_t m = 0; m < a->n; m++) {
    float *dst = a->maps + ((size_t)m * PHANTOM_NCH + ch) * hw2;
    for (size_t i = 0; i < hw2; i++) dst[i] += inv * slab[(size_t)m * hw2 + i];
  }
  return 1;
}

/* 36 tract maps + CSF, streamed in parallel, slab-averaged into their channel */
static void atlas_read_maps(PhantomAtlas *a, const AtlasGrid *g, const char *dir, const int chan[36],
                            char files[37][64]) {
  char csf_path[PATH_CAP];
  path_fmt(csf_path, sizeof csf_path, "%s/atlas/%s", dir, files[36]);
  struct stat st;
  if (!files[36][0] || stat(csf_path, &st) != 0) path_fmt(csf_path, sizeof csf_path, "%s/template/PAM50_csf.nii.gz", dir);
  int failed = 0;
#pragma omp parallel
  {
    /* per-thread buffers, allocated once (page faults serialise threads) */
    float *buf = mallocCheck(sizeof(float) * g->hw2 * (size_t)(g->khi - g->klo));
    float *slab = mallocCheck(sizeof(float) * (size_t)a->n * g->hw2);
    float *pl = mallocCheck(sizeof(float) * g->hw2 * (size_t)(g->sb - g->sa)); /* axial planes sa..sb, our orientation */
#pragma omp for schedule(dynamic, 1)
    for (int fi = 0; fi < 37; fi++) {
      char fp[PATH_CAP];
      if (fi < 36) path_fmt(fp, sizeof fp, "%s/atlas/%s", dir, files[fi]);
      else path_fmt(fp, sizeof fp, "%s", csf_path);
      if (!atlas_add_map(a, g, fp, fi < 36 ? chan[fi] : 8, buf, slab, pl)) {
#pragma omp atomic write
        failed = fi + 1;
      }
    }
    free(slab), free(pl), free(buf);
  }
  CS_CHECK(!failed, PAM50_HINT, "PAM50 map %d does not have the grid of PAM50_levels.nii.gz", failed - 1);
}

/* Left/right: the labels follow the atlas names (info_label.txt), the
 * columns follow the atlas affine (io/niftigeom.h: column 0 patient right,
 * RAS+ x). PAM50 puts the tracts named "left" at x < 0, the patient's left,
 * so they land in the high columns. Names and affine disagreeing means a
 * broken atlas: refuse it rather than guess which one is right. */
static void atlas_check_sides(const PhantomAtlas *a, const char *dir) {
  const size_t hw2 = (size_t)a->hw * a->hw;
  double colL = 0, colR = 0, wL = 0, wR = 0;
  for (int32_t m = 0; m < a->n; m++)
    for (int ch = 0; ch < 8; ch++) {
      const float *mp = a->maps + ((size_t)m * PHANTOM_NCH + ch) * hw2;
      for (size_t i = 0; i < hw2; i++) {
        double c = (double)(i % (size_t)a->hw);
        if (ch < 4) colL += mp[i] * c, wL += mp[i];
        else colR += mp[i] * c, wR += mp[i];
      }
    }
  CS_CHECK(wL > 0 && wR > 0 && colL / wL > colR / wR, PAM50_HINT,
           "'%s/atlas': the tracts named 'left' lie on the patient's right by the atlas affine (mean column %.1f vs "
           "%.1f for 'right'; column 0 = patient right): names and affine disagree",
           dir, wL > 0 ? colL / wL : NAN, wR > 0 ? colR / wR : NAN);
}

/* fractions clamped to 1 and renormalised where tract maps overlap, CSF within what the cord leaves; each
 * slab's cord centroid */
static void atlas_normalise(PhantomAtlas *a) {
  const size_t hw2 = (size_t)a->hw * a->hw;
  a->crow = mallocCheck(sizeof(float) * (size_t)a->n);
  a->ccol = mallocCheck(sizeof(float) * (size_t)a->n);
  for (int32_t m = 0; m < a->n; m++) {
    double sw = 0, sr = 0, sc = 0;
    float *mp = a->maps + (size_t)m * PHANTOM_NCH * hw2;
    for (size_t i = 0; i < hw2; i++) {
      double cord = 0;
      for (int ch = 0; ch < 8; ch++) {
        float *q = &mp[(size_t)ch * hw2 + i];
        if (*q > 1) *q = 1;
        cord += *q;
      }
      if (cord > 1) /* overlapping tract maps: renormalise so fractions sum to <= 1 */
        for (int ch = 0; ch < 8; ch++) mp[(size_t)ch * hw2 + i] /= (float)cord;
      float *csf = &mp[8 * hw2 + i];
      *csf = fminf(*csf, 1.0f - (float)fmin(cord, 1.0));
      sw += cord, sr += cord * (double)(i / (size_t)a->hw), sc += cord * (double)(i % (size_t)a->hw);
    }
    CS_CHECK(sw > 0, PAM50_HINT, "PAM50 atlas is empty at slab %d", m);
    a->crow[m] = (float)(sr / sw), a->ccol[m] = (float)(sc / sw);
  }
}

/* what follows the maps, for PAM50 and the synthetic atlas alike: discs, fractions, centroids, extents */
void phantom_atlas_finish(PhantomAtlas *a, double slab_mm) {
  atlas_discs(a, slab_mm);
  atlas_normalise(a);
  a->cord_ext = mallocCheck(sizeof(double) * 4 * (size_t)a->n);
  for (int32_t m = 0; m < a->n; m++) atlas_cord_extent(a, m, a->cord_ext + 4 * (size_t)m);
}

void phantom_atlas_load(PhantomAtlas *a, const char *dir, double slab_mm) {
  if (!strcmp(dir, PHANTOM_ATLAS_SYNTHETIC)) {
    phantom_atlas_synth(a, slab_mm);
    return;
  }
  memset(a, 0, sizeof *a);
  int chan[36];
  char files[37][64];
  parse_info_label(dir, chan, files);
  AtlasGrid g = {0};
  int32_t *lev;
  atlas_levels(dir, &g, &lev);
  atlas_slabs(a, &g, lev, slab_mm);
  free(lev);
  atlas_read_maps(a, &g, dir, chan, files);
  atlas_check_sides(a, dir);
  phantom_atlas_finish(a, slab_mm);
}

void phantom_atlas_free(PhantomAtlas *a) {
  free(a->maps), free(a->crow), free(a->ccol), free(a->cord_ext), free(a->level), free(a->disc_w);
  memset(a, 0, sizeof *a);
}

/* ----------------------------------------------------------- subject ---- */
/* n unit directions spread over the sphere (antipodally symmetric repulsion),
 * deterministic: the same table for every subject and run */
static void gradient_table(int n, double *g) {
  Rng r;
  rng_init(&r, 15);
  for (int i = 0; i < n; i++) {
    double x = rng_normal(&r), y = rng_normal(&r), z = rng_normal(&r), l = sqrt(x * x + y * y + z * z);
    g[3 * i] = x / l, g[3 * i + 1] = y / l, g[3 * i + 2] = z / l;
  }
  double *f = mallocCheck(sizeof(double) * 3 * (size_t)n);
  for (int it = 0; it < 400; it++) {
    memset(f, 0, sizeof(double) * 3 * (size_t)n);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        if (i == j) continue;
        for (int sgn = -1; sgn <= 1; sgn += 2) {
          double d[3], d2 = 0;
          for (int k = 0; k < 3; k++) d[k] = g[3 * i + k] - sgn * g[3 * j + k], d2 += d[k] * d[k];
          double w = 1.0 / (d2 * sqrt(d2) + 1e-12);
          for (int k = 0; k < 3; k++) f[3 * i + k] += w * d[k];
        }
      }
    for (int i = 0; i < n; i++) {
      double l = 0;
      for (int k = 0; k < 3; k++) g[3 * i + k] += 0.01 * f[3 * i + k] / n, l += g[3 * i + k] * g[3 * i + k];
      l = sqrt(l);
      for (int k = 0; k < 3; k++) g[3 * i + k] /= l;
    }
  }
  free(f);
}

static double uni(Rng *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

static float bilinear(const float *img, int32_t n, double r, double c) {
  if (!(r >= 0 && c >= 0 && r < n - 1 && c < n - 1)) return 0;
  int32_t r0 = (int32_t)r, c0 = (int32_t)c;
  float fr = (float)(r - r0), fc = (float)(c - c0);
  const float *p = img + (size_t)r0 * n + c0;
  return (1 - fr) * ((1 - fc) * p[0] + fc * p[1]) + fr * ((1 - fc) * p[n] + fc * p[n + 1]);
}

/* one 7-tap pass of a separable blur over an n x n image, edge-clamped:
 * `along` is the stride of the blurred axis, `across` the other axis' */
static void blur_pass(const float *src, float *dst, int32_t n, const double k7[7], int32_t along, int32_t across) {
  for (int32_t a = 0; a < n; a++)
    for (int32_t b = 0; b < n; b++) {
      double s = 0;
      for (int k = -3; k <= 3; k++) {
        int32_t bb = b + k < 0 ? 0 : b + k >= n ? n - 1 : b + k;
        s += k7[k + 3] * src[(size_t)a * across + (size_t)bb * along];
      }
      dst[(size_t)a * across + (size_t)b * along] = (float)s;
    }
}

/* separable Gaussian blur (sigma in pixels along rows and columns), in place */
static void blur(float *img, int32_t n, double sr, double sc, float *tmp) {
  double ks[2][7];
  double sig[2] = {sr, sc};
  for (int d = 0; d < 2; d++) {
    double s = 0;
    for (int k = -3; k <= 3; k++) s += ks[d][k + 3] = exp(-0.5 * k * k / (sig[d] * sig[d]));
    for (int k = 0; k < 7; k++) ks[d][k] /= s;
  }
  blur_pass(img, tmp, n, ks[1], 1, n); /* within each row (column sigma) */
  blur_pass(tmp, img, n, ks[0], n, 1); /* within each column (row sigma) */
}

/* tissues: the old phantom's 4, then the anatomy's (sim/anatomy.h AT_BONE..AT_VESSEL at 3 + AT_*) */
enum { T_WM, T_GM, T_CSF, T_OTHER, T_N_NONE, T_N = T_OTHER + AT_VESSEL + 1 };
/* the tissue map names tissue t as PT_WM + t: sim/phantom.h's PT_* list the anatomy's in AT_* order */
_Static_assert(PT_WM + T_OTHER + AT_PLEXUS == PT_PLEXUS && PT_WM + T_OTHER + AT_ROOT == PT_ROOT &&
                   PT_WM + T_OTHER + AT_VESSEL == PT_VESSEL &&
                   PT_WM + T_OTHER + AT_MUS_R == PT_MUSCLE_R && PT_WM + T_N == PT_N,
               "PT_* and AT_* out of step");

static void shift_image(const float *in, float *out, int32_t n, double dr, double dc);

/* --anatomy full: the tissues' signals with the acquisition effects of sim/anatomy.h, then Rician noise
 * (the same draws per voxel and volume as the old phantom) */
static void acquire_full(const AnatomySubject *A, const PhantomConfig *c, int32_t subject, int32_t k, int32_t n,
                         int nvol, double sigma, const float *tis,
                         const double (*e)[DTI_MAX_VOLUMES], float *dwi, float *tmp, Rng *rn) {
  const size_t n2 = (size_t)n * n;
  Rng ra;
  rng_init(&ra, hash_mix3(c->seed, (uint64_t)subject, 5000 + (uint64_t)k));
  float *tex = mallocCheck(sizeof(float) * n2); /* muscle texture, x(1 +- 0.12) */
  for (size_t i = 0; i < n2; i++) {
    double x = (double)(i % (size_t)n) * c->fov_mm / n, y = (double)(i / (size_t)n) * c->fov_mm / n, t = 1;
    for (int q = 0; q < 3; q++) t += 0.07 * sin(A->tex_k[q][0] * x + A->tex_k[q][1] * y + A->tex_ph[q]);
    tex[i] = (float)t;
  }
  enum { ML = T_OTHER + AT_MUS_L, MR = T_OTHER + AT_MUS_R };
  for (int v = 0; v < nvol; v++) {
    double puls = rng_uniform(&ra) < A->puls_p ? 1 - uni(&ra, 0.3, 0.7) : 1; /* CSF pulsation loss */
    const double px_mm = c->fov_mm / n;
    double mr = v ? A->motion_sd * rng_normal(&ra) / px_mm : 0; /* rigid in-plane motion, pixels */
    double mc = v ? A->motion_sd * rng_normal(&ra) / px_mm : 0;
    double ev[T_N];
    for (int t = 0; t < T_N; t++) ev[t] = e[t][v] * (t == T_CSF ? puls : 1);
    float *img = dwi + (size_t)v * n2;
    for (size_t i = 0; i < n2; i++) {
      double s = 0;
      for (int t = 0; t < T_N; t++)
        if (t != ML && t != MR) s += tis[(size_t)t * n2 + i] * ev[t];
      s += tex[i] * (tis[(size_t)ML * n2 + i] * ev[ML] + tis[(size_t)MR * n2 + i] * ev[MR]);
      tmp[i] = (float)s;
    }
    if (v) shift_image(tmp, img, n, mr, mc); /* rigid motion between volumes */
    else memcpy(img, tmp, sizeof(float) * n2);
    memcpy(tmp, img, sizeof(float) * n2);
    for (int32_t r = 0; r < n; r++) /* Nyquist ghost: the image shifted by half the FOV along AP (rows) */
      for (int32_t cc = 0; cc < n; cc++)
        img[(size_t)r * n + cc] += (float)A->ghost * tmp[(size_t)((r + n / 2) % n) * n + cc];
  }
  for (size_t i = 0; i < n2; i++) {
    double xr = ((double)(i % (size_t)n) - n / 2) / n, yr = ((double)(i / (size_t)n) - n / 2) / n;
    double bias = 1 + 2 * A->bias[0] * xr + 2 * A->bias[1] * yr + 4 * A->bias[2] * xr * xr + 4 * A->bias[3] * yr * yr +
                  4 * A->bias[4] * xr * yr;
    for (int v = 0; v < nvol; v++) {
      double s = dwi[(size_t)v * n2 + i] * bias;
      double u1 = rng_uniform(rn), u2 = rng_uniform(rn), rad = sigma * sqrt(-2.0 * log(u1 > 1e-300 ? u1 : 1e-300));
      double n1 = s + rad * cos(6.283185307179586 * u2), n2n = rad * sin(6.283185307179586 * u2);
      dwi[(size_t)v * n2 + i] = (float)sqrt(n1 * n1 + n2n * n2n);
    }
  }
  free(tex);
}

void phantom_subject(const PhantomAtlas *a, const PhantomConfig *c, int32_t subject, float *b0, float *fa, float *md,
                     float *ad, float *rd, uint8_t *labels, SliceMeta *meta) {
  phantom_subject_ex(a, c, subject, b0, fa, md, ad, rd, labels, meta, NULL);
}

/* bilinear shift of an n x n image by (dr, dc) pixels, edge-clamped: out(r, c) = in(r - dr, c - dc) */
static void shift_image(const float *in, float *out, int32_t n, double dr, double dc) {
  for (int32_t r = 0; r < n; r++)
    for (int32_t cc = 0; cc < n; cc++) {
      double sr = fmin(n - 1.001, fmax(0, r - dr)), sc = fmin(n - 1.001, fmax(0, cc - dc));
      int32_t r0 = (int32_t)sr, c0 = (int32_t)sc;
      float fr = (float)(sr - r0), fc = (float)(sc - c0);
      const float *p = in + (size_t)r0 * n + c0;
      out[(size_t)r * n + cc] = (1 - fr) * ((1 - fc) * p[0] + fc * p[1]) + fr * ((1 - fc) * p[n] + fc * p[n + 1]);
    }
}

/* one subject's draw: anatomy, compression, tissue properties and signal
 * (the draw order is the subject's RNG stream: changing it changes every cohort) */
typedef struct {
  double scale, aspect, theta, ct, st, tx, ty, jitter_mm;
  int ncomp;
  double comp_at[2], comp_sev[2], asym, tilt_lr, tilt_ap;
  double wm_par, wm_perp, gm_par, gm_perp, csf_d, oth_par, oth_perp, gain, s0[T_N], bias_x, bias_y, sigma;
  int full, nt; /* the full anatomy (A) or cord + CSF only; tissue classes */
  AnatomySubject A;
} SubjectDraw;

static void subject_draw(const PhantomConfig *c, int32_t subject, SubjectDraw *D) {
  Rng r;
  rng_init(&r, hash_mix3(c->seed, (uint64_t)subject, 0x5eb1ec7));
  memset(D, 0, sizeof *D);
  /* per-subject anatomy */
  D->scale = uni(&r, 0.85, 1.15), D->aspect = uni(&r, 0.92, 1.08);
  D->theta = fmax(-0.21, fmin(0.21, 0.087 * rng_normal(&r)));
  D->ct = cos(D->theta), D->st = sin(D->theta);
  D->tx = uni(&r, -5, 5), D->ty = uni(&r, -5, 5);
  D->jitter_mm = uni(&r, -3, 3);
  D->ncomp = rng_uniform(&r) < 0.5 ? 1 : 2;
  D->asym = uni(&r, -0.35, 0.35);
  for (int k = 0; k < D->ncomp; k++) D->comp_at[k] = uni(&r, 0.5, c->slices - 1.5), D->comp_sev[k] = uni(&r, 0.05, 0.55);
  D->tilt_lr = uni(&r, -0.15, 0.15), D->tilt_ap = uni(&r, -0.2, 0.2);
  /* per-subject tissue properties (mm^2/s) and signal */
  D->wm_par = 1.65e-3 * uni(&r, 0.9, 1.1), D->wm_perp = 0.35e-3 * uni(&r, 0.85, 1.2);
  D->gm_par = 1.05e-3 * uni(&r, 0.9, 1.1), D->gm_perp = 0.6e-3 * uni(&r, 0.9, 1.1);
  D->csf_d = 3.0e-3 * uni(&r, 0.95, 1.05), D->oth_par = 1.8e-3, D->oth_perp = 1.2e-3;
  D->gain = 1000 * uni(&r, 0.8, 1.25);
  D->s0[T_WM] = 0.55 * D->gain, D->s0[T_GM] = 0.65 * D->gain, D->s0[T_CSF] = 1.0 * D->gain;
  D->s0[T_OTHER] = uni(&r, 0.25, 0.4) * D->gain;
  D->bias_x = uni(&r, -0.12, 0.12), D->bias_y = uni(&r, -0.12, 0.12);
  D->sigma = D->s0[T_WM] / c->snr;
  D->full = c->anatomy == PHANTOM_ANATOMY_FULL, D->nt = D->full ? T_N : T_N_NONE;
  if (D->full) anatomy_subject_draw(&D->A, c->seed, subject);
  if (D->full) D->sigma *= D->A.noise_scale; /* calibration: the real series' measured SNR (sim/anatomy.h) */
}

/* the buffers of one subject's slices */
typedef struct {
  int32_t n, nf, nvol;
  size_t n2;
  float *afr, *rootfr;  /* full anatomy: [AT_N][n2] tissue shares outside cord and CSF; the nerve roots' share */
  double *g, *bv;       /* gradient table [nvol][3], b-values [nvol] */
  DtiModel model;
  float *frac, *tis;    /* [PHANTOM_NCH][n2] atlas channels, [T_N][n2] tissue fractions */
  float *tmp, *dwi;     /* [n2], [nvol][n2] */
} SubjectWork;

static void subject_work_init(const PhantomConfig *c, int full, SubjectWork *w) {
  w->n = c->size, w->nf = 2 * c->size, w->nvol = 1 + c->ndirs;
  const size_t n2 = w->n2 = (size_t)w->n * w->n;
  w->afr = full ? mallocCheck(sizeof(float) * AT_N * n2) : NULL;
  w->rootfr = full ? mallocCheck(sizeof(float) * n2) : NULL;
  w->g = mallocCheck(sizeof(double) * 3 * (size_t)w->nvol), w->bv = mallocCheck(sizeof(double) * (size_t)w->nvol);
  w->g[0] = w->g[1] = w->g[2] = 0, w->bv[0] = 0;
  gradient_table(c->ndirs, w->g + 3);
  for (int k = 1; k < w->nvol; k++) w->bv[k] = c->bval;
  dti_model_init(&w->model, w->bv, w->g, w->nvol, "phantom gradient table");
  w->frac = mallocCheck(sizeof(float) * PHANTOM_NCH * n2), w->tis = callocCheck((size_t)T_N * n2, sizeof(float));
  w->tmp = mallocCheck(sizeof(float) * n2), w->dwi = mallocCheck(sizeof(float) * (size_t)w->nvol * n2);
}

static void subject_work_free(SubjectWork *w) {
  dti_model_free(&w->model);
  free(w->g), free(w->bv), free(w->frac), free(w->tis), free(w->tmp), free(w->dwi), free(w->afr), free(w->rootfr);
}

/* slice k: its atlas slab m (evenly spaced C2 .. C7/T1, plus the subject's jitter) and its compression */
typedef struct {
  int32_t k, m;
  double comp, ap, widen; /* compression 0 = none, up to ~0.55 = severe; AP squash, LR widening */
} SliceGeom;

static void slice_geom(const PhantomAtlas *a, const PhantomConfig *c, const SubjectDraw *D, int32_t k, SliceGeom *G) {
  const double span = (double)(a->last_c7 - a->first_c2);
  double pos = a->first_c2 + (k + 0.5) * span / c->slices + D->jitter_mm / a->step_mm;
  int32_t m = (int32_t)lrint(pos);
  G->k = k, G->m = m < 0 ? 0 : m >= a->n ? a->n - 1 : m;
  double comp = 0;
  for (int q = 0; q < D->ncomp; q++) {
    double dz = (k - D->comp_at[q]) * span * a->step_mm / c->slices;
    comp += D->comp_sev[q] * exp(-0.5 * dz * dz / 36.0);
  }
  G->comp = fmin(comp, 0.6);
  G->ap = 1 - G->comp, G->widen = 1 + 0.4 * G->comp;
}

/* the atlas position (row, column) that the subject's cord puts under FOV point (x, y) mm */
static void atlas_point(const PhantomAtlas *a, const SubjectDraw *D, const SliceGeom *G, double x, double y, double *ar,
                        double *ac) {
  double u = (D->ct * x + D->st * y) / (D->scale * G->widen), v = (-D->st * x + D->ct * y) / (D->scale * D->aspect);
  double apu = G->ap * (1 + D->asym * fmax(-1, fmin(1, u / 6.0)) * G->comp / 0.6);
  v /= fmax(0.3, fmin(1.0, apu));
  *ar = a->crow[G->m] + v / a->px_mm, *ac = a->ccol[G->m] + u / a->px_mm;
}

/* cord + CSF only: the atlas channels on the fine grid, area-averaged 2x2 onto the slice grid */
static void render_simple(const PhantomAtlas *a, const PhantomConfig *c, const SubjectDraw *D, const SliceGeom *G,
                          SubjectWork *w) {
  const int32_t n = w->n, nf = w->nf;
  const double pf = c->fov_mm / nf;
  const float *maps = a->maps + (size_t)G->m * PHANTOM_NCH * (size_t)a->hw * a->hw;
  for (int32_t R = 0; R < nf; R++)
    for (int32_t C = 0; C < nf; C++) {
      double x = (C + 0.5 - n) * pf - D->tx, y = (R + 0.5 - n) * pf - D->ty; /* x toward left, y toward posterior */
      double ar, ac;
      atlas_point(a, D, G, x, y, &ar, &ac);
      size_t o = (size_t)(R / 2) * n + (size_t)(C / 2);
      for (int ch = 0; ch < PHANTOM_NCH; ch++)
        w->frac[ch * w->n2 + o] += 0.25f * bilinear(maps + (size_t)ch * a->hw * a->hw, a->hw, ar, ac);
    }
}

/* the full anatomy's slice: the dural sac (centre sac_x, sac_y, half-axes sac_a, sac_b, mm in the cord's
 * frame) and the canal around it, the cord's extent (el, er, ea, ep) and the nerve roots' visibility */
typedef struct {
  AnatomySubject As; /* the subject with this slice's canal */
  double el, er, ea, ep, sac_x, sac_y, sac_a, sac_b, dw, fw;
  double rvis[4];
} SliceSac;

/* this slice's canal and dural sac (sim/anatomy.h): the sac is the cord's extent (the atlas cord as rendered:
 * size, flattening, compression) plus the level's subarachnoid thickness, effaced where the cord is
 * compressed; the canal is the level's, widened where the sac and the epidural margin need it */
static void slice_sac(const PhantomAtlas *a, const PhantomConfig *c, const SubjectDraw *D, int32_t subject,
                      const SliceGeom *G, SliceSac *S) {
  const AnatomySubject *A = &D->A;
  const int32_t m = G->m;
  anatomy_root_vis(A, c->seed, subject, G->k, S->rvis);
  S->dw = a->disc_w[m], S->fw = 0.6 + 0.4 * S->dw;
  S->As = *A;
  const double *ext = a->cord_ext + 4 * (size_t)m; /* atlas cord extent, mm: left, right, anterior, posterior */
  S->el = ext[0] * D->scale * G->widen, S->er = ext[1] * D->scale * G->widen;
  S->ea = ext[2] * D->scale * D->aspect * G->ap, S->ep = ext[3] * D->scale * D->aspect * G->ap;
  double t_lat, t_ant, t_post;
  anatomy_sas(A, a->level[m], &t_lat, &t_ant, &t_post);
  const double eff = fmax(0, 1 - G->comp / 0.45);
  t_ant *= eff, t_post *= eff, t_lat *= 1 - 0.5 * G->comp / 0.6;
  S->sac_x = 0.5 * (S->el - S->er), S->sac_a = 0.5 * (S->el + S->er) + t_lat;
  S->sac_y = 0.5 * (S->ep - S->ea) + 0.5 * (t_post - t_ant), S->sac_b = 0.5 * (S->ea + S->ep) + 0.5 * (t_ant + t_post);
  const double rcx = D->ct * A->cord_dx + D->st * A->cord_dy, rcy = -D->st * A->cord_dx + D->ct * A->cord_dy;
  double can_a, can_b;
  anatomy_canal(A, a->level[m], &can_a, &can_b);
  can_b *= 1 - 0.25 * G->comp;
  S->As.canal_a = fmax(can_a, fabs(S->sac_x + rcx) + S->sac_a + A->epi_min);
  S->As.canal_b = fmax(can_b, fabs(S->sac_y + rcy) + S->sac_b + A->epi_min);
  S->As.mass_x += S->As.canal_a - A->canal_a, S->As.va_x += S->As.canal_a - A->canal_a; /* the arch follows the canal */
}

/* one fine-grid pixel of the full anatomy, outside the cord (class cls at (xr, yr), the cord's frame; cordf
 * the cord's share there) added to slice pixel o: CSF, nerve roots and the anatomy's tissues */
static void render_full_rest(const SubjectDraw *D, const SliceSac *S, SubjectWork *w, size_t o, int cls, double xr,
                             double yr, float cordf) {
  const AnatomySubject *A = &D->A;
  const size_t n2 = w->n2;
  float *afr = w->afr;
  /* CSF: the sac less the cord and the nerve roots crossing it */
  const int in_sac = cls == AT_CANAL && anatomy_in_ellipse(xr, yr, S->sac_x, S->sac_y, S->sac_a, S->sac_b);
  const float rf = cls == AT_CANAL ? (float)anatomy_root_frac(A, xr, yr, S->el, S->er, S->ea, S->ep, S->rvis) : 0;
  if (in_sac) {
    const float freef = 0.25f * fmaxf(0, 1 - fminf(cordf, 1));
    w->frac[8 * n2 + o] += freef * (1 - rf);
    w->rootfr[o] += freef * rf;
  }
  if (cls == AT_BODY) { /* marrow, or disc by the slab's disc weight */
    afr[AT_MARROW * n2 + o] += 0.25f * (float)(1 - S->dw);
    afr[AT_DISC * n2 + o] += 0.25f * (float)S->dw;
  } else if (cls == AT_FACET) {
    afr[AT_FLUID * n2 + o] += 0.25f * (float)S->fw;
    afr[AT_BONE * n2 + o] += 0.25f * (float)(1 - S->fw);
  } else {
    /* the canal's remainder: venous plexus in front of and beside the sac's anterior part, epidural fat
     * elsewhere, and the nerve roots on their way to the foramen (inside the sac they took their share
     * above) */
    const int plexus = cls == AT_CANAL && yr < S->sac_y + A->plexus_back * S->sac_b &&
                       anatomy_in_ellipse(xr, yr, S->sac_x, S->sac_y, S->sac_a + A->plexus_lat, S->sac_b + A->plexus_mm);
    const float rout = in_sac ? 0 : rf;
    afr[(cls == AT_CANAL ? (plexus ? AT_PLEXUS : AT_FAT) : cls) * n2 + o] += 0.25f * (1 - rout);
    afr[AT_ROOT * n2 + o] += 0.25f * rout;
  }
}

/* the full anatomy: the same cord, shifted in the FOV with the anatomy; the image at (x0, y0) shows what lies
 * at y0 + AP distortion (EPI phase encode), so labels follow the distorted image */
static void render_full(const PhantomAtlas *a, const PhantomConfig *c, const SubjectDraw *D, int32_t subject,
                        const SliceGeom *G, SubjectWork *w) {
  const AnatomySubject *A = &D->A;
  const int32_t n = w->n, nf = w->nf, m = G->m;
  const size_t n2 = w->n2;
  const double pf = c->fov_mm / nf;
  const float *maps = a->maps + (size_t)m * PHANTOM_NCH * (size_t)a->hw * a->hw;
  memset(w->afr, 0, sizeof(float) * AT_N * n2);
  memset(w->rootfr, 0, sizeof(float) * n2);
  SliceSac S;
  slice_sac(a, c, D, subject, G, &S);
  for (int32_t R = 0; R < nf; R++)
    for (int32_t C = 0; C < nf; C++) {
      double x0 = (C + 0.5 - n) * pf, y0 = (R + 0.5 - n) * pf;
      double yd = y0 + A->dist_amp * sin(A->dist_k * x0 + A->dist_ph) * cos(0.5 * A->dist_k * y0);
      double x = x0 - D->tx - A->fov_dx, y = yd - D->ty - A->fov_dy;
      double ar, ac;
      atlas_point(a, D, G, x, y, &ar, &ac);
      size_t o = (size_t)(R / 2) * n + (size_t)(C / 2);
      float cordf = 0;
      for (int ch = 0; ch < 8; ch++) {
        float f = bilinear(maps + (size_t)ch * a->hw * a->hw, a->hw, ar, ac);
        w->frac[ch * n2 + o] += 0.25f * f, cordf += f;
      }
      double xc = x + A->cord_dx, yc = y + A->cord_dy;
      int cls = anatomy_class(&S.As, D->ct * xc + D->st * yc, -D->st * xc + D->ct * yc, a->level[m], 1.0);
      const double xr = D->ct * x + D->st * y, yr = -D->st * x + D->ct * y; /* the cord's frame */
      render_full_rest(D, &S, w, o, cls, xr, yr, cordf);
    }
}

/* labels (argmax of background and the 8 ROIs) and tissue fractions of slice k; the tissue map when asked */
static void slice_labels_tissue(const SubjectDraw *D, SubjectWork *w, uint8_t *lab, uint8_t *tissue) {
  const size_t n2 = w->n2;
  const float *frac = w->frac;
  float *tis = w->tis;
  for (size_t i = 0; i < n2; i++) {
    float cord = 0, best = 0;
    int bl = 0;
    for (int ch = 0; ch < 8; ch++) {
      float f = frac[ch * n2 + i];
      cord += f;
      if (f > best) best = f, bl = ch + 1;
    }
    lab[i] = (uint8_t)(best > 1 - cord ? bl : 0);
    float wm = 0;
    for (int ch = 0; ch < 8; ch++)
      if (ch != 3 && ch != 7) wm += frac[ch * n2 + i];
    tis[T_WM * n2 + i] = wm;
    tis[T_GM * n2 + i] = frac[3 * n2 + i] + frac[7 * n2 + i];
    tis[T_CSF * n2 + i] = frac[8 * n2 + i];
    tis[T_OTHER * n2 + i] = fmaxf(0, 1 - cord - frac[8 * n2 + i]);
    if (D->full) { /* what the cord and CSF leave is split among the anatomy's tissues (air carries none) */
      const float rem = fmaxf(0, tis[T_OTHER * n2 + i] - w->rootfr[i]); /* the roots took their share of the CSF */
      tis[T_OTHER * n2 + i] = rem * w->afr[AT_OTHER * n2 + i];
      for (int t = AT_BONE; t <= AT_VESSEL; t++) tis[(T_OTHER + t) * n2 + i] = rem * w->afr[t * n2 + i];
      tis[(T_OTHER + AT_ROOT) * n2 + i] += w->rootfr[i];
    }
    if (tissue) {
      int bt = PT_AIR;
      float bf = 0.2f;
      for (int t = 0; t < D->nt; t++)
        if (tis[t * n2 + i] > bf) bf = tis[t * n2 + i], bt = PT_WM + t;
      tissue[i] = (uint8_t)bt;
    }
  }
}

/* each tissue's noiseless signal per volume, e[T_N][nvol]: the cord axis tilted a little, compression raising
 * WM radial diffusivity; with the full anatomy the calibration and the anatomy's own tensors */
static void slice_signals(const PhantomAtlas *a, const PhantomConfig *c, const SubjectDraw *D, int32_t subject,
                          const SliceGeom *G, const SubjectWork *w, double (*e)[DTI_MAX_VOLUMES]) {
  const AnatomySubject *A = &D->A;
  const double *g = w->g, *bv = w->bv;
  const int nvol = w->nvol, lvl = a->level[G->m];
  double axis[3] = {D->tilt_lr, D->tilt_ap, 1}, al = sqrt(1 + D->tilt_lr * D->tilt_lr + D->tilt_ap * D->tilt_ap);
  for (int q = 0; q < 3; q++) axis[q] /= al;
  double lpar[T_N] = {D->wm_par * (1 - 0.25 * G->comp), D->gm_par, D->csf_d, D->oth_par};
  double lperp[T_N] = {D->wm_perp * (1 + 1.6 * G->comp), D->gm_perp * (1 + 0.5 * G->comp), D->csf_d, D->oth_perp};
  if (D->full) lperp[T_WM] *= A->wm_perp_scale;
  for (int t = 0; t < T_N_NONE; t++)
    for (int v = 0; v < nvol; v++) {
      double ga = g[3 * v] * axis[0] + g[3 * v + 1] * axis[1] + g[3 * v + 2] * axis[2];
      double gg = g[3 * v] * g[3 * v] + g[3 * v + 1] * g[3 * v + 1] + g[3 * v + 2] * g[3 * v + 2];
      double q = lperp[t] * gg + (lpar[t] - lperp[t]) * ga * ga;
      e[t][v] = D->s0[t] * exp(-bv[v] * q);
    }
  if (!D->full) return;
  /* calibration against the real series (sim/anatomy.h): CSF brighter, soft tissue darker; below C3 the thin
   * sac's CSF dimmer per slice (through-plane partial volume, flow dephasing) */
  Rng rc;
  rng_init(&rc, hash_mix3(c->seed, (uint64_t)subject, 7000 + (uint64_t)G->k));
  const double low = uni(&rc, A->csf_low[0], A->csf_low[1]);
  const double csf = A->csf_scale * (lvl <= 2 ? 1 : lvl == 3 ? 0.5 * (1 + low) : low);
  for (int v = 0; v < nvol; v++) e[T_CSF][v] *= csf, e[T_OTHER][v] *= A->other_scale;
  /* the anatomy's tensors: muscles along their own (mirrored) fibres, nerve roots laterally, the rest isotropic */
  for (int at = AT_BONE; at <= AT_VESSEL; at++)
    for (int v = 0; v < nvol; v++) {
      double dir[3] = {at == AT_MUS_R ? -A->mus_dir[0] : A->mus_dir[0], A->mus_dir[1], A->mus_dir[2]};
      if (at == AT_ROOT) dir[0] = 1, dir[1] = dir[2] = 0; /* the roots run laterally (either side alike) */
      double ga = g[3 * v] * dir[0] + g[3 * v + 1] * dir[1] + g[3 * v + 2] * dir[2];
      double gg = g[3 * v] * g[3 * v] + g[3 * v + 1] * g[3 * v + 1] + g[3 * v + 2] * g[3 * v + 2];
      double q = A->dperp[at] * gg + (A->dpar[at] - A->dperp[at]) * ga * ga;
      e[T_OTHER + at][v] = D->gain * A->s0[at] * exp(-bv[v] * q);
    }
}

/* cord + CSF only: the tissues' signals with a smooth bias field and Rician noise */
static void acquire_simple(const SubjectDraw *D, SubjectWork *w, const double (*e)[DTI_MAX_VOLUMES], Rng *rn) {
  const int32_t n = w->n;
  for (size_t i = 0; i < w->n2; i++) {
    double xr = ((double)(i % n) - n / 2) / n, yr = ((double)(i / n) - n / 2) / n;
    double bias = 1 + D->bias_x * xr * 2 + D->bias_y * yr * 2;
    for (int v = 0; v < w->nvol; v++) {
      double s = 0;
      for (int t = 0; t < T_N_NONE; t++) s += w->tis[t * w->n2 + i] * e[t][v];
      s *= bias;
      /* one Box-Muller pair gives both Rician components */
      double u1 = rng_uniform(rn), u2 = rng_uniform(rn), rad = D->sigma * sqrt(-2.0 * log(u1 > 1e-300 ? u1 : 1e-300));
      double n1 = s + rad * cos(6.283185307179586 * u2), n2n = rad * sin(6.283185307179586 * u2);
      w->dwi[(size_t)v * w->n2 + i] = (float)sqrt(n1 * n1 + n2n * n2n); /* Rician magnitude */
    }
  }
}

/* the slice's DWI volumes into w->dwi */
static void slice_acquire(const PhantomConfig *c, const SubjectDraw *D, int32_t subject, int32_t k, SubjectWork *w,
                          const double (*e)[DTI_MAX_VOLUMES]) {
  const int32_t n = w->n;
  Rng rn;
  rng_init(&rn, hash_mix3(c->seed, (uint64_t)subject, 1000 + (uint64_t)k));
  if (!D->full) {
    acquire_simple(D, w, e, &rn);
    return;
  }
  acquire_full(&D->A, c, subject, k, n, w->nvol, D->sigma, w->tis, e, w->dwi, w->tmp, &rn);
  if (D->A.ap_fov <= 0) return;
  /* a reduced field of view along AP (phase encode): zero outside, as `segment` pads */
  const double px_mm = c->fov_mm / n, yc = D->ty + D->A.fov_dy + D->A.ap_fov_dy; /* cord centre + offset, mm */
  for (int32_t row = 0; row < n; row++) {
    const double y = (row + 0.5) * px_mm - 0.5 * c->fov_mm;
    if (fabs(y - yc) <= 0.5 * D->A.ap_fov) continue;
    for (int v = 0; v < w->nvol; v++) memset(w->dwi + (size_t)v * w->n2 + (size_t)row * n, 0, sizeof(float) * (size_t)n);
  }
}

void phantom_subject_ex(const PhantomAtlas *a, const PhantomConfig *c, int32_t subject, float *b0, float *fa,
                        float *md, float *ad, float *rd, uint8_t *labels, SliceMeta *meta, uint8_t *tissue) {
  SubjectDraw D;
  subject_draw(c, subject, &D);
  SubjectWork w;
  subject_work_init(c, D.full, &w);
  const double px = c->fov_mm / w.n;
  double(*e)[DTI_MAX_VOLUMES] = mallocCheck(sizeof(double) * T_N * DTI_MAX_VOLUMES);
  for (int32_t k = 0; k < c->slices; k++) {
    SliceGeom G;
    slice_geom(a, c, &D, k, &G);
    memset(w.frac, 0, sizeof(float) * PHANTOM_NCH * w.n2);
    if (D.full) render_full(a, c, &D, subject, &G, &w); /* the fine grid, area-averaged 2x2 onto the slice */
    else render_simple(a, c, &D, &G, &w);
    const size_t o = (size_t)k * w.n2;
    slice_labels_tissue(&D, &w, labels + o, tissue ? tissue + o : NULL);
    /* acquired resolution: Gaussian with FWHM = acquired pixel size */
    for (int t = 0; t < D.nt; t++)
      blur(w.tis + t * w.n2, w.n, c->acq_row_mm / px / 2.355, c->acq_col_mm / px / 2.355, w.tmp);
    slice_signals(a, c, &D, subject, &G, &w, e);
    slice_acquire(c, &D, subject, k, &w, (const double(*)[DTI_MAX_VOLUMES])e);
    dti_fit_volume(&w.model, w.dwi, (int64_t)w.n2, b0 ? b0 + o : NULL, fa ? fa + o : NULL, md ? md + o : NULL,
                   ad ? ad + o : NULL, rd ? rd + o : NULL);
    meta[k] = (SliceMeta){.subject = subject, .slice = k, .level = a->level[G.m], .spacing = {(float)px, (float)px}};
  }
  free(e);
  subject_work_free(&w);
}

void phantom_measure(const PhantomAtlas *a, const PhantomConfig *c, int32_t nsubj, AnatomyStats *out) {
  const size_t per = (size_t)c->slices * c->size * c->size;
  AnatomyStats *st = callocCheck((size_t)nsubj, sizeof(AnatomyStats));
#pragma omp parallel for schedule(dynamic, 1)
  for (int32_t s = 0; s < nsubj; s++) {
    float *b0 = mallocCheck(sizeof(float) * per), *fa = mallocCheck(sizeof(float) * per);
    float *md = mallocCheck(sizeof(float) * per);
    uint8_t *lab = mallocCheck(per);
    SliceMeta *meta = mallocCheck(sizeof(SliceMeta) * (size_t)c->slices);
    phantom_subject(a, c, s + 1, b0, fa, md, NULL, NULL, lab, meta);
    const double px = c->fov_mm / c->size;
    anatomy_measure(b0, fa, md, c->size, c->size, c->slices, px, px, c->bval, &st[s]);
    free(b0), free(fa), free(md), free(lab), free(meta);
  }
  /* average the per-subject values (NaN-safe) */
  memset(out, 0, sizeof *out);
#define PM_FIELDS(X, S) \
  X(S, cord_b0) X(S, csf_cord) X(S, csf_peak_cord) X(S, csf_peak_cord_low) X(S, csf_ant_cord) X(S, csf_post_cord) \
  X(S, cord_ant_post) X(S, muscle_cord) X(S, outside_cord) X(S, fa_wm) X(S, fa_gm) X(S, fa_muscle) \
  X(S, fa_cord) X(S, md_cord) X(S, snr) X(S, hist[0]) X(S, hist[1]) X(S, hist[2]) X(S, hist[3]) X(S, hist[4]) \
  X(S, hist[5]) X(S, hist[6]) X(S, hist[7]) X(S, hist[8])
#define PM_PTR(S, f) &(S)->f,
  double *dst[] = {PM_FIELDS(PM_PTR, out)}, cnt[sizeof dst / sizeof dst[0]] = {0};
  const int nf = (int)(sizeof dst / sizeof dst[0]);
  for (int32_t s = 0; s < nsubj; s++) {
    out->cord_n += st[s].cord_n, out->slices += st[s].slices;
    AnatomyStats *one = &st[s];
    const double *src[] = {PM_FIELDS(PM_PTR, one)};
    for (int f = 0; f < nf; f++)
      if (isfinite(*src[f])) *dst[f] += *src[f], cnt[f]++;
  }
#undef PM_PTR
#undef PM_FIELDS
  for (int f = 0; f < nf; f++) *dst[f] = cnt[f] ? *dst[f] / cnt[f] : NAN;
  free(st);
}

/* ------------------------------------------------------------- build ---- */
static void write_subject_nifti(const char *dir, const PhantomConfig *c, int32_t subject, const float *b0,
                                const float *fa, const uint8_t *lab) {
  NiftiVol ref;
  memset(&ref, 0, sizeof ref);
  ref.nx = c->size, ref.ny = c->size, ref.nz = c->slices, ref.nt = 1;
  double px = c->fov_mm / c->size, dz = 7.5;
  ref.pix[0] = px, ref.pix[1] = px, ref.pix[2] = dz;
  /* the store's layout: i = columns toward the patient's left (-x), j = rows anterior->posterior (-y),
   * k = slices cranial->caudal (-z); an LPI volume */
  niftigeom_store_affine(px, px, dz, c->size, c->size, ref.xyz);
  size_t n = (size_t)c->slices * c->size * c->size;
  float *lf = mallocCheck(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) lf[i] = lab[i];
  char p[PATH_CAP];
  path_fmt(p, sizeof p, "%s/sub-%03d_b0.nii.gz", dir, subject);
  niftivol_write(p, &ref, 1, b0);
  path_fmt(p, sizeof p, "%s/sub-%03d_fa.nii.gz", dir, subject);
  niftivol_write(p, &ref, 1, fa);
  path_fmt(p, sizeof p, "%s/sub-%03d_labels.nii.gz", dir, subject);
  niftivol_write(p, &ref, 1, lf);
  free(lf);
}

void phantom_build(const PhantomConfig *c, const char *pam50_dir, const char *out_h5, const char *created_by,
                   const char *nifti_dir, const char *png_path) {
  double t0 = cs_now();
  PhantomAtlas a;
  phantom_atlas_load(&a, pam50_dir, c->slab_mm);
  double t1 = cs_now();
  phantom_build_atlas(&a, c, out_h5, created_by, nifti_dir, png_path);
  double t2 = cs_now();
  printf("phantom: %d subjects x %d slices (%dx%d) -> %s in %.2f s (atlas %.2f s, simulation+fit+write %.2f s)\n",
         c->subjects, c->slices, c->size, c->size, out_h5, t2 - t0, t1 - t0, t2 - t1);
  phantom_atlas_free(&a);
}

void phantom_build_atlas(const PhantomAtlas *atlas, const PhantomConfig *c, const char *out_h5,
                         const char *created_by, const char *nifti_dir, const char *png_path) {
  const PhantomAtlas a = *atlas;
  if (nifti_dir) textio_mkdir_p(nifti_dir, "choose a writable --nifti directory");
  H5Store s;
  h5store_create(&s, out_h5, c->size, c->size, 1, created_by);
  const int32_t block = 16, S = c->slices;
  const size_t per = (size_t)S * c->size * c->size;
  float *img = mallocCheck(sizeof(float) * 5 * per * block);
  uint8_t *lab = mallocCheck(per * block);
  SliceMeta *meta = mallocCheck(sizeof(SliceMeta) * (size_t)S * block);
  /* montage: slices 0, S/2, S-1 of the first two subjects */
  int32_t nmont = 0, mcap = 6;
  float *mb0 = mallocCheck(sizeof(float) * mcap * c->size * c->size), *mfa = mallocCheck(sizeof(float) * mcap * c->size * c->size);
  uint8_t *mlab = mallocCheck((size_t)mcap * c->size * c->size);
  const size_t n2 = (size_t)c->size * c->size;
  for (int32_t first = 0; first < c->subjects; first += block) {
    int32_t nb = c->subjects - first < block ? c->subjects - first : block;
#pragma omp parallel for schedule(dynamic, 1)
    for (int32_t b = 0; b < nb; b++) {
      float *base = img + 5 * per * b;
      phantom_subject(&a, c, first + b + 1, base, base + per, base + 2 * per, base + 3 * per, base + 4 * per,
                      lab + per * b, meta + (size_t)S * b);
    }
    for (int32_t b = 0; b < nb; b++) {
      float *base = img + 5 * per * b;
      h5store_append(&s, S, base, base + per, base + 2 * per, base + 3 * per, base + 4 * per, lab + per * b,
                     meta + (size_t)S * b);
      if (nifti_dir) write_subject_nifti(nifti_dir, c, first + b + 1, base, base + per, lab + per * b);
      int32_t pick[3] = {0, S / 2, S - 1};
      for (int q = 0; q < 3 && nmont < mcap && first + b < 2; q++) {
        if (q > 0 && pick[q] == pick[q - 1]) continue;
        memcpy(mb0 + nmont * n2, base + pick[q] * n2, sizeof(float) * n2);
        memcpy(mfa + nmont * n2, base + per + pick[q] * n2, sizeof(float) * n2);
        memcpy(mlab + nmont * n2, lab + per * b + pick[q] * n2, n2);
        nmont++;
      }
    }
    if (c->subjects > block) fprintf(stderr, "\rphantom: %d/%d subjects", first + nb, c->subjects);
  }
  if (c->subjects > block) fprintf(stderr, "\n");
  h5store_commit(&s);
  if (png_path) montage_write_png(png_path, nmont, c->size, c->size, mb0, mfa, mlab, 2);
  free(img), free(lab), free(meta), free(mb0), free(mfa), free(mlab);
}
