/* tests/test_io_folds.c: no subject ever appears in two sets (split and every
 * fold, checked through the slice indices the trainer gets), every slice is
 * in exactly one set, each subject is tested in exactly one CV fold, the
 * split has the 81/9/10 proportions, files round-trip, and an edited file is
 * rejected by its hash. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/folds.h"
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

int main(void) {
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
