/* io/runinfo.h: RUN/run.json, the provenance of one training run, written by
 * `cordseg train` (jobs/trainer.c) and read by evaluate, export and report:
 * its writer and its reader in one module, each key named once, through
 * cJSON (Debian libcjson-dev; printed by cJSON_Print). Keys: arm, fold, seed, config_hash,
 * arm_hash, config, folds_hash, data_checksum, store, folds, git, version, world_size, hosts,
 * backend, backend_version, precision, deterministic, mpi, hdf5,
 * omp_threads_per_rank, started, resumed_at_epoch, command. "config" is an
 * object of every config key (io/config.h) with its canonical value as a
 * string; "arm_hash" is config_arm_hash (fold, seed and paths left out).
 * A reader needs config_hash, folds_hash, data_checksum, fold and seed; git
 * defaults to "unknown", arm to the directory name, world_size to 1;
 * run.json files written before arm_hash and config existed read with both
 * empty (a report then groups by arm, and says so).
 * Also the one JSON helper the other writers share (runinfo_json_write).
 * defines: RunInfo, RunProvenance, runinfo_write, runinfo_read, runinfo_json_write, runinfo_json_number */
#ifndef CORDSEG_IO_RUNINFO_H
#define CORDSEG_IO_RUNINFO_H
#include <stddef.h>
#include <stdint.h>

/* what a reader learns of a run */
typedef struct {
  char dir[4096];
  char name[256];          /* the run directory's last path component */
  char config_hash[64], folds_hash[64], data_checksum[64], git[64], arm[256];
  char arm_hash[64];       /* "" in an older run.json */
  char config[6144];       /* "key = value\n" per config key, table order; "" in an older run.json */
  int32_t fold;            /* -1 = the 81/9/10 split */
  int64_t seed;
  int32_t world_size;
  int done;                /* RUN/DONE exists */
} RunInfo;

/* what the trainer records (strings may not be NULL, except config_text and
 * arm_hash: NULL leaves both out, as an older run.json) */
typedef struct {
  const char *config_text; /* canonical config (config_format): "key = value" lines, '#' lines skipped */
  const char *arm_hash;
  const char *arm, *config_hash, *folds_hash, *data_checksum, *store, *folds, *git, *version, *hosts, *backend,
      *backend_version, *precision, *mpi, *hdf5, *started, *command;
  int64_t fold, seed, world_size, deterministic, omp_threads_per_rank, resumed_at_epoch;
} RunProvenance;

/* RUN/run.json, written atomically */
void runinfo_write(const char *run_dir, const RunProvenance *p);
/* RUN/run.json -> ri; 0 ok, -1 with err filled (the reader never exits: a
 * report lists a bad run and goes on) */
int runinfo_read(const char *run_dir, RunInfo *ri, char *err, size_t errn);

struct cJSON;
/* a cJSON tree printed (cJSON_Print: one key a line) and written atomically to path */
void runinfo_json_write(const char *path, const struct cJSON *root);
/* a number as JSON text with `digits` significant digits, null when not finite, added to obj as key */
void runinfo_json_number(struct cJSON *obj, const char *key, double v, int digits);
#endif
