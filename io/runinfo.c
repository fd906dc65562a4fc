/* io/runinfo.c: RUN/run.json through cJSON (see io/runinfo.h). */
#define _POSIX_C_SOURCE 200809L
#include "io/runinfo.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/rundir.h"
#include "io/textio.h"
#include "io/path.h"

/* the keys, once: the writer and the reader both use these */
#define K_ARM "arm"
#define K_FOLD "fold"
#define K_SEED "seed"
#define K_CONFIG_HASH "config_hash"
#define K_FOLDS_HASH "folds_hash"
#define K_DATA_CHECKSUM "data_checksum"
#define K_GIT "git"
#define K_WORLD_SIZE "world_size"
#define K_ARM_HASH "arm_hash"
#define K_CONFIG "config"

/* the canonical config text's "key = value" lines as a JSON object of strings */
static cJSON *config_object(const char *text) {
  cJSON *c = cJSON_CreateObject();
  CS_CHECK(c, "free memory", "run.json: out of memory");
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (*p != '#' && eq) {
      char key[128], val[1200];
      size_t kl = (size_t)(eq - p);
      while (kl && p[kl - 1] == ' ') kl--;
      const char *v = eq + 1;
      while (v < p + len && *v == ' ') v++;
      snprintf(key, sizeof key, "%.*s", (int)kl, p);
      snprintf(val, sizeof val, "%.*s", (int)(p + len - v), v);
      cJSON_AddStringToObject(c, key, val);
    }
    p = nl ? nl + 1 : NULL;
  }
  return c;
}

void runinfo_json_number(cJSON *obj, const char *key, double v, int digits) {
  char num[64] = "null";
  if (isfinite(v)) snprintf(num, sizeof num, "%.*g", digits, v);
  cJSON_AddItemToObject(obj, key, cJSON_CreateRaw(num));
}

void runinfo_json_write(const char *path, const cJSON *root) {
  char *text = cJSON_Print(root);
  CS_CHECK(text, "free memory", "cannot format '%s' as JSON", path);
  size_t n = strlen(text);
  char *out = mallocCheck(n + 2);
  memcpy(out, text, n), out[n] = '\n', out[n + 1] = 0;
  cJSON_free(text);
  textio_write(path, out);
  free(out);
}

static void add_int(cJSON *o, const char *key, int64_t v) {
  char num[32];
  snprintf(num, sizeof num, "%lld", (long long)v); /* exact for every int64, which a double is not */
  cJSON_AddItemToObject(o, key, cJSON_CreateRaw(num));
}

void runinfo_write(const char *run_dir, const RunProvenance *p) {
  cJSON *o = cJSON_CreateObject();
  CS_CHECK(o, "free memory", "run.json: out of memory");
  cJSON_AddStringToObject(o, K_ARM, p->arm);
  add_int(o, K_FOLD, p->fold);
  add_int(o, K_SEED, p->seed);
  cJSON_AddStringToObject(o, K_CONFIG_HASH, p->config_hash);
  if (p->config_text && p->arm_hash) {
    cJSON_AddStringToObject(o, K_ARM_HASH, p->arm_hash);
    cJSON_AddItemToObject(o, K_CONFIG, config_object(p->config_text));
  }
  cJSON_AddStringToObject(o, K_FOLDS_HASH, p->folds_hash);
  cJSON_AddStringToObject(o, K_DATA_CHECKSUM, p->data_checksum);
  cJSON_AddStringToObject(o, "store", p->store);
  cJSON_AddStringToObject(o, "folds", p->folds);
  cJSON_AddStringToObject(o, K_GIT, p->git);
  cJSON_AddStringToObject(o, "version", p->version);
  add_int(o, K_WORLD_SIZE, p->world_size);
  cJSON_AddStringToObject(o, "hosts", p->hosts);
  cJSON_AddStringToObject(o, "backend", p->backend);
  cJSON_AddStringToObject(o, "backend_version", p->backend_version);
  cJSON_AddStringToObject(o, "precision", p->precision);
  add_int(o, "deterministic", p->deterministic);
  cJSON_AddStringToObject(o, "mpi", p->mpi);
  cJSON_AddStringToObject(o, "hdf5", p->hdf5);
  add_int(o, "omp_threads_per_rank", p->omp_threads_per_rank);
  cJSON_AddStringToObject(o, "started", p->started);
  add_int(o, "resumed_at_epoch", p->resumed_at_epoch);
  cJSON_AddStringToObject(o, "command", p->command);
  char path[PATH_CAP];
  rundir_path(path, sizeof path, run_dir, "run.json");
  runinfo_json_write(path, o);
  cJSON_Delete(o);
}


/* a top-level string into buf; 1 found (and fits), 0 not */
static int get_str(const cJSON *o, const char *key, char *buf, size_t n) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) >= n) return 0;
  memcpy(buf, v->valuestring, strlen(v->valuestring) + 1);
  return 1;
}

static int get_num(const cJSON *o, const char *key, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v)) return 0;
  *out = v->valuedouble;
  return 1;
}

/* run.json's "config" object as "key = value\n" lines into buf; 0 when absent, malformed or too long */
static int read_config(const cJSON *o, char *buf, size_t n) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, K_CONFIG), *it;
  size_t used = 0;
  buf[0] = 0;
  if (!cJSON_IsObject(c)) return 0;
  cJSON_ArrayForEach(it, c) {
    if (!cJSON_IsString(it) || !it->string) return buf[0] = 0, 0;
    int w = snprintf(buf + used, n - used, "%s = %s\n", it->string, it->valuestring);
    if (w < 0 || (size_t)w >= n - used) return buf[0] = 0, 0;
    used += (size_t)w;
  }
  return 1;
}

int runinfo_read(const char *run_dir, RunInfo *ri, char *err, size_t errn) {
  memset(ri, 0, sizeof *ri);
  snprintf(ri->dir, sizeof ri->dir, "%s", run_dir);
  const char *slash = strrchr(run_dir, '/');
  snprintf(ri->name, sizeof ri->name, "%s", slash && slash[1] ? slash + 1 : run_dir);
  char p[PATH_CAP];
  rundir_path(p, sizeof p, run_dir, "run.json");
  char *t = textio_read(p);
  if (!t) return textio_fail(err, errn, "'%s': cannot be read", p);
  cJSON *o = cJSON_Parse(t);
  free(t);
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return textio_fail(err, errn, "'%s': not a JSON object (damaged or not written by `cordseg train`)", p);
  }
  double fold = 0, seed = 0, world = 1;
  int ok = get_str(o, K_CONFIG_HASH, ri->config_hash, sizeof ri->config_hash) &&
           get_str(o, K_FOLDS_HASH, ri->folds_hash, sizeof ri->folds_hash) &&
           get_str(o, K_DATA_CHECKSUM, ri->data_checksum, sizeof ri->data_checksum) && get_num(o, K_FOLD, &fold) &&
           get_num(o, K_SEED, &seed);
  if (!get_str(o, K_GIT, ri->git, sizeof ri->git)) snprintf(ri->git, sizeof ri->git, "unknown");
  if (!get_str(o, K_ARM, ri->arm, sizeof ri->arm)) snprintf(ri->arm, sizeof ri->arm, "%s", ri->name);
  get_num(o, K_WORLD_SIZE, &world);
  if (get_str(o, K_ARM_HASH, ri->arm_hash, sizeof ri->arm_hash) && !read_config(o, ri->config, sizeof ri->config))
    ri->arm_hash[0] = 0; /* a config that does not fit: read as an older run.json */
  cJSON_Delete(o);
  if (!ok) return textio_fail(err, errn, "'%s': lacks one of config_hash, folds_hash, data_checksum, fold, seed", p);
  ri->fold = (int32_t)fold, ri->seed = (int64_t)seed, ri->world_size = (int32_t)world;
  ri->done = rundir_exists(run_dir, "DONE");
  return 0;
}
