/* io/subjlist.h: the subject tables `cordseg import` reads besides a BIDS
 * folder's layout:
 *  - `--list subjects.tsv`: one row per subject with its files, for any
 *    layout. Columns (header row, tab-separated; '#' lines and blank lines
 *    skipped; other columns ignored and listed): subject (required), labels
 *    (required), dwi + bval + bvec (a DWI series) or b0 and/or fa (maps),
 *    levels (a level image; optional), site (optional; --site-column names
 *    another). Relative paths are relative
 *    to the list's folder. A row whose files are missing or contradictory
 *    is a broken subject (problem[] names the line and the column: --skip-bad
 *    lists it); a list without the subject or labels column, or naming a
 *    subject twice, is fatal.
 *  - a BIDS folder's participants.tsv: each subject's site from its site
 *    column (participant_id = the sub-X folder name).
 * Sites are stored with the subjects (io/h5subjects.c: folds --group-by site).
 * defines: Tsv, tsv_read, tsv_col, tsv_free, subjlist_read, subjlist_sites */
#ifndef CORDSEG_IO_SUBJLIST_H
#define CORDSEG_IO_SUBJLIST_H
#include <stdint.h>

#include "io/bids.h"

#define SUBJLIST_SITE_DEFAULT "site"

/* a tab-separated table: header and rows of cells (pointers into text) */
typedef struct {
  char *text;
  int32_t ncols, nrows;
  char **head;  /* [ncols] */
  char **cell;  /* [nrows * ncols]; "" where a row is short */
  int32_t *line; /* [nrows] 1-based line numbers */
} Tsv;

/* fatal naming the file (and the line) on an unreadable file, no header, a row with more cells than columns */
void tsv_read(Tsv *t, const char *path, const char *hint);
/* the column's index, -1 when absent */
int32_t tsv_col(const Tsv *t, const char *name);
void tsv_free(Tsv *t);

/* the subjects of a --list table (site_column NULL: SUBJLIST_SITE_DEFAULT, optional; else required);
 * the caller frees *out */
int subjlist_read(const char *path, const char *site_column, BidsSubject **out);
/* each subject's site from DIR/participants.tsv, when there is one (site_column NULL: the column "site" when
 * present; else that column, fatal when absent) */
void subjlist_sites(const char *dir, const char *site_column, BidsSubject *s, int n);
#endif
