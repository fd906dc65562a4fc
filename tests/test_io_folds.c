/* tests/test_io_folds.c: no subject ever appears in two sets (split and every
 * fold, checked through the slice indices the trainer gets), every slice is
 * in exactly one set, each subject is tested in exactly one CV fold, the
 * split has the 81/9/10 proportions, files round-trip, and an edited file is
 * rejected by its hash. --val and the default (at least 2 validation subjects
 * where a training subject is left), the legacy rule kept by folds_make, an
 * impossible split refused with the subjects it needs, subject names written
 * and read back, and `folds --from` (io/splits.c): an edited split accepted
 * (k = 1, a fixed test set), an unknown name, a subject in two sets and a fold
 * without test subjects refused; `folds --group-by site`:
 * whole sites in test sets, balanced, refusals. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/folds.h"
#include "io/h5store.h"
#include "io/textio.h"
#include "tests/testutil.h"

enum { NSUB = 89, NSL = 12, N = NSUB * NSL };
static SliceMeta meta[N];

static void check_disjoint(const Folds *f, int set) {
  const char roles[3] = {FOLD_TRAIN, FOLD_VAL, FOLD_TEST};
  static int owner_of_subject[10000];
  static int seen_slice[N];
  memset(owner_of_subject, -1, sizeof owner_of_subject);
  memset(seen_slice, 0, sizeof seen_slice);
  int ok = 1, total = 0;
  for (int r = 0; r < 3; r++) {
    int32_t *idx;
    int32_t m = folds_indices(f, set, roles[r], meta, N, &idx);
    T_CHECK(m > 0, "set %d role %c is not empty", set, roles[r]);
    for (int32_t i = 0; i < m; i++) {
      int s = meta[idx[i]].subject;
      if (owner_of_subject[s] >= 0 && owner_of_subject[s] != r) ok = 0;
      owner_of_subject[s] = r;
      seen_slice[idx[i]]++;
    }
    total += m;
    free(idx);
  }
  int once = total == N;
  for (int i = 0; i < N; i++) once &= seen_slice[i] == 1;
  T_CHECK(ok, "set %d: no subject in two of train/val/test", set);
  T_CHECK(once, "set %d: every slice in exactly one of train/val/test", set);
}

static const char *g_path;
static void read_it(void) {
  Folds f;
  folds_read(&f, g_path);
}
static void read_it_cb(void *unused) { (void)unused; read_it(); }

static char g_store[300], g_json[300];
static void from_cb(void *unused) {
  (void)unused;
  H5Store s;
  Folds f;
  h5store_open(&s, g_store);
  folds_from_splits(&f, g_json, &s);
}
static int from_json(const char *json) {
  FILE *fp = fopen(g_json, "w");
  fputs(json, fp);
  fclose(fp);
  return t_child_exit(from_cb, NULL);
}

/* a store of 6 named subjects (2 slices each, 8x8) */
static void make_named_store(void) {
  enum { S = 8, NS = 12 };
  static float img[NS * S * S];
  static uint8_t lab[NS * S * S];
  SliceMeta m[NS];
  for (int i = 0; i < NS * S * S; i++) img[i] = (float)(i % 7) / 7, lab[i] = (uint8_t)(i % 3);
  for (int i = 0; i < NS; i++) m[i] = (SliceMeta){.subject = i / 2, .slice = i % 2, .spacing = {1, 1}};
  H5Store s;
  h5store_create(&s, g_store, S, S, 0, "test");
  h5store_append(&s, NS, img, img, NULL, NULL, NULL, lab, m);
  const char *names[6] = {"sub-a", "sub-b", "sub-c", "sub-d", "sub-e", "sub-f"};
  for (int i = 0; i < 6; i++) h5store_subject_set_name(&s, i, names[i]);
  h5store_commit(&s);
}

static void val_and_from(void) {
  /* 12 subjects, 3 folds: the default takes 2 validation subjects, --val 1 = the legacy rule (the quickstart's) */
  SliceMeta m12[12];
  for (int i = 0; i < 12; i++) m12[i] = (SliceMeta){.subject = i};
  Folds a, b;
  char why[320];
  T_CHECK(folds_make_val(&a, m12, 12, 3, 42, FOLDS_VAL_AUTO, why, sizeof why) == 0, "12 subjects, 3 folds");
  int ok = 1;
  for (int s = 0; s <= 3; s++) {
    int nv = 0;
    for (int i = 0; i < 12; i++) nv += a.roles[s * 12 + i] == FOLD_VAL;
    ok &= nv == 2;
  }
  T_CHECK(ok, "default: 2 validation subjects in the split and each fold");
  folds_free(&a);
  folds_make(&a, m12, 12, 3, 42);
  folds_make_val(&b, m12, 12, 3, 42, 1, why, sizeof why);
  T_CHECK(!memcmp(a.roles, b.roles, 4 * 12), "--val 1 = the legacy rule for 12 subjects (the quickstart's folds)");
  folds_free(&a), folds_free(&b);
  /* 3 subjects, 2 folds: a fold would test 2 and leave 1 -> refused, needing 4 */
  int32_t need = folds_make_val(&a, m12, 3, 2, 42, FOLDS_VAL_AUTO, why, sizeof why);
  T_CHECK(need == 4, "3 subjects, k = 2: refused, needs 4 (got %d: %s)", need, why);
  need = folds_make_val(&a, m12, 12, 3, 42, 8, why, sizeof why);
  T_CHECK(need > 12, "--val 8 of 12 subjects in 3 folds: refused (needs %d)", need);

  snprintf(g_store, sizeof g_store, "%s/test_io_folds.%d.h5", CORDSEG_BINARY_DIR, (int)getpid());
  snprintf(g_json, sizeof g_json, "%s/test_io_folds.%d.json", CORDSEG_BINARY_DIR, (int)getpid());
  make_named_store();
  /* names written and read back; the store check accepts them */
  H5Store s;
  h5store_open(&s, g_store);
  folds_make_val(&a, s.meta, s.n, 2, 1, FOLDS_VAL_AUTO, why, sizeof why);
  folds_set_names(&a, &s);
  char path[300], nb[64];
  snprintf(path, sizeof path, "%s/test_io_folds.%d.names.txt", CORDSEG_BINARY_DIR, (int)getpid());
  folds_write(&a, path);
  folds_read(&b, path);
  T_CHECK(b.names && !strcmp(folds_name(&b, 2, nb), "sub-c"), "names round-trip (%s)", folds_name(&b, 2, nb));
  folds_check_store(&b, path, &s);
  folds_free(&a), folds_free(&b);
  /* --from: one fold, a fixed test set; read back (k = 1 allowed for an edited split) */
  FILE *fp = fopen(g_json, "w");
  fputs("[{\"train\": [\"sub-a\", \"sub-b\", \"sub-c\"], \"val\": [\"sub-d\"]}]", fp);
  fclose(fp);
  folds_from_splits(&a, g_json, &s);
  folds_write(&a, path);
  folds_read(&b, path);
  T_CHECK(b.k == 1 && b.from[0] && b.roles[b.n + 4] == FOLD_TEST && b.roles[b.n + 3] == FOLD_VAL &&
              b.roles[4] == FOLD_TEST,
          "--from: 1 fold, sub-e test, sub-d validation, the split = entry 0");
  folds_check_store(&b, path, &s);
  folds_free(&a), folds_free(&b);
  /* more entries than subjects (repeated splits of one test set): read back */
  fp = fopen(g_json, "w");
  fputs("[", fp);
  for (int e = 0; e < 7; e++) fprintf(fp, "%s{\"train\": [\"sub-a\", \"sub-b\"], \"val\": [\"sub-c\"]}", e ? "," : "");
  fputs("]", fp);
  fclose(fp);
  folds_from_splits(&a, g_json, &s);
  folds_write(&a, path);
  folds_read(&b, path);
  T_CHECK(b.k == 7 && b.n == 6, "--from: 7 folds of 6 subjects read back (k = %d)", b.k);
  folds_free(&a), folds_free(&b);
  h5store_close(&s);
  T_CHECK(from_json("[{\"train\": [\"sub-a\"], \"val\": [\"sub-z\"]}]") == 1, "--from: unknown name refused");
  T_CHECK(from_json("[{\"train\": [\"sub-a\"], \"val\": [\"sub-a\"]}]") == 1, "--from: a subject in two sets refused");
  T_CHECK(from_json("[{\"train\": [\"sub-a\", \"sub-b\", \"sub-c\", \"sub-d\"], \"val\": [\"sub-e\", "
                    "\"sub-f\"]}]") == 1,
          "--from: no test subject refused");
  T_CHECK(from_json("[{\"train\": [\"sub-a\"], \"val\": [\"sub-b\"], \"test\": [\"sub-c\"]}]") == 1,
          "--from: an explicit test list leaving subjects out refused");
  T_CHECK(from_json("[{\"train\": [\"sub-a\"], \"val\": [\"sub-b\"]}]") == 0, "--from: a valid split accepted");
  unlink(path), unlink(g_store), unlink(g_json);
}

/* folds --group-by site (folds_make_sites) on an in-memory store of 20 subjects at 5 sites of 6, 5, 4, 3, 2
 * subjects (slices shuffled): no site in a row's test set and elsewhere in that row, each subject tested once,
 * the folds balanced (test sizes differ by at most the largest site), validation from the other sites, the
 * grouping recorded in the file (hash intact); fewer sites than folds and a subject without a site refused */
static void by_site(void) {
  enum { SN = 20, SS = 3 };
  static const int sizes[5] = {6, 5, 4, 3, 2};
  static const char *const names[5] = {"bern", "oslo", "lyon", "graz", "kiel"};
  SliceMeta m[SN * SS];
  SubjectName sites[SN];
  int site_of[SN], q = 0;
  for (int g = 0; g < 5; g++)
    for (int i = 0; i < sizes[g]; i++, q++) {
      site_of[q] = g, sites[q].id = 7 + 2 * q;
      snprintf(sites[q].name, sizeof sites[q].name, "%s", names[g]);
    }
  for (int i = 0; i < SN * SS; i++) m[i] = (SliceMeta){.subject = 7 + 2 * ((i * 7) % SN), .slice = i / SN};
  H5Store st;
  memset(&st, 0, sizeof st);
  snprintf(st.path, sizeof st.path, "mem.h5");
  st.n = SN * SS, st.meta = m, st.n_sites = SN, st.sites = sites;
  Folds f;
  char why[512] = "";
  T_CHECK(folds_make_sites(&f, &st, 3, 42, FOLDS_VAL_AUTO, why, sizeof why) == 0, "3 folds of 5 sites (%s)", why);
  int whole = 1, once = 1, val_elsewhere = 1, tmin = SN, tmax = 0;
  for (int set = FOLDS_SPLIT; set < f.k; set++) {
    const char *row = f.roles + (size_t)(set + 1) * f.n;
    int tested[5] = {0}, other[5] = {0}, nt = 0;
    for (int i = 0; i < f.n; i++) {
      const int g = site_of[(f.ids[i] - 7) / 2];
      if (row[i] == FOLD_TEST) tested[g] = 1, nt++;
      else other[g] = 1;
    }
    for (int g = 0; g < 5; g++) whole &= !(tested[g] && other[g]);
    for (int i = 0; i < f.n; i++) val_elsewhere &= row[i] != FOLD_VAL || !tested[site_of[(f.ids[i] - 7) / 2]];
    if (set >= 0) tmin = nt < tmin ? nt : tmin, tmax = nt > tmax ? nt : tmax;
    printf("group-by site: set %d tests %d subjects\n", set, nt);
  }
  for (int i = 0; i < f.n; i++) {
    int c = 0;
    for (int fo = 0; fo < f.k; fo++) c += f.roles[(size_t)(fo + 1) * f.n + i] == FOLD_TEST;
    once &= c == 1;
  }
  T_CHECK(f.n == SN && whole, "group-by site: no site is in a test set and in training or validation of one row");
  T_CHECK(once && val_elsewhere, "group-by site: each subject tested once; validation subjects from other sites");
  T_CHECK(tmax - tmin <= 6, "group-by site: fold test sizes %d..%d differ by at most the largest site", tmin, tmax);
  char path[300];
  snprintf(path, sizeof path, "%s/test_io_folds_sites.%d.txt", CORDSEG_BINARY_DIR, (int)getpid());
  folds_write(&f, path);
  Folds g;
  folds_read(&g, path);
  char *txt = textio_read(path);
  T_CHECK(txt && strstr(txt, "\n# grouped by site") && !memcmp(g.roles, f.roles, (size_t)(f.k + 1) * f.n),
          "group-by site: the file records the grouping and reads back");
  free(txt), unlink(path), folds_free(&g), folds_free(&f);
  T_CHECK(folds_make_sites(&f, &st, 6, 42, FOLDS_VAL_AUTO, why, sizeof why) == 1 &&
              strstr(why, "5 sites cannot be the test sets of 6 folds"),
          "group-by site: 6 folds of 5 sites refused (%s)", why);
  st.n_sites = SN - 1; /* the last subject has no site */
  T_CHECK(folds_make_sites(&f, &st, 3, 42, FOLDS_VAL_AUTO, why, sizeof why) == 1 && strstr(why, "1 subject of") &&
              strstr(why, "has no site (45)"),
          "group-by site: a subject without a site refused, named (%s)", why);
}

int main(void) {
  by_site();
  val_and_from();
  /* subjects with gaps and shuffled slice order, like an appended store */
  Rng r;
  rng_init(&r, 3);
  for (int i = 0; i < N; i++) meta[i] = (SliceMeta){.subject = 100 + 3 * (i / NSL), .slice = i % NSL};
  for (int i = N - 1; i > 0; i--) {
    int j = (int)rng_below(&r, (uint32_t)i + 1);
    SliceMeta t = meta[i];
    meta[i] = meta[j], meta[j] = t;
  }
  Folds f;
  folds_make(&f, meta, N, 5, 42);
  T_CHECK(f.n == NSUB && f.k == 5, "89 subjects, 5 folds");
  int nt = 0, nv = 0, nx = 0;
  for (int i = 0; i < f.n; i++) nt += f.roles[i] == FOLD_TRAIN, nv += f.roles[i] == FOLD_VAL, nx += f.roles[i] == FOLD_TEST;
  printf("split: %d train, %d val, %d test subjects\n", nt, nv, nx);
  T_CHECK(nt == 72 && nv == 8 && nx == 9, "81/9/10 of 89 subjects = 72/8/9 (got %d/%d/%d)", nt, nv, nx);
  for (int set = FOLDS_SPLIT; set < 5; set++) check_disjoint(&f, set);
  int tested_once = 1;
  for (int i = 0; i < f.n; i++) {
    int c = 0;
    for (int fo = 0; fo < 5; fo++) c += f.roles[(size_t)(fo + 1) * f.n + i] == FOLD_TEST;
    tested_once &= c == 1;
  }
  T_CHECK(tested_once, "every subject is in the test set of exactly one fold");

  char path[300];
  snprintf(path, sizeof path, "%s/test_io_folds.%d.txt", CORDSEG_BINARY_DIR, (int)getpid());
  folds_write(&f, path);
  Folds g;
  folds_read(&g, path);
  T_CHECK(g.n == f.n && g.k == f.k && !memcmp(g.ids, f.ids, sizeof(int32_t) * f.n) &&
              !memcmp(g.roles, f.roles, (size_t)(f.k + 1) * f.n) && !strcmp(g.hash, f.hash),
          "folds file round-trips (%s)", g.hash);
  Folds h;
  folds_make(&h, meta, N, 5, 42);
  T_CHECK(!memcmp(h.roles, f.roles, (size_t)6 * f.n), "same seed, same folds");
  folds_free(&h);
  folds_make(&h, meta, N, 5, 7);
  T_CHECK(memcmp(h.roles, f.roles, (size_t)6 * f.n) != 0, "another seed, other folds");
  folds_free(&h);

  /* flip one role character: the hash must reject the file */
  FILE *fp = fopen(path, "r+");
  char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  buf[n] = 0;
  char *sp = strstr(buf, "\nsplit ") + 7;
  *sp = *sp == 'T' ? 'X' : 'T';
  fseek(fp, 0, SEEK_SET);
  fwrite(buf, 1, n, fp);
  fclose(fp);
  g_path = path;
  T_CHECK(t_child_exit(read_it_cb, NULL) == 1, "an edited folds file is rejected");
  unlink(path);
  folds_free(&f), folds_free(&g);
  return t_finish("test_io_folds");
}
