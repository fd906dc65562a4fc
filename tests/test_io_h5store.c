/* tests/test_io_h5store.c: the HDF5 slice store round-trips exactly, records
 * a checksum that verifies (and detects edits), appends keep it valid, and bad
 * input (truncated file, wrong schema, labels > 8, NaN) fails with exit 1
 * without leaving a half-written output. */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "core/metrics.h"
#include "io/h5store.h"
#include "io/h5util.h"
#include "tests/testutil.h"
#include "io/path.h"

enum { H = 12, W = 10, N = 5 };
static float b0[N * H * W], fa[N * H * W], md[N * H * W];
static uint8_t lab[N * H * W];
static SliceMeta meta[N];

static void fill(uint64_t seed) {
  Rng r;
  rng_init(&r, seed);
  for (int i = 0; i < N * H * W; i++) {
    b0[i] = (float)(1000 * rng_uniform(&r));
    fa[i] = (float)rng_uniform(&r);
    md[i] = (float)(1e-3 * rng_uniform(&r));
    lab[i] = (uint8_t)rng_below(&r, 9);
  }
  for (int i = 0; i < N; i++) meta[i] = (SliceMeta){.subject = 10 + i / 3, .slice = i % 3, .level = 2 + i, .spacing = {0.625f, 0.7f}};
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* runs fn in a child; returns its exit status (stderr goes to /dev/null) */
typedef struct {
  void (*fn)(const char *);
  const char *arg;
} StrCall;
static void str_call(void *p) { ((StrCall *)p)->fn(((StrCall *)p)->arg); }
static int child_status(void (*fn)(const char *), const char *arg) {
  StrCall c = {fn, arg};
  return t_child_exit(str_call, &c);
}

static void do_open(const char *p) {
  H5Store s;
  h5store_open(&s, p);
  h5store_close(&s);
}

static void do_bad_labels(const char *p) {
  H5Store s;
  h5store_create(&s, p, H, W, 0, "test");
  lab[7] = 9;
  h5store_append(&s, N, b0, fa, NULL, NULL, NULL, lab, meta);
  h5store_commit(&s);
}

static void do_nan(const char *p) {
  H5Store s;
  h5store_create(&s, p, H, W, 0, "test");
  fa[3] = NAN;
  h5store_append(&s, N, b0, fa, NULL, NULL, NULL, lab, meta);
  h5store_commit(&s);
}

int main(void) {
  char dir[256], path[300], bad[300];
  snprintf(dir, sizeof dir, "%s/test_io_h5store.%d", CORDSEG_BINARY_DIR, (int)getpid());
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/a.h5", dir);
  fill(1);

  /* write with DTI maps, read back */
  H5Store s;
  h5store_create(&s, path, H, W, 1, "cordseg test");
  char tmp[PATH_CAP];
  path_fmt(tmp, sizeof tmp, "%s", s.tmp);
  h5store_append(&s, 2, b0, fa, md, md, md, lab, meta);
  h5store_append(&s, N - 2, b0 + 2 * H * W, fa + 2 * H * W, md + 2 * H * W, md + 2 * H * W, md + 2 * H * W,
                 lab + 2 * H * W, meta + 2);
  T_CHECK(!file_exists(path), "output must not exist before commit");
  h5store_commit(&s);
  T_CHECK(file_exists(path) && !file_exists(tmp), "commit renames the temp file onto the output");

  H5Store r;
  h5store_open(&r, path);
  T_CHECK(r.n == N && r.h == H && r.w == W && r.has_dti, "shape %d %d %d dti %d", r.n, r.h, r.w, r.has_dti);
  T_CHECK(h5store_subject_count(&r) == 2, "2 subjects, got %d", h5store_subject_count(&r));
  static float b0r[N * H * W], far[N * H * W], mdr[H * W], adr[H * W], rdr[H * W];
  static uint8_t labr[N * H * W];
  int32_t idx[N] = {4, 0, 2, 1, 3};
  h5store_read_slices(&r, idx, N, b0r, far, labr);
  int same = 1;
  for (int k = 0; k < N; k++) {
    size_t o = (size_t)idx[k] * H * W, q = (size_t)k * H * W;
    same &= !memcmp(b0 + o, b0r + q, H * W * 4) && !memcmp(fa + o, far + q, H * W * 4) && !memcmp(lab + o, labr + q, H * W);
    same &= r.meta[idx[k]].subject == meta[idx[k]].subject && r.meta[idx[k]].level == meta[idx[k]].level &&
            r.meta[idx[k]].spacing[1] == 0.7f;
  }
  T_CHECK(same, "slices read back bit-identical, in the requested order");
  h5store_read_dti(&r, 3, mdr, adr, rdr);
  T_CHECK(!memcmp(mdr, md + 3 * H * W, H * W * 4), "md round-trips");
  uint64_t got, want;
  T_CHECK(h5store_verify(&r, &got, &want), "checksum verifies (%016llx vs %016llx)", (unsigned long long)got,
          (unsigned long long)want);
  char attr[256];
  h5store_attr_string(&r, "created_by", attr, sizeof attr);
  T_CHECK(!strcmp(attr, "cordseg test"), "created_by attribute '%s'", attr);
  h5store_close(&r);

  /* /cord_ratio (io/h5cord.c): written with the slices, = metrics_cord_ratio of
   * each slice's labels; a store without it (cordseg before issue 30) still
   * loads, computes it from the labels, verifies, and an append fills it */
  h5store_open(&r, path);
  int cr = r.cord_ratio != NULL;
  for (int i = 0; cr && i < N; i++)
    cr = r.cord_ratio[i] == (float)metrics_cord_ratio(lab + (size_t)i * H * W, H, W, meta[i].spacing, 9) &&
         h5store_cord_ratio(&r, i) == r.cord_ratio[i];
  T_CHECK(cr, "/cord_ratio holds each slice's AP/LR cord ratio");
  h5store_close(&r);
  char old[300];
  snprintf(old, sizeof old, "%s/old.h5", dir);
  h5store_create(&s, old, H, W, 0, "old store");
  h5store_append(&s, N, b0, fa, NULL, NULL, NULL, lab, meta);
  h5store_commit(&s);
  hid_t fo = H5Fopen(old, H5F_ACC_RDWR, H5P_DEFAULT);
  T_CHECK(H5Ldelete(fo, "cord_ratio", H5P_DEFAULT) >= 0, "made a store without /cord_ratio");
  H5Fclose(fo);
  h5store_open(&r, old);
  cr = r.cord_ratio == NULL && h5store_verify(&r, &(uint64_t){0}, &(uint64_t){0});
  for (int i = 0; cr && i < N; i++)
    cr = h5store_cord_ratio(&r, i) == (float)metrics_cord_ratio(lab + (size_t)i * H * W, H, W, meta[i].spacing, 9);
  T_CHECK(cr, "a store without /cord_ratio loads, verifies, and computes the ratio from its labels");
  h5store_close(&r);
  h5store_open_append(&s, old, "append to old");
  h5store_append(&s, 1, b0 + 3 * H * W, fa + 3 * H * W, NULL, NULL, NULL, lab + 3 * H * W, meta + 3);
  h5store_commit(&s);
  h5store_open(&r, old);
  cr = r.n == N + 1 && r.cord_ratio != NULL;
  for (int i = 0; cr && i <= N; i++)
    cr = r.cord_ratio[i] == (float)metrics_cord_ratio(lab + (size_t)(i < N ? i : 3) * H * W, H, W, meta[i < N ? i : 3].spacing, 9);
  T_CHECK(cr, "an append to a store without /cord_ratio fills it for the old and the new slices");
  h5store_close(&r);

  /* append one more subject through a temp copy */
  H5Store a;
  h5store_open_append(&a, path, "append step");
  meta[0].subject = 99;
  h5store_append(&a, 1, b0, fa, md, md, md, lab, meta);
  h5store_commit(&a);
  h5store_open(&r, path);
  T_CHECK(r.n == N + 1 && r.meta[N].subject == 99, "append added a slice (n=%d)", r.n);
  T_CHECK(h5store_verify(&r, &got, &want), "checksum still verifies after append");
  h5store_close(&r);

  /* an edit behind the store's back is detected */
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t ds = H5Dopen2(f, "labels", H5P_DEFAULT);
  static uint8_t all[(N + 1) * H * W];
  H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, all);
  all[17] = (uint8_t)((all[17] + 1) % 9);
  H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, all);
  H5Dclose(ds), H5Fclose(f);
  h5store_open(&r, path);
  T_CHECK(!h5store_verify(&r, &got, &want), "a changed label is detected by the checksum");
  char why[4800];
  T_CHECK(!h5store_verify_explain(&r, why, sizeof why) && strstr(why, "hashes to fnv1a64:") &&
              strstr(why, "'checksum' attribute records fnv1a64:") && strstr(why, path),
          "the changed content is named with both values and the file: %s", why);
  h5store_close(&r);
  /* the checksum attribute damaged, then missing: said as such, never "records 0000000000000000" */
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Adelete(f, "checksum");
  h5_attr_write_string(f, path, "checksum", "fnv1a64:12zz");
  H5Fclose(f);
  h5store_open(&r, path);
  T_CHECK(!h5store_verify_explain(&r, why, sizeof why) && strstr(why, "damaged 'checksum' attribute 'fnv1a64:12zz'") &&
              !strstr(why, "0000000000000000"),
          "a damaged checksum attribute is quoted: %s", why);
  h5store_close(&r);
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Adelete(f, "checksum");
  H5Fclose(f);
  h5store_open(&r, path);
  T_CHECK(!h5store_verify(&r, &got, &want) && !h5store_verify_explain(&r, why, sizeof why) &&
              strstr(why, "has no 'checksum' attribute") && !strstr(why, "0000000000000000"),
          "a missing checksum attribute is named: %s", why);
  h5store_close(&r);

  /* truncated file */
  snprintf(bad, sizeof bad, "%s/trunc.h5", dir);
  FILE *in = fopen(path, "rb"), *out = fopen(bad, "wb");
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf, in);
  fwrite(buf, 1, n / 2, out);
  fclose(in), fclose(out);
  T_CHECK(child_status(do_open, bad) == 1, "truncated store is a fatal error (exit 1)");
  /* wrong schema: a valid HDF5 file that is not a store */
  snprintf(bad, sizeof bad, "%s/other.h5", dir);
  H5Fclose(H5Fcreate(bad, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  T_CHECK(child_status(do_open, bad) == 1, "foreign HDF5 file is a fatal error");
  T_CHECK(child_status(do_open, "/nonexistent/x.h5") == 1, "missing file is a fatal error");
  /* bad content: nothing left behind */
  snprintf(bad, sizeof bad, "%s/bad.h5", dir);
  T_CHECK(child_status(do_bad_labels, bad) == 1, "label 9 is a fatal error");
  T_CHECK(child_status(do_nan, bad) == 1, "NaN FA is a fatal error");
  char pat[400];
  snprintf(pat, sizeof pat, "ls %s | grep -c tmp > /dev/null", dir);
  T_CHECK(!file_exists(bad), "no output after a failed write");
  T_CHECK(system(pat) != 0, "no temp file left after a failed write");

  snprintf(pat, sizeof pat, "rm -rf %s", dir);
  if (system(pat)) {}
  return t_finish("test_io_h5store");
}
