/* jobs/preflight.c: rank 0's checks before `cordseg train` starts (see jobs/preflight.h). */
#define _DEFAULT_SOURCE /* realpath */
#include "jobs/preflight.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/ckpt.h"
#include "io/folds.h"
#include "io/h5store.h"
#include "io/rundir.h"
#include "io/textio.h"
#include "io/path.h"

static void make_absolute(char *path, size_t n, const char *key) {
  char abs[PATH_MAX];
  CS_CHECK(n >= 1024, NULL, "internal: path buffer");
  if (!realpath(path, abs))
    cs_fatal("check the path; relative paths are taken from the current directory",
             "%s '%s' does not exist or is not readable", key, path);
  if (strlen(abs) >= n) cs_fatal("use a shorter path", "%s path '%s' is too long", key, abs);
  memcpy(path, abs, strlen(abs) + 1);
}

/* the store and the folds are given, and the global batch splits over the ranks */
static void preflight_config(TrainConfig *c, int world) {
  if (!c->store[0]) cs_fatal("set `store = PATH` in the config or pass --set store=PATH", "no store given");
  if (!c->folds[0])
    cs_fatal("make one with `cordseg folds STORE -o FOLDS` and set `folds = FOLDS` (or --set folds=FOLDS)",
             "no folds manifest given");
  make_absolute(c->store, sizeof c->store, "store");
  make_absolute(c->folds, sizeof c->folds, "folds");
  if (c->batch < world)
    cs_fatal("use a global batch of at least one sample per rank, or fewer ranks",
             "more ranks (%d) than samples per step (batch %d)", world, c->batch);
  if (c->batch % world)
    cs_fatal("use a batch that is a multiple of the rank count (each rank takes batch/ranks samples)",
             "batch %d does not split evenly over %d ranks", c->batch, world);
}

/* the folds belong to the store, the fold exists, the model fits the store, the store is intact */
static void preflight_data(const TrainConfig *c) {
  H5Store store;
  h5store_open(&store, c->store);
  Folds folds;
  folds_read(&folds, c->folds);
  char sum[64];
  h5store_attr_string(&store, "checksum", sum, sizeof sum);
  if (folds.store_checksum[0] && sum[0] && strcmp(folds.store_checksum, sum))
    cs_fatal("the folds were made for another store (or the store changed): run `cordseg folds STORE -o FOLDS` again",
             "folds '%s' record store checksum %s, store '%s' has %s", c->folds, folds.store_checksum, c->store, sum);
  if (c->fold < -1 || c->fold >= folds.k)
    cs_fatal("use --fold -1 (the 81/9/10 split) or 0..k-1", "fold %d is not in the manifest '%s' (k = %d)", c->fold,
             c->folds, folds.k);
  char msg[512];
  const char *hint = NULL;
  if (config_check_fit(c, &store, &folds, msg, sizeof msg, &hint)) cs_fatal(hint, "%s", msg);
  int32_t *idx = NULL;
  int32_t nva = folds_indices(&folds, c->fold, FOLD_VAL, store.meta, store.n, &idx);
  free(idx);
  if (nva == 0)
    fprintf(stderr, "cordseg train: warning: fold %d has no validation slices: no validation, no best.h5\n", c->fold);
  h5store_require_verified(&store, "not training on it");
  folds_free(&folds);
  h5store_close(&store);
}

/* the default run directory: runs/<config file name without extension>-fold<K> */
static void preflight_run_name(TrainJob *job, const char *config_path) {
  if (job->run[0]) return;
  char name[256] = "train";
  if (config_path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", config_path);
    snprintf(name, sizeof name, "%s", basename(tmp));
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = 0;
  }
  snprintf(job->run, sizeof job->run, "runs/%s-fold%d", name, job->cfg.fold);
}

/* a run directory belongs to one config: compare with its config.ini */
static void preflight_run_owner(const TrainJob *job) {
  char cpath[PATH_CAP];
  rundir_path(cpath, sizeof cpath, job->run, "config.ini");
  char *old = textio_read(cpath);
  if (!old) return;
  TrainConfig prev;
  config_defaults_stored(&prev);
  config_load_text(&prev, old, cpath);
  char h0[32], h1[32];
  config_hash(&prev, h0);
  config_hash(&job->cfg, h1);
  if (strcmp(h0, h1)) {
    char *now = config_format(&job->cfg), diff[1024];
    config_diff(now, old, diff, sizeof diff);
    cs_fatal("resume with the same config (see RUN/config.ini), or use a new --run-dir",
             "run directory '%s' belongs to another config (keys that differ: %s)", job->run, diff);
  }
  free(old);
}

/* ckpt/last.h5 of this config: resume; --resume without one: fatal */
static void preflight_resume(TrainJob *job, int want_resume) {
  char last[PATH_CAP];
  rundir_path(last, sizeof last, job->run, "ckpt/last.h5");
  if (rundir_exists(job->run, "ckpt/last.h5")) {
    CkptState st;
    char hash[32];
    ckpt_peek(last, &st, NULL);
    config_hash(&job->cfg, hash);
    if (strcmp(hash, st.config_hash))
      cs_fatal("resume with the same config, or use a new --run-dir",
               "checkpoint '%s' was written by config %s, this config is %s", last, st.config_hash, hash);
    job->resume = 1;
  } else if (want_resume) {
    cs_fatal("drop --resume to start a new run", "--resume: '%s' has no checkpoint ckpt/last.h5", job->run);
  }
}

int train_preflight(TrainJob *job, const char *config_path, int want_resume) {
  preflight_config(&job->cfg, job->dist.world);
  preflight_data(&job->cfg);
  preflight_run_name(job, config_path);
  rundir_prepare(job->run);
  preflight_run_owner(job);
  if (rundir_exists(job->run, "DONE")) {
    printf("cordseg train: %s/DONE exists: this run already finished, nothing to do\n", job->run);
    return 0;
  }
  preflight_resume(job, want_resume);
  return 1;
}
