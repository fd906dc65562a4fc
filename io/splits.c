/* io/splits.c: `cordseg folds --from SPLITS.json`: an edited split, in the
 * shape of nnU-Net's splits_final.json, into the Folds a manifest holds
 * (io/folds.h): a JSON list with one object per fold,
 *   [{"train": ["sub-01", ...], "val": ["sub-05", ...]}, ...]
 * and optionally "test": [...] per entry. Without "test", a fold's test set
 * is every store subject in neither list; with it, every subject must be in
 * exactly one of the three. Names are the store's subject names (or ids as
 * text for unnamed stores; JSON integers are taken as ids). Every error names
 * the file, the entry, the key and the subject. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/common.h"
#include "io/textio.h"
#include "io/folds.h"

#define SPLITS_HINT                                                                                                  \
  "write a list of {\"train\": [names], \"val\": [names]} (optionally \"test\": [names]), one per fold, naming the " \
  "store's subjects (cordseg info STORE lists them)"

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* the store's sorted unique subject ids */
static int32_t store_ids(const H5Store *s, int32_t **out) {
  int32_t *all = mallocCheck(sizeof(int32_t) * (size_t)(s->n + 1)), n = 0;
  for (int32_t i = 0; i < s->n; i++) all[i] = s->meta[i].subject;
  qsort(all, (size_t)s->n, sizeof(int32_t), cmp_i32);
  for (int32_t i = 0; i < s->n; i++)
    if (i == 0 || all[i] != all[i - 1]) all[n++] = all[i];
  *out = all;
  return n;
}


/* one list ("train", "val" or "test") of entry e into row (role per subject, '.' = not yet set) */
static void splits_list(const cJSON *list, const char *key, char role, int e, const char *path, const H5Store *s,
                        const Folds *f, char *row, const char *const *set_of) {
  CS_CHECK(cJSON_IsArray(list), SPLITS_HINT, "'%s' entry %d: \"%s\" is not a list of subject names", path, e, key);
  const cJSON *it;
  int j = 0;
  cJSON_ArrayForEach(it, list) {
    char name[64];
    if (cJSON_IsString(it)) snprintf(name, sizeof name, "%.63s", it->valuestring);
    else if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble == (double)(int32_t)it->valuedouble)
      snprintf(name, sizeof name, "%d", (int32_t)it->valuedouble);
    else cs_fatal(SPLITS_HINT, "'%s' entry %d: \"%s\" item %d is not a subject name", path, e, key, j);
    int32_t id, ns;
    if (!h5store_subject_find(s, name, &id, &ns))
      cs_fatal("name only subjects the store holds (cordseg info STORE lists them)",
               "'%s' entry %d: \"%s\" names subject '%s', which store '%s' does not hold", path, e, key, name, s->path);
    const int32_t *hit = bsearch(&id, f->ids, (size_t)f->n, sizeof(int32_t), cmp_i32);
    CS_CHECK(hit, NULL, "splits: subject id %d missing from the store's ids", id);
    const size_t i = (size_t)(hit - f->ids);
    if (row[i] != '.')
      cs_fatal("put each subject in one set of a fold", "'%s' entry %d: subject '%s' is in \"%s\" and in \"%s\"", path,
               e, name, set_of[(unsigned char)row[i]], key);
    row[i] = role;
    j++;
  }
}

void folds_from_splits(Folds *f, const char *json_path, const H5Store *s) {
  memset(f, 0, sizeof *f);
  char *text = textio_read_bounded(json_path, (size_t)64 << 20, SPLITS_HINT);
  cJSON *root = cJSON_Parse(text);
  free(text);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    cs_fatal(SPLITS_HINT, "'%s' is not JSON (error near '%.30s')", json_path, at ? at : "?");
  }
  const int k = cJSON_GetArraySize(root);
  CS_CHECK(cJSON_IsArray(root) && k >= 1, SPLITS_HINT, "'%s': want a non-empty JSON list of folds", json_path);
  f->n = store_ids(s, &f->ids);
  f->k = k;
  CS_CHECK(f->n >= 3, "a split needs a training, a validation and a test subject",
           "store '%s' has %d subjects", s->path, f->n);
  snprintf(f->from, sizeof f->from, "%.1000s", json_path);
  for (char *c = f->from; *c; c++) *c = *c == ' ' || *c == '\n' ? '_' : *c; /* one token in the file */
  f->roles = mallocCheck((size_t)(k + 1) * (size_t)f->n);
  const char *set_of[256] = {0};
  set_of[FOLD_TRAIN] = "train", set_of[FOLD_VAL] = "val", set_of[FOLD_TEST] = "test";
  char nb[H5STORE_NAME_MAX];
  for (int e = 0; e < k; e++) {
    const cJSON *ent = cJSON_GetArrayItem(root, e), *it;
    CS_CHECK(cJSON_IsObject(ent), SPLITS_HINT, "'%s' entry %d is not an object", json_path, e);
    cJSON_ArrayForEach(it, ent) CS_CHECK(!strcmp(it->string, "train") || !strcmp(it->string, "val") ||
                                             !strcmp(it->string, "test"),
                                         SPLITS_HINT, "'%s' entry %d: unknown key \"%s\" (train, val, test)",
                                         json_path, e, it->string);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(ent, "train"), *va = cJSON_GetObjectItemCaseSensitive(ent, "val"),
                *te = cJSON_GetObjectItemCaseSensitive(ent, "test");
    CS_CHECK(tr && va, SPLITS_HINT, "'%s' entry %d has no \"%s\" list", json_path, e, tr ? "val" : "train");
    char *row = f->roles + (size_t)(e + 1) * f->n;
    memset(row, '.', (size_t)f->n);
    splits_list(tr, "train", FOLD_TRAIN, e, json_path, s, f, row, set_of);
    splits_list(va, "val", FOLD_VAL, e, json_path, s, f, row, set_of);
    if (te) splits_list(te, "test", FOLD_TEST, e, json_path, s, f, row, set_of);
    int32_t c[256] = {0};
    for (int32_t i = 0; i < f->n; i++) {
      if (row[i] == '.' && te)
        cs_fatal("list every subject in \"train\", \"val\" or \"test\", or leave \"test\" out (then the rest are "
                 "test subjects)",
                 "'%s' entry %d: subject '%s' is in none of its lists", json_path, e,
                 h5store_subject_name(s, f->ids[i], nb));
      if (row[i] == '.') row[i] = FOLD_TEST;
      c[(unsigned char)row[i]]++;
    }
    CS_CHECK(c[FOLD_TRAIN] > 0 && c[FOLD_VAL] > 0 && c[FOLD_TEST] > 0,
             "each fold needs a training, a validation and a test subject; an nnU-Net split naming every subject in "
             "train and val has no test set: leave test subjects out of both lists, or add a \"test\" list",
             "'%s' entry %d has %d training, %d validation and %d test subjects", json_path, e, c[FOLD_TRAIN],
             c[FOLD_VAL], c[FOLD_TEST]);
  }
  memcpy(f->roles, f->roles + f->n, (size_t)f->n); /* the split row: entry 0 */
  cJSON_Delete(root);
  folds_set_names(f, s);
}
