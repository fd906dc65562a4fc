/* sim/atlas_synth.c: the built-in stand-in for the PAM50 atlas
 * (`phantom --pam50 synthetic`), so that the phantom, the quickstart and the
 * end-to-end tests run where the PAM50 data set is absent. It fills a
 * PhantomAtlas as phantom_atlas_load would from PAM50, on PAM50's grid (141 x
 * 141 pixels of 0.5 mm, slabs 1 mm apart, C1 margin, C2 .. C7, T1 margin),
 * with geometric shapes in place of the 36 probabilistic tract maps:
 *  cord: an ellipse, 5.8 mm (L-R) x 4.1 mm (A-P) semi-axes, widening to
 *    6.6 x 3.8 mm at the cervical enlargement (C5);
 *  gray matter, in coordinates scaled by those semi-axes (u toward the
 *    patient's left, v posterior): ventral horns (ellipses at u = +-0.38,
 *    v = -0.30), dorsal horns (thin ellipses at u = +-0.31, v = 0.45, leaning
 *    outward) and the grey commissure joining them;
 *  white matter: dorsal columns between the dorsal horns (|u| < 0.27,
 *    v > 0.05), ventral columns in front (v < -0.25 and |u| < 0.5, or
 *    v < -0.6), lateral columns the rest; left where u > 0;
 *  CSF: the ellipse 3 mm (L-R) and 2.5 mm (A-P) wider, outside the cord.
 * Each pixel's fractions come from 4 x 4 sub-samples (partial volume). It is
 * an anatomical caricature: a phantom built on it is not the PAM50 phantom,
 * and the README's figures are measured on PAM50.
 * defines: phantom_atlas_synth */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "sim/phantom.h"

enum { SYN_HW = 141, SYN_SUB = 4, SYN_MARGIN = 10 };
/* slabs per level, cranial to caudal: C1 (margin), C2 .. C7, T1 (margin) */
static const int SYN_LEVEL_SLABS[8] = {SYN_MARGIN, 18, 15, 15, 15, 15, 15, SYN_MARGIN};

static int in_ellipse(double u, double v, double cu, double cv, double ru, double rv, double tilt) {
  const double du = u - cu, dv = v - cv, c = cos(tilt), s = sin(tilt);
  const double x = c * du + s * dv, y = -s * du + c * dv;
  return (x / ru) * (x / ru) + (y / rv) * (y / rv) <= 1.0;
}

/* the class of a point in the cord's scaled coordinates: 0..3 dorsal, lateral, ventral, gray (left side's
 * channels; the caller mirrors), -1 outside the cord */
static int synth_class(double u, double v) {
  if (u * u + v * v > 1.0) return -1;
  const double au = fabs(u);
  const int gray = in_ellipse(au, v, 0.38, -0.30, 0.22, 0.32, 0.0) || in_ellipse(au, v, 0.31, 0.45, 0.09, 0.42, 0.30) ||
                   (au < 0.35 && fabs(v + 0.05) < 0.10);
  if (gray) return 3;
  if (au < 0.27 && v > 0.05) return 0;
  if ((v < -0.25 && au < 0.5) || v < -0.6) return 2;
  return 1;
}

/* one slab's 9 channels at cord semi-axes (sa, sb) mm */
static void synth_slab(float *mp, double sa, double sb, double px_mm) {
  const size_t hw2 = (size_t)SYN_HW * SYN_HW;
  const double c0 = (SYN_HW - 1) / 2.0, w = 1.0 / (SYN_SUB * SYN_SUB);
  const double ca = sa + 3.0, cb = sb + 2.5; /* the CSF's outer ellipse */
  for (int r = 0; r < SYN_HW; r++)
    for (int c = 0; c < SYN_HW; c++) {
      const size_t i = (size_t)r * SYN_HW + (size_t)c;
      for (int sr = 0; sr < SYN_SUB; sr++)
        for (int sc = 0; sc < SYN_SUB; sc++) {
          const double x = (c - c0 + (sc + 0.5) / SYN_SUB - 0.5) * px_mm; /* + toward the patient's left */
          const double y = (r - c0 + (sr + 0.5) / SYN_SUB - 0.5) * px_mm; /* + posterior */
          const int k = synth_class(x / sa, y / sb);
          if (k >= 0) mp[(size_t)(k + (x > 0 ? 0 : 4)) * hw2 + i] += (float)w;
          else if ((x / ca) * (x / ca) + (y / cb) * (y / cb) <= 1.0) mp[(size_t)8 * hw2 + i] += (float)w;
        }
    }
}

void phantom_atlas_synth(PhantomAtlas *a, double slab_mm) {
  memset(a, 0, sizeof *a);
  int32_t n = 0;
  for (int l = 0; l < 8; l++) n += SYN_LEVEL_SLABS[l];
  a->n = n, a->hw = SYN_HW, a->px_mm = 0.5, a->step_mm = 1.0;
  a->first_c2 = SYN_LEVEL_SLABS[0], a->last_c7 = n - SYN_LEVEL_SLABS[7] - 1;
  a->level = mallocCheck(sizeof(int32_t) * (size_t)n);
  for (int32_t l = 0, m = 0; l < 8; l++)
    for (int q = 0; q < SYN_LEVEL_SLABS[l]; q++) a->level[m++] = l + 1; /* PAM50 coding: 1 = C1 .. 8 = T1 */
  int32_t c5 = SYN_LEVEL_SLABS[0] + SYN_LEVEL_SLABS[1] + SYN_LEVEL_SLABS[2] + SYN_LEVEL_SLABS[3] + SYN_LEVEL_SLABS[4] / 2;
  const size_t hw2 = (size_t)SYN_HW * SYN_HW;
  a->maps = callocCheck((size_t)n * PHANTOM_NCH * hw2, sizeof(float));
#pragma omp parallel for schedule(dynamic, 1)
  for (int32_t m = 0; m < n; m++) {
    const double e = exp(-((m - c5) / 25.0) * ((m - c5) / 25.0)); /* the cervical enlargement */
    synth_slab(a->maps + (size_t)m * PHANTOM_NCH * hw2, 5.8 + 0.8 * e, 4.1 - 0.3 * e, a->px_mm);
  }
  phantom_atlas_finish(a, slab_mm);
}
