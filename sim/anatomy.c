/* sim/anatomy.c: the anatomy around the cord, the acquisition effects and the
 * phantom-vs-real measurements (model and ranges in sim/anatomy.h). */
#include "sim/anatomy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/dti.h"
#include "io/hash.h"
#include "io/prep.h"
#include "io/montage.h"
#include "io/niftigeom.h"
#include "io/niftivol.h"

static double uni(Rng *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

void anatomy_subject_draw(AnatomySubject *s, uint64_t seed, int32_t subject) {
  Rng r;
  rng_init(&r, hash_mix3(seed, (uint64_t)subject, 0xa7a70b1eULL));
  memset(s, 0, sizeof *s);
  s->canal_a = uni(&r, 10.5, 12.5), s->canal_b = uni(&r, 6.5, 8.0);
  s->body_a = uni(&r, 8, 10), s->body_b = uni(&r, 7, 8.5), s->body_gap = uni(&r, 1.0, 1.5);
  s->ped_w = uni(&r, 4, 5.5);
  s->mass_x = s->canal_a + uni(&r, 4.5, 6), s->mass_y = uni(&r, 1.5, 3.5), s->mass_r = uni(&r, 5, 6.5);
  s->facet_ang = uni(&r, -0.5, -0.2); /* the joint line runs antero-medial -> postero-lateral, seen axially */
  s->va_r = uni(&r, 1.8, 2.6);
  s->va_x = s->mass_x + uni(&r, -0.5, 1.5), s->va_y = s->mass_y - s->mass_r - s->va_r - uni(&r, 0.3, 1.0);
  s->lam_t = uni(&r, 2.5, 3.5), s->spin_len = uni(&r, 0.85, 1.15), s->spin_w = uni(&r, 3.5, 5);
  s->neck_a = uni(&r, 48, 60), s->neck_b = uni(&r, 45, 58), s->neck_y = uni(&r, -8, 2), s->subcut = uni(&r, 4, 9);
  const double body_front = -(s->canal_b + s->body_gap + 2 * s->body_b);
  s->car_x = uni(&r, 17, 22), s->car_y = body_front + uni(&r, -2, 2), s->car_r = uni(&r, 2.5, 3.5);
  s->phar_a = uni(&r, 8, 12), s->phar_b = uni(&r, 3, 6), s->phar_y = body_front - uni(&r, 4, 8) - s->phar_b;
  s->mus_x = uni(&r, 10, 14), s->mus_y = s->canal_b + uni(&r, 14, 18), s->mus_a = uni(&r, 10, 13),
  s->mus_b = uni(&r, 12, 16);
  for (int q = 0; q < 2; q++) s->septa_k[q] = uni(&r, 0.25, 0.45), s->septa_ph[q] = uni(&r, 0, 6.283185307179586);
  s->cord_dx = uni(&r, -0.8, 0.8), s->cord_dy = uni(&r, -1.0, 0.5);
  s->fov_dx = uni(&r, -10, 10), s->fov_dy = uni(&r, -7, 7);
  /* tissue: b=0 signal x gain (CSF = 1), diffusivities mm^2/s */
  s->s0[AT_OTHER] = uni(&r, 0.25, 0.40), s->dpar[AT_OTHER] = 1.8e-3, s->dperp[AT_OTHER] = 1.2e-3;
  s->s0[AT_BONE] = uni(&r, 0.0, 0.03), s->dpar[AT_BONE] = s->dperp[AT_BONE] = 0.3e-3;
  s->s0[AT_MARROW] = uni(&r, 0.08, 0.18), s->dpar[AT_MARROW] = s->dperp[AT_MARROW] = uni(&r, 0.3e-3, 0.6e-3);
  s->s0[AT_DISC] = uni(&r, 0.35, 0.60), s->dpar[AT_DISC] = s->dperp[AT_DISC] = uni(&r, 1.2e-3, 1.8e-3);
  s->s0[AT_FLUID] = uni(&r, 0.60, 1.00), s->dpar[AT_FLUID] = s->dperp[AT_FLUID] = uni(&r, 2.5e-3, 3.0e-3);
  s->s0[AT_FAT] = uni(&r, 0.03, 0.10), s->dpar[AT_FAT] = s->dperp[AT_FAT] = uni(&r, 0.1e-3, 0.3e-3);
  s->s0[AT_MUS_L] = s->s0[AT_MUS_R] = uni(&r, 0.15, 0.27);
  s->dpar[AT_MUS_L] = s->dpar[AT_MUS_R] = uni(&r, 1.9e-3, 2.3e-3);
  s->dperp[AT_MUS_L] = s->dperp[AT_MUS_R] = uni(&r, 0.9e-3, 1.3e-3);
  s->s0[AT_VESSEL] = uni(&r, 0.02, 0.25), s->dpar[AT_VESSEL] = s->dperp[AT_VESSEL] = uni(&r, 8e-3, 12e-3);
  s->s0[AT_AIR] = 0, s->dpar[AT_AIR] = s->dperp[AT_AIR] = 3e-3;
  double ml = uni(&r, 10, 30) * 0.017453292519943295, ap = uni(&r, 5, 20) * 0.017453292519943295;
  s->mus_dir[0] = sin(ml), s->mus_dir[1] = sin(ap),
  s->mus_dir[2] = sqrt(fmax(0, 1 - sin(ml) * sin(ml) - sin(ap) * sin(ap)));
  for (int q = 0; q < 3; q++) {
    double ang = uni(&r, 0, 6.283185307179586), k = uni(&r, 0.3, 0.9); /* rad/mm */
    s->tex_k[q][0] = k * cos(ang), s->tex_k[q][1] = k * sin(ang), s->tex_ph[q] = uni(&r, 0, 6.283185307179586);
  }
  /* acquisition */
  s->bias[0] = uni(&r, -0.15, 0.15), s->bias[1] = uni(&r, -0.15, 0.15);
  s->bias[2] = uni(&r, -0.12, 0.12), s->bias[3] = uni(&r, -0.12, 0.12), s->bias[4] = uni(&r, -0.1, 0.1);
  s->ghost = uni(&r, 0.01, 0.04);
  s->dist_amp = uni(&r, 0.3, 1.2), s->dist_k = 6.283185307179586 / uni(&r, 60, 120),
  s->dist_ph = uni(&r, 0, 6.283185307179586);
  s->motion_sd = uni(&r, 0.1, 0.35), s->puls_p = uni(&r, 0.1, 0.3);
  s->csf_scale = uni(&r, 1.0, 1.5), s->other_scale = uni(&r, 0.5, 0.7);
  s->wm_perp_scale = uni(&r, 0.45, 0.65);
  /* the dural sac, drawn after everything above so the other draws keep their values */
  s->sas_lat[0] = uni(&r, 4.0, 6.5), s->sas_ant[0] = uni(&r, 3.0, 5.0), s->sas_post[0] = uni(&r, 3.0, 5.5);
  s->sas_lat[1] = uni(&r, 1.0, 3.0), s->sas_ant[1] = uni(&r, 1.0, 3.0), s->sas_post[1] = uni(&r, 1.0, 3.0);
  s->epi_min = uni(&r, 0.3, 1.0);
  s->noise_scale = uni(&r, 1.15, 1.5);
  s->csf_low[0] = 0.55, s->csf_low[1] = 1.0;
  s->ap_fov = rng_uniform(&r) < 0.5 ? uni(&r, 28, 44) : 0, s->ap_fov_dy = uni(&r, -4, 4);
  /* drawn last: the draws above keep their values */
  s->s0[AT_PLEXUS] = uni(&r, 0.35, 0.70), s->dpar[AT_PLEXUS] = s->dperp[AT_PLEXUS] = uni(&r, 3e-3, 6e-3);
  s->plexus_mm = uni(&r, 1.0, 2.5);
  /* the nerve roots, drawn after the plexus: the draws above keep their values */
  s->s0[AT_ROOT] = uni(&r, 0.45, 0.65), s->dpar[AT_ROOT] = uni(&r, 1.4e-3, 1.8e-3);
  s->dperp[AT_ROOT] = uni(&r, 0.3e-3, 0.5e-3);
  s->root_w = uni(&r, 0.6, 1.2);
  s->root_y[0] = uni(&r, 0.35, 0.6), s->root_y[1] = uni(&r, 0.3, 0.55);
  s->root_ang[0] = uni(&r, 5, 25) * 0.017453292519943295, s->root_ang[1] = uni(&r, 15, 35) * 0.017453292519943295;
  s->root_vis[0] = 0.2, s->root_vis[1] = 0.7;
  s->plexus_lat = uni(&r, 1.5, 3.5), s->plexus_back = uni(&r, 0.0, 0.4);
}

/* documented ratios of the bony canal by level to the C3-C7 mean (sim/anatomy.h), PAM50 coding
 * 1 = C1 ... 7 = C7, 8 = T1 */
void anatomy_canal(const AnatomySubject *s, int level, double *semi_lr, double *semi_ap) {
  static const double ap[9] = {1.35, 1.35, 1.155, 1.014, 0.976, 0.982, 1.008, 1.021, 1.02};
  static const double lr[9] = {1.10, 1.10, 0.96, 0.961, 0.995, 1.027, 1.033, 0.986, 0.95};
  const int l = level < 0 ? 0 : level > 8 ? 8 : level;
  *semi_lr = s->canal_a * lr[l], *semi_ap = s->canal_b * ap[l];
}

void anatomy_sas(const AnatomySubject *s, int level, double *lat, double *ant, double *post) {
  const double w = level <= 2 ? 1 : level == 3 ? 0.5 : 0; /* weight of the C2 values */
  *lat = w * s->sas_lat[0] + (1 - w) * s->sas_lat[1];
  *ant = w * s->sas_ant[0] + (1 - w) * s->sas_ant[1];
  *post = w * s->sas_post[0] + (1 - w) * s->sas_post[1];
}

static double seg_dist(double x, double y, double x1, double y1, double x2, double y2) {
  double dx = x2 - x1, dy = y2 - y1, t = ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy);
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  double ex = x - x1 - t * dx, ey = y - y1 - t * dy;
  return sqrt(ex * ex + ey * ey);
}

void anatomy_root_vis(const AnatomySubject *s, uint64_t seed, int32_t subject, int32_t slice, double vis[4]) {
  Rng r;
  rng_init(&r, hash_mix3(seed, (uint64_t)subject, 9000 + (uint64_t)slice));
  for (int q = 0; q < 4; q++) vis[q] = uni(&r, s->root_vis[0], s->root_vis[1]);
}

double anatomy_root_frac(const AnatomySubject *s, double x, double y, double el, double er, double ea, double ep,
                         const double vis[4]) {
  double f = 0;
  for (int side = 0; side < 2; side++) {
    const double sg = side ? -1 : 1, ext = side ? er : el; /* x toward the patient's left */
    for (int q = 0; q < 2; q++) {
      /* from the cord's anterolateral (q = 0) / posterolateral (q = 1) surface, 25 mm laterally and forward */
      const double fy = s->root_y[q], y1 = q ? fy * ep : -fy * ea, x1 = sg * ext * sqrt(fmax(0, 1 - fy * fy));
      const double x2 = x1 + sg * 25 * cos(s->root_ang[q]), y2 = y1 - 25 * sin(s->root_ang[q]);
      const double d = seg_dist(x, y, x1, y1, x2, y2), h = 0.5 * s->root_w;
      /* a soft edge over 0.3 mm: the strand's share falls from vis to 0 */
      const double w = d <= h - 0.15 ? 1 : d >= h + 0.15 ? 0 : (h + 0.15 - d) / 0.3;
      f = fmax(f, w * vis[side * 2 + q]);
    }
  }
  return f;
}

/* spinous process length (mm) by PAM50 level: 2 = C2 ... 7 = C7, 8 = T1 */
static double spinous_len(int level) {
  static const double len[9] = {20, 20, 24, 14, 14, 15, 20, 27, 27};
  return len[level < 0 ? 0 : level > 8 ? 8 : level];
}

int anatomy_class(const AnatomySubject *s, double x, double y, int level, double cs) {
  const double ax = fabs(x);
  const int left = x > 0;
  /* neck outline and subcutaneous fat */
  double nu = x / s->neck_a, nv = (y - s->neck_y) / s->neck_b, nr = sqrt(nu * nu + nv * nv);
  if (nr > 1) return AT_AIR;
  if (nr > 1 - s->subcut / fmin(s->neck_a, s->neck_b)) return AT_FAT;
  const double cb = s->canal_b * cs;
  if (anatomy_in_ellipse(x, y, 0, 0, s->canal_a, cb)) return AT_CANAL;
  /* vertebral body (superellipse), 1 mm cortical rim */
  const double by = -(cb + s->body_gap + s->body_b);
  double bu = x / s->body_a, bv = (y - by) / s->body_b, b4 = bu * bu * bu * bu + bv * bv * bv * bv;
  if (b4 <= 1) {
    double iu = x / (s->body_a - 1), iv = (y - by) / (s->body_b - 1);
    return iu * iu * iu * iu + iv * iv * iv * iv <= 1 ? AT_BODY : AT_BONE;
  }
  /* pedicles */
  if (ax > s->canal_a * 0.6 && ax < s->mass_x && y > -cb * 0.9 && y < -cb * 0.9 + s->ped_w) return AT_BONE;
  /* lateral masses with the facet joint */
  if (anatomy_in_ellipse(ax, y, s->mass_x, s->mass_y, s->mass_r, s->mass_r * 0.85)) {
    double ca = cos(s->facet_ang), sa = sin(s->facet_ang);
    double d = fabs(-(ax - s->mass_x) * sa + (y - s->mass_y) * ca);
    return d < 0.75 ? AT_FACET : AT_BONE;
  }
  /* vertebral arteries in the transverse foramina (anterior to the transverse process at C7) */
  const int c7 = level >= 7;
  const double vy = c7 ? s->va_y - 5 : s->va_y;
  if (anatomy_in_ellipse(ax, y, s->va_x, vy, s->va_r, s->va_r)) return AT_VESSEL;
  if (!c7 && anatomy_in_ellipse(ax, y, s->va_x, vy, s->va_r + 1.2, s->va_r + 1.2)) return AT_BONE;
  if (ax > s->mass_x && ax < s->va_x + s->va_r + 4 && fabs(y - s->va_y) < 2.2) return AT_BONE; /* transverse process */
  /* laminae and spinous process */
  const double lam_y = cb + 3.0;
  if (seg_dist(ax, y, s->mass_x - 2, s->mass_y + s->mass_r * 0.6, 0, lam_y) < s->lam_t / 2) return AT_BONE;
  if (ax < s->spin_w / 2 && y > cb + 1 && y < lam_y + spinous_len(level) * s->spin_len) return AT_BONE;
  /* carotid arteries and jugular veins */
  if (anatomy_in_ellipse(ax, y, s->car_x, s->car_y, s->car_r, s->car_r)) return AT_VESSEL;
  if (anatomy_in_ellipse(ax, y, s->car_x + 6, s->car_y + 1, s->car_r * 1.3, s->car_r)) return AT_VESSEL;
  /* pharynx (C2-C5) / oesophagus (C6-T1) */
  double pa = level >= 6 ? s->phar_a * 0.4 : s->phar_a, pb = level >= 6 ? s->phar_b * 0.5 : s->phar_b;
  if (anatomy_in_ellipse(x, y, 0, s->phar_y, pa, pb)) return AT_AIR;
  /* longus colli */
  if (anatomy_in_ellipse(ax, y, s->body_a * 0.6, by - s->body_b * 0.5, 3.5, 4)) return left ? AT_MUS_L : AT_MUS_R;
  /* paraspinal muscles with fat septa; lateral neck muscles */
  int mus = (y > cb * 0.3 && anatomy_in_ellipse(ax, y, s->mus_x, s->mus_y, s->mus_a, s->mus_b)) ||
            anatomy_in_ellipse(ax, y, s->mass_x + 15, -1, 10, 13);
  if (mus) {
    for (int q = 0; q < 2; q++)
      if (fabs(sin(s->septa_k[q] * (q ? ax + y : ax - 0.4 * y) + 1.5 * sin(0.15 * (q ? y : ax)) + s->septa_ph[q])) <
          0.07)
        return AT_FAT;
    return left ? AT_MUS_L : AT_MUS_R;
  }
  return AT_OTHER;
}

/* ----------------------------------------------------------- measure ---- */
static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}
typedef struct {
  float *v;
  int64_t n, cap;
} Vec;
static void vpush(Vec *v, float x) {
  if (v->n == v->cap) {
    v->cap = v->cap ? 2 * v->cap : 1024;
    float *nv = realloc(v->v, sizeof(float) * (size_t)v->cap);
    if (!nv) cs_fatal("free memory", "anatomy: out of memory");
    v->v = nv;
  }
  v->v[v->n++] = x;
}
static double vquant(Vec *v, double q) {
  if (!v->n) return NAN;
  qsort(v->v, (size_t)v->n, sizeof(float), cmp_f);
  int64_t i = (int64_t)(q * (double)(v->n - 1) + 0.5);
  return v->v[i];
}

/* the samples a measurement pools: over slices, and per slice (reset each slice) the cord's and the ring's
 * B0, the ring in front of / behind the cord, the eroded cord in front of / behind its centre; over slices
 * their ratios */
typedef struct {
  Vec nd, cord, wm, gm, csf, mus, musfa, out, cordfa, cordmd;
  Vec slcord, slring, slant, slpost, cant, cpost;
  Vec peak, pant, ppost, capr;
} Samples;

static void samples_free(Samples *S) {
  Vec *v = (Vec *)S;
  for (size_t i = 0; i < sizeof *S / sizeof(Vec); i++) free(v[i].v);
}

/* one slice's cord (mask m, nm pixels mi[] around the centroid (cr, cc), ellipse semi-axes sa, sb mm) */
typedef struct {
  const uint8_t *m;
  const int64_t *mi;
  int64_t nm, rows, cols;
  double cr, cc, sa, sb, row_mm, col_mm;
} SliceCord;

/* the cord's pixels: B0, FA, MD; the eroded cord in front of / behind its centre; GM and WM FA by radius */
static void measure_cord(const SliceCord *k, const float *B, const float *F, const float *M, Samples *S) {
  const int64_t cols = k->cols, rows = k->rows;
  for (int64_t q = 0; q < k->nm; q++) {
    int64_t i = k->mi[q];
    double dx = ((double)(i % cols) - k->cc) * k->col_mm, dy = ((double)(i / cols) - k->cr) * k->row_mm;
    double rho = sqrt(dx * dx / (k->sa * k->sa) + dy * dy / (k->sb * k->sb));
    vpush(&S->cord, B[i]), vpush(&S->cordfa, F[i]), vpush(&S->cordmd, M[i]), vpush(&S->slcord, B[i]);
    const int64_t ir = i / cols, ic = i % cols; /* the eroded cord: its 4 neighbours inside */
    const uint8_t *m = k->m;
    if (ir > 0 && ir + 1 < rows && ic > 0 && ic + 1 < cols && m[i - 1] && m[i + 1] && m[i - cols] && m[i + cols])
      vpush(dy < 0 ? &S->cant : &S->cpost, B[i]);
    if (rho < 0.4)
      vpush(&S->gm, F[i]);
    else if (rho > 0.55 && rho < 0.9)
      vpush(&S->wm, F[i]);
  }
}

/* the pixels around the cord: the CSF ring (<= 2.5 mm), outside (> 8 mm, and its noise differences), muscle */
static void measure_around(const SliceCord *k, const float *B, const float *F, Samples *S) {
  const int64_t cols = k->cols, n2 = k->rows * cols;
  for (int64_t i = 0; i < n2; i++) {
    if (k->m[i]) continue;
    double dx = ((double)(i % cols) - k->cc) * k->col_mm, dy = ((double)(i / cols) - k->cr) * k->row_mm;
    if (fabs(dx) > 40 || fabs(dy) > 14) continue;
    double d2 = 1e30;
    for (int64_t q = 0; q < k->nm; q++) {
      double ex = ((double)(k->mi[q] % cols) - (double)(i % cols)) * k->col_mm;
      double ey = ((double)(k->mi[q] / cols) - (double)(i / cols)) * k->row_mm;
      double e = ex * ex + ey * ey;
      if (e < d2) d2 = e;
    }
    double d = sqrt(d2);
    if (d <= 2.5) {
      vpush(&S->csf, B[i]), vpush(&S->slring, B[i]);
      if (fabs(dx) < 0.5 * k->sa) vpush(dy < 0 ? &S->slant : &S->slpost, B[i]); /* in front of / behind the cord */
    }
    if (d > 8) {
      vpush(&S->out, B[i]);
      if (i % cols + 1 < cols && !k->m[i + 1]) vpush(&S->nd, B[i + 1] - B[i]);
    }
    if (d > 6 && fabs(dx) >= 14 && fabs(dx) <= 32 && fabs(dy) <= 10) vpush(&S->mus, B[i]), vpush(&S->musfa, F[i]);
  }
}

/* the ring's bright part in this slice against this slice's cord: whether CSF is brighter than the cord
 * where the sac is thin (the ring's median mixes CSF with what lies beyond a thin sac); then the per-slice
 * samples reset */
static void measure_slice_ratios(Samples *S) {
  const double sc_med = vquant(&S->slcord, 0.5), sr_peak = vquant(&S->slring, 0.9);
  if (sc_med > 0 && isfinite(sr_peak)) vpush(&S->peak, (float)(sr_peak / sc_med));
  const double sa_peak = vquant(&S->slant, 0.9), sp_peak = vquant(&S->slpost, 0.9);
  if (sc_med > 0 && isfinite(sa_peak)) vpush(&S->pant, (float)(sa_peak / sc_med));
  if (sc_med > 0 && isfinite(sp_peak)) vpush(&S->ppost, (float)(sp_peak / sc_med));
  const double ca_med = vquant(&S->cant, 0.5), cp_med = vquant(&S->cpost, 0.5);
  if (cp_med > 0 && isfinite(ca_med)) vpush(&S->capr, (float)(ca_med / cp_med));
  S->slcord.n = S->slring.n = S->slant.n = S->slpost.n = S->cant.n = S->cpost.n = 0;
}

/* the pooled samples -> the statistics (ratios to the cord's median B0) */
static void measure_summarise(Samples *S, AnatomyStats *o) {
  double c = vquant(&S->cord, 0.5);
  o->cord_b0 = c;
  o->csf_cord = vquant(&S->csf, 0.5) / c, o->muscle_cord = vquant(&S->mus, 0.5) / c;
  o->outside_cord = vquant(&S->out, 0.5) / c;
  o->csf_peak_cord = vquant(&S->peak, 0.5), o->csf_peak_cord_low = vquant(&S->peak, 0.1);
  o->csf_ant_cord = vquant(&S->pant, 0.5), o->csf_post_cord = vquant(&S->ppost, 0.5);
  o->cord_ant_post = vquant(&S->capr, 0.5);
  o->fa_wm = vquant(&S->wm, 0.5), o->fa_gm = vquant(&S->gm, 0.5), o->fa_muscle = vquant(&S->musfa, 0.5);
  o->fa_cord = vquant(&S->cordfa, 0.5), o->md_cord = vquant(&S->cordmd, 0.5);
  for (int q = 0; q < 9; q++) o->hist[q] = vquant(&S->out, 0.1 * (q + 1)) / c;
  Vec *nd = &S->nd;
  double med = vquant(nd, 0.5);
  for (int64_t i = 0; i < nd->n; i++) nd->v[i] = fabsf(nd->v[i] - (float)med);
  o->snr = c / (1.4826 * vquant(nd, 0.5) / sqrt(2.0));
}

/* rows outside a reduced field of view (all zero in every slice) are not image: [*r0, *r1) is the rest */
static void measure_fov_rows(const float *b0, int64_t rows, int64_t cols, int64_t nz, int64_t *r0_out, int64_t *r1_out) {
  int64_t r0 = 0, r1 = rows;
  for (int pass = 0; pass < 2; pass++)
    for (;;) {
      const int64_t r = pass ? r1 - 1 : r0;
      if (r1 - r0 <= 1) break;
      int zero = 1;
      for (int64_t z = 0; z < nz && zero; z++)
        for (int64_t c = 0; c < cols && zero; c++) zero = b0[(z * rows + r) * cols + c] == 0;
      if (!zero) break;
      if (pass) r1--;
      else r0++;
    }
  *r0_out = r0, *r1_out = r1;
}

/* the cord mask: the proxy at b >= 1000 whatever the acquisition's b: CSF (MD 3e-3) is then dark in both a
 * b=600 phantom and a b=800 real series, so the mask is the cord, not the cord and its CSF ring */
static uint8_t *measure_mask(const float *b0, const float *md, int64_t rows, int64_t cols, int64_t nz, double bval) {
  const int64_t nv = rows * cols * nz;
  float *proxy = mallocCheck(sizeof(float) * (size_t)nv);
  const double bp = fmax(bval, 1000);
  for (int64_t i = 0; i < nv; i++) proxy[i] = b0[i] * (float)exp(-bp * fmax(0, md[i]));
  uint8_t *mask = mallocCheck((size_t)nv);
  dti_cord_mask(proxy, cols, rows, nz, DTI_CORD_MASK_K, 0, mask);
  free(proxy);
  return mask;
}

void anatomy_measure(const float *b0, const float *fa, const float *md, int64_t rows, int64_t cols, int64_t nz,
                     double row_mm, double col_mm, double bval, AnatomyStats *o) {
  int64_t r0, r1;
  measure_fov_rows(b0, rows, cols, nz, &r0, &r1);
  if (r0 > 0 || r1 < rows) { /* measure the rows inside the field of view */
    const int64_t nr = r1 - r0, m2 = nr * cols;
    float *sub = mallocCheck(sizeof(float) * 3 * (size_t)(m2 * nz));
    for (int64_t z = 0; z < nz; z++) {
      const size_t src = (size_t)((z * rows + r0) * cols), dst = (size_t)(z * m2);
      memcpy(sub + dst, b0 + src, sizeof(float) * (size_t)m2);
      memcpy(sub + (size_t)(m2 * nz) + dst, fa + src, sizeof(float) * (size_t)m2);
      memcpy(sub + (size_t)(2 * m2 * nz) + dst, md + src, sizeof(float) * (size_t)m2);
    }
    anatomy_measure(sub, sub + m2 * nz, sub + 2 * m2 * nz, nr, cols, nz, row_mm, col_mm, bval, o);
    free(sub);
    return;
  }
  const int64_t n2 = rows * cols;
  uint8_t *mask = measure_mask(b0, md, rows, cols, nz, bval);
  Samples S;
  memset(&S, 0, sizeof S);
  memset(o, 0, sizeof *o);
  int64_t *mi = mallocCheck(sizeof(int64_t) * (size_t)n2);
  for (int64_t z = 0; z < nz; z++) {
    SliceCord k = {.m = mask + z * n2, .mi = mi, .rows = rows, .cols = cols, .row_mm = row_mm, .col_mm = col_mm};
    double sr = 0, sc = 0;
    for (int64_t i = 0; i < n2; i++)
      if (k.m[i]) mi[k.nm++] = i, sr += (double)(i / cols), sc += (double)(i % cols);
    if (k.nm < 5) continue;
    o->slices++, o->cord_n += k.nm;
    k.cr = sr / k.nm, k.cc = sc / k.nm;
    double vr = 0, vc = 0;
    for (int64_t q = 0; q < k.nm; q++) {
      double dr = (double)(mi[q] / cols) - k.cr, dc = (double)(mi[q] % cols) - k.cc;
      vr += dr * dr, vc += dc * dc;
    }
    k.sa = 2 * sqrt(vc / k.nm) * col_mm, k.sb = 2 * sqrt(vr / k.nm) * row_mm; /* ellipse semi-axes */
    measure_cord(&k, b0 + z * n2, fa + z * n2, md + z * n2, &S);
    measure_around(&k, b0 + z * n2, fa + z * n2, &S);
    measure_slice_ratios(&S);
  }
  free(mi), free(mask);
  measure_summarise(&S, o);
  samples_free(&S);
}

void anatomy_measure_dwi(const char *dwi_path, const char *bvals, const char *bvecs, const char *png,
                         AnatomyStats *out) {
  NiftiVol dwi;
  niftivol_read(&dwi, dwi_path);
  niftivol_check_finite(&dwi);
  prep_check_dwi(&dwi);
  CS_CHECK(dwi.nt >= 7, "give the 4-D DWI series (b=0 and >= 6 directions)", "--compare %s: has %lld volumes", dwi_path,
           (long long)dwi.nt);
  double *bv = NULL, *bg = NULL;
  dti_read_bvals_bvecs(bvals, bvecs, (int32_t)dwi.nt, &bv, &bg);
  DtiModel m;
  dti_model_init(&m, bv, bg, (int32_t)dwi.nt, bvals);
  double bmean = 0;
  for (int32_t v = 0; v < m.n; v++)
    if (!m.is_b0[v]) bmean += bv[v] / (m.n - m.n_b0);
  const int64_t nvox = dwi.nx * dwi.ny * dwi.nz;
  float *maps[3];
  for (int q = 0; q < 3; q++) maps[q] = mallocCheck(sizeof(float) * (size_t)nvox);
  dti_fit_volume(&m, dwi.data, nvox, maps[0], maps[1], maps[2], NULL, NULL);
  dti_model_free(&m);
  NiftiAxial ax;
  NiftiVol ref = dwi;
  ref.nt = 1;
  niftigeom_axial_axes(&ref, &ax);
  const int64_t ns = niftigeom_axial_count(&ref, &ax);
  int64_t rows = 0, cols = 0;
  float *st[3];
  for (int q = 0; q < 3; q++) {
    ref.data = maps[q];
    st[q] = mallocCheck(sizeof(float) * (size_t)nvox);
    for (int64_t s = 0; s < ns; s++) {
      niftigeom_axial_slice(&ref, &ax, 0, s, st[q] + (size_t)(s * (nvox / ns)), &rows, &cols);
    }
  }
  anatomy_measure(st[0], st[1], st[2], rows, cols, ns, ax.row_mm, ax.col_mm, bmean, out);
  if (png) {
    int32_t np = 0;
    const size_t n2 = (size_t)(rows * cols);
    float *pb = mallocCheck(sizeof(float) * n2 * 6), *pf = mallocCheck(sizeof(float) * n2 * 6);
    uint8_t *pl = callocCheck(n2 * 6, 1);
    for (int64_t s = 0; s < ns && np < 6; s += (ns + 5) / 6, np++)
      memcpy(pb + np * n2, st[0] + s * n2, sizeof(float) * n2),
          memcpy(pf + np * n2, st[1] + s * n2, sizeof(float) * n2);
    montage_write_png(png, np, (int32_t)rows, (int32_t)cols, pb, pf, pl, 3);
    free(pb), free(pf), free(pl);
  }
  for (int q = 0; q < 3; q++) free(maps[q]), free(st[q]);
  free(bv), free(bg);
  niftivol_free(&dwi);
}

void anatomy_stats_print(int n, const AnatomyStats *st, const char *const *names) {
  printf("%-36s", "measure");
  for (int j = 0; j < n; j++) printf(" %14s", names[j]);
  printf("\n");
#define ROW(label, expr, fmt)                               \
  do {                                                      \
    printf("%-36s", label);                                 \
    for (int j = 0; j < n; j++) printf(" %14" fmt, (expr)); \
    printf("\n");                                           \
  } while (0)
  ROW("cord mask voxels per slice", st[j].slices ? (double)st[j].cord_n / (double)st[j].slices : 0.0, ".1f");
  ROW("SNR (cord B0 / neighbour-diff SD)", st[j].snr, ".1f");
  ROW("B0 CSF ring (<=2.5 mm) / cord", st[j].csf_cord, ".3f");
  ROW("B0 ring p90 / cord, slice median", st[j].csf_peak_cord, ".3f");
  ROW("B0 ring p90 / cord, slice decile 10%", st[j].csf_peak_cord_low, ".3f");
  ROW("B0 ring p90 anterior / cord", st[j].csf_ant_cord, ".3f");
  ROW("B0 ring p90 posterior / cord", st[j].csf_post_cord, ".3f");
  ROW("B0 cord anterior / posterior half", st[j].cord_ant_post, ".3f");
  ROW("B0 paravertebral (muscle) / cord", st[j].muscle_cord, ".3f");
  ROW("B0 outside canal (>8 mm) / cord", st[j].outside_cord, ".3f");
  ROW("FA cord WM (rim)", st[j].fa_wm, ".3f");
  ROW("FA cord GM (core)", st[j].fa_gm, ".3f");
  ROW("FA cord (all)", st[j].fa_cord, ".3f");
  ROW("FA paravertebral (muscle)", st[j].fa_muscle, ".3f");
  ROW("MD cord (1e-3 mm^2/s)", st[j].md_cord * 1e3, ".3f");
  for (int q = 0; q < 9; q++) {
    char lab[64];
    snprintf(lab, sizeof lab, "outside B0/cord, decile %d0%%", q + 1);
    ROW(lab, st[j].hist[q], ".3f");
  }
#undef ROW
}
