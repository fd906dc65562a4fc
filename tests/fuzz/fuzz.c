/* tests/fuzz/fuzz.c: libFuzzer harnesses for cordseg's text and NIfTI readers,
 * one binary per reader (compiled with -DFUZZ_<NAME>; tests/fuzz/fuzz.cmake,
 * run by tests/fuzz/run.sh). Every input is written to a file and handed to
 * the reader exactly as a user's file would be. A reader refusing the input
 * (cs_fatal: one message, exit 1) is the expected outcome for garbage: the
 * exit hook jumps back here instead, so the fuzzer goes on. A crash, a
 * sanitizer report or a hang is a finding.
 *   FUZZ_CONFIG  config_load (train INI)   FUZZ_FOLDS  folds_read
 *   FUZZ_SWEEP   sweep_load                FUZZ_NIFTI  niftivol_read
 *   FUZZ_BTABLE  dti_read_bvals_bvecs (input split at the first 0x00 byte)
 *   FUZZ_MODEL   model_open, model_verify, model_describe on a valid model file
 *                (a tiny HDL VGG16 export, made once) with the input's edits applied
 *   FUZZ_STORE   h5store_open, slice reads, names, h5store_verify_explain on a
 *                valid 3-subject store (made once) with the input's edits applied
 * The two HDF5 harnesses do not mutate HDF5's bytes (that fuzzes libhdf5, not
 * cordseg): the input is a list of edits, one a line, to the file's attributes
 * and datasets, as a damaged or hand-edited file would carry:
 *   a GROUP NAME s|v|i|f VALUE   set attribute (fixed string, variable-length
 *                                string, int64, float64); GROUP "/" = the root
 *   x GROUP NAME                 delete the attribute
 *   d GROUP/DATASET INDEX VALUE  set one element   z ... VALUE  set all of them
 *   m GROUP/DATASET FACTOR       multiply all      r GROUP/DATASET  delete it
 * The fuzz build skips the content hashes (io/hash.h HASH_CHECKED), so edits
 * to weights and folds reach the checks behind the hash. */
#include <dirent.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "io/config.h"
#include "io/dti.h"
#include "io/folds.h"
#include "io/niftivol.h"
#include "slurm/sweep.h"
#if defined(FUZZ_MODEL) || defined(FUZZ_STORE)
#include <hdf5.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function" /* the fixtures a harness does not use */
#include "tests/evalfix.h"
#include "io/path.h"
#pragma GCC diagnostic pop
#endif

static jmp_buf g_back;
static void back(int code) { longjmp(g_back, code ? code : 1); }

/* a refused input leaves the reader's open files behind (exit would have
 * closed them): the fds open before the call are marked, the others closed after */
#define FUZZ_MAX_FD 4096
static void fds_mark(unsigned char *open_) {
  memset(open_, 0, FUZZ_MAX_FD);
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    const int fd = atoi(e->d_name);
    if (fd >= 0 && fd < FUZZ_MAX_FD && e->d_name[0] != '.') open_[fd] = 1;
  }
  closedir(d);
}
static void fds_close_new(const unsigned char *before) {
  unsigned char now[FUZZ_MAX_FD];
  fds_mark(now);
  for (int fd = 3; fd < FUZZ_MAX_FD; fd++)
    if (now[fd] && !before[fd]) close(fd);
}

#if !defined(FUZZ_MODEL) && !defined(FUZZ_STORE)
static void put(const char *path, const uint8_t *d, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (n && fwrite(d, 1, n, f) != n) abort();
  fclose(f);
}
#endif

#if defined(FUZZ_MODEL) || defined(FUZZ_STORE)
static char g_tmpl[300]; /* the valid file every input's edits start from */

/* the valid file: fix_store's 3 subjects x 2 slices of 32 x 32, or fix_model's model (tests/evalfix.h) */
static void template_make(const char *dir) {
#ifdef FUZZ_STORE
  char folds[700], sum[64], fh[32];
  snprintf(g_tmpl, sizeof g_tmpl, "%.200s/store.h5", dir);
  snprintf(folds, sizeof folds, "%.600s/folds.txt", dir);
  fix_store(g_tmpl, folds, 3, 2, 32, 3, sum, fh);
#else
  fix_model(dir, g_tmpl, sizeof g_tmpl);
#endif
}

static void copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  if (!in || !out) abort();
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) abort();
  fclose(in), fclose(out);
}

/* "G/D" -> the group G (or the root) and D; a group that is not there: -1 */
static hid_t edit_group(hid_t f, const char *g) {
  if (!strcmp(g, "/") || !g[0]) return H5Gopen2(f, "/", H5P_DEFAULT);
  return H5Lexists(f, g, H5P_DEFAULT) > 0 ? H5Gopen2(f, g, H5P_DEFAULT) : -1;
}

static void edit_attr(hid_t loc, const char *name, char type, const char *value) {
  if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
  if (type == 'x') return;
  hid_t sp = H5Screate(H5S_SCALAR), t = -1, a = -1;
  if (type == 's' || type == 'v') {
    t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, type == 'v' ? H5T_VARIABLE : strlen(value) + 1);
    a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) H5Awrite(a, t, type == 'v' ? (const void *)&value : (const void *)value);
  } else if (type == 'i') {
    long long v = strtoll(value, NULL, 0);
    a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) H5Awrite(a, H5T_NATIVE_LLONG, &v);
  } else if (type == 'f') {
    double v = strtod(value, NULL);
    a = H5Acreate2(loc, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
  }
  if (a >= 0) H5Aclose(a);
  if (t >= 0) H5Tclose(t);
  H5Sclose(sp);
}

/* d/z/m on a dataset through a double buffer (HDF5 converts to the file's type, clipping) */
static void edit_data(hid_t f, const char *path, char op, long long k, double v) {
  if (H5Lexists(f, path, H5P_DEFAULT) <= 0) return;
  hid_t ds = H5Dopen2(f, path, H5P_DEFAULT), sp = ds >= 0 ? H5Dget_space(ds) : -1;
  const hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : 0;
  if (n > 0 && n <= (1 << 24)) {
    double *x = malloc(sizeof(double) * (size_t)n);
    if (x && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0) {
      if (op == 'd') x[(unsigned long long)k % (unsigned long long)n] = v;
      for (hssize_t i = 0; op != 'd' && i < n; i++) x[i] = op == 'z' ? v : x[i] * v;
      H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    }
    free(x);
  }
  if (sp >= 0) H5Sclose(sp);
  if (ds >= 0) H5Dclose(ds);
}

/* the template copied to path with the input's edit lines applied (lines that do not parse are skipped) */
static void edits_apply(const char *path, const uint8_t *d, size_t size) {
  copy_file(g_tmpl, path);
  char *text = malloc(size + 1);
  memcpy(text, d, size), text[size] = 0;
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  for (char *line = strtok(text, "\n"); f >= 0 && line; line = strtok(NULL, "\n")) {
    char op = 0, g[256], name[256], type = 0, value[4096] = "";
    double v;
    long long k;
    if (sscanf(line, "a %255s %255s %c %4095[^\n]", g, name, &type, value) >= 3) {
      hid_t loc = edit_group(f, g);
      if (loc >= 0) edit_attr(loc, name, type, value), H5Gclose(loc);
    } else if (sscanf(line, "x %255s %255s", g, name) == 2) {
      hid_t loc = edit_group(f, g);
      if (loc >= 0) edit_attr(loc, name, 'x', ""), H5Gclose(loc);
    } else if (sscanf(line, "d %255s %lld %lf", g, &k, &v) == 3) edit_data(f, g, 'd', k, v);
    else if (sscanf(line, "%c %255s %lf", &op, g, &v) == 3 && (op == 'z' || op == 'm')) edit_data(f, g, op, 0, v);
    else if (sscanf(line, "r %255s", g) == 1 && H5Lexists(f, g, H5P_DEFAULT) > 0) H5Ldelete(f, g, H5P_DEFAULT);
  }
  if (f >= 0) H5Fclose(f);
  free(text);
}

/* a refused input leaves the reader's HDF5 objects open (exit would have closed them): all closed after each */
static void h5_close_all(void) {
  ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (n <= 0) return;
  hid_t *ids = malloc(sizeof(hid_t) * (size_t)n);
  n = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_ALL, (size_t)n, ids);
  for (ssize_t i = 0; i < n; i++) {
    const H5I_type_t t = H5Iget_type(ids[i]);
    if (t == H5I_FILE) continue;
    while (H5Iis_valid(ids[i]) > 0 && H5Idec_ref(ids[i]) > 0) {}
  }
  n = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_FILE, (size_t)n, ids);
  for (ssize_t i = 0; i < n; i++)
    while (H5Iis_valid(ids[i]) > 0 && H5Idec_ref(ids[i]) > 0) {}
  free(ids);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char a[256], b[256];
  if (!a[0]) {
    const char *t = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
#ifdef FUZZ_NIFTI
    snprintf(a, sizeof a, "%s/cordseg-fuzz-%d-a.nii", t, (int)getpid());
#elif defined(FUZZ_MODEL) || defined(FUZZ_STORE)
    snprintf(a, sizeof a, "%s/cordseg-fuzz-%d-a.h5", t, (int)getpid());
    snprintf(b, sizeof b, "%s/cordseg-fuzz-%d-tmpl", t, (int)getpid());
    mkdir(b, 0700);
    template_make(b);
#else
    snprintf(a, sizeof a, "%s/cordseg-fuzz-%d-a.txt", t, (int)getpid());
#endif
    snprintf(b, sizeof b, "%s/cordseg-fuzz-%d-b.txt", t, (int)getpid());
    cs_set_exit_hook(back);
  }
#ifdef FUZZ_BTABLE
  const uint8_t *z = memchr(data, 0, size);
  const size_t na = z ? (size_t)(z - data) : size;
  put(a, data, na);
  put(b, z ? z + 1 : data, z ? size - na - 1 : 0);
#elif defined(FUZZ_MODEL) || defined(FUZZ_STORE)
  edits_apply(a, data, size);
#else
  put(a, data, size);
#endif
  static unsigned char before[FUZZ_MAX_FD];
  fds_mark(before);
  if (setjmp(g_back) == 0) {
#if defined(FUZZ_CONFIG)
    TrainConfig c;
    config_defaults(&c);
    config_load(&c, a);
#elif defined(FUZZ_FOLDS)
    Folds f;
    folds_read(&f, a);
    folds_free(&f);
#elif defined(FUZZ_SWEEP)
    Sweep s;
    sweep_load(&s, a);
    sweep_free(&s);
#elif defined(FUZZ_NIFTI)
    NiftiVol v;
    niftivol_read(&v, a);
    niftivol_free(&v);
#elif defined(FUZZ_MODEL)
    ModelFile mf;
    mf.file = -1;
    model_open(&mf, a);
    model_verify(&mf);
    FILE *null = fopen("/dev/null", "w");
    model_describe(&mf, null);
    fclose(null);
    model_close(&mf);
#elif defined(FUZZ_STORE)
    H5Store st;
    h5store_open(&st, a);
    float b0[32 * 32 * 2], fa[32 * 32 * 2];
    uint8_t lab[32 * 32 * 2];
    for (int32_t i = 0; i < st.n && i < 8 && (int64_t)st.h * st.w <= 32 * 32 * 2; i++)
      h5store_read_slices(&st, &i, 1, b0, fa, lab);
    int32_t id, ns;
    h5store_subject_find(&st, "sub-x", &id, &ns);
    char msg[4800];
    h5store_verify_explain(&st, msg, sizeof msg);
    h5store_close(&st);
#elif defined(FUZZ_BTABLE)
    double *bv = NULL, *bg = NULL;
    int32_t n = dti_read_bvals_bvecs(a, b, -1, &bv, &bg);
    (void)n;
    free(bv), free(bg);
#else
#error "define one FUZZ_<READER>"
#endif
  }
#if defined(FUZZ_MODEL) || defined(FUZZ_STORE)
  h5_close_all();
#endif
  fds_close_new(before);
  return 0;
}
