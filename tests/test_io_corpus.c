/* tests/test_io_corpus.c: a corpus of broken inputs for every hardened reader
 * (NIfTI, DWI, bvals/bvecs, config, folds, HDF5 store, checkpoint, run
 * directory, model file). Each case writes a broken variant of a valid file and runs the
 * reader in a child process, which must exit non-zero (no signal, no
 * sanitizer report) with one "cordseg: error:" message that names the file
 * and says what is wrong. Valid inputs (NULLPAD string attributes as h5py
 * writes them, the untouched originals) must still be accepted. Run it under
 * -DCORDSEG_SANITIZE=address,undefined as well. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "core/step.h"
#include "core/unet.h"
#include "io/ckpt.h"
#include "io/config.h"
#include "io/dti.h"
#include "io/folds.h"
#include "io/h5store.h"
#include "io/h5util.h"
#include "io/hash.h"
#include "io/import.h"
#include "io/prep.h"
#include "io/niftivol.h"
#include "io/rundir.h"
#include "io/textio.h"
#include "tests/evalfix.h"
#include "tests/testutil.h"

static char g_dir[256];
static int g_cases;

static void pathf(char *out, const char *name) { snprintf(out, 512, "%s/%s", g_dir, name); }

/* runs fn(arg) in a child; 1 when it exited cleanly non-zero with a message
 * naming `file` and containing `want` */
static int refused(const char *what, void (*fn)(void *), void *arg, const char *file, const char *want) {
  char errp[512];
  pathf(errp, "stderr.txt");
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(errp, "w", stderr)) _exit(99);
    fn(arg);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  FILE *f = fopen(errp, "r");
  char buf[8192] = "";
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  buf[n] = 0;
  if (f) fclose(f);
  const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
  int ok = WIFEXITED(st) && WEXITSTATUS(st) != 0 && strstr(buf, "cordseg: error:") && strstr(buf, base) &&
           (!want || strstr(buf, want)) && !strstr(buf, "Sanitizer") && !strstr(buf, "runtime error");
  g_cases++;
  T_CHECK(ok, "%s: refused with a message naming '%s'%s%s (status %d%s, stderr: %.400s)", what, base,
          want ? " and saying " : "", want ? want : "", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
          WIFSIGNALED(st) ? ", killed by a signal" : "", buf);
  return ok;
}

static int accepted(void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    fn(arg);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void patch(const char *path, long off, const void *v, size_t n) {
  FILE *f = fopen(path, "r+b");
  if (!f || fseek(f, off, SEEK_SET) || fwrite(v, 1, n, f) != n) cs_fatal(NULL, "test: cannot patch %s", path);
  fclose(f);
}

static void copy(const char *from, const char *to) {
  FILE *a = fopenCheck(from, "rb"), *b = fopenCheck(to, "wb");
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0) fwriteCheck(buf, 1, n, b, to);
  fclose(a);
  fcloseCheck(b, to);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopenCheck(path, "w");
  fputs(text, f);
  fcloseCheck(f, path);
}

/* ------------------------------------------------------------- NIfTI -- */
enum { NX = 8, NY = 8, NZ = 4 };
static NiftiVol g_ref;

static void read_vol(void *p) {
  NiftiVol v;
  niftivol_read(&v, p);
  niftivol_check_finite(&v);
  niftivol_free(&v);
}
static void read_dwi(void *p) {
  NiftiVol v;
  niftivol_read(&v, p);
  niftivol_check_finite(&v);
  prep_check_dwi(&v);
  niftivol_free(&v);
}
static void read_planes(void *p) {
  NiftiVol v;
  float out[NX * NY * NZ];
  niftivol_read_planes(&v, p, 0, NZ, out);
}

static void nifti_variant(const char *name, char *out, long off, const void *v, size_t n) {
  char src[512];
  pathf(src, "ok.nii");
  pathf(out, name);
  copy(src, out);
  if (v) patch(out, off, v, n);
}

static void test_nifti(void) {
  memset(&g_ref, 0, sizeof g_ref);
  g_ref.nx = NX, g_ref.ny = NY, g_ref.nz = NZ, g_ref.nt = 1;
  g_ref.pix[0] = g_ref.pix[1] = g_ref.pix[2] = 1;
  g_ref.xyz[0][0] = -1, g_ref.xyz[1][1] = 1, g_ref.xyz[2][2] = 1, g_ref.xyz[3][3] = 1;
  float data[NX * NY * NZ * 8];
  for (int i = 0; i < NX * NY * NZ * 8; i++) data[i] = 100 + (float)(i % 37);
  char ok[512], p[512];
  pathf(ok, "ok.nii");
  niftivol_write(ok, &g_ref, 1, data);
  T_CHECK(accepted(read_vol, ok), "a valid float NIfTI is accepted");
  /* unsupported datatypes: the message used nim after nifti_image_free */
  const struct { const char *name; int16_t dt, bitpix; } DT[] = {
      {"complex64.nii", 32, 64}, {"rgb24.nii", 128, 24}, {"float128.nii", 1536, 128}};
  for (int i = 0; i < 3; i++) {
    nifti_variant(DT[i].name, p, 70, &DT[i].dt, 2);
    patch(p, 72, &DT[i].bitpix, 2);
    refused(DT[i].name, read_vol, p, p, "datatype");
    refused(DT[i].name, read_planes, p, p, "datatype");
  }
  int16_t dim5[8] = {5, NX, NY, NZ, 1, 2, 1, 1};
  nifti_variant("5d.nii", p, 40, dim5, sizeof dim5);
  refused("5-D volume", read_vol, p, p, "dimensions");
  nifti_variant("magic.nii", p, 344, "x+9", 4);
  refused("bad magic", read_vol, p, p, "magic");
  refused("bad magic (plane reader)", read_planes, p, p, "magic");
  int16_t dneg[8] = {3, NX, -4, NZ, 1, 1, 1, 1};
  nifti_variant("negdim.nii", p, 40, dneg, sizeof dneg);
  refused("negative dim", read_vol, p, p, "dim[2]");
  float pixnan[1] = {NAN};
  nifti_variant("pixnan.nii", p, 80, pixnan, 4);
  refused("NaN pixdim", read_vol, p, p, "pixdim");
  float slope[1] = {INFINITY};
  nifti_variant("slope.nii", p, 112, slope, 4);
  refused("Inf scl_slope", read_vol, p, p, "scl_slope");
  float nanv = NAN, infv = -INFINITY;
  nifti_variant("nan.nii", p, 352 + 4 * 77, &nanv, 4);
  refused("NaN voxel (float32 .nii)", read_vol, p, p, "not finite");
  refused("NaN voxel (plane reader)", read_planes, p, p, "not finite");
  nifti_variant("inf.nii", p, 352 + 4 * 5, &infv, 4);
  refused("-Inf voxel", read_vol, p, p, "not finite");
  /* gzipped NaN and a float64 volume with Inf: through niftivol_write's own writer, then patched */
  data[9] = NAN;
  pathf(p, "nan.nii.gz");
  niftivol_write(p, &g_ref, 1, data);
  refused("NaN voxel (.nii.gz)", read_vol, p, p, "not finite");
  data[9] = 100;
  {
    char src[512];
    pathf(src, "ok.nii");
    pathf(p, "trunc.nii");
    FILE *a = fopenCheck(src, "rb"), *b = fopenCheck(p, "wb");
    char buf[600];
    size_t n = fread(buf, 1, sizeof buf, a);
    fwriteCheck(buf, 1, n, b, p);
    fclose(a), fcloseCheck(b, p);
    refused("truncated data", read_vol, p, p, NULL);
  }
  pathf(p, "adir.nii");
  mkdir(p, 0755);
  refused("a directory", read_vol, p, p, "not a regular file");
  pathf(p, "missing.nii");
  refused("a missing file", read_vol, p, p, NULL);
  /* DWI series: 8 volumes; all-zero volume, negative signal */
  float *dwi = calloc(NX * NY * NZ * 8, sizeof(float));
  for (int i = 0; i < NX * NY * NZ * 8; i++) dwi[i] = 50 + (float)(i % 11);
  pathf(p, "dwi_ok.nii");
  niftivol_write(p, &g_ref, 8, dwi);
  T_CHECK(accepted(read_dwi, p), "a valid DWI series is accepted");
  float *z = calloc(NX * NY * NZ * 8, sizeof(float));
  pathf(p, "dwi_zero.nii");
  niftivol_write(p, &g_ref, 8, z);
  refused("all-zero DWI", read_dwi, p, p, "all zero");
  dwi[NX * NY * NZ * 3 + 17] = -4;
  pathf(p, "dwi_neg.nii");
  niftivol_write(p, &g_ref, 8, dwi);
  refused("negative DW signal", read_dwi, p, p, "negative signal");
  free(dwi), free(z);
}

/* ----------------------------------------------------- bvals / bvecs -- */
typedef struct { char bvals[512], bvecs[512]; int n; } Btab;
static void read_btab(void *arg) {
  Btab *b = arg;
  double *bv, *bg;
  int32_t n = dti_read_bvals_bvecs(b->bvals, b->bvecs, b->n, &bv, &bg);
  DtiModel m;
  dti_model_init(&m, bv, bg, n, b->bvals);
  dti_model_free(&m);
}

static void btab(Btab *b, const char *tag, const char *vals, const char *vecs) {
  char n1[64], n2[64];
  snprintf(n1, sizeof n1, "%s.bval", tag), snprintf(n2, sizeof n2, "%s.bvec", tag);
  pathf(b->bvals, n1), pathf(b->bvecs, n2);
  if (vals) write_text(b->bvals, vals);
  if (vecs) write_text(b->bvecs, vecs);
  b->n = 7;
}

static void test_btable(void) {
  const char *V = "0 1000 1000 1000 1000 1000 1000\n";
  const char *G = "0 1 0 0 0.7071 0.7071 0\n0 0 1 0 0.7071 0 0.7071\n0 0 0 1 0 0.7071 0.7071\n";
  Btab b;
  btab(&b, "ok", V, G);
  T_CHECK(accepted(read_btab, &b), "a valid b-table is accepted");
  btab(&b, "zerovec", V, "0 0 0 0 0.7071 0.7071 0\n0 0 1 0 0.7071 0 0.7071\n0 0 0 1 0 0.7071 0.7071\n");
  refused("zero bvec", read_btab, &b, b.bvecs, "direction 1 has length 0");
  btab(&b, "nob0", "1000 1000 1000 1000 1000 1000 1000\n", G);
  refused("no b=0", read_btab, &b, b.bvals, "no b=0 volume");
  btab(&b, "nan", "0 1000 nan 1000 1000 1000 1000\n", G);
  refused("NaN b-value", read_btab, &b, b.bvals, "not finite");
  btab(&b, "neg", "0 1000 -5 1000 1000 1000 1000\n", G);
  refused("negative b-value", read_btab, &b, b.bvals, NULL);
  btab(&b, "junk", V, "0 1 0 0 0.7071 0.7071 0\n0 0 1x 0 0.7071 0 0.7071\n0 0 0 1 0 0.7071 0.7071\n");
  refused("junk in bvecs", read_btab, &b, b.bvecs, "cannot parse");
  btab(&b, "short", V, "0 1 0 0 0.7071 0.7071\n0 0 1 0 0.7071 0\n0 0 0 1 0 0.7071\n");
  refused("short bvecs", read_btab, &b, b.bvecs, NULL);
  btab(&b, "count", "0 1000 1000 1000 1000 1000\n", G);
  refused("b-value count", read_btab, &b, b.bvals, "volumes");
  btab(&b, "dir", V, G);
  pathf(b.bvals, "bvaldir");
  mkdir(b.bvals, 0755);
  refused("bvals is a directory", read_btab, &b, b.bvals, "not a regular file");
}

/* ------------------------------------------------------------ config -- */
static void load_cfg(void *p) {
  TrainConfig c;
  config_defaults(&c);
  config_load(&c, p);
  char msg[512];
  const char *hint;
  if (config_check_values(&c, msg, sizeof msg, &hint)) cs_fatal(hint, "%s ('%s')", msg, (const char *)p);
}

static void test_config(void) {
  char p[512];
  pathf(p, "lr.ini");
  write_text(p, "lr_max = 1e-5\nlr_min = 1e-3\n");
  refused("lr_min > lr_max", load_cfg, p, p, "lr_min");
  pathf(p, "long.ini");
  char big[1200];
  memset(big, 'a', sizeof big);
  memcpy(big, "store = ", 8);
  big[sizeof big - 2] = '\n', big[sizeof big - 1] = 0;
  char text[1400];
  snprintf(text, sizeof text, "epochs = 3\n%sbatch = 2\n", big);
  write_text(p, text);
  refused("over-long line", load_cfg, p, p, "line 2");
  pathf(p, "nanlr.ini");
  write_text(p, "lr_max = nan\n");
  refused("NaN lr", load_cfg, p, p, "line 1");
  pathf(p, "ok.ini");
  write_text(p, "epochs = 3\nlr_max = 1e-3\nlr_min = 1e-5\n");
  T_CHECK(accepted(load_cfg, p), "a valid config is accepted");
}

/* ------------------------------------------------------ store + folds -- */
enum { S = 16, NSUBJ = 6, NSL = 2 };
static char g_store[512];

static void make_store(const char *path) {
  H5Store st;
  const int n = NSUBJ * NSL, hw = S * S;
  float *b0 = malloc(sizeof(float) * n * hw), *fa = malloc(sizeof(float) * n * hw);
  uint8_t *lab = malloc((size_t)n * hw);
  SliceMeta meta[NSUBJ * NSL];
  for (int i = 0; i < n * hw; i++) b0[i] = 10 + (float)(i % 7), fa[i] = (float)(i % 10) / 10, lab[i] = (uint8_t)(i % 9);
  for (int i = 0; i < n; i++) meta[i] = (SliceMeta){.subject = 1 + i / NSL, .slice = i % NSL, .level = 3, .spacing = {1, 1}};
  h5store_create(&st, path, S, S, 0, "test_io_corpus");
  h5store_append(&st, n, b0, fa, NULL, NULL, NULL, lab, meta);
  h5store_commit(&st);
  free(b0), free(fa), free(lab);
}

static void read_store(void *p) {
  H5Store s;
  h5store_open(&s, p);
  float *b = malloc(sizeof(float) * S * S), *f = malloc(sizeof(float) * S * S);
  uint8_t l[S * S];
  for (int32_t i = 0; i < s.n; i++) h5store_read_slices(&s, &i, 1, b, f, l);
  free(b), free(f);
  h5store_close(&s);
}

/* one slice of dataset name overwritten with v (raw HDF5, as a hostile editor would) */
static void store_poke(const char *path, const char *name, int32_t slice, int pixel, hid_t mt, const void *v) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t fs = H5Dget_space(ds);
  int rank = H5Sget_simple_extent_ndims(fs);
  hsize_t start[3] = {(hsize_t)slice, (hsize_t)(pixel / S), (hsize_t)(pixel % S)}, cnt[3] = {1, 1, 1};
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
  hid_t ms = H5Screate_simple(rank, cnt, NULL);
  if (H5Dwrite(ds, mt, ms, fs, H5P_DEFAULT, v) < 0) cs_fatal(NULL, "test: poke %s", name);
  H5Sclose(ms), H5Sclose(fs), H5Dclose(ds), H5Fclose(f);
}

static void attr_nullpad(const char *path, const char *name, const char *value) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Adelete(f, name);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(value));
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, value);
  H5Aclose(a), H5Sclose(sp), H5Tclose(t), H5Fclose(f);
}

static void verify_store(void *p) {
  H5Store s;
  h5store_open(&s, p);
  h5store_require_verified(&s, "test");
  h5store_close(&s);
}

static void test_store(void) {
  char p[512];
  pathf(g_store, "store.h5");
  make_store(g_store);
  T_CHECK(accepted(read_store, g_store), "a valid store is accepted");
  pathf(p, "nullpad.h5");
  copy(g_store, p);
  attr_nullpad(p, "schema", H5STORE_SCHEMA);
  T_CHECK(accepted(read_store, p), "a NULLPAD schema attribute (h5py's default) is read whole");
  uint8_t l200 = 200;
  pathf(p, "lab200.h5");
  copy(g_store, p);
  store_poke(p, "labels", 3, 17, H5T_NATIVE_UINT8, &l200);
  refused("label 200", read_store, p, p, "/labels");
  float nanv = NAN, fa2 = 2;
  pathf(p, "b0nan.h5");
  copy(g_store, p);
  store_poke(p, "b0", 5, 3, H5T_NATIVE_FLOAT, &nanv);
  refused("NaN b0", read_store, p, p, "not finite");
  pathf(p, "fa2.h5");
  copy(g_store, p);
  store_poke(p, "fa", 0, 0, H5T_NATIVE_FLOAT, &fa2);
  refused("FA 2", read_store, p, p, "/fa");
  pathf(p, "spacing.h5");
  copy(g_store, p);
  {
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "spacing", H5P_DEFAULT);
    float sp[NSUBJ * NSL * 2];
    H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, sp);
    sp[5] = -1;
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, sp);
    H5Dclose(ds), H5Fclose(f);
  }
  refused("negative spacing", read_store, p, p, "/spacing");
  /* the checksum attribute missing or damaged: said as such (was "the file records 0000000000000000") */
  pathf(p, "nosum.h5");
  copy(g_store, p);
  {
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, "checksum");
    H5Fclose(f);
  }
  refused("a store without its checksum attribute", verify_store, p, p, "has no 'checksum' attribute");
  pathf(p, "badsum.h5");
  copy(g_store, p);
  attr_nullpad(p, "checksum", "fnv1a64:not-hex");
  refused("a damaged checksum attribute", verify_store, p, p, "damaged 'checksum' attribute 'fnv1a64:not-hex'");
  float b0v = 12345;
  pathf(p, "b0edit.h5");
  copy(g_store, p);
  store_poke(p, "b0", 2, 5, H5T_NATIVE_FLOAT, &b0v);
  refused("a b0 value changed after writing", verify_store, p, p, "hashes to fnv1a64:");
  pathf(p, "notstore.h5");
  write_text(p, "not hdf5\n");
  refused("not HDF5", read_store, p, p, "not an HDF5 file");
}

static void read_folds_store(void *arg) {
  Folds f;
  folds_read(&f, arg);
  H5Store s;
  h5store_open(&s, g_store);
  folds_check_store(&f, arg, &s);
  for (int set = -1; set < f.k; set++) {
    int32_t *idx = NULL;
    folds_indices(&f, set, FOLD_TRAIN, s.meta, s.n, &idx);
    free(idx);
  }
  h5store_close(&s);
  folds_free(&f);
}

/* the text of a valid manifest, edited by `edit`, then re-hashed as a
 * hostile user (or a script) would */
static void folds_variant(const char *name, char *out, const char *from, const char *to) {
  char ok[512];
  pathf(ok, "folds.txt");
  char *t = textio_read(ok);
  char *h = strstr(t, "\nhash ");
  h[1] = 0;
  char body[8192];
  if (from) {
    char *at = strstr(t, from);
    if (!at) cs_fatal(NULL, "test: '%s' not in the folds text", from);
    *at = 0;
    snprintf(body, sizeof body, "%s%s%s", t, to, at + strlen(from));
  } else {
    snprintf(body, sizeof body, "%s", t);
  }
  char text[8400];
  snprintf(text, sizeof text, "%shash fnv1a64:%016llx\n", body,
           (unsigned long long)hash_fnv1a(HASH_FNV_INIT, body, strlen(body)));
  pathf(out, name);
  write_text(out, text);
  free(t);
}

static void test_folds(void) {
  H5Store s;
  h5store_open(&s, g_store);
  Folds f;
  folds_make(&f, s.meta, s.n, 3, 7);
  char ok[512], p[512];
  pathf(ok, "folds.txt");
  folds_write(&f, ok);
  h5store_close(&s);
  T_CHECK(accepted(read_folds_store, ok), "a valid folds manifest is accepted");
  char ids[128], row0[32];
  folds_variant("dupid.txt", p, "ids 1 2", "ids 1 1"); /* subject 1 twice: train in one entry, test in another */
  refused("a subject listed twice", read_folds_store, p, p, "listed twice");
  folds_variant("unknown.txt", p, "ids 1 2 3 4 5 6", "ids 1 2 3 4 5 99");
  refused("a subject the store lacks", read_folds_store, p, p, "subject");
  /* fold1's line replaced by a second fold0 line */
  char *t = textio_read(ok);
  char *a = strstr(t, "\nfold0 "), *b = strstr(t, "\nfold1 ");
  snprintf(row0, sizeof row0, "%.*s", (int)(strchr(a + 1, '\n') - a - 1), a + 1);
  char row1[32];
  snprintf(row1, sizeof row1, "%.*s", (int)(strchr(b + 1, '\n') - b - 1), b + 1);
  folds_variant("reprow.txt", p, row1, row0);
  refused("a repeated fold row", read_folds_store, p, p, "given twice");
  /* a row without test subjects */
  char notest[32];
  snprintf(notest, sizeof notest, "%s", row0);
  for (char *q = notest + 6; *q; q++)
    if (*q == 'X') *q = 'T';
  folds_variant("notest.txt", p, row0, notest);
  refused("a fold without test subjects", read_folds_store, p, p, "test");
  folds_variant("junk.txt", p, "seed ", "sneed ");
  refused("an unknown record", read_folds_store, p, p, "unknown record");
  snprintf(ids, sizeof ids, "folds 3");
  folds_variant("k1.txt", p, ids, "folds 0");
  refused("folds 0", read_folds_store, p, p, "folds");
  free(t);
  folds_free(&f);
}

/* -------------------------------------------------------- checkpoint -- */
static Unet *g_net;
static void read_ckpt(void *p) {
  ModelState ms;
  model_state_init(&ms, g_net, 1);
  CkptState st;
  ckpt_read(p, &ms, &st);
}
static void read_ckpt_weights(void *p) {
  ModelState ms;
  model_state_init(&ms, g_net, 0);
  CkptState st;
  ckpt_read(p, &ms, &st);
}

static void ck_i64(const char *path, const char *name, int64_t v) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  h5_attr_write_i64(f, path, name, v);
  H5Fclose(f);
}
static void ck_tensor(const char *path, const char *name, size_t i, float v, int drop_checksum) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t fs = H5Dget_space(ds);
  hsize_t start = i, cnt = 1;
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL);
  hid_t ms = H5Screate_simple(1, &cnt, NULL);
  H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &v);
  H5Sclose(ms), H5Sclose(fs), H5Dclose(ds);
  if (drop_checksum) H5Adelete(f, "tensor_checksum");
  H5Fclose(f);
}

static void test_ckpt(void) {
  UnetConfig u = {UNET_BACKBONE_RESNET50, 1, 9, 4, UNET_CONV_AUTO}; /* with BatchNorm buffers */
  g_net = unet_init(t_cpu(), &u, 1, 32, 32);
  unet_init_weights(g_net, UNET_INIT_NORMAL, 3);
  ModelState ms;
  model_state_init(&ms, g_net, 1);
  unet_state_download(g_net, &ms);
  for (size_t i = 0; i < ms.np; i++) ms.adam_m[i] = 1e-3f * (float)((int)(i % 7) - 3), ms.adam_v[i] = 1e-6f;
  ms.adam_t = 40;
  TrainConfig c;
  config_defaults(&c);
  c.epochs = 10, c.steps_per_epoch = 8;
  char *text = config_format(&c);
  CkptState st = {.epoch = 5, .step_in_epoch = 0, .global_step = 40, .best_dice = 0.5, .best_epoch = 4,
                  .elapsed_s = 3, .height = 32, .width = 32};
  config_hash(&c, st.config_hash);
  ckpt_model_key(g_net, &u, st.model, sizeof st.model);
  char ok[512], p[512];
  pathf(ok, "last.h5");
  ckpt_write(ok, &ms, 1, &st, text);
  T_CHECK(accepted(read_ckpt, ok), "a valid checkpoint is accepted");
  T_CHECK(accepted(read_ckpt_weights, ok), "a valid checkpoint is accepted weights-only");
  pathf(p, "flip.h5");
  copy(ok, p);
  {
    float w;
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "params", H5P_DEFAULT);
    hid_t fs = H5Dget_space(ds);
    hsize_t start = 1000, cnt = 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL);
    hid_t m1 = H5Screate_simple(1, &cnt, NULL);
    H5Dread(ds, H5T_NATIVE_FLOAT, m1, fs, H5P_DEFAULT, &w);
    H5Sclose(m1), H5Sclose(fs), H5Dclose(ds), H5Fclose(f);
    uint32_t bits;
    memcpy(&bits, &w, 4);
    bits ^= 1u << 9;
    memcpy(&w, &bits, 4);
    ck_tensor(p, "params", 1000, w, 0);
  }
  refused("a bit-flipped weight", read_ckpt, p, p, "tensor checksum");
  refused("a bit-flipped weight (weights-only read)", read_ckpt_weights, p, p, "tensor checksum");
  const struct { const char *file, *ds; size_t i; float v; const char *want; } T[] = {
      {"nanw.h5", "params", 7, NAN, "not finite"},
      {"bigw.h5", "params", 9, 1e30f, "sane range"},
      {"negv.h5", "adam_v", 3, -1e-3f, "adam_v"},
      {"nanbuf.h5", "buffers", 2, INFINITY, "buffers"}};
  for (int i = 0; i < 4; i++) {
    pathf(p, T[i].file);
    copy(ok, p);
    ck_tensor(p, T[i].ds, T[i].i, T[i].v, 1);
    refused(T[i].file, read_ckpt, p, p, T[i].want);
  }
  const struct { const char *file, *attr; int64_t v; } A[] = {
      {"epoch.h5", "epoch", 1000000}, {"negstep.h5", "step_in_epoch", -1}, {"neggs.h5", "global_step", -5},
      {"negt.h5", "adam_t", -1},      {"ep11.h5", "epoch", 11},          {"gs.h5", "global_step", 41}};
  for (int i = 0; i < 6; i++) {
    pathf(p, A[i].file);
    copy(ok, p);
    ck_i64(p, A[i].attr, A[i].v);
    refused(A[i].file, read_ckpt, p, p, A[i].attr);
  }
  pathf(p, "trunc.h5");
  {
    FILE *a = fopenCheck(ok, "rb"), *b = fopenCheck(p, "wb");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, a);
    fwriteCheck(buf, 1, n, b, p);
    fclose(a), fcloseCheck(b, p);
  }
  refused("a truncated checkpoint", read_ckpt, p, p, NULL);
  free(text);
  model_state_free(&ms);
}

/* ----------------------------------------------------------- run dir -- */
/* -------------------------------------------------------------- model -- */
static void read_model(void *p) {
  ModelFile mf;
  model_open(&mf, p);
  model_verify(&mf);
  model_close(&mf);
}

/* a copy of the model with one edit: attribute name of group g set (type 's', 'i' or 'f'), or a dataset changed */
static void model_attr(const char *from, const char *to, const char *g, const char *name, char type, const char *v) {
  if (strcmp(from, to)) copy(from, to);
  hid_t f = H5Fopen(to, H5F_ACC_RDWR, H5P_DEFAULT), loc = H5Gopen2(f, g, H5P_DEFAULT);
  if (type == 's') h5_attr_write_string(loc, to, name, v);
  else if (type == 'i') h5_attr_write_i64(loc, to, name, strtoll(v, NULL, 10));
  else h5_attr_write_f64(loc, to, name, strtod(v, NULL));
  H5Gclose(loc), H5Fclose(f);
}

/* member_00/params: n values from offset off set to v (n = 0: every value), the checksum attribute kept or dropped */
static void model_params(const char *from, const char *to, size_t off, size_t n, float v, int scale, int drop_sum) {
  copy(from, to);
  hid_t f = H5Fopen(to, H5F_ACC_RDWR, H5P_DEFAULT), ds = H5Dopen2(f, "member_00/params", H5P_DEFAULT);
  hid_t sp = H5Dget_space(ds);
  const size_t k = (size_t)H5Sget_simple_extent_npoints(sp);
  float *x = malloc(sizeof(float) * k);
  H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
  for (size_t i = n ? off : 0; i < (n ? off + n : k) && i < k; i++) x[i] = scale ? x[i] * v : v;
  H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
  free(x);
  H5Sclose(sp), H5Dclose(ds);
  if (drop_sum) {
    hid_t g = H5Gopen2(f, "member_00", H5P_DEFAULT);
    H5Adelete(g, "tensor_checksum");
    H5Gclose(g);
  }
  H5Fclose(f);
}

static void test_model(void) {
  char m[512], p[512], dir[512];
  pathf(dir, "modelfix");
  mkdir(dir, 0755);
  fix_model(dir, m, sizeof m);
  T_CHECK(accepted(read_model, m), "a valid model is accepted");
  pathf(p, "m_4k.h5");
  model_params(m, p, 5000, 1024, 0.74f, 0, 0); /* 4 KiB of float 0x3F3D70A4 */
  refused("4 KiB of the weights overwritten", read_model, p, p, "content checksum");
  pathf(p, "m_zero.h5");
  model_params(m, p, 0, 0, 0, 0, 0);
  refused("all weights zero", read_model, p, p, "content checksum");
  pathf(p, "m_1e5.h5");
  model_params(m, p, 0, 0, 1e5f, 1, 0);
  refused("weights times 1e5", read_model, p, p, "content checksum");
  pathf(p, "m_nan.h5");
  model_params(m, p, 0, 0, NAN, 0, 1);
  refused("all-NaN weights in a file without a checksum", read_model, p, p, "params");
  pathf(p, "m_argmax.h5");
  model_attr(m, p, "/", "mode", 's', "argmax");
  refused("mode = argmax on an HDL member", read_model, p, p, "mode");
  pathf(p, "m_grid.h5");
  model_attr(m, p, "/", "height", 'i', "64");
  model_attr(p, p, "/", "width", 'i', "64");
  refused("a file grid of 64 on a member trained at 32", read_model, p, p, "trained at 32 x 32");
  pathf(p, "m_sp.h5");
  model_attr(m, p, "/", "spacing_row", 'f', "1e-30");
  refused("spacing 1e-30 mm", read_model, p, p, "spacing_row");
  pathf(p, "m_big.h5");
  model_attr(m, p, "/", "height", 'i', "4096");
  model_attr(p, p, "/", "width", 'i', "4096");
  refused("height = width = 4096", read_model, p, p, "16..1024");
  pathf(p, "m_thr.h5");
  copy(m, p);
  {
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT), ds = H5Dopen2(f, "member_00/thresholds", H5P_DEFAULT);
    double t[LABEL_COUNT];
    H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t);
    t[3] = 7.0;
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t);
    H5Dclose(ds), H5Fclose(f);
  }
  refused("a threshold of 7", read_model, p, p, "thresholds[3] = 7");
}

static void test_rundir(void) {
  char run[512], p[600];
  pathf(run, "run");
  rundir_prepare(run);
  snprintf(p, sizeof p, "%s/log.csv", run);
  write_text(p, "epoch,loss\n1,0.5\n2,0.4\n");
  snprintf(p, sizeof p, "%s/ckpt/last.h5.tmp.999999999", run); /* no such process */
  write_text(p, "partial");
  rundir_prepare(run);
  T_CHECK(access(p, F_OK) != 0, "a killed writer's temp file is removed at start");
  snprintf(p, sizeof p, "%s/log.csv", run);
  char *t = textio_read(p);
  T_CHECK(t && !strcmp(t, "epoch,loss\n"), "a fresh start keeps only the header of log.csv (got '%s')", t ? t : "");
  free(t);
}

int main(void) {
  h5_quiet();
  snprintf(g_dir, sizeof g_dir, "%s/test_io_corpus.%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  mkdir(g_dir, 0755);
  test_nifti();
  test_btable();
  test_config();
  test_store();
  test_folds();
  test_ckpt();
  test_rundir();
  test_model();
  printf("%d broken inputs tried\n", g_cases);
  int rc = t_finish("test_io_corpus");
  if (!rc) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
  }
  return rc;
}
