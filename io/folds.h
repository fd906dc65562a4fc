/* io/folds.h: subject-grouped data splits. One small text file holds the
 * paper's single 81/9/10 train/validation/test split (% of subjects) and k
 * cross-validation folds (fold f: test = subjects of group f, validation =
 * 10% of the rest, train = the others), keyed by subject id so that no
 * subject is ever in two sets, plus a content hash later stages record.
 * `folds --from` files instead hold the folds of an edited split (io/splits.c).
 * defines: Folds, FOLD_* roles, FOLDS_VAL_*, folds_make, folds_make_val,
 *          folds_make_sites, folds_from_splits, folds_write, folds_read, folds_indices, folds_free */
#ifndef CORDSEG_IO_FOLDS_H
#define CORDSEG_IO_FOLDS_H
#include <stddef.h>
#include <stdint.h>

#include "io/h5store.h"

enum { FOLD_TRAIN = 'T', FOLD_VAL = 'V', FOLD_TEST = 'X' };
#define FOLDS_SPLIT (-1) /* set id of the single 81/9/10 split; 0..k-1 = CV folds */
/* validation subjects per fold and in the split (folds_make_val's nval; N > 0 = exactly N) */
#define FOLDS_VAL_LEGACY (-1) /* 10 % of the rest (9 % in the split), at least 1: folds_make, files before --val */
#define FOLDS_VAL_AUTO 0      /* that, raised to 2 where at least one training subject is left, else 1 */

typedef struct {
  int32_t n;          /* subjects */
  int32_t k;          /* CV folds */
  uint64_t seed;
  int32_t *ids;       /* [n] sorted subject ids */
  char (*names)[64];  /* [n] the store's subject names in ids order (H5STORE_NAME_MAX); NULL: the ids are the
                       * names (a store without /subject_names; the file then has no 'names' line) */
  char *roles;        /* [(k + 1) * n]: row 0 = split, row 1 + f = fold f; FOLD_* chars */
  char store[1024];   /* the store the folds were made for (informational) */
  char from[1024];    /* `folds --from`: the edited split it came from ("" = made by folds_make*); such a file
                       * may have k = 1 and need not test each subject exactly once */
  char group_by[16];  /* "site": made by folds_make_sites (a comment line of the file says so); "" otherwise */
  char store_checksum[64];
  char hash[32];      /* "fnv1a64:<hex>" of the file content before the hash line */
} Folds;

/* subject ids from the store's slice metadata (duplicates fine); = folds_make_val(FOLDS_VAL_LEGACY), fatal
 * when the split is impossible */
void folds_make(Folds *f, const SliceMeta *meta, int32_t nslices, int32_t k, uint64_t seed);
/* k folds and the split with nval validation subjects (FOLDS_VAL_* or N > 0), each set of each row
 * non-empty. Returns 0, or (nothing made; why[] says which fold fails and why) the number of subjects
 * such a split needs */
int32_t folds_make_val(Folds *f, const SliceMeta *meta, int32_t nslices, int32_t k, uint64_t seed, int32_t nval,
                       char *why, size_t whyn);
/* k folds and the split whose test sets hold whole sites (the store's sites, io/h5subjects.c), validation
 * subjects (nval as folds_make_val) drawn from the other sites' subjects. Returns 0, or 1
 * (nothing made) with why[] saying what fails: a subject without a site, fewer sites than folds, a fold or
 * the split left without a training subject */
int folds_make_sites(Folds *f, const H5Store *s, int32_t k, uint64_t seed, int32_t nval, char *why, size_t whyn);
/* validation subjects of a row whose non-test subjects number rest: a fold (split_n = 0: 10 % of rest)
 * or the split of split_n subjects (9 % of them); 1 when rest < 2 (0 when rest is 0) */
int32_t folds_val_count(int32_t rest, int32_t nval, int32_t split_n);
/* an nnU-Net splits_final.json-shaped file (io/splits.c): a list of {"train": [names], "val": [names]
 * [, "test": [names]]}, one entry per fold; test = the store's other subjects, or exactly the "test"
 * list (then every subject is in one list). Validated against the store (unknown name, a subject in two
 * sets, an empty set: fatal naming the file, the entry and the subject). The split row = entry 0. */
void folds_from_splits(Folds *f, const char *json_path, const H5Store *s);
void folds_write(Folds *f, const char *path); /* atomic; fills f->hash */
/* verifies the hash, then the content: sorted unique ids, every row given
 * once, each row with train and test subjects, each subject tested in
 * exactly one fold (folds_check); fatal naming the file and line */
void folds_read(Folds *f, const char *path);
void folds_check(const Folds *f, const char *path);
/* fatal unless the store's subjects are exactly the folds' subjects and the
 * recorded store checksum (when there is one) is the store's */
void folds_check_store(const Folds *f, const char *path, const H5Store *s);
/* slice indices (ascending) of `set` (FOLDS_SPLIT or 0..k-1) whose subject
 * has `role`; returns the count, *idx malloc'ed. Fatal if a slice's subject
 * is unknown to the folds (folds made for another store). */
int32_t folds_indices(const Folds *f, int set, char role, const SliceMeta *meta, int32_t nslices, int32_t **idx);
/* names[] from the store's subject names (left NULL when every name is its id) */
void folds_set_names(Folds *f, const H5Store *s);
/* the name users read for subject i of the folds (buf: 64 bytes) */
const char *folds_name(const Folds *f, int32_t i, char *buf);
void folds_free(Folds *f);
#endif
