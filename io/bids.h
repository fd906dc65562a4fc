/* io/bids.h: a BIDS-style folder into a slice store with one command
 * (`cordseg import --bids DIR`). Every DIR/sub-<label>/ is a subject named
 * "sub-<label>"; its dwi/ folder holds either
 *   - a DWI series: sub-<label>[_<entities>]_dwi.nii[.gz] with the same stem's
 *     .bval and .bvec (fitted as `import --dwi` does), or
 *   - B0 and FA maps: sub-<label>[_<entities>]_desc-b0.nii[.gz] and
 *     sub-<label>[_<entities>]_FA.nii[.gz] (as `import --b0 --fa`);
 * the series wins where both are there. The label volume is the one file
 * matching the labels pattern (relative to DIR, {sub} = the subject folder):
 * BIDS_LABELS_DEFAULT. Import reads no sessions (sub-X/ses-Y/); `segment --bids`
 * (bids_units) reads each session of a subject that has them as one unit.
 * Nothing half written: every subject is converted first, each in a child
 * process, into a temporary store beside STORE; a subject whose conversion
 * fails stops the import (naming the file, nothing written) unless skip_bad;
 * then the good ones are appended to STORE in one atomic commit. The
 * temporary stores live in STORE.import.tmp.<pid>/ (io/atomic.h
 * atomic_dir_begin), removed when the import ends, fails (its commit
 * included) or, after a kill, by the next import beside STORE. A subject
 * already in STORE is refused by name before anything is read.
 * The same import takes `--list subjects.tsv` (io/subjlist.h) instead of a
 * folder; sites come from participants.tsv or the list's site column.
 * defines: BIDS_LABELS_DEFAULT, BidsSubject, bids_subjects, bids_units, BidsSpec, bids_import */
#ifndef CORDSEG_IO_BIDS_H
#define CORDSEG_IO_BIDS_H
#include <stdio.h>

#include "io/h5store.h"
#include "io/import.h"

#define BIDS_LABELS_DEFAULT "derivatives/labels/{sub}/dwi/{sub}*_dseg.nii*"
/* each subject's optional level image (SCT's sct_label_vertebrae output): none when no file matches */
#define BIDS_LEVELS_DEFAULT "derivatives/labels/{sub}/dwi/{sub}*_labeled.nii*"

enum { BIDS_PATH = 4096 };

/* one subject folder and what was found (and, for import, done) */
typedef struct {
  char name[H5STORE_NAME_MAX];
  char dwi[BIDS_PATH], bval[BIDS_PATH], bvec[BIDS_PATH], b0[BIDS_PATH], fa[BIDS_PATH], labels[BIDS_PATH];
  char levels[BIDS_PATH];        /* its level image ("" = none: every slice gets base.level) */
  char session[H5STORE_NAME_MAX]; /* bids_units: "ses-Y" when the files are in sub-X/ses-Y/dwi/; "" = none */
  char site[H5STORE_NAME_MAX];   /* its site ("" = none): participants.tsv or the --list column */
  char problem[2 * BIDS_PATH];   /* why the files could not be found ("" when they were) */
  char tmp[BIDS_PATH + 64];      /* import: its temporary store */
  int ok;                        /* import: converted */
  int32_t slices;
} BidsSubject;

/* the sub-* folders of dir, sorted, with their inputs (a DWI series and its b-table, else B0 and FA maps) and,
 * when labels_pattern is not NULL, their label volume; a subject whose files are not all found has problem[]
 * set; fatal on a folder without sub-* folders. The caller frees *out */
int bids_subjects(const char *dir, const char *labels_pattern, BidsSubject **out);
/* segment's units: every sub-X of dir, sorted, and for a subject with sub-X/ses-Y/ folders one unit per session
 * (sorted; session[] set, the files in sub-X/ses-Y/dwi/ named sub-X_ses-Y*); inputs found as bids_subjects does,
 * no labels. The caller frees *out */
int bids_units(const char *dir, BidsSubject **out);
/* a unit's folder relative to the BIDS root ("sub-X" or "sub-X/ses-Y") and its file prefix ("sub-X" or
 * "sub-X_ses-Y") */
void bids_unit_rel(const BidsSubject *s, char *out, size_t n);
void bids_unit_prefix(const BidsSubject *s, char *out, size_t n);
typedef struct {
  const char *dir;            /* the BIDS folder (or NULL with list) */
  const char *list;           /* `import --list`: the subjects table (io/subjlist.h) instead of dir */
  const char *site_column;    /* the site column of participants.tsv or the list (NULL: "site" when present) */
  const char *labels_pattern; /* NULL: BIDS_LABELS_DEFAULT; must hold {sub} */
  const char *levels_pattern; /* NULL: BIDS_LEVELS_DEFAULT (optional per subject); must hold {sub} */
  int skip_bad;               /* 1: import the good subjects and list the bad ones; 0: stop at the first */
  ImportSpec base;            /* store, size, spacing, label_kind, level, created_by (the files are found) */
  int fail_before_commit;     /* test hook: fail inside the commit, before the store is renamed into place */
} BidsSpec;

/* progress per subject and the summary table to out; returns the number of subjects imported (the
 * others were skipped as bad, skip_bad); fatal (nothing written) on a folder without sub-* folders, a
 * subject already in the store, or a bad subject without skip_bad */
int bids_import(const BidsSpec *spec, FILE *out);
#endif
