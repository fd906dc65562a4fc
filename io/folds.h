/* io/folds.h: subject-grouped data splits. One small text file holds the
 * paper's single 81/9/10 train/validation/test split (% of subjects) and k
 * cross-validation folds (fold f: test = subjects of group f, validation =
 * 10% of the rest, train = the others), keyed by subject id so that no
 * subject is ever in two sets, plus a content hash later stages record.
 * defines: Folds, FOLD_* roles, folds_make, folds_write, folds_read,
 *          folds_indices, folds_free */
#ifndef CORDSEG_IO_FOLDS_H
#define CORDSEG_IO_FOLDS_H
#include <stdint.h>

#include "io/h5store.h"

enum { FOLD_TRAIN = 'T', FOLD_VAL = 'V', FOLD_TEST = 'X' };
#define FOLDS_SPLIT (-1) /* set id of the single 81/9/10 split; 0..k-1 = CV folds */

typedef struct {
  int32_t n;          /* subjects */
  int32_t k;          /* CV folds */
  uint64_t seed;
  int32_t *ids;       /* [n] sorted subject ids */
  char *roles;        /* [(k + 1) * n]: row 0 = split, row 1 + f = fold f; FOLD_* chars */
  char store[1024];   /* the store the folds were made for (informational) */
  char store_checksum[64];
  char hash[32];      /* "fnv1a64:<hex>" of the file content before the hash line */
} Folds;

/* subject ids from the store's slice metadata (duplicates fine) */
void folds_make(Folds *f, const SliceMeta *meta, int32_t nslices, int32_t k, uint64_t seed);
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
void folds_free(Folds *f);
#endif
