/* tests/test_io_niftigeom.c: left and right are right everywhere
 * (io/niftigeom.h, issue 17).
 *  - a label volume drawn in WORLD coordinates (L ids at RAS x < 0, i.e. on the
 *    patient's left; ventral ids at y > 0, anterior), written as an LAS, an RAS,
 *    an LPI and an oblique NIfTI, imported with `cordseg import`: the store puts
 *    the patient's right in column 0 and anterior in row 0 (io/labels.h and the
 *    store's own `orientation` attribute) for every one of them. The old sign
 *    (col_reverse = s < 0) fails the RAS and LPI cases.
 *  - niftigeom_axial_put inverts niftigeom_axial_slice on every orientation.
 *  - the files niftivol_write makes carry the same voxel->world in sform and
 *    qform, read back with libnifti2's own matrices (an independent reader),
 *    and niftigeom_axcodes agrees with libnifti2's orientation codes.
 *  - the phantom's NIfTI export (`cordseg phantom --nifti`), read with
 *    libnifti2's qform and sform: each id named left lies at lower world x (the
 *    patient's left in RAS+) than its right twin, ventral ids anterior of dorsal ones; importing it back gives the
 *    phantom store's labels bit for bit. Skipped without the PAM50 atlas. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <nifti2_io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "io/h5store.h"
#include "io/import.h"
#include "io/labels.h"
#include "io/niftigeom.h"
#include "sim/phantom.h"
#include "tests/testutil.h"

static char g_dir[256];

/* a 24 (i) x 20 (j) x 3 (k) grid with voxel axes given by the columns of rot */
static NiftiVol make_vol(const double rot[3][3], const double pix[3]) {
  NiftiVol v;
  memset(&v, 0, sizeof v);
  v.nx = 24, v.ny = 20, v.nz = 3, v.nt = 1;
  const int64_t n[3] = {v.nx, v.ny, v.nz};
  for (int a = 0; a < 3; a++) v.pix[a] = pix[a];
  for (int r = 0; r < 3; r++) {
    double off = 0;
    for (int a = 0; a < 3; a++) {
      v.xyz[r][a] = rot[r][a] * pix[a];
      off -= v.xyz[r][a] * 0.5 * (double)(n[a] - 1); /* grid centre at the world origin */
    }
    v.xyz[r][3] = off;
  }
  v.xyz[3][3] = 1;
  return v;
}

/* label of a world point: a 4-quadrant "cord" of radius 4.5 mm */
static float world_label(double x, double y) {
  if (x * x + y * y > 4.5 * 4.5) return 0;
  int left = x < 0, ventral = y > 0;
  return (float)((left ? 1 : 5) + (ventral ? 2 : 0)); /* 1 L dorsal, 3 L ventral, 5 R dorsal, 7 R ventral */
}

static void fill_labels(const NiftiVol *v, float *lab) {
  for (int64_t k = 0; k < v->nz; k++)
    for (int64_t j = 0; j < v->ny; j++)
      for (int64_t i = 0; i < v->nx; i++) {
        double x = v->xyz[0][0] * i + v->xyz[0][1] * j + v->xyz[0][2] * k + v->xyz[0][3];
        double y = v->xyz[1][0] * i + v->xyz[1][1] * j + v->xyz[1][2] * k + v->xyz[1][3];
        lab[(k * v->ny + j) * v->nx + i] = world_label(x, y);
      }
}

/* writes the volume (labels + B0/FA), imports it, checks the store's sides */
static void import_case(const char *name, const double rot[3][3], int exact) {
  const double pix[3] = {0.5, 0.6, 4.0};
  NiftiVol v = make_vol(rot, pix);
  const int64_t nv = v.nx * v.ny * v.nz;
  float *lab = malloc(nv * 4), *b0 = malloc(nv * 4), *fa = malloc(nv * 4);
  fill_labels(&v, lab);
  for (int64_t i = 0; i < nv; i++) b0[i] = 100 + lab[i], fa[i] = 0.1f * lab[i];
  char pl[400], pb[400], pf[400], store[400];
  snprintf(pl, sizeof pl, "%s/%s_lab.nii.gz", g_dir, name);
  snprintf(pb, sizeof pb, "%s/%s_b0.nii.gz", g_dir, name);
  snprintf(pf, sizeof pf, "%s/%s_fa.nii", g_dir, name);
  snprintf(store, sizeof store, "%s/%s.h5", g_dir, name);
  niftivol_write(pl, &v, 1, lab);
  niftivol_write(pb, &v, 1, b0);
  niftivol_write(pf, &v, 1, fa);
  /* the independent reader: libnifti2's own qform and sform matrices */
  nifti_image *nim = nifti_image_read(pl, 0);
  T_CHECK(nim && nim->qform_code > 0 && nim->sform_code > 0, "%s: qform and sform set", name);
  double dq = 0, ds = 0;
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++)
      dq = fmax(dq, fabs(nim->qto_xyz.m[r][c] - v.xyz[r][c])), ds = fmax(ds, fabs(nim->sto_xyz.m[r][c] - v.xyz[r][c]));
  T_CHECK(dq < 1e-4 && ds < 1e-4, "%s: qform (%.1e) and sform (%.1e) are the written voxel->world", name, dq, ds);
  int ic, jc, kc;
  nifti_dmat44_to_orientation(nim->qto_xyz, &ic, &jc, &kc);
  char codes[4];
  niftigeom_axcodes(v.xyz, codes);
  const int cod[3] = {ic, jc, kc};
  int agree = 1;
  for (int a = 0; a < 3; a++) {
    /* libnifti names the side an axis starts from: NIFTI_L2R = index grows toward R */
    const char want = cod[a] == NIFTI_L2R ? 'R' : cod[a] == NIFTI_R2L ? 'L' : cod[a] == NIFTI_P2A ? 'A'
                    : cod[a] == NIFTI_A2P ? 'P' : cod[a] == NIFTI_I2S ? 'S' : 'I';
    agree &= codes[a] == want;
  }
  T_CHECK(agree, "%s: niftigeom_axcodes %s agrees with libnifti2 (%s, %s, %s)", name, codes,
          nifti_orientation_string(ic), nifti_orientation_string(jc), nifti_orientation_string(kc));
  nifti_image_free(nim);

  /* put is the inverse of slice */
  NiftiAxial ax;
  niftigeom_axial_axes(&v, &ax);
  NiftiVol lv = v;
  lv.data = lab;
  float *back = calloc(nv, 4), *sl = malloc(nv * 4);
  for (int64_t s = 0; s < niftigeom_axial_count(&v, &ax); s++) {
    int64_t r, c;
    niftigeom_axial_slice(&lv, &ax, 0, s, sl, &r, &c);
    niftigeom_axial_put(&v, &ax, s, sl, back);
  }
  T_CHECK(!memcmp(back, lab, nv * 4), "%s: niftigeom_axial_put inverts niftigeom_axial_slice", name);

  ImportSpec sp = {.b0 = pb, .fa = pf, .labels = pl, .store = store, .subject = 1, .size = 32, .created_by = "test"};
  import_subject(&sp);
  H5Store st;
  h5store_open(&st, store);
  char orient[512];
  h5store_attr_string(&st, "orientation", orient, sizeof orient);
  T_CHECK(strstr(orient, "row 0 anterior") && strstr(orient, "column 0 patient right"),
          "%s: store orientation attribute says row 0 anterior, column 0 patient right ('%s')", name, orient);
  const int32_t W = st.w, H = st.h, hw = W * H;
  uint8_t *sl8 = malloc((size_t)hw * st.n);
  double colL = 0, colR = 0, nL = 0, nR = 0, rowV = 0, rowD = 0, nV = 0, nD = 0;
  long wrong_side = 0, labelled = 0;
  for (int32_t s = 0; s < st.n; s++) {
    h5store_read_slices(&st, &s, 1, NULL, NULL, sl8 + (size_t)s * hw);
    for (int32_t p = 0; p < hw; p++) {
      int l = sl8[(size_t)s * hw + p], r = p / W, c = p % W;
      if (!l) continue;
      labelled++;
      int left = l <= 4, ventral = l == 3 || l == 7;
      if (left) colL += c, nL++;
      else colR += c, nR++;
      if (ventral) rowV += r, nV++;
      else rowD += r, nD++;
      /* the grid is centred: the patient's midline lies between columns W/2-1 and W/2 */
      if ((left && c < W / 2) || (!left && c >= W / 2) || (ventral && r >= H / 2) || (!ventral && r < H / 2))
        wrong_side++;
    }
  }
  T_CHECK(labelled > 100 && nL > 0 && nR > 0 && colR / nR < colL / nL,
          "%s: patient right in the low columns (mean column R %.1f < L %.1f)", name, nR ? colR / nR : NAN,
          nL ? colL / nL : NAN);
  T_CHECK(nV > 0 && nD > 0 && rowV / nV < rowD / nD, "%s: anterior in the low rows (mean row ventral %.1f < dorsal %.1f)",
          name, nV ? rowV / nV : NAN, nD ? rowD / nD : NAN);
  if (exact) T_CHECK(wrong_side == 0, "%s: every labelled pixel on its side (%ld of %ld wrong)", name, wrong_side, labelled);
  printf("  %-8s axcodes %s: %ld labelled store pixels, mean column R %.1f / L %.1f, %ld on the wrong side\n", name,
         codes, labelled, colR / nR, colL / nL, wrong_side);
  h5store_close(&st);
  free(lab), free(b0), free(fa), free(back), free(sl), free(sl8);
}

/* mean world x/y of the voxels of a label set in the phantom's exported NIfTI,
 * through libnifti2's qform (use_q) or sform */
static void world_means(const nifti_image *nim, int use_q, double mx[9], double my[9]) {
  double sx[9] = {0}, sy[9] = {0}, n[9] = {0};
  const nifti_dmat44 *M = use_q ? &nim->qto_xyz : &nim->sto_xyz;
  const float *d = nim->data;
  for (int64_t k = 0; k < nim->nz; k++)
    for (int64_t j = 0; j < nim->ny; j++)
      for (int64_t i = 0; i < nim->nx; i++) {
        int l = (int)lrintf(d[(k * nim->ny + j) * nim->nx + i]);
        if (l < 1 || l > 8) continue;
        sx[l] += M->m[0][0] * i + M->m[0][1] * j + M->m[0][2] * k + M->m[0][3];
        sy[l] += M->m[1][0] * i + M->m[1][1] * j + M->m[1][2] * k + M->m[1][3];
        n[l]++;
      }
  for (int l = 0; l < 9; l++) mx[l] = n[l] ? sx[l] / n[l] : NAN, my[l] = n[l] ? sy[l] / n[l] : NAN;
}

static void phantom_export(void) {
  char pam[1100], probe[1200];
  snprintf(pam, sizeof pam, "%s/PAM50", t_data_dir());
  snprintf(probe, sizeof probe, "%s/atlas/info_label.txt", pam);
  struct stat sb;
  if (stat(probe, &sb) != 0) { /* the built-in stand-in: the geometry under test is the same */
    printf("phantom part on the synthetic atlas: %s not found\n", probe);
    snprintf(pam, sizeof pam, "%s", PHANTOM_ATLAS_SYNTHETIC);
  }
  PhantomConfig c;
  phantom_config_default(&c);
  c.subjects = 1, c.slices = 3;
  char h5[400], nd[400], pl[500], pb[500], pf[500], back[500];
  snprintf(h5, sizeof h5, "%s/ph.h5", g_dir);
  snprintf(nd, sizeof nd, "%s/ph-nii", g_dir);
  phantom_build(&c, pam, h5, "test", nd, NULL);
  snprintf(pl, sizeof pl, "%s/sub-001_labels.nii.gz", nd);
  snprintf(pb, sizeof pb, "%s/sub-001_b0.nii.gz", nd);
  snprintf(pf, sizeof pf, "%s/sub-001_fa.nii.gz", nd);
  nifti_image *nim = nifti_image_read(pl, 1);
  T_CHECK(nim && nim->datatype == DT_FLOAT32 && nim->qform_code > 0 && nim->sform_code > 0,
          "phantom labels NIfTI readable with qform and sform");
  for (int q = 0; q < 2; q++) {
    double mx[9], my[9];
    world_means(nim, q, mx, my);
    int ok_lr = 1, ok_ap = 1;
    for (int l = 1; l <= 4; l++) ok_lr &= mx[l] < mx[LABEL_LR_SWAP[l]]; /* RAS+: left = lower x */
    ok_ap &= my[3] > my[1] && my[7] > my[5];                                     /* ventral anterior of dorsal */
    T_CHECK(ok_lr, "phantom NIfTI (%s): every L id at lower world x than its R id (L dorsal x %.2f mm, R dorsal %.2f mm)", q ? "qform" : "sform",
            mx[1], mx[5]);
    T_CHECK(ok_ap, "phantom NIfTI (%s): ventral ids anterior (y %.2f > %.2f)", q ? "qform" : "sform", my[3], my[1]);
  }
  int ic, jc, kc;
  nifti_dmat44_to_orientation(nim->qto_xyz, &ic, &jc, &kc);
  T_CHECK(ic == NIFTI_R2L && jc == NIFTI_A2P && kc == NIFTI_S2I, "phantom NIfTI is LPI (%s, %s, %s)",
          nifti_orientation_string(ic), nifti_orientation_string(jc), nifti_orientation_string(kc));
  nifti_image_free(nim);
  /* import it back: the same labels as the phantom store */
  snprintf(back, sizeof back, "%s/ph-back.h5", g_dir);
  ImportSpec sp = {.b0 = pb, .fa = pf, .labels = pl, .store = back, .subject = 1, .size = c.size, .created_by = "test"};
  import_subject(&sp);
  H5Store a, b;
  h5store_open(&a, h5);
  h5store_open(&b, back);
  size_t hw = (size_t)a.h * a.w;
  uint8_t *la = malloc(hw), *lb = malloc(hw);
  int same = a.n == b.n;
  for (int32_t s = 0; same && s < a.n; s++) {
    h5store_read_slices(&a, &s, 1, NULL, NULL, la);
    h5store_read_slices(&b, &s, 1, NULL, NULL, lb);
    same &= !memcmp(la, lb, hw);
  }
  T_CHECK(same, "phantom NIfTI imported back gives the phantom store's labels");
  h5store_close(&a), h5store_close(&b);
  free(la), free(lb);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/cordseg-test-geom-%d", (int)getpid());
  mkdir(g_dir, 0755);
  const double las[3][3] = {{-1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  const double ras[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  const double lpi[3][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}};
  /* i toward A, j toward R (a transposed in-plane layout) */
  const double asr[3][3] = {{0, 1, 0}, {1, 0, 0}, {0, 0, 1}};
  /* RAS rotated 20 degrees about z and 10 about x */
  const double a = 20 * 3.14159265358979 / 180, b = 10 * 3.14159265358979 / 180;
  const double rz[3][3] = {{cos(a), -sin(a), 0}, {sin(a), cos(a), 0}, {0, 0, 1}};
  const double rx[3][3] = {{1, 0, 0}, {0, cos(b), -sin(b)}, {0, sin(b), cos(b)}};
  double obl[3][3];
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++) {
      obl[r][c] = 0;
      for (int k = 0; k < 3; k++) obl[r][c] += rz[r][k] * rx[k][c];
    }
  import_case("LAS", las, 1);
  import_case("RAS", ras, 1);
  import_case("LPI", lpi, 1);
  import_case("ASR", asr, 1);
  import_case("oblique", obl, 0);
  phantom_export();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  return t_finish("test_io_niftigeom");
}
