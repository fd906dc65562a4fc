/* cmd/train.c: `cordseg train`: resolves the config (file + --set
 * overrides), checks everything on rank 0 before any work starts (store,
 * folds, fold, batch split, model size, run directory and checkpoint match),
 * shares the resolved config with the other ranks and runs jobs/trainer.c. */
#define _DEFAULT_SOURCE /* realpath */
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
#include "cmd/cli.h"
#include "jobs/trainer.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -np N | srun] cordseg train --config FILE [--fold K] [--set key=value]...\n"
          "                                          [--run-dir DIR] [--resume]\n"
          "Trains one UNet on one fold of an HDF5 slice store, data-parallel over the MPI ranks\n"
          "(global batch split evenly; gradients all-reduced). One progress line per epoch; the\n"
          "run directory gets config.ini, run.json (provenance), log.csv, ckpt/{last,best}.h5, DONE.\n"
          "A run directory holding ckpt/last.h5 is resumed automatically (bit-identical at the same\n"
          "rank count); one holding DONE is left alone (exit 0).\n"
          "  --config FILE   flat `key = value` file (configs/*.ini); keys: --help-keys\n"
          "  --set k=v       override one key (repeatable), e.g. --set loss=hdl --set epochs=20\n"
          "  --fold K        same as --set fold=K (-1 = the 81/9/10 split)\n"
          "  --run-dir DIR   default: runs/<config name>-fold<K>\n"
          "  --resume        insist on resuming (error when DIR has no checkpoint)\n"
          "  --help-keys     list every config key with its default\n"
          "Exit status: 0 finished (or already finished), 1 error, 2 usage error,\n"
          "  75 the requeue signal (config requeue_signal, default SIGUSR2) arrived: checkpoint\n"
          "     written, requeue the job;  143 SIGTERM/SIGINT: checkpoint written, do not requeue.\n"
          "Threads: OMP_NUM_THREADS per rank, default = this host's cores / ranks on this host.\n");
}

/* "run\\nresume stop_after\\ncommand\\n" + config text: what rank 0 shares */
static char *job_pack(const TrainJob *j) {
  char *cfg = config_format(&j->cfg);
  size_t n = strlen(cfg) + strlen(j->run) + strlen(j->command) + 64;
  char *t = mallocCheck(n);
  snprintf(t, n, "%s\n%d %lld\n%s\n%s", j->run, j->resume, (long long)j->stop_after_steps, j->command, cfg);
  free(cfg);
  return t;
}

static void job_unpack(TrainJob *j, const char *t) {
  const char *l1 = strchr(t, '\n'), *l2 = l1 ? strchr(l1 + 1, '\n') : NULL, *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
  CS_CHECK(l3, NULL, "internal: malformed job text from rank 0");
  snprintf(j->run, sizeof j->run, "%.*s", (int)(l1 - t), t);
  long long stop = 0;
  CS_CHECK(sscanf(l1 + 1, "%d %lld", &j->resume, &stop) == 2, NULL, "internal: malformed job text from rank 0");
  j->stop_after_steps = stop;
  snprintf(j->command, sizeof j->command, "%.*s", (int)(l3 - l2 - 1), l2 + 1);
  config_defaults(&j->cfg);
  config_load_text(&j->cfg, l3 + 1, "resolved config from rank 0");
}

static void make_absolute(char *path, size_t n, const char *key) {
  char abs[PATH_MAX];
  CS_CHECK(n >= 1024, NULL, "internal: path buffer");
  if (!realpath(path, abs))
    cs_fatal("check the path; relative paths are taken from the current directory",
             "%s '%s' does not exist or is not readable", key, path);
  if (strlen(abs) >= n) cs_fatal("use a shorter path", "%s path '%s' is too long", key, abs);
  memcpy(path, abs, strlen(abs) + 1);
}

/* names the keys whose values differ between two canonical config texts */
static void config_diff(const char *a, const char *b, char *out, size_t n) {
  out[0] = 0;
  for (const char *p = a; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (*p != '#') {
      char line[1200];
      snprintf(line, sizeof line, "%.*s", (int)len, p);
      const char *q = strstr(b, line);
      if (!q || (q != b && q[-1] != '\n') || (q[len] != '\n' && q[len])) {
        size_t o = strlen(out);
        const char *eq = strchr(line, ' ');
        snprintf(out + o, n - o, "%s%.*s", o ? ", " : "", eq ? (int)(eq - line) : (int)len, line);
      }
    }
    p = nl ? nl + 1 : NULL;
  }
}

/* rank 0: everything that can be checked before the work starts */
static int setup_rank0(TrainJob *job, int argc, char **argv) {
  const char *config = NULL, *sets[128];
  int nsets = 0, want_resume = 0, help_keys = 0;
  int32_t fold = INT32_MIN; /* not given */
  TrainConfig *c = &job->cfg;
  config_defaults(c);
  cli_command_line(argc, argv, job->command, sizeof job->command);
  const CliOption opts[] = {CLI_STRING("config", 'c', &config),
                            CLI_INT32("fold", 0, &fold, -1, 99),
                            CLI_REPEAT("set", 0, sets, &nsets),
                            CLI_BUFFER("run-dir", 0, job->run),
                            CLI_FLAG_ON("resume", 0, &want_resume),
                            CLI_FLAG_ON("help-keys", 0, &help_keys),
                            CLI_INT64("stop-after-steps", 0, &job->stop_after_steps, 1, INT64_MAX),
                            CLI_END};
  int pos = cli_parse("train", argc, argv, opts, usage);
  if (help_keys) {
    printf("config keys (flat `key = value`; --set key=value overrides):\n");
    config_keys_help(stdout);
    exit(0);
  }
  const int fold_set = fold != INT32_MIN;
  if (pos < argc) cli_usage_error("train", "unexpected argument '%s'", argv[pos]);
  if (config) config_load(c, config);
  for (int i = 0; i < nsets; i++) config_set(c, sets[i], "--set");
  if (fold_set) c->fold = fold;
  if (!c->store[0]) cs_fatal("set `store = PATH` in the config or pass --set store=PATH", "no store given");
  if (!c->folds[0])
    cs_fatal("make one with `cordseg folds STORE -o FOLDS` and set `folds = FOLDS` (or --set folds=FOLDS)",
             "no folds manifest given");
  make_absolute(c->store, sizeof c->store, "store");
  make_absolute(c->folds, sizeof c->folds, "folds");
  const int world = job->dist.world;
  if (c->batch < world)
    cs_fatal("use a global batch of at least one sample per rank, or fewer ranks",
             "more ranks (%d) than samples per step (batch %d)", world, c->batch);
  if (c->batch % world)
    cs_fatal("use a batch that is a multiple of the rank count (each rank takes batch/ranks samples)",
             "batch %d does not split evenly over %d ranks", c->batch, world);
  /* data */
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
  uint64_t computed = 0, stored = 0;
  if (!h5store_verify(&store, &computed, &stored))
    cs_fatal("the store is corrupt or was modified; regenerate it (cordseg phantom / import)",
             "store '%s': content checksum %016llx does not match the recorded %016llx", c->store,
             (unsigned long long)computed, (unsigned long long)stored);
  folds_free(&folds);
  h5store_close(&store);
  /* run directory */
  if (!job->run[0]) {
    char name[256] = "train";
    if (config) {
      char tmp[4096];
      snprintf(tmp, sizeof tmp, "%s", config);
      snprintf(name, sizeof name, "%s", basename(tmp));
      char *dot = strrchr(name, '.');
      if (dot && dot != name) *dot = 0;
    }
    snprintf(job->run, sizeof job->run, "runs/%s-fold%d", name, c->fold);
  }
  rundir_prepare(job->run);
  /* a run directory belongs to one config: compare with its config.ini */
  char cpath[4200];
  rundir_path(cpath, sizeof cpath, job->run, "config.ini");
  char *old = textio_read(cpath);
  if (old) {
    TrainConfig prev;
    config_defaults(&prev);
    config_load_text(&prev, old, cpath);
    char h0[32], h1[32];
    config_hash(&prev, h0);
    config_hash(c, h1);
    if (strcmp(h0, h1)) {
      char *now = config_format(c), diff[1024];
      config_diff(now, old, diff, sizeof diff);
      cs_fatal("resume with the same config (see RUN/config.ini), or use a new --run-dir",
               "run directory '%s' belongs to another config (keys that differ: %s)", job->run, diff);
    }
    free(old);
  }
  if (rundir_exists(job->run, "DONE")) {
    printf("cordseg train: %s/DONE exists: this run already finished, nothing to do\n", job->run);
    return 0;
  }
  char last[4200];
  rundir_path(last, sizeof last, job->run, "ckpt/last.h5");
  if (rundir_exists(job->run, "ckpt/last.h5")) {
    CkptState st;
    char hash[32];
    ckpt_peek(last, &st, NULL);
    config_hash(c, hash);
    if (strcmp(hash, st.config_hash))
      cs_fatal("resume with the same config, or use a new --run-dir",
               "checkpoint '%s' was written by config %s, this config is %s", last, st.config_hash, hash);
    job->resume = 1;
  } else if (want_resume) {
    cs_fatal("drop --resume to start a new run", "--resume: '%s' has no checkpoint ckpt/last.h5", job->run);
  }
  return 1;
}

int cmd_train(int argc, char **argv) {
  TrainJob job;
  memset(&job, 0, sizeof job);
  dist_init(&job.dist, &argc, &argv);
  char *text = NULL;
  int go = 1;
  if (job.dist.rank == 0) {
    go = setup_rank0(&job, argc, argv);
    text = go ? job_pack(&job) : mallocCheck(8);
    if (!go) snprintf(text, 8, "DONE");
  }
  fflush(stdout);
  dist_setup_share(&text);
  if (!strcmp(text, "DONE")) go = 0;
  if (go && job.dist.rank != 0) job_unpack(&job, text);
  free(text);
  int code = go ? trainer_run(&job) : 0;
  dist_finalize();
  return code;
}
