/* io/folds_sites.c: `folds --group-by site` (io/folds.h): folds whose test
 * sets hold whole sites, so that no site straddles training and test.
 * Sites are the store's (io/h5subjects.c: import --site, --list's site
 * column, participants.tsv). Fold F tests the sites assigned to it: the sites
 * in a seeded order, largest first, each to the fold with the fewest test
 * subjects so far (balanced like scikit-learn's GroupKFold); the split tests
 * the sites, in a seeded order, that fit in 10 % of the subjects (at least 1;
 * the smallest site when none fits). Validation subjects are drawn (seeded) from the other sites'
 * subjects, as folds_make_val draws them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/folds.h"
#include "io/hash.h"

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
    int32_t want = (int32_t)(0.10 * n + 0.5), got = 0;
    want = want < 1 ? 1 : want;
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
