/* io/folds.c: subject-grouped split and k-fold manifests (see folds.h).
 * File format (text, one record per line):
 *   # comment lines
 *   cordseg-folds 1
 *   store <path> <checksum>
 *   seed <n>
 *   subjects <n> / folds <k>
 *   ids <id> <id> ...           (sorted)
 *   names <name> <name> ...     (optional, ids order: the store's subject names)
 *   split <one role char per subject, in ids order>
 *   fold<f> <role chars>        (f = 0..k-1)
 *   hash fnv1a64:<hex>          (of every byte before this line) */
#define _POSIX_C_SOURCE 200809L
#include "io/folds.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/textio.h"
#include "io/atomic.h"
#include "io/hash.h"
#include "io/path.h"

#define FOLDS_HINT "recreate it with `cordseg folds STORE -o FILE` (and do not edit it by hand)"

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static void shuffle(int32_t *v, int32_t n, Rng *r) {
  for (int32_t i = n - 1; i > 0; i--) {
    int32_t j = (int32_t)rng_below(r, (uint32_t)(i + 1)), t = v[i];
    v[i] = v[j], v[j] = t;
  }
}

int32_t folds_val_count(int32_t rest, int32_t nval, int32_t split_n) {
  if (rest < 2) return rest < 1 ? 0 : 1; /* nothing left to train on: the caller refuses it */
  if (nval > 0) return nval;
  int32_t v = (int32_t)lround(split_n > 0 ? 0.09 * split_n : 0.10 * rest);
  v = v < 1 ? 1 : v;
  if (nval == FOLDS_VAL_AUTO && v < 2 && rest >= 3) v = 2;
  return v;
}

/* split sizes of n subjects (the split: 10 % test; fold of the largest group: ceil(n / k) test) */
static int32_t split_test(int32_t n) {
  int32_t t = (int32_t)lround(0.10 * n);
  return t < 1 ? 1 : t;
}

/* 0 when n subjects make k folds and the split with nval validation subjects each, leaving >= 1
 * training subject; else why[] says what fails */
static int folds_feasible(int32_t n, int32_t k, int32_t nval, char *why, size_t whyn) {
  const char *vs = nval == FOLDS_VAL_LEGACY ? "10 % of the rest" : nval == FOLDS_VAL_AUTO ? "the default" : "--val";
  if (n < k) return snprintf(why, whyn, "%d subjects cannot be the test sets of %d folds", n, k), 1;
  const int32_t big = (n + k - 1) / k, rest = n - big, v = folds_val_count(rest, nval, 0);
  if (rest - v < 1)
    return snprintf(why, whyn, "a fold testing %d subjects leaves %d for validation (%d, %s) and training (%d)", big,
                    rest, v, vs, rest - v),
           1;
  const int32_t st = split_test(n), sv = folds_val_count(n - st, nval, n);
  if (n - st - sv < 1)
    return snprintf(why, whyn, "the split testing %d subjects leaves %d for validation (%d, %s) and training (%d)", st,
                    n - st, sv, vs, n - st - sv),
           1;
  return 0;
}

int32_t folds_make_val(Folds *f, const SliceMeta *meta, int32_t nslices, int32_t k, uint64_t seed, int32_t nval,
                       char *why, size_t whyn) {
  memset(f, 0, sizeof *f);
  int32_t *all = mallocCheck(sizeof(int32_t) * (size_t)(nslices + 1)), n = 0;
  for (int32_t i = 0; i < nslices; i++) all[i] = meta[i].subject;
  qsort(all, (size_t)nslices, sizeof(int32_t), cmp_i32);
  for (int32_t i = 0; i < nslices; i++)
    if (i == 0 || all[i] != all[i - 1]) all[n++] = all[i];
  char tmp[256], scratch[8];
  if (k < 2 || folds_feasible(n, k, nval, tmp, sizeof tmp)) {
    int32_t need = n + 1;
    while (need < (1 << 24) && folds_feasible(need, k < 2 ? 2 : k, nval == FOLDS_VAL_AUTO ? 1 : nval, scratch, sizeof scratch))
      need++;
    snprintf(why, whyn, "cannot make %d folds of %d subjects: %s", k, n, k < 2 ? "k must be at least 2" : tmp);
    free(all);
    return need;
  }
  f->n = n, f->k = k, f->seed = seed, f->ids = all;
  f->roles = mallocCheck((size_t)(k + 1) * (size_t)n);
  Rng r;
  int32_t *perm = mallocCheck(sizeof(int32_t) * (size_t)n), *pos = mallocCheck(sizeof(int32_t) * (size_t)n);
  /* single split: 81% train, 9% validation, 10% test (at least 1 each) */
  rng_init(&r, hash_mix3(seed, 0x5b117, 0));
  for (int32_t i = 0; i < n; i++) perm[i] = i;
  shuffle(perm, n, &r);
  const int32_t n_test = split_test(n), n_val = folds_val_count(n - n_test, nval, n);
  for (int32_t i = 0; i < n; i++) f->roles[perm[i]] = i < n_test ? FOLD_TEST : i < n_test + n_val ? FOLD_VAL : FOLD_TRAIN;
  /* k folds: group = position in a seeded permutation mod k */
  rng_init(&r, hash_mix3(seed, 0xf01d5, 0));
  for (int32_t i = 0; i < n; i++) perm[i] = i;
  shuffle(perm, n, &r);
  for (int32_t i = 0; i < n; i++) pos[perm[i]] = i % k;
  for (int32_t fo = 0; fo < k; fo++) {
    char *row = f->roles + (size_t)(fo + 1) * n;
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++) {
      row[i] = pos[i] == fo ? FOLD_TEST : FOLD_TRAIN;
      if (pos[i] != fo) perm[m++] = i;
    }
    rng_init(&r, hash_mix3(seed, 0xfa1, (uint64_t)fo));
    shuffle(perm, m, &r);
    const int32_t nv = folds_val_count(m, nval, 0);
    for (int32_t i = 0; i < nv; i++) row[perm[i]] = FOLD_VAL;
  }
  free(perm), free(pos);
  return 0;
}

void folds_make(Folds *f, const SliceMeta *meta, int32_t nslices, int32_t k, uint64_t seed) {
  char why[320];
  int32_t need = folds_make_val(f, meta, nslices, k, seed, FOLDS_VAL_LEGACY, why, sizeof why);
  if (need) cs_fatal("use fewer folds, or a cohort of more subjects", "%s; that needs at least %d subjects", why, need);
}

/* serialises everything before the hash line */
static char *folds_body(const Folds *f, size_t *len) {
  size_t cap = 4096 + (size_t)f->n * (12 + 65 + (size_t)f->k + 2) + (size_t)(f->k + 1) * 16;
  char *b = mallocCheck(cap);
  size_t o = 0;
#define PUT(...) o += (size_t)snprintf(b + o, cap - o, __VA_ARGS__)
  PUT("# cordseg folds: subject-grouped sets; roles per subject (ids order): T train, V validation, X test\n");
  PUT("# split = the single 81/9/10 %% train/validation/test split; foldF = cross-validation fold F\n");
  if (f->group_by[0]) PUT("# grouped by %s: every %s's subjects are in one test set (folds --group-by)\n", f->group_by, f->group_by);
  PUT("cordseg-folds 1\nstore %s %s\nseed %" PRIu64 "\nsubjects %d\nfolds %d\n", f->store[0] ? f->store : "-",
      f->store_checksum[0] ? f->store_checksum : "-", f->seed, f->n, f->k);
  if (f->from[0]) PUT("from %s\n", f->from);
  PUT("ids");
  for (int32_t i = 0; i < f->n; i++) PUT(" %d", f->ids[i]);
  if (f->names) {
    PUT("\nnames");
    for (int32_t i = 0; i < f->n; i++) {
      CS_CHECK(o + 80 < cap, NULL, "folds buffer");
      PUT(" %s", f->names[i]);
    }
  }
  for (int32_t s = 0; s <= f->k; s++) {
    if (s == 0) PUT("\nsplit ");
    else PUT("\nfold%d ", s - 1);
    CS_CHECK(o + (size_t)f->n + 2 < cap, NULL, "folds buffer");
    memcpy(b + o, f->roles + (size_t)s * f->n, (size_t)f->n);
    o += (size_t)f->n;
  }
  PUT("\n");
#undef PUT
  *len = o;
  return b;
}

void folds_write(Folds *f, const char *path) {
  size_t len;
  char *b = folds_body(f, &len);
  snprintf(f->hash, sizeof f->hash, "fnv1a64:%016llx", (unsigned long long)hash_fnv1a(HASH_FNV_INIT, b, len));
  char tmp[PATH_CAP];
  atomic_begin(path, tmp, sizeof tmp);
  FILE *fp = fopenCheck(tmp, "w");
  fwriteCheck(b, 1, len, fp, tmp);
  fprintf(fp, "hash %s\n", f->hash);
  fcloseCheck(fp, tmp);
  atomic_commit(tmp, path);
  free(b);
}

/* the file's text, its hash line checked; *hl: where the hash line starts (the body ends) */
static char *folds_read_text(Folds *f, const char *path, char **hl_out) {
  char *b = textio_read_bounded(path, (size_t)64 << 20, FOLDS_HINT);
  char *hl = strstr(b, "\nhash ");
  CS_CHECK(hl, FOLDS_HINT, "'%s': no 'hash' line (truncated?)", path);
  hl++;
  char want[64] = "";
  CS_CHECK(sscanf(hl, "hash %63s", want) == 1, FOLDS_HINT, "'%s': empty 'hash' line", path);
  char got[32];
  snprintf(got, sizeof got, "fnv1a64:%016llx", (unsigned long long)hash_fnv1a(HASH_FNV_INIT, b, (size_t)(hl - b)));
  CS_CHECK(!HASH_CHECKED || !strcmp(got, want), FOLDS_HINT, "'%s': content hash %s does not match the recorded %s (edited or damaged)",
           path, got, want);
  snprintf(f->hash, sizeof f->hash, "%s", got);
  *hl_out = hl;
  return b;
}

/* where the parse of a folds file stands */
enum { K_VER, K_STORE, K_SEED, K_SUBJ, K_FOLDS, K_FROM, K_NKEY };
typedef struct {
  Folds *f;
  const char *path;
  int version, have_ids, rows, lineno;
  char *seen; /* [k + 1]: row s given */
  int once[K_NKEY];
} FoldsParse;

/* "ids A B C ...": n sorted, unique subject ids */
static void folds_parse_ids(FoldsParse *ps, char *rest) {
  Folds *f = ps->f;
  const char *path = ps->path;
  const int lineno = ps->lineno;
  char *e = NULL;
  CS_CHECK(f->n > 0 && f->k > 0, FOLDS_HINT, "'%s' line %d: 'ids' before 'subjects'/'folds'", path, lineno);
  CS_CHECK(!ps->have_ids, FOLDS_HINT, "'%s' line %d: 'ids' is given twice", path, lineno);
  /* made folds test each subject once (k <= subjects); an edited split may repeat test sets */
  CS_CHECK(f->k >= (f->from[0] ? 1 : 2) && (f->from[0] || f->k <= f->n), FOLDS_HINT,
           "'%s': folds = %d for %d subjects (need %d <= folds%s)", path, f->k, f->n, f->from[0] ? 1 : 2,
           f->from[0] ? "" : " <= subjects");
  f->ids = mallocCheck(sizeof(int32_t) * (size_t)f->n);
  f->roles = mallocCheck((size_t)(f->k + 1) * (size_t)f->n);
  ps->seen = callocCheck((size_t)f->k + 1, 1);
  char *p = rest;
  for (int32_t i = 0; i < f->n; i++, p = e) {
    long v = strtol(p, &e, 10);
    CS_CHECK(e != p, FOLDS_HINT, "'%s' line %d: 'ids' has fewer than %d entries", path, lineno, f->n);
    CS_CHECK(v >= INT32_MIN && v <= INT32_MAX && (*e == ' ' || !*e), FOLDS_HINT,
             "'%s' line %d: ids entry %d is not a subject id", path, lineno, i + 1);
    f->ids[i] = (int32_t)v;
    /* sorted and unique: a subject listed twice could take two roles (train and test) */
    CS_CHECK(i == 0 || f->ids[i] > f->ids[i - 1], FOLDS_HINT,
             "'%s' line %d: subject %d is listed %s (ids must be sorted and unique, so that no subject is in two "
             "sets)",
             path, lineno, f->ids[i], f->ids[i] == f->ids[i ? i - 1 : 0] ? "twice" : "out of order");
  }
  while (*p == ' ') p++;
  CS_CHECK(!*p, FOLDS_HINT, "'%s' line %d: 'ids' has more than %d entries", path, lineno, f->n);
  ps->have_ids = 1;
}

/* "names A B C ...": n subject names in ids order, unique */
static void folds_parse_names(FoldsParse *ps, char *rest) {
  Folds *f = ps->f;
  CS_CHECK(ps->have_ids && !f->names, FOLDS_HINT, "'%s' line %d: 'names' before 'ids' or given twice", ps->path,
           ps->lineno);
  f->names = callocCheck((size_t)f->n, sizeof *f->names);
  char *save = NULL, *tok = strtok_r(rest, " ", &save);
  for (int32_t i = 0; i < f->n; i++, tok = strtok_r(NULL, " ", &save)) {
    CS_CHECK(tok && strlen(tok) < sizeof f->names[i], FOLDS_HINT, "'%s' line %d: 'names' has fewer than %d names",
             ps->path, ps->lineno, f->n);
    snprintf(f->names[i], sizeof f->names[i], "%s", tok);
    for (int32_t j = 0; j < i; j++)
      CS_CHECK(strcmp(f->names[j], tok), FOLDS_HINT, "'%s' line %d: subject name '%s' is listed twice", ps->path,
               ps->lineno, tok);
  }
  CS_CHECK(!tok, FOLDS_HINT, "'%s' line %d: 'names' has more than %d names", ps->path, ps->lineno, f->n);
}

/* "split ROLES" or "foldK ROLES": one role character (T, V, X) per subject */
static void folds_parse_row(FoldsParse *ps, const char *key, const char *rest) {
  Folds *f = ps->f;
  const char *path = ps->path;
  const int lineno = ps->lineno;
  int s = 0;
  if (key[0] == 'f') {
    char *e = NULL;
    long v = strtol(key + 4, &e, 10);
    s = e != key + 4 && !*e && v >= 0 && v < (1 << 24) ? (int)v + 1 : -1;
  }
  CS_CHECK(ps->have_ids && s >= 0 && s <= f->k && (int32_t)strlen(rest) == f->n, FOLDS_HINT,
           "'%s' line %d: bad '%s' line (needs fold0..fold%d after 'ids', with %d role characters)", path, lineno, key,
           f->k - 1, f->n);
  CS_CHECK(!ps->seen[s], FOLDS_HINT, "'%s' line %d: row '%s' is given twice", path, lineno, key);
  ps->seen[s] = 1;
  for (int32_t i = 0; i < f->n; i++)
    CS_CHECK(rest[i] == FOLD_TRAIN || rest[i] == FOLD_VAL || rest[i] == FOLD_TEST, FOLDS_HINT,
             "'%s' line %d: '%s' has role '%c' for subject %d (want T, V or X)", path, lineno, key, rest[i], f->ids[i]);
  memcpy(f->roles + (size_t)s * f->n, rest, (size_t)f->n);
  ps->rows++;
}

/* one record: KEY REST */
static void folds_parse_record(FoldsParse *ps, const char *key, char *rest) {
  static const char *const KN[K_NKEY] = {"cordseg-folds", "store", "seed", "subjects", "folds", "from"};
  Folds *f = ps->f;
  const char *path = ps->path;
  for (int q = 0; q < K_NKEY; q++)
    if (!strcmp(key, KN[q])) {
      CS_CHECK(!ps->once[q], FOLDS_HINT, "'%s' line %d: '%s' is given twice", path, ps->lineno, key);
      ps->once[q] = 1;
    }
  if (!strcmp(key, "cordseg-folds")) ps->version = atoi(rest);
  else if (!strcmp(key, "store"))
    CS_CHECK(sscanf(rest, "%1023s %63s", f->store, f->store_checksum) == 2, FOLDS_HINT,
             "'%s': bad 'store' line (want: store PATH CHECKSUM)", path);
  else if (!strcmp(key, "seed")) f->seed = strtoull(rest, NULL, 10);
  else if (!strcmp(key, "from")) {
    CS_CHECK(!ps->have_ids && rest[0], FOLDS_HINT, "'%s' line %d: 'from' must name the split file, before 'ids'", path,
             ps->lineno);
    snprintf(f->from, sizeof f->from, "%.1000s", rest);
  }
  else if (!strcmp(key, "subjects") || !strcmp(key, "folds")) {
    char *e = NULL;
    long v = strtol(rest, &e, 10);
    CS_CHECK(e != rest && !*e && v >= 1 && v <= (1 << 24), FOLDS_HINT, "'%s' line %d: '%s %s' is not a count in 1..%d",
             path, ps->lineno, key, rest, 1 << 24);
    if (key[0] == 's') f->n = (int32_t)v;
    else f->k = (int32_t)v;
  } else if (!strcmp(key, "ids")) folds_parse_ids(ps, rest);
  else if (!strcmp(key, "names")) folds_parse_names(ps, rest);
  else if (!strcmp(key, "split") || !strncmp(key, "fold", 4)) folds_parse_row(ps, key, rest);
  else cs_fatal(FOLDS_HINT, "'%s' line %d: unknown record '%s'", path, ps->lineno, key);
}

void folds_read(Folds *f, const char *path) {
  memset(f, 0, sizeof *f);
  char *hl, *b = folds_read_text(f, path, &hl);
  *hl = 0;
  FoldsParse ps = {.f = f, .path = path};
  for (char *line = b, *next; *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    else next = line + strlen(line);
    ps.lineno++;
    if (line[0] == '#' || !line[0]) continue;
    char key[32] = "";
    int off = 0;
    if (sscanf(line, "%31s %n", key, &off) != 1) continue; /* blank line */
    folds_parse_record(&ps, key, line + off);
  }
  free(b);
  CS_CHECK(ps.version == 1 && ps.have_ids && ps.rows == f->k + 1, FOLDS_HINT,
           "'%s': not a complete cordseg-folds v1 file (version %d, %d of %d role rows)", path, ps.version, ps.rows,
           f->k + 1);
  free(ps.seen);
  folds_check(f, path);
}

void folds_check(const Folds *f, const char *path) {
  /* every set of every row non-empty where it must be; each subject is the
   * test subject of exactly one cross-validation fold */
  for (int32_t s = 0; s <= f->k; s++) {
    const char *row = f->roles + (size_t)s * f->n;
    int32_t nt = 0, nv = 0, nx = 0;
    for (int32_t i = 0; i < f->n; i++) nt += row[i] == FOLD_TRAIN, nv += row[i] == FOLD_VAL, nx += row[i] == FOLD_TEST;
    char name[32];
    if (s == 0) snprintf(name, sizeof name, "split");
    else snprintf(name, sizeof name, "fold%d", s - 1);
    CS_CHECK(nt > 0 && nv > 0 && nx > 0, FOLDS_HINT,
             "'%s': row '%s' has %d training, %d validation and %d test subjects (each must be > 0)", path, name, nt,
             nv, nx);
  }
  for (int32_t i = 0; i < f->n && !f->from[0]; i++) {
    int32_t c = 0;
    for (int32_t s = 1; s <= f->k; s++) c += f->roles[(size_t)s * f->n + i] == FOLD_TEST;
    CS_CHECK(c == 1, FOLDS_HINT,
             "'%s': subject %d is the test subject of %d cross-validation folds (each subject is tested in exactly one)",
             path, f->ids[i], c);
  }
}

void folds_check_store(const Folds *f, const char *path, const H5Store *s) {
  char *hit = callocCheck((size_t)f->n + 1, 1);
  for (int32_t i = 0; i < s->n; i++) {
    const int32_t *h = bsearch(&s->meta[i].subject, f->ids, (size_t)f->n, sizeof(int32_t), cmp_i32);
    if (!h)
      cs_fatal("the folds file was made for another store; run `cordseg folds STORE -o FILE` on this store",
               "store '%s' has subject %d (slice %d), which folds '%s' does not list", s->path, s->meta[i].subject, i,
               path);
    hit[h - f->ids] = 1;
  }
  for (int32_t i = 0; i < f->n; i++)
    if (!hit[i])
      cs_fatal("the folds file was made for another store; run `cordseg folds STORE -o FILE` on this store",
               "folds '%s' lists subject %d, which store '%s' does not hold", path, f->ids[i], s->path);
  free(hit);
  char nb[H5STORE_NAME_MAX];
  for (int32_t i = 0; f->names && i < f->n; i++) {
    const char *sn = h5store_subject_name(s, f->ids[i], nb);
    if (strcmp(f->names[i], sn))
      cs_fatal("the folds file was made for another store; run `cordseg folds STORE -o FILE` on this store",
               "folds '%s' name subject %d '%s', store '%s' names it '%s'", path, f->ids[i], f->names[i], s->path, sn);
  }
  char sum[64];
  h5store_attr_string(s, "checksum", sum, sizeof sum);
  if (f->store_checksum[0] && strcmp(f->store_checksum, "-") && sum[0] && strcmp(f->store_checksum, sum))
    cs_fatal("the folds were made for another store (or the store changed): run `cordseg folds STORE -o FILE` again",
             "folds '%s' record store checksum %s, store '%s' has %s", path, f->store_checksum, s->path, sum);
}

int32_t folds_indices(const Folds *f, int set, char role, const SliceMeta *meta, int32_t nslices, int32_t **idx) {
  CS_CHECK(set >= FOLDS_SPLIT && set < f->k, "use --fold -1 (the 81/9/10 split) or 0..k-1",
           "fold %d does not exist (the folds file has %d)", set, f->k);
  const char *row = f->roles + (size_t)(set + 1) * f->n;
  int32_t *out = mallocCheck(sizeof(int32_t) * (size_t)(nslices + 1)), m = 0;
  char *seen = callocCheck((size_t)f->n + 1, 1);
  for (int32_t i = 0; i < nslices; i++) {
    const int32_t *hit = bsearch(&meta[i].subject, f->ids, (size_t)f->n, sizeof(int32_t), cmp_i32);
    CS_CHECK(hit, "the folds file was made for another store; run `cordseg folds` on this store",
             "slice %d has subject %d, which the folds file does not list", i, meta[i].subject);
    seen[hit - f->ids] = 1;
    if (row[hit - f->ids] == role) out[m++] = i;
  }
  for (int32_t i = 0; i < f->n; i++)
    CS_CHECK(seen[i], "the folds file was made for another store; run `cordseg folds` on this store",
             "the folds file lists subject %d, which the store does not hold", f->ids[i]);
  free(seen);
  *idx = out;
  return m;
}

void folds_set_names(Folds *f, const H5Store *s) {
  free(f->names);
  f->names = NULL;
  if (s->n_names == 0) return;
  f->names = callocCheck((size_t)f->n, sizeof *f->names);
  char nb[H5STORE_NAME_MAX];
  for (int32_t i = 0; i < f->n; i++) snprintf(f->names[i], sizeof f->names[i], "%s", h5store_subject_name(s, f->ids[i], nb));
}

const char *folds_name(const Folds *f, int32_t i, char *buf) {
  if (f->names) return f->names[i];
  snprintf(buf, 64, "%d", f->ids[i]);
  return buf;
}

void folds_free(Folds *f) {
  free(f->ids), free(f->roles), free(f->names);
  memset(f, 0, sizeof *f);
}

/* ------------------------------------------------ folds --group-by site --
 * Test sets hold whole sites, so that no site straddles training and test.
 * Sites are the store's (io/h5subjects.c: import --site, --list's site
 * column, participants.tsv). Fold F tests the sites assigned to it: the sites
 * in a seeded order, largest first, each to the fold with the fewest test
 * subjects so far (balanced like scikit-learn's GroupKFold); the split tests
 * the sites, in a seeded order, that fit in 10 % of the subjects (at least 1;
 * the smallest site when none fits). Validation subjects are drawn (seeded)
 * from the other sites' subjects, as folds_make_val draws them. */

/* the subjects' sites as group indices 0..G-1 (sites sorted by name); G, or -1 with why[] naming subjects without one */
static int32_t site_groups(const H5Store *s, const int32_t *ids, int32_t n, int32_t *group, const char **gname,
                           char *why, size_t whyn) {
  int32_t G = 0, missing = 0;
  size_t o = 0;
  for (int32_t i = 0; i < n; i++) {
    const char *site = h5store_subject_site(s, ids[i]);
    if (!site[0]) {
      char nb[H5STORE_NAME_MAX];
      if (missing++ < 5 && o < whyn) o += (size_t)snprintf(why + o, whyn - o, "%s%s", o ? ", " : "", h5store_subject_name(s, ids[i], nb));
      continue;
    }
    int32_t g = 0;
    while (g < G && strcmp(gname[g], site)) g++;
    if (g == G) gname[G++] = site;
    group[i] = g;
  }
  if (missing) {
    char list[256];
    snprintf(list, sizeof list, "%s", why);
    snprintf(why, whyn, "%d subject%s of store '%s' %s no site (%s%s)", missing, missing > 1 ? "s" : "", s->path,
             missing > 1 ? "have" : "has", list, missing > 5 ? ", ..." : "");
    return -1;
  }
  return G;
}

/* row's validation subjects: nv of the non-test subjects in a seeded order; 0, or 1 with why[] when none trains */
static int pick_val(char *row, int32_t n, int32_t nval, int32_t split_n, uint64_t seed, const char *what, char *why,
                    size_t whyn) {
  int32_t *rest = mallocCheck(sizeof(int32_t) * (size_t)(n + 1)), m = 0;
  for (int32_t i = 0; i < n; i++)
    if (row[i] != FOLD_TEST) rest[m++] = i, row[i] = FOLD_TRAIN;
  Rng r;
  rng_init(&r, seed);
  shuffle(rest, m, &r);
  const int32_t nv = folds_val_count(m, nval, split_n);
  for (int32_t i = 0; i < nv && i < m; i++) row[rest[i]] = FOLD_VAL;
  free(rest);
  if (m - nv >= 1) return 0;
  snprintf(why, whyn, "%s leaves %d subject%s for validation (%d) and training (%d)", what, m, m == 1 ? "" : "s", nv,
           m - nv);
  return 1;
}

int folds_make_sites(Folds *f, const H5Store *s, int32_t k, uint64_t seed, int32_t nval, char *why, size_t whyn) {
  memset(f, 0, sizeof *f);
  int32_t *ids = mallocCheck(sizeof(int32_t) * (size_t)(s->n + 1)), n = 0;
  for (int32_t i = 0; i < s->n; i++) ids[i] = s->meta[i].subject;
  qsort(ids, (size_t)s->n, sizeof(int32_t), cmp_i32);
  for (int32_t i = 0; i < s->n; i++)
    if (i == 0 || ids[i] != ids[i - 1]) ids[n++] = ids[i];
  int32_t *group = callocCheck((size_t)n + 1, sizeof(int32_t)), *gsize = callocCheck((size_t)n + 1, sizeof(int32_t));
  const char **gname = callocCheck((size_t)n + 1, sizeof(char *));
  int32_t *order = mallocCheck(sizeof(int32_t) * (size_t)(n + 1)), *fsize = callocCheck((size_t)k + 1, sizeof(int32_t));
  char *roles = mallocCheck((size_t)(k + 1) * (size_t)n + 1);
  const int32_t G = site_groups(s, ids, n, group, gname, why, whyn);
  int bad = G < 0;
  if (!bad && G < k)
    snprintf(why, whyn, "%d site%s cannot be the test sets of %d folds (each fold tests whole sites)", G,
             G == 1 ? "" : "s", k), bad = 1;
  Rng r;
  for (int32_t i = 0; !bad && i < n; i++) gsize[group[i]]++;
  /* the split: whole sites in a seeded order until 10 % of the subjects (at least 1) are tested */
  char *row = roles;
  if (!bad) {
    for (int32_t g = 0; g < G; g++) order[g] = g;
    rng_init(&r, hash_mix3(seed, 0x5173, 0));
    shuffle(order, G, &r);
    const int32_t want = split_test(n);
    int32_t got = 0;
    memset(row, FOLD_TRAIN, (size_t)n);
    int32_t smallest = order[0];
    for (int32_t q = 0; q < G; q++) {
      const int32_t g = order[q];
      smallest = gsize[g] < gsize[smallest] ? g : smallest;
      if (got + gsize[g] > want) continue; /* a site that would overshoot 10 % is left for training */
      for (int32_t i = 0; i < n; i++)
        if (group[i] == g) row[i] = FOLD_TEST;
      got += gsize[g];
    }
    for (int32_t i = 0; !got && i < n; i++) /* every site is over 10 %: the smallest is tested */
      if (group[i] == smallest) row[i] = FOLD_TEST;
    bad = pick_val(row, n, nval, n, hash_mix3(seed, 0x5b117, 1), "the split", why, whyn);
  }
  /* the folds: sites in a seeded order, stably sorted largest first, each to the fold testing fewest subjects */
  if (!bad) {
    for (int32_t g = 0; g < G; g++) order[g] = g;
    rng_init(&r, hash_mix3(seed, 0xf01d5, 1));
    shuffle(order, G, &r);
    for (int32_t a = 1; a < G; a++) /* insertion sort: stable */
      for (int32_t b = a; b > 0 && gsize[order[b]] > gsize[order[b - 1]]; b--) {
        int32_t t = order[b];
        order[b] = order[b - 1], order[b - 1] = t;
      }
    int32_t *fold_of = mallocCheck(sizeof(int32_t) * (size_t)(G + 1));
    for (int32_t q = 0; q < G; q++) {
      int32_t best = 0;
      for (int32_t fo = 1; fo < k; fo++) best = fsize[fo] < fsize[best] ? fo : best;
      fold_of[order[q]] = best, fsize[best] += gsize[order[q]];
    }
    for (int32_t fo = 0; fo < k && !bad; fo++) {
      row = roles + (size_t)(fo + 1) * n;
      for (int32_t i = 0; i < n; i++) row[i] = fold_of[group[i]] == fo ? FOLD_TEST : FOLD_TRAIN;
      char what[64];
      snprintf(what, sizeof what, "fold %d (testing %d subjects)", fo, fsize[fo]);
      bad = pick_val(row, n, nval, 0, hash_mix3(seed, 0xfa1, (uint64_t)fo), what, why, whyn);
    }
    free(fold_of);
  }
  free(group), free(gsize), free(gname), free(order), free(fsize);
  if (bad) {
    free(ids), free(roles);
    memset(f, 0, sizeof *f);
    return 1;
  }
  f->n = n, f->k = k, f->seed = seed, f->ids = ids, f->roles = roles;
  snprintf(f->group_by, sizeof f->group_by, "site");
  folds_set_names(f, s);
  return 0;
}
