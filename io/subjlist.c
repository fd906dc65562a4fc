/* io/subjlist.c: `import --list subjects.tsv` and a BIDS folder's
 * participants.tsv (io/subjlist.h). */
#define _POSIX_C_SOURCE 200809L
#include "io/subjlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "io/textio.h"

#define LIST_HINT                                                                                                  \
  "write a tab-separated table with a header row: subject, labels, and dwi + bval + bvec or b0 + fa (docs/data.md, " \
  "'Importing a list of subjects')"

/* the next line of *p (NUL-terminated in place, '\r' dropped); NULL at the end */
static char *next_line(char **p) {
  if (!**p) return NULL;
  char *l = *p, *e = strchr(l, '\n');
  if (e) *e = 0, *p = e + 1;
  else *p = l + strlen(l);
  size_t n = strlen(l);
  if (n && l[n - 1] == '\r') l[n - 1] = 0;
  return l;
}

/* splits line at tabs into at most max cells; returns the count */
static int32_t split_tabs(char *line, char **cells, int32_t max) {
  int32_t n = 0;
  for (char *c = line;;) {
    char *t = strchr(c, '\t');
    if (n < max) cells[n] = c;
    n++;
    if (!t) break;
    *t = 0, c = t + 1;
  }
  for (int32_t i = 0; i < (n < max ? n : max); i++) { /* trim spaces around a cell */
    char *c = cells[i];
    while (*c == ' ') c++;
    size_t k = strlen(c);
    while (k && c[k - 1] == ' ') c[--k] = 0;
    cells[i] = c;
  }
  return n;
}

void tsv_read(Tsv *t, const char *path, const char *hint) {
  memset(t, 0, sizeof *t);
  t->text = textio_read_bounded(path, (size_t)64 << 20, hint);
  char *p = t->text, *l;
  int32_t lineno = 0, cap = 0;
  static char *const empty = "";
  while ((l = next_line(&p))) {
    lineno++;
    const char *q = l;
    while (*q == ' ' || *q == '\t') q++;
    if (!*q || *q == '#') continue;
    if (!t->head) {
      int32_t n = 1;
      for (const char *c = l; *c; c++) n += *c == '\t';
      t->head = callocCheck((size_t)n, sizeof(char *));
      t->ncols = split_tabs(l, t->head, n);
      for (int32_t c = 0; c < t->ncols; c++)
        CS_CHECK(t->head[c][0], hint, "'%s' line %d: column %d of the header row has no name", path, lineno, c + 1);
      continue;
    }
    if (t->nrows == cap) {
      cap = cap ? 2 * cap : 16;
      char **nc = realloc(t->cell, sizeof(char *) * (size_t)cap * (size_t)t->ncols);
      int32_t *nl = realloc(t->line, sizeof(int32_t) * (size_t)cap);
      CS_CHECK(nc && nl, NULL, "out of memory reading '%s'", path);
      t->cell = nc, t->line = nl;
    }
    char **row = t->cell + (size_t)t->nrows * t->ncols;
    const int32_t n = split_tabs(l, row, t->ncols);
    CS_CHECK(n <= t->ncols, hint, "'%s' line %d: %d cells, the header has %d columns (cells are tab-separated)", path,
             lineno, n, t->ncols);
    for (int32_t c = n; c < t->ncols; c++) row[c] = empty;
    t->line[t->nrows++] = lineno;
  }
  CS_CHECK(t->head, hint, "'%s': no header row", path);
}

int32_t tsv_col(const Tsv *t, const char *name) {
  for (int32_t c = 0; c < t->ncols; c++)
    if (!strcmp(t->head[c], name)) return c;
  return -1;
}

void tsv_free(Tsv *t) {
  free(t->text), free(t->head), free(t->cell), free(t->line);
  memset(t, 0, sizeof *t);
}

enum { L_SUBJECT, L_LABELS, L_DWI, L_BVAL, L_BVEC, L_B0, L_FA, L_LEVELS, L_NCOL };
static const char *const LIST_COLS[L_NCOL] = {"subject", "labels", "dwi", "bval", "bvec", "b0", "fa", "levels"};

/* cell of column c of row r as a path (relative to the list's folder) into out; 0 when the cell is empty or the
 * column absent; -1 (problem[] set) when the file is not there */
static int list_path(const Tsv *t, const int32_t *col, int c, int32_t r, const char *path, const char *base,
                     char *out, BidsSubject *s) {
  if (col[c] < 0) return 0;
  const char *v = t->cell[(size_t)r * t->ncols + col[c]];
  if (!v[0]) return 0;
  if (v[0] == '/' || !base[0]) snprintf(out, BIDS_PATH, "%.4000s", v);
  else snprintf(out, BIDS_PATH, "%.2000s/%.2000s", base, v);
  struct stat sb;
  if (stat(out, &sb) != 0 || !(S_ISREG(sb.st_mode) || (c == L_LABELS && S_ISDIR(sb.st_mode)))) { /* labels: an
                                                                           * atlas folder (--label-map pam50) */
    if (!s->problem[0])
      snprintf(s->problem, sizeof s->problem, "%.2000s line %d, column '%s': no file '%.3000s'", path, t->line[r],
               LIST_COLS[c], out);
    return -1;
  }
  return 1;
}

/* one row's files into s (problem[] says what is wrong with them) */
static void list_row(const Tsv *t, const int32_t *col, int32_t r, const char *path, const char *base, BidsSubject *s) {
  int got[L_NCOL] = {0};
  char *dst[L_NCOL] = {NULL, s->labels, s->dwi, s->bval, s->bvec, s->b0, s->fa, s->levels};
  for (int c = L_LABELS; c < L_NCOL; c++) got[c] = list_path(t, col, c, r, path, base, dst[c], s);
  if (s->problem[0]) return;
  const int line = t->line[r];
  if (!got[L_LABELS]) {
    snprintf(s->problem, sizeof s->problem, "%.3000s line %d, column 'labels': empty (every subject needs its labels)",
             path, line);
  } else if (got[L_DWI]) {
    if (!got[L_BVAL] || !got[L_BVEC])
      snprintf(s->problem, sizeof s->problem, "%.3000s line %d, column '%s': empty (a dwi series needs bval and bvec)",
               path, line, got[L_BVAL] ? "bvec" : "bval");
    else if (got[L_B0] || got[L_FA])
      snprintf(s->problem, sizeof s->problem, "%.3000s line %d, column '%s': give a dwi series or b0/fa maps, not both",
               path, line, got[L_B0] ? "b0" : "fa");
  } else if (!got[L_B0] && !got[L_FA]) {
    snprintf(s->problem, sizeof s->problem,
             "%.3000s line %d, columns 'dwi', 'b0' and 'fa': all empty (give dwi + bval + bvec, or b0 and/or fa)", path,
             line);
  }
}

int subjlist_read(const char *path, const char *site_column, BidsSubject **out) {
  Tsv t;
  tsv_read(&t, path, LIST_HINT);
  int32_t col[L_NCOL];
  for (int c = 0; c < L_NCOL; c++) col[c] = tsv_col(&t, LIST_COLS[c]);
  const char *scol = site_column ? site_column : SUBJLIST_SITE_DEFAULT;
  const int32_t site = tsv_col(&t, scol);
  CS_CHECK(col[L_SUBJECT] >= 0 && col[L_LABELS] >= 0, LIST_HINT, "--list '%s': the header has no '%s' column", path,
           col[L_SUBJECT] < 0 ? "subject" : "labels");
  CS_CHECK(site >= 0 || !site_column, "name the column of the list that holds the site (--site-column)",
           "--list '%s': no column '%s' (--site-column)", path, scol);
  CS_CHECK(t.nrows > 0, LIST_HINT, "--list '%s': no subject rows under the header", path);
  char ignored[512] = "";
  for (int32_t c = 0; c < t.ncols; c++) {
    int known = c == site;
    for (int k = 0; k < L_NCOL; k++) known |= c == col[k];
    if (!known && strlen(ignored) + strlen(t.head[c]) + 2 < sizeof ignored)
      strcat(ignored, " "), strcat(ignored, t.head[c]);
  }
  if (ignored[0]) printf("import: --list '%s': columns not read:%s\n", path, ignored);
  char base[BIDS_PATH] = "";
  const char *slash = strrchr(path, '/');
  if (slash) { /* the list's folder (memcpy: GCC's sanitizer build misreads a %.*s of it as a null argument) */
    size_t len = (size_t)(slash - path) < sizeof base - 1 ? (size_t)(slash - path) : sizeof base - 1;
    memcpy(base, path, len), base[len] = 0;
  }
  if (slash == path) snprintf(base, sizeof base, "/");
  BidsSubject *s = callocCheck((size_t)t.nrows, sizeof(BidsSubject));
  for (int32_t r = 0; r < t.nrows; r++) {
    const char *name = t.cell[(size_t)r * t.ncols + col[L_SUBJECT]];
    char why[128];
    CS_CHECK(h5store_name_valid(name, why, sizeof why), "name subjects like sub-01 (letters, digits, '-', '_', '.')",
             "--list '%s' line %d, column 'subject': '%s' %s", path, t.line[r], name, why);
    for (int32_t q = 0; q < r; q++)
      CS_CHECK(strcmp(s[q].name, name), "give each subject one row", "--list '%s' line %d, column 'subject': '%s' is "
               "also on line %d", path, t.line[r], name, t.line[q]);
    snprintf(s[r].name, sizeof s[r].name, "%s", name);
    if (site >= 0) {
      const char *v = t.cell[(size_t)r * t.ncols + site];
      CS_CHECK(!v[0] || h5store_name_valid(v, why, sizeof why), "name sites with letters, digits, '-', '_', '.'",
               "--list '%s' line %d, column '%s': '%s' %s", path, t.line[r], scol, v, why);
      snprintf(s[r].site, sizeof s[r].site, "%s", v);
    }
    list_row(&t, col, r, path, base, &s[r]);
  }
  const int n = t.nrows;
  tsv_free(&t);
  *out = s;
  return n;
}

void subjlist_sites(const char *dir, const char *site_column, BidsSubject *s, int n) {
  char p[BIDS_PATH + 32];
  snprintf(p, sizeof p, "%.4000s/participants.tsv", dir);
  struct stat sb;
  if (stat(p, &sb) != 0) {
    CS_CHECK(!site_column, "add DIR/participants.tsv with participant_id and the site column, or drop --site-column",
             "--site-column '%s': '%s' does not exist", site_column, p);
    return;
  }
  const char *hint = "participants.tsv: a header row with participant_id, then one tab-separated row per subject";
  Tsv t;
  tsv_read(&t, p, hint);
  const char *scol = site_column ? site_column : SUBJLIST_SITE_DEFAULT;
  const int32_t id = tsv_col(&t, "participant_id"), site = tsv_col(&t, scol);
  CS_CHECK(id >= 0, hint, "'%s': no participant_id column", p);
  CS_CHECK(site >= 0 || !site_column, "name the participants.tsv column that holds the site (--site-column)",
           "'%s': no column '%s' (--site-column)", p, scol);
  for (int32_t r = 0; site >= 0 && r < t.nrows; r++) {
    const char *pid = t.cell[(size_t)r * t.ncols + id], *v = t.cell[(size_t)r * t.ncols + site];
    char why[128];
    for (int i = 0; i < n; i++) {
      if (strcmp(s[i].name, pid)) continue;
      CS_CHECK(!v[0] || !strcmp(v, "n/a") || h5store_name_valid(v, why, sizeof why),
               "name sites with letters, digits, '-', '_', '.'", "'%s' line %d, column '%s': '%s' %s", p, t.line[r],
               scol, v, why);
      snprintf(s[i].site, sizeof s[i].site, "%s", strcmp(v, "n/a") ? v : "");
    }
  }
  tsv_free(&t);
}
