/* tests/test_io_import.c: `cordseg import` (io/import.c):
 *  - maps mode round trip: B0/FA/label NIfTI -> store; every label voxel and the
 *    B0 mass arrive (zero padding only), slice count and spacing right
 *  - the PAM50 tract table (left/right, dorsal/lateral/ventral/gray matter)
 *  - appending a second subject; bad labels and mismatched grids are fatal
 *  - subject names: sub-01/sub-02 kept as names (ids internal), a name already
 *    in the store refused with nothing written, --replace rebuilding the store
 *    with the new slices, an unnamed store naming subjects by their ids
 *  - --spacing: at the native spacing the store is byte for byte the one
 *    without it; at twice the pixel size every ROI keeps its area in mm^2
 *    (labels nearest, maps bilinear) and the slices record the new spacing
 *  - DWI mode on the real sct_dmri series (skipped without the shared data):
 *    FA in [0,1], NIfTI maps written */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/h5store.h"
#include "io/import.h"
#include "io/niftivol.h"
#include "tests/testutil.h"

static char g_dir[256];

static NiftiVol make_ref(int64_t nx, int64_t ny, int64_t nz) {
  NiftiVol v;
  memset(&v, 0, sizeof v);
  v.nx = nx, v.ny = ny, v.nz = nz, v.nt = 1;
  v.pix[0] = 0.5, v.pix[1] = 0.5, v.pix[2] = 5;
  for (int i = 0; i < 4; i++) v.xyz[i][i] = 1;
  v.xyz[0][0] = 0.5, v.xyz[1][1] = 0.5, v.xyz[2][2] = 5;
  return v;
}

static void import_cb(void *sp) { import_subject(sp); }
static int run_child(ImportSpec *sp) { return t_child_exit(import_cb, sp); }

static void maps_mode(void) {
  const int64_t nx = 20, ny = 24, nz = 3, nv = nx * ny * nz;
  NiftiVol ref = make_ref(nx, ny, nz);
  float *b0 = malloc(nv * 4), *fa = malloc(nv * 4), *lab = malloc(nv * 4);
  Rng r;
  rng_init(&r, 9);
  double b0sum = 0;
  long counts[9] = {0};
  for (int64_t i = 0; i < nv; i++) {
    b0[i] = (float)(100 + 50 * rng_uniform(&r));
    fa[i] = (float)rng_uniform(&r);
    lab[i] = (float)((i * 7) % 9);
    b0sum += b0[i];
    counts[(i * 7) % 9]++;
  }
  char pb[300], pf[300], pl[300], store[300];
  snprintf(pb, sizeof pb, "%s/b0.nii.gz", g_dir);
  snprintf(pf, sizeof pf, "%s/fa.nii.gz", g_dir);
  snprintf(pl, sizeof pl, "%s/lab.nii.gz", g_dir);
  snprintf(store, sizeof store, "%s/s.h5", g_dir);
  niftivol_write(pb, &ref, 1, b0);
  niftivol_write(pf, &ref, 1, fa);
  niftivol_write(pl, &ref, 1, lab);
  ImportSpec sp = {.b0 = pb, .fa = pf, .labels = pl, .store = store, .subject = 7, .level = 3, .size = 32,
                   .created_by = "test"};
  int32_t n = import_subject(&sp);
  T_CHECK(n == nz, "maps import wrote %d slices, want %lld", n, (long long)nz);
  H5Store st;
  h5store_open(&st, store);
  T_CHECK(st.n == nz && st.h == 32 && st.w == 32, "store %d slices of %dx%d", st.n, st.h, st.w);
  int32_t idx[3] = {0, 1, 2};
  float *sb0 = malloc(3 * 32 * 32 * 4), *sfa = malloc(3 * 32 * 32 * 4);
  uint8_t *sl = malloc(3 * 32 * 32);
  h5store_read_slices(&st, idx, 3, sb0, sfa, sl);
  double got = 0;
  long gc[9] = {0};
  for (int i = 0; i < 3 * 32 * 32; i++) got += sb0[i], gc[sl[i]]++;
  T_CHECK(fabs(got - b0sum) < 1e-3 * b0sum, "B0 mass %.1f vs %.1f (only zero padding added)", got, b0sum);
  int same = 1;
  for (int c = 1; c < 9; c++) same &= gc[c] == counts[c];
  T_CHECK(same, "every ROI voxel arrives (class counts equal)");
  uint64_t comp, stored;
  T_CHECK(h5store_verify(&st, &comp, &stored), "checksum verifies");
  h5store_close(&st);
  /* append a second subject */
  sp.subject = 8;
  T_CHECK(import_subject(&sp) == nz, "append");
  h5store_open(&st, store);
  T_CHECK(st.n == 2 * nz && h5store_subject_count(&st) == 2, "after append: %d slices, %d subjects", st.n,
          h5store_subject_count(&st));
  h5store_close(&st);
  /* bad labels: 9 in ROI mode (a new subject, so that it is the label that is refused) */
  sp.subject = 9;
  lab[5] = 9;
  niftivol_write(pl, &ref, 1, lab);
  T_CHECK(run_child(&sp) == 1, "label 9 is fatal");
  /* mismatched grid */
  NiftiVol ref2 = make_ref(nx, ny + 1, nz);
  float *b2 = calloc((size_t)nx * (ny + 1) * nz, 4);
  niftivol_write(pb, &ref2, 1, b2);
  lab[5] = 0;
  niftivol_write(pl, &ref, 1, lab);
  T_CHECK(run_child(&sp) == 1, "B0 on another grid is fatal");
  h5store_open(&st, store);
  T_CHECK(st.n == 2 * nz, "failed imports left the store as it was (%d slices)", st.n);
  h5store_close(&st);
  free(b0), free(fa), free(lab), free(sb0), free(sfa), free(sl), free(b2);
}

static void named_subjects(void) {
  const int64_t nx = 16, ny = 16, nz = 2, nv = nx * ny * nz;
  NiftiVol ref = make_ref(nx, ny, nz);
  float *b0 = malloc(nv * 4), *fa = malloc(nv * 4), *lab = calloc(nv, 4);
  for (int64_t i = 0; i < nv; i++) b0[i] = (float)(100 + i % 7), fa[i] = (float)(i % 5) / 5, lab[i] = (float)(i % 3);
  char pb[300], pf[300], pl[300], store[300];
  snprintf(pb, sizeof pb, "%s/nb0.nii.gz", g_dir);
  snprintf(pf, sizeof pf, "%s/nfa.nii.gz", g_dir);
  snprintf(pl, sizeof pl, "%s/nlab.nii.gz", g_dir);
  snprintf(store, sizeof store, "%s/named.h5", g_dir);
  niftivol_write(pb, &ref, 1, b0), niftivol_write(pf, &ref, 1, fa), niftivol_write(pl, &ref, 1, lab);
  ImportSpec sp = {.b0 = pb, .fa = pf, .labels = pl, .store = store, .name = "sub-01", .size = 16, .created_by = "t"};
  import_subject(&sp);
  sp.name = "sub-02";
  import_subject(&sp);
  sp.name = "5";
  import_subject(&sp);
  H5Store st;
  h5store_open(&st, store);
  char nb[H5STORE_NAME_MAX], sum0[64], sum1[64];
  int32_t id = -1, ns = 0;
  T_CHECK(st.n == 3 * nz && h5store_subject_count(&st) == 3 && st.n_names == 2, "3 subjects, 2 of them named (%d)",
          st.n_names);
  T_CHECK(!strcmp(h5store_subject_name(&st, st.meta[0].subject, nb), "sub-01") &&
              !strcmp(h5store_subject_name(&st, st.meta[nz].subject, nb), "sub-02"),
          "names kept: %s", h5store_subject_name(&st, st.meta[nz].subject, nb));
  T_CHECK(h5store_subject_find(&st, "5", &id, &ns) && id == 5 && ns == nz, "a plain integer is the id (%d)", id);
  T_CHECK(h5store_subject_find(&st, "sub-02", &id, &ns) && id == 1 && ns == nz, "sub-02 is id %d", id);
  T_CHECK(!h5store_subject_find(&st, "sub-03", &id, &ns), "sub-03 not found");
  h5store_attr_string(&st, "checksum", sum0, sizeof sum0);
  h5store_close(&st);
  /* the same name again: refused, the store unchanged */
  sp.name = "sub-01";
  T_CHECK(run_child(&sp) == 1, "re-importing sub-01 is refused");
  sp.name = "bad name";
  T_CHECK(run_child(&sp) == 1, "a name with a space is refused");
  h5store_open(&st, store);
  h5store_attr_string(&st, "checksum", sum1, sizeof sum1);
  T_CHECK(st.n == 3 * nz && !strcmp(sum0, sum1), "refused imports wrote nothing (%s)", sum1);
  h5store_close(&st);
  /* --replace: sub-01's slices replaced (new B0), the others kept, one commit */
  for (int64_t i = 0; i < nv; i++) b0[i] += 50;
  niftivol_write(pb, &ref, 1, b0);
  sp.name = "sub-01", sp.replace = 1;
  T_CHECK(import_subject(&sp) == nz, "replace");
  h5store_open(&st, store);
  uint64_t comp, stored;
  T_CHECK(st.n == 3 * nz && h5store_subject_count(&st) == 3 && h5store_verify(&st, &comp, &stored),
          "after --replace: %d slices, 3 subjects, checksum verifies", st.n);
  T_CHECK(h5store_subject_find(&st, "sub-01", &id, &ns) && id == 0 && ns == nz, "sub-01 keeps id 0 (%d)", id);
  int32_t last = st.n - 1;
  float *row = malloc(16 * 16 * 4);
  h5store_read_slices(&st, &last, 1, row, NULL, NULL);
  float mx = 0;
  for (int i = 0; i < 16 * 16; i++) mx = fmaxf(mx, row[i]);
  T_CHECK(st.meta[last].subject == 0 && mx >= 150, "the new slices of sub-01 are last (max B0 %g)", mx);
  h5store_close(&st);
  free(b0), free(fa), free(lab), free(row);
}

/* a disc of radius 5 mm at the FOV centre, its left half ROI 1, its right half ROI 5, on a 0.5 mm grid */
static void spacing_mode(void) {
  const int64_t nx = 40, ny = 40, nz = 2, nv = nx * ny * nz;
  NiftiVol ref = make_ref(nx, ny, nz);
  float *b0 = calloc(nv, 4), *fa = calloc(nv, 4), *lab = calloc(nv, 4);
  long n1 = 0, n5 = 0;
  double b0sum = 0;
  for (int64_t i = 0; i < nv; i++) {
    const double x = (double)(i % nx) - 19.5, y = (double)((i / nx) % ny) - 19.5;
    b0[i] = 10, fa[i] = 0.1f;
    if (x * x + y * y <= 100) b0[i] = 100, fa[i] = 0.6f, lab[i] = x < 0 ? 1 : 5, n1 += x < 0, n5 += x >= 0;
    b0sum += b0[i];
  }
  char pb[300], pf[300], pl[300], s0[300], s1[300], s2[300];
  snprintf(pb, sizeof pb, "%s/sb0.nii.gz", g_dir);
  snprintf(pf, sizeof pf, "%s/sfa.nii.gz", g_dir);
  snprintf(pl, sizeof pl, "%s/slab.nii.gz", g_dir);
  snprintf(s0, sizeof s0, "%s/native.h5", g_dir);
  snprintf(s1, sizeof s1, "%s/same.h5", g_dir);
  snprintf(s2, sizeof s2, "%s/coarse.h5", g_dir);
  niftivol_write(pb, &ref, 1, b0);
  niftivol_write(pf, &ref, 1, fa);
  niftivol_write(pl, &ref, 1, lab);
  ImportSpec sp = {.b0 = pb, .fa = pf, .labels = pl, .store = s0, .subject = 1, .size = 48, .created_by = "test"};
  import_subject(&sp);
  sp.store = s1, sp.spacing = 0.5;
  import_subject(&sp);
  sp.store = s2, sp.spacing = 1.0, sp.size = 24;
  import_subject(&sp);
  H5Store a, b, c;
  h5store_open(&a, s0), h5store_open(&b, s1), h5store_open(&c, s2);
  char ca[64], cb[64];
  h5store_attr_string(&a, "checksum", ca, sizeof ca), h5store_attr_string(&b, "checksum", cb, sizeof cb);
  T_CHECK(!strcmp(ca, cb), "--spacing at the native spacing: the same store (%s vs %s)", ca, cb);
  T_CHECK(c.n == nz && c.h == 24 && fabsf(c.meta[0].spacing[0] - 1.0f) < 1e-6f && fabsf(c.meta[0].spacing[1] - 1.0f) < 1e-6f,
          "--spacing 1: %d slices of %dx%d at %g x %g mm", c.n, c.h, c.w, c.meta[0].spacing[0], c.meta[0].spacing[1]);
  T_CHECK(fabsf(a.meta[0].spacing[0] - 0.5f) < 1e-6f, "native: %g mm", a.meta[0].spacing[0]);
  int32_t idx[2] = {0, 1};
  float *cb0 = malloc(2 * 24 * 24 * 4);
  uint8_t *cl = malloc(2 * 24 * 24);
  h5store_read_slices(&c, idx, 2, cb0, NULL, cl);
  long m1 = 0, m5 = 0;
  double csum = 0;
  for (int i = 0; i < 2 * 24 * 24; i++) m1 += cl[i] == 1, m5 += cl[i] == 5, csum += cb0[i];
  /* areas in mm^2: native pixels are 0.25 mm^2, resampled ones 1 mm^2 */
  T_CHECK(fabs(m1 - 0.25 * n1) <= 0.1 * 0.25 * n1 && fabs(m5 - 0.25 * n5) <= 0.1 * 0.25 * n5,
          "--spacing 1: ROI areas %ld, %ld mm^2 vs %.1f, %.1f native", m1, m5, 0.25 * n1, 0.25 * n5);
  T_CHECK(fabs(csum - 0.25 * b0sum) <= 0.05 * 0.25 * b0sum, "--spacing 1: B0 integral %.0f vs %.0f", csum, 0.25 * b0sum);
  h5store_close(&a), h5store_close(&b), h5store_close(&c);
  sp.spacing = 20;
  T_CHECK(run_child(&sp) == 1, "--spacing 20 mm is refused");
  free(b0), free(fa), free(lab), free(cb0), free(cl);
}

static void pam50_table(void) {
  T_CHECK(import_map_pam50(0) == 0 && import_map_pam50(37) == 0, "background values");
  T_CHECK(import_map_pam50(1) == 1 && import_map_pam50(2) == 5, "tract 0/1 (gracilis L/R) -> dorsal L/R");
  T_CHECK(import_map_pam50(5) == 2 && import_map_pam50(14) == 6, "tracts 4, 13 -> lateral L/R");
  T_CHECK(import_map_pam50(15) == 3 && import_map_pam50(30) == 7, "tracts 14, 29 -> ventral L/R");
  T_CHECK(import_map_pam50(31) == 4 && import_map_pam50(36) == 8, "tracts 30, 35 -> gray matter L/R");
  T_CHECK(import_map_pam50(38) == -1 && import_map_pam50(-1) == -1, "out of range");
}

static void dwi_mode(void) {
  char dmri[1100], bv[1100], bg[1100];
  snprintf(dmri, sizeof dmri, "%s/sct_dmri/dmri.nii.gz", t_data_dir());
  snprintf(bv, sizeof bv, "%s/sct_dmri/bvals.txt", t_data_dir());
  snprintf(bg, sizeof bg, "%s/sct_dmri/bvecs.txt", t_data_dir());
  struct stat sb;
  if (stat(dmri, &sb) != 0) {
    printf("dwi part skipped: %s not found\n", dmri);
    return;
  }
  NiftiVol hdr;
  niftivol_read_header(&hdr, dmri);
  const int64_t nv = hdr.nx * hdr.ny * hdr.nz;
  float *lab = calloc(nv, 4);
  for (int64_t i = 0; i < nv; i += 11) lab[i] = 1 + (i % 8);
  char pl[300], store[300], out[300], fa[400];
  snprintf(pl, sizeof pl, "%s/dwilab.nii.gz", g_dir);
  snprintf(store, sizeof store, "%s/dwi.h5", g_dir);
  snprintf(out, sizeof out, "%s/maps", g_dir);
  NiftiVol ref = hdr;
  ref.nt = 1;
  niftivol_write(pl, &ref, 1, lab);
  ImportSpec sp = {.dwi = dmri, .bvals = bv, .bvecs = bg, .labels = pl, .store = store, .subject = 1, .size = 96,
                   .nifti_out = out, .created_by = "test"};
  int32_t n = import_subject(&sp);
  T_CHECK(n > 0, "dwi import wrote %d slices", n);
  H5Store st;
  h5store_open(&st, store);
  float *b0 = malloc((size_t)96 * 96 * 4), *f = malloc((size_t)96 * 96 * 4);
  uint8_t *l = malloc(96 * 96);
  float lo = 1, hi = 0;
  for (int32_t s = 0; s < st.n; s++) {
    h5store_read_slices(&st, &s, 1, b0, f, l);
    for (int i = 0; i < 96 * 96; i++) lo = fminf(lo, f[i]), hi = fmaxf(hi, f[i]);
  }
  T_CHECK(st.has_dti && lo >= 0 && hi <= 1 && hi > 0.5, "dwi: store has MD/AD/RD, FA in [%g, %g]", lo, hi);
  h5store_close(&st);
  snprintf(fa, sizeof fa, "%s/sub-001_fa.nii.gz", out);
  T_CHECK(stat(fa, &sb) == 0, "FA NIfTI written (%s)", fa);
  printf("  dwi import: %d slices, FA range [%.3f, %.3f]\n", n, lo, hi);
  free(lab), free(b0), free(f), free(l);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "%s/cordseg-test-import-%d", getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp",
           (int)getpid());
  mkdir(g_dir, 0755);
  pam50_table();
  maps_mode();
  named_subjects();
  spacing_mode();
  dwi_mode();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  return t_finish("test_io_import");
}
