/* cmd/folds.c: `cordseg folds STORE -o FILE`: write the subject-grouped
 * 81/9/10 split and k cross-validation folds of a store (io/folds.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/folds.h"
#include "io/h5store.h"
#include "cmd/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: cordseg folds STORE.h5 -o FOLDS.txt [--k 5] [--seed 42]\n\n"
          "Subject-grouped data sets for STORE: the paper's single 81/9/10 %% train/validation/test\n"
          "split and K cross-validation folds (fold F: test = subject group F, validation = 10%% of\n"
          "the rest). No subject is in two sets of a split or fold. The file ends with a content\n"
          "hash; training and evaluation record it.\n\n");
}

int cmd_folds(int argc, char **argv) {
  const char *out = NULL;
  int32_t k = 5;
  uint64_t seed = 42;
  const CliOption opts[] = {
      CLI_STRING("out", 'o', &out, .arg = "FOLDS.txt", .help = "output folds file", .required = 1),
      CLI_INT32("k", 'k', &k, 2, 1000, .arg = "K", .help = "cross-validation folds (default 5)"),
      CLI_UINT64("seed", 0, &seed, 0, INT64_MAX, .help = "seed (default 42)"), CLI_END};
  int pos = cli_parse("folds", argc, argv, opts, usage);
  if (pos != argc - 1) cli_usage_error("folds", "expected exactly one STORE argument");
  H5Store s;
  h5store_open(&s, argv[pos]);
  { /* every slice read and checked (labels, finite images) before a manifest is written for the store */
    uint64_t got, want;
    if (!h5store_verify(&s, &got, &want))
      cs_fatal("re-create the store (cordseg import / phantom); it was changed or damaged after writing",
               "store '%s': checksum of its contents %016llx does not match the stored %016llx", argv[pos],
               (unsigned long long)got, (unsigned long long)want);
  }
  Folds f;
  folds_make(&f, s.meta, s.n, k, seed);
  snprintf(f.store, sizeof f.store, "%.1000s", s.path);
  h5store_attr_string(&s, "checksum", f.store_checksum, sizeof f.store_checksum);
  folds_write(&f, out);
  printf("folds: %d subjects, %d slices -> %s (%s)\n", f.n, s.n, out, f.hash);
  const char roles[3] = {FOLD_TRAIN, FOLD_VAL, FOLD_TEST};
  for (int set = FOLDS_SPLIT; set < f.k; set++) {
    printf(set == FOLDS_SPLIT ? "  split  " : "  fold %d", set);
    for (int r = 0; r < 3; r++) {
      int32_t *idx, nsub = 0;
      int32_t m = folds_indices(&f, set, roles[r], s.meta, s.n, &idx);
      for (int32_t i = 0; i < f.n; i++) nsub += f.roles[(size_t)(set + 1) * f.n + i] == roles[r];
      printf("  %s %3d subjects %5d slices", r == 0 ? "train" : r == 1 ? "val" : "test", nsub, m);
      free(idx);
    }
    printf("\n");
  }
  folds_free(&f);
  h5store_close(&s);
  return 0;
}
