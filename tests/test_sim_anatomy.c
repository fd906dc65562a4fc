/* tests/test_sim_anatomy.c: the phantom's `--anatomy full` mode (sim/anatomy.h).
 *  - every tissue at its place relative to the cord, in world coordinates
 *    (RAS+ through niftigeom_store_affine, the phantom's NIfTI export):
 *    vertebral body/disc anterior, posterior bone (laminae, spinous process)
 *    behind the cord and on the midline, the epidural venous plexus in front
 *    of and beside the cord (none behind it), nerve roots beside the cord on
 *    both sides (none in front of or behind it), left muscles at the patient's left
 *    (RAS x < cord), right muscles at the right, vertebral arteries and facet
 *    fluid lateral on both sides, epidural fat close to the cord;
 *  - the bony canal per level inside its documented ranges (C2 wider in AP
 *    than C5) and the dural sac's CSF per level: at C2 a ring on all four
 *    sides of the cord, wider than at C6 and brighter than the cord in b0;
 *  - white matter more anisotropic than gray matter (labels) and muscle FA
 *    0.25..0.6 (tissue map);
 *  - the contrast ratios of the --compare procedure inside the ranges
 *    documented in sim/anatomy.h, for the phantom and (when ../shared/data has
 *    it) the real sct_dmri series;
 *  - seeded determinism (1 vs 2 threads, another seed differs) and
 *    `--anatomy none` reproducing the bytes of the phantom before the anatomy
 *    existed (4 x 3, seed 42: checksum 43587c361313528c, recorded at 8d02583).
 * Without ../shared/data/PAM50 it runs on the synthetic atlas (sim/atlas_synth.c). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "sim/anatomy.h"
#include "io/h5store.h"
#include "io/niftigeom.h"
#include "sim/phantom.h"
#include "tests/testutil.h"

static uint64_t stored_checksum(const char *path) {
  H5Store s;
  h5store_open(&s, path);
  uint64_t got, want;
  int ok = h5store_verify(&s, &got, &want);
  T_CHECK(ok, "'%s' verifies", path);
  h5store_close(&s);
  return want;
}

/* documented in sim/anatomy.h */
#define CSF_LO 0.7
#define CSF_HI 1.4
#define MUS_LO 0.2
#define MUS_HI 0.5
#define OUT_LO 0.2
#define OUT_HI 0.5

static void check_ranges(const char *what, const AnatomyStats *s) {
  printf("%s: CSF/cord %.3f muscle/cord %.3f outside/cord %.3f; FA WM %.3f GM %.3f muscle %.3f; SNR %.1f\n", what,
         s->csf_cord, s->muscle_cord, s->outside_cord, s->fa_wm, s->fa_gm, s->fa_muscle, s->snr);
  T_CHECK(s->csf_cord >= CSF_LO && s->csf_cord <= CSF_HI, "%s: CSF/cord %.3f in [%g, %g]", what, s->csf_cord, CSF_LO,
          CSF_HI);
  T_CHECK(s->muscle_cord >= MUS_LO && s->muscle_cord <= MUS_HI, "%s: muscle/cord %.3f in [%g, %g]", what,
          s->muscle_cord, MUS_LO, MUS_HI);
  T_CHECK(s->outside_cord >= OUT_LO && s->outside_cord <= OUT_HI, "%s: outside/cord %.3f in [%g, %g]", what,
          s->outside_cord, OUT_LO, OUT_HI);
  T_CHECK(s->fa_wm > s->fa_gm, "%s: rim (WM) FA %.3f above core (GM) FA %.3f", what, s->fa_wm, s->fa_gm);
}

int main(void) {
  char pam[1024], probe[1100];
  snprintf(pam, sizeof pam, "%s/PAM50", t_data_dir());
  snprintf(probe, sizeof probe, "%s/atlas/info_label.txt", pam);
  struct stat st;
  if (stat(probe, &st) != 0) { /* the built-in stand-in: the anatomy is drawn around whatever cord it has */
    printf("PAM50 not found at %s: the anatomy is checked on the synthetic atlas\n", pam);
    snprintf(pam, sizeof pam, "%s", PHANTOM_ATLAS_SYNTHETIC);
  }
  PhantomAtlas a;
  phantom_atlas_load(&a, pam, 7.0);
  int ndisc = 0;
  for (int32_t m = 0; m < a.n; m++) ndisc += a.disc_w[m] > 0.5f;
  T_CHECK(ndisc > 3 && ndisc < a.n / 2, "disc weights: %d of %d slab centres mostly in a disc", ndisc, a.n);

  /* the bony canal per level inside the documented ranges (sim/anatomy.h: radiographic means / 1.17
   * magnification +- 2.5 SD): AP C2 15.4 +- 1.5 mm, C5 13.1 +- 1.3 mm; LR (interpediculate) C5
   * 24.7 +- 2.0 mm; C2 wider in AP than C5 in every subject; the sac thicker at C2 than at C6 */
  int canal_ok = 0, sas_ok = 0;
  for (int32_t subj = 1; subj <= 200; subj++) {
    AnatomySubject A;
    anatomy_subject_draw(&A, 42, subj);
    double lr2, ap2, lr5, ap5, l2, a2, p2, l6, a6, p6;
    anatomy_canal(&A, 2, &lr2, &ap2);
    anatomy_canal(&A, 5, &lr5, &ap5);
    anatomy_sas(&A, 2, &l2, &a2, &p2);
    anatomy_sas(&A, 6, &l6, &a6, &p6);
    canal_ok += fabs(2 * ap2 - 15.4) <= 2.5 * 1.5 && fabs(2 * ap5 - 13.1) <= 2.5 * 1.3 &&
                fabs(2 * lr5 - 24.7) <= 2.5 * 2.0 && ap2 > ap5;
    sas_ok += l2 > l6 && a2 + p2 > a6 + p6 && l6 >= 1 && a6 >= 0.5 && p6 >= 1 && l2 <= 6.5 && a2 <= 6 && p2 <= 6;
  }
  T_CHECK(canal_ok == 200, "canal per level inside the documented ranges, C2 wider in AP than C5 (%d/200)", canal_ok);
  T_CHECK(sas_ok == 200, "subarachnoid space thicker at C2 than at C6, inside 1-6.5 mm (%d/200)", sas_ok);

  PhantomConfig c;
  phantom_config_default(&c);
  c.anatomy = PHANTOM_ANATOMY_FULL;
  c.slices = 6;
  const int32_t n = c.size;
  const size_t n2 = (size_t)n * n, per = n2 * c.slices;
  float *b0 = mallocCheck(per * 4), *fa = mallocCheck(per * 4);
  uint8_t *lab = mallocCheck(per), *tis = mallocCheck(per);
  SliceMeta meta[6];
  double xyz[4][4];
  const double px = c.fov_mm / n;
  niftigeom_store_affine(px, px, 7.5, n, n, xyz);
  int nsl = 0, ok_body = 0, ok_post = 0, ok_mus = 0, ok_vessel = 0, ok_fluid = 0, ok_fat = 0, ok_plexus = 0;
  int plexus_behind = 0, ok_root = 0, root_midline = 0;
  /* per level (PAM50 coding): CSF and cord pixels, CSF pixels on each side of the cord, CSF and cord b0 */
  double lev_csf[9] = {0}, lev_cord[9] = {0}, csf_b0[9] = {0}, cord_b0[9] = {0};
  int lev_n[9] = {0}, ring_ok[9] = {0};
  double faW = 0, faG = 0, faM = 0, nW = 0, nG = 0, nM = 0;
  for (int32_t subj = 1; subj <= 3; subj++) {
    phantom_subject_ex(&a, &c, subj, b0, fa, NULL, NULL, NULL, lab, meta, tis);
    for (int k = 0; k < c.slices; k++, nsl++) {
      /* world (RAS+) centroids: [tissue] sums of x, y and counts; posterior bone separately */
      double sx[PT_N] = {0}, sy[PT_N] = {0}, cnt[PT_N] = {0}, cx = 0, cy = 0, cn = 0;
      for (size_t i = 0; i < n2; i++)
        if (lab[(size_t)k * n2 + i]) {
          double col = (double)(i % n), row = (double)(i / n);
          cx += xyz[0][0] * col + xyz[0][1] * row + xyz[0][3], cy += xyz[1][0] * col + xyz[1][1] * row + xyz[1][3],
              cn++;
        }
      if (!cn) continue;
      cx /= cn, cy /= cn;
      double post_y = cy; /* the cord's most posterior labelled pixel (RAS y) */
      for (size_t i = 0; i < n2; i++)
        if (lab[(size_t)k * n2 + i]) {
          double col = (double)(i % n), row = (double)(i / n);
          post_y = fmin(post_y, xyz[1][0] * col + xyz[1][1] * row + xyz[1][3]);
        }
      {
        const int lv = meta[k].level < 0 ? 0 : meta[k].level > 8 ? 8 : meta[k].level;
        double nc = 0, nd = 0, bc = 0, bd = 0;
        int side[4] = {0}; /* CSF within 6 mm of the cord centre: left, right, anterior, posterior */
        for (size_t i = 0; i < n2; i++) {
          const size_t o = (size_t)k * n2 + i;
          double col = (double)(i % n), row = (double)(i / n);
          double x = xyz[0][0] * col + xyz[0][1] * row + xyz[0][3], y = xyz[1][0] * col + xyz[1][1] * row + xyz[1][3];
          if (tis[o] == PT_CSF) {
            nc++, bc += b0[o];
            double dx = x - cx, dy = y - cy;
            if (fabs(dy) < 2 && dx < -5) side[0]++; /* RAS: x < cord = patient left */
            if (fabs(dy) < 2 && dx > 5) side[1]++;
            if (fabs(dx) < 2 && dy > 3) side[2]++; /* RAS: y > cord = anterior */
            if (fabs(dx) < 2 && dy < -3) side[3]++;
          }
          if (lab[o]) nd++, bd += b0[o];
        }
        lev_csf[lv] += nc, lev_cord[lv] += nd, csf_b0[lv] += nc ? bc / nc : 0, cord_b0[lv] += bd / nd, lev_n[lv]++;
        ring_ok[lv] += side[0] > 0 && side[1] > 0 && side[2] > 0 && side[3] > 0;
      }
      int vl = 0, vr = 0, fl = 0, fr = 0, fat = 0, pl_front = 0, rl = 0, rr = 0;
      for (size_t i = 0; i < n2; i++) {
        const size_t o = (size_t)k * n2 + i;
        double col = (double)(i % n), row = (double)(i / n);
        double x = xyz[0][0] * col + xyz[0][1] * row + xyz[0][3], y = xyz[1][0] * col + xyz[1][1] * row + xyz[1][3];
        int t = tis[o];
        sx[t] += x, sy[t] += y, cnt[t]++;
        double dx = x - cx, dy = y - cy, d = sqrt(dx * dx + dy * dy);
        if (t == PT_VESSEL && d < 25) vl += dx<-8, vr += dx> 8;
        if (t == PT_FLUID) fl += dx<-8, fr += dx> 8;
        if (t == PT_FAT) fat += d < 12;
        if (t == PT_PLEXUS) pl_front += dy > 0 && d < 12, plexus_behind += y < post_y; /* RAS: y > cord = anterior */
        if (t == PT_ROOT) rl += dx < -3 && d < 20, rr += dx > 3 && d < 20, root_midline += fabs(dx) < 2;
        if (lab[o] >= 1 && lab[o] <= 8 && lab[o] != 4 && lab[o] != 8) faW += fa[o], nW++;
        if (lab[o] == 4 || lab[o] == 8) faG += fa[o], nG++;
        if (t == PT_MUSCLE_L || t == PT_MUSCLE_R) faM += fa[o], nM++;
      }
      /* body: marrow + disc centroid anterior (RAS y larger) by 8..30 mm, on the midline */
      double bn = cnt[PT_MARROW] + cnt[PT_DISC], bx = (sx[PT_MARROW] + sx[PT_DISC]) / bn,
             by = (sy[PT_MARROW] + sy[PT_DISC]) / bn;
      ok_body += bn > 50 && by - cy > 8 && by - cy < 30 && fabs(bx - cx) < 6;
      /* posterior bone: laminae + spinous process behind the cord, symmetric about it */
      double px_ = 0, pn = 0;
      for (size_t i = 0; i < n2; i++) {
        const size_t o = (size_t)k * n2 + i;
        if (tis[o] != PT_BONE) continue;
        double col = (double)(i % n), row = (double)(i / n);
        double x = xyz[0][0] * col + xyz[0][1] * row + xyz[0][3], y = xyz[1][0] * col + xyz[1][1] * row + xyz[1][3];
        if (y < cy - 10) px_ += x, pn++;
      }
      ok_post += pn > 30 && fabs(px_ / pn - cx) < 6;
      /* muscles: left ones at the patient's left (RAS x below the cord's), right ones at the right, both
       * mostly posterior (the paraspinal mass) */
      ok_mus += cnt[PT_MUSCLE_L] > 100 && cnt[PT_MUSCLE_R] > 100 && sx[PT_MUSCLE_L] / cnt[PT_MUSCLE_L] < cx - 8 &&
                sx[PT_MUSCLE_R] / cnt[PT_MUSCLE_R] > cx + 8 && sy[PT_MUSCLE_L] / cnt[PT_MUSCLE_L] < cy &&
                sy[PT_MUSCLE_R] / cnt[PT_MUSCLE_R] < cy;
      /* vessels and facet fluid on both sides, lateral; epidural fat within 12 mm of the cord */
      ok_vessel += vl > 3 && vr > 3;
      ok_fluid += fl > 0 && fr > 0;
      ok_fat += fat > 5;
      ok_plexus += pl_front > 3;
      ok_root += rl > 0 && rr > 0;
    }
  }
  printf(
      "%d slices: body anterior %d, posterior bone %d, muscles L/R %d, vessels %d, facet fluid %d, epidural fat %d\n",
      nsl, ok_body, ok_post, ok_mus, ok_vessel, ok_fluid, ok_fat);
  T_CHECK(ok_body == nsl, "vertebral body/disc anterior to the cord on the midline in every slice (%d/%d)", ok_body,
          nsl);
  T_CHECK(ok_post == nsl, "posterior elements behind the cord on the midline in every slice (%d/%d)", ok_post, nsl);
  T_CHECK(ok_mus == nsl, "left muscles at RAS x < cord, right at x > cord, posterior, every slice (%d/%d)", ok_mus,
          nsl);
  T_CHECK(ok_vessel >= nsl * 8 / 10, "vertebral arteries on both sides (%d/%d slices)", ok_vessel, nsl);
  T_CHECK(ok_fluid >= nsl * 8 / 10, "facet fluid lateral on both sides (%d/%d slices)", ok_fluid, nsl);
  T_CHECK(ok_fat == nsl, "epidural fat around the cord (%d/%d)", ok_fat, nsl);
  printf("epidural veins in front of the cord in %d of %d slices, %d pixels behind it\n", ok_plexus, nsl,
         plexus_behind);
  T_CHECK(ok_plexus >= nsl * 8 / 10, "epidural venous plexus in front of the cord (%d/%d slices)", ok_plexus, nsl);
  T_CHECK(plexus_behind == 0, "no venous plexus behind the cord (%d pixels)", plexus_behind);
  printf("nerve roots beside the cord on both sides in %d of %d slices, %d pixels on the midline\n", ok_root, nsl,
         root_midline);
  /* a root fills 0.2-0.7 of the slab: below half, the CSF or fat around it wins the tissue map's pixel */
  T_CHECK(ok_root >= nsl / 3, "nerve roots left and right of the cord in the tissue map (%d/%d slices)", ok_root, nsl);
  {
    /* the roots' geometry (cord frame, x toward left, y posterior): present beside a 7 x 4 mm cord on both
     * sides, on the way from its surface outward, and nowhere within 2 mm of the midline */
    AnatomySubject s;
    anatomy_subject_draw(&s, 42, 1);
    const double vis[4] = {0.5, 0.5, 0.5, 0.5};
    double left = 0, right = 0, mid = 0;
    for (double y = -8; y <= 8; y += 0.1)
      for (double x = -14; x <= 14; x += 0.1) {
        const double f = anatomy_root_frac(&s, x, y, 7, 7, 4, 4, vis);
        if (x > 7.5) left = fmax(left, f);
        if (x < -7.5) right = fmax(right, f);
        if (fabs(x) < 2) mid = fmax(mid, f);
      }
    T_CHECK(left == 0.5 && right == 0.5 && mid == 0, "root geometry: left %.2f right %.2f midline %.2f", left, right,
            mid);
  }
  T_CHECK(root_midline == 0, "no nerve root in front of or behind the cord (%d pixels)", root_midline);
  /* the dural sac by level (sim/anatomy.h): at C2 a wide, bright CSF ring around the cord on every side,
   * wider than at C6 (the upper cervical cistern vs the cervical enlargement); CSF brighter than the cord */
  T_CHECK(lev_n[2] > 0 && lev_n[6] > 0, "slices at C2 (%d) and C6 (%d)", lev_n[2], lev_n[6]);
  double r2 = lev_csf[2] / lev_cord[2], r6 = lev_csf[6] / lev_cord[6];
  printf("CSF / cord pixels: C2 %.2f (%d slices, ring on 4 sides in %d), C6 %.2f (%d slices); CSF b0 / cord b0: "
         "C2 %.2f, C6 %.2f\n",
         r2, lev_n[2], ring_ok[2], r6, lev_n[6], csf_b0[2] / cord_b0[2], csf_b0[6] / cord_b0[6]);
  T_CHECK(ring_ok[2] == lev_n[2], "C2: CSF left, right, anterior and posterior of the cord (%d/%d slices)", ring_ok[2],
          lev_n[2]);
  T_CHECK(r2 > 1.4 * r6, "CSF around the cord wider at C2 (%.2f x the cord) than at C6 (%.2f)", r2, r6);
  T_CHECK(r2 > 0.8 && r2 < 3.0, "C2: CSF %.2f x the cord area (sac 4-6.5 mm lateral, 2.5-6 mm AP)", r2);
  T_CHECK(csf_b0[2] / cord_b0[2] > 1.3 && csf_b0[2] / cord_b0[2] < 3.2,
          "C2: CSF b0 %.2f x the cord's (real sct_dmri C2: 2.3-2.6 at the ring's peak)", csf_b0[2] / cord_b0[2]);
  printf("FA (labels/tissue map): WM %.3f GM %.3f muscle %.3f\n", faW / nW, faG / nG, faM / nM);
  T_CHECK(faW / nW > faG / nG + 0.05, "white matter more anisotropic than gray matter");
  T_CHECK(faM / nM > 0.25 && faM / nM < 0.6, "muscle FA %.3f in 0.25..0.6", faM / nM);

  /* contrast ratios */
  c.slices = 12;
  AnatomyStats ph;
  phantom_measure(&a, &c, 4, &ph);
  check_ranges("phantom full", &ph);
  char dwi[1100], bv[1100], bg[1100];
  snprintf(dwi, sizeof dwi, "%s/sct_dmri/dmri.nii.gz", t_data_dir());
  snprintf(bv, sizeof bv, "%s/sct_dmri/bvals.txt", t_data_dir());
  snprintf(bg, sizeof bg, "%s/sct_dmri/bvecs.txt", t_data_dir());
  if (stat(dwi, &st) == 0) {
    AnatomyStats re;
    anatomy_measure_dwi(dwi, bv, bg, NULL, &re);
    check_ranges("real sct_dmri", &re);
  } else
    printf("real-series ranges skipped: %s not found\n", dwi);

  /* determinism; --anatomy none keeps the old bytes */
  char dir[300], p1[400], p2[400], p3[400], p4[400];
  snprintf(dir, sizeof dir, "%s/test_sim_anatomy.%d", CORDSEG_BINARY_DIR, (int)getpid());
  mkdir(dir, 0755);
  snprintf(p1, sizeof p1, "%s/a.h5", dir);
  snprintf(p2, sizeof p2, "%s/b.h5", dir);
  snprintf(p3, sizeof p3, "%s/c.h5", dir);
  snprintf(p4, sizeof p4, "%s/d.h5", dir);
  c.subjects = 3, c.slices = 3;
  omp_set_num_threads(1);
  phantom_build_atlas(&a, &c, p1, "run 1", NULL, NULL);
  omp_set_num_threads(2);
  phantom_build_atlas(&a, &c, p2, "run 2", NULL, NULL);
  c.seed = 43;
  phantom_build_atlas(&a, &c, p3, "run 3", NULL, NULL);
  PhantomConfig old;
  phantom_config_default(&old);
  old.subjects = 4, old.slices = 3;
  phantom_build_atlas(&a, &old, p4, "none", NULL, NULL);
  uint64_t h1 = stored_checksum(p1), h2 = stored_checksum(p2), h3 = stored_checksum(p3), h4 = stored_checksum(p4);
  printf("checksums full %016llx %016llx seed 43 %016llx; none %016llx\n", (unsigned long long)h1,
         (unsigned long long)h2, (unsigned long long)h3, (unsigned long long)h4);
  T_CHECK(h1 == h2, "full: same seed -> same checksum with 1 and 2 threads");
  T_CHECK(h1 != h3, "full: another seed -> another checksum");
  /* pinned: PAM50's bytes since the phantom was written; the synthetic atlas's since it was (2026-12-07) */
  const uint64_t want4 = strcmp(pam, PHANTOM_ATLAS_SYNTHETIC) ? 0x43587c361313528cULL : 0xfd6362f1b4c6b989ULL;
  T_CHECK(h4 == want4, "--anatomy none: the bytes of the phantom before the anatomy (%016llx)",
          (unsigned long long)want4);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) {
  }
  free(b0), free(fa), free(lab), free(tis);
  phantom_atlas_free(&a);
  return t_finish("test_sim_anatomy");
}
