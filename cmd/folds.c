/* cmd/folds.c: `cordseg folds STORE -o FILE`: write the subject-grouped
 * 81/9/10 split and k cross-validation folds of a store, or the folds of an
 * edited split (--from SPLITS.json), as the hashed manifest `train` reads
 * (io/folds.h, io/splits.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/folds.h"
#include "io/h5store.h"
#include "cmd/cli.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "folds");
  fprintf(f,
          "\nSubject-grouped data sets for STORE: the paper's single 81/9/10 %% train/validation/test\n"
          "split and K cross-validation folds (fold F: test = subject group F, validation = N of the\n"
          "rest). No subject is in two sets of a split or fold. A split it cannot make (a fold without\n"
          "a training, validation or test subject) is refused, saying how many subjects it needs.\n"
          "  --val N     validation subjects per fold and in the split. Default: 10%% of the rest (9%%\n"
          "              of all in the split), at least 2 where a training subject is left, else 1\n"
          "  --group-by site  test sets hold whole sites: no site straddles training and test (fold F tests\n"
          "              the sites given to it, balanced by subjects; the split tests the sites that fit in 10%%\n"
          "              of the subjects, else the smallest). Validation subjects come from the other sites. Sites:\n"
          "              the store's (import --site, --list's site column, participants.tsv; info lists them);\n"
          "              a subject without one, or fewer sites than --k, is refused\n"
          "  --from F    the folds of an edited split instead: nnU-Net's splits_final.json shape, a list\n"
          "              of {\"train\": [names], \"val\": [names]} per fold, optionally \"test\": [names]\n"
          "              (without it a fold's test set is every other subject; with it every subject is\n"
          "              in one of the three). Names are the store's (cordseg info lists them). Checked\n"
          "              against the store: an unknown name, a subject in two sets, an empty set -> error.\n"
          "              The split (--fold -1) is the first entry. --k, --val, --seed do not apply\n"
          "The file lists the subjects' names and ends with a content hash; training and evaluation\n"
          "record it and refuse an edited file (edit the JSON and run --from again instead).\n\n");
}

/* one row of the summary: subjects and slices per role, the validation and test names of small cohorts */
static void folds_print_row(const Folds *f, const H5Store *s, int set) {
  const char roles[3] = {FOLD_TRAIN, FOLD_VAL, FOLD_TEST};
  printf(set == FOLDS_SPLIT ? "  split  " : "  fold %-2d", set);
  for (int r = 0; r < 3; r++) {
    int32_t *idx, nsub = 0;
    int32_t m = folds_indices(f, set, roles[r], s->meta, s->n, &idx);
    for (int32_t i = 0; i < f->n; i++) nsub += f->roles[(size_t)(set + 1) * f->n + i] == roles[r];
    printf("  %s %3d subjects %5d slices", r == 0 ? "train" : r == 1 ? "val" : "test", nsub, m);
    free(idx);
  }
  for (int r = 1; r < 3 && f->n <= 40; r++) {
    printf(r == 1 ? "  val:" : "  test:");
    char nb[64];
    for (int32_t i = 0; i < f->n; i++)
      if (f->roles[(size_t)(set + 1) * f->n + i] == roles[r]) printf(" %s", folds_name(f, i, nb));
  }
  printf("\n");
}

/* --group-by site: the folds, or the reason they cannot be made (fatal) */
static void folds_by_site(Folds *f, const H5Store *s, int32_t k, uint64_t seed, int32_t nval) {
  char why[512];
  if (folds_make_sites(f, s, k, seed, nval, why, sizeof why))
    cs_fatal("give every subject a site (import --site, the site column of --list or participants.tsv), use fewer "
             "folds (--k) or validation subjects (--val), or drop --group-by",
             "folds --group-by site: %s: nothing written", why);
}

/* the sites a grouped row tests */
static void folds_print_sites(const Folds *f, const H5Store *s, int set) {
  printf("  test sites:");
  for (int32_t i = 0; i < f->n; i++) {
    if (f->roles[(size_t)(set + 1) * f->n + i] != FOLD_TEST) continue;
    const char *site = h5store_subject_site(s, f->ids[i]);
    int seen = 0;
    for (int32_t j = 0; j < i && !seen; j++)
      seen = f->roles[(size_t)(set + 1) * f->n + j] == FOLD_TEST && !strcmp(h5store_subject_site(s, f->ids[j]), site);
    if (!seen) printf(" %s", site);
  }
  printf("\n");
}

int cmd_folds(int argc, char **argv) {
  const char *out = NULL, *from = NULL, *group_by = NULL;
  int32_t k = 0, nval = FOLDS_VAL_AUTO;
  uint64_t seed = 42;
  const CliOption opts[] = {
      CLI_STRING("out", 'o', &out, .arg = "FOLDS.txt", .help = "output folds file", .required = 1),
      CLI_INT32("k", 'k', &k, 2, 1000, .arg = "K", .help = "cross-validation folds (default 5)"),
      CLI_INT32("val", 0, &nval, 1, 1000000, .arg = "N",
                .help = "validation subjects per fold and in the split (default: at least 2 where possible)"),
      CLI_UINT64("seed", 0, &seed, 0, INT64_MAX, .help = "seed (default 42)"),
      CLI_STRING("group-by", 0, &group_by, .arg = "site", .help = "test sets hold whole sites (above)"),
      CLI_STRING("from", 0, &from, .arg = "SPLITS.json", .help = "the folds of an edited split (nnU-Net splits_final.json shape)"),
      CLI_END};
  int pos = cli_parse("folds", argc, argv, opts, usage);
  if (pos != argc - 1) cli_usage_error("folds", "expected exactly one STORE argument");
  if (from && (k || nval != FOLDS_VAL_AUTO || group_by))
    cli_usage_error("folds", "--from takes the folds from the file: drop --k, --val and --group-by");
  if (group_by && strcmp(group_by, "site")) cli_usage_error("folds", "--group-by '%s': the store groups by site only", group_by);
  H5Store s;
  h5store_open(&s, argv[pos]);
  /* every slice read and checked (labels, finite images) before a manifest is written for the store */
  h5store_require_verified(&s, "no folds written");
  Folds f;
  if (from) folds_from_splits(&f, from, &s);
  else if (group_by) folds_by_site(&f, &s, k ? k : 5, seed, nval);
  else {
    char why[320];
    k = k ? k : 5;
    int32_t need = folds_make_val(&f, s.meta, s.n, k, seed, nval, why, sizeof why);
    if (need)
      cs_fatal("use fewer folds (--k), fewer validation subjects (--val), or import more subjects",
               "store '%s': %s; %d folds with %d validation subject%s each need at least %d subjects: nothing written",
               argv[pos], why, k, nval > 0 ? nval : 1, nval > 1 ? "s" : "", need);
    folds_set_names(&f, &s);
  }
  snprintf(f.store, sizeof f.store, "%.1000s", s.path);
  h5store_attr_string(&s, "checksum", f.store_checksum, sizeof f.store_checksum);
  folds_write(&f, out);
  printf("folds: %d subjects, %d slices -> %s (%s)\n", f.n, s.n, out, f.hash);
  if (from) printf("  from %s: %d folds as edited; the split (--fold -1) is entry 0\n", from, f.k);
  else if (nval > 0) printf("  validation: %d subjects per fold and in the split (--val %d)\n", nval, nval);
  else
    printf("  validation: 10%% of the rest per fold, 9%% in the split, at least 2 where a training subject is left, "
           "else 1 (the default; --val N to choose)\n");
  for (int set = FOLDS_SPLIT; set < f.k; set++) {
    folds_print_row(&f, &s, set);
    if (f.group_by[0]) folds_print_sites(&f, &s, set);
  }
  folds_free(&f);
  h5store_close(&s);
  return 0;
}
