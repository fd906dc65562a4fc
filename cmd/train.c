/* cmd/train.c: `cordseg train`: resolves the config (file + --set
 * overrides), has rank 0 check everything before any work starts
 * (jobs/preflight.h: store, folds, fold, batch split, model size, run
 * directory and checkpoint match), shares the resolved config with the other
 * ranks and runs jobs/trainer.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "cmd/cli.h"
#include "jobs/preflight.h"
#include "jobs/trainer.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "train");
  fprintf(f,
          "Trains one UNet on one fold of an HDF5 slice store, data-parallel over the MPI ranks\n"
          "(global batch split evenly; gradients all-reduced). One progress line per epoch; the\n"
          "run directory gets config.ini, run.json (provenance), log.csv, ckpt/{last,best}.h5, DONE.\n"
          "A run directory holding ckpt/last.h5 is resumed automatically (bit-identical at the same\n"
          "rank count); one holding DONE is left alone (exit 0).\n"
          "Exit status: 0 finished (or already finished), 1 error, 2 usage error,\n"
          "  75 the requeue signal (config requeue_signal, default SIGUSR2) arrived: checkpoint\n"
          "     written, requeue the job;  143 SIGTERM/SIGINT: checkpoint written, do not requeue.\n"
          "Threads: OMP_NUM_THREADS per rank, default = this host's cores / ranks on this host.\n\n");
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

/* rank 0: the options and the resolved config, then every check that can
 * run before the work starts (jobs/preflight.h); 0 when the run is finished */
static int setup_rank0(TrainJob *job, int argc, char **argv) {
  const char *config = NULL, *sets[128];
  int nsets = 0, want_resume = 0, help_keys = 0;
  int32_t fold = INT32_MIN; /* not given */
  TrainConfig *c = &job->cfg;
  config_defaults(c);
  cli_command_line(argc, argv, job->command, sizeof job->command);
  const CliOption opts[] = {
      CLI_STRING("config", 'c', &config, .arg = "FILE", .help = "flat `key = value` file (configs/*.ini); keys: --help-keys"),
      CLI_INT32("fold", 0, &fold, -1, 99, .arg = "K", .help = "same as --set fold=K (-1 = the 81/9/10 split)"),
      CLI_REPEAT("set", 0, sets, &nsets, .arg = "key=value",
                 .help = "override one key (repeatable), e.g. --set loss=hdl --set epochs=20"),
      CLI_BUFFER("run-dir", 0, job->run, .arg = "DIR", .help = "default: runs/<config name>-fold<K>"),
      CLI_FLAG_ON("resume", 0, &want_resume, .help = "insist on resuming (error when DIR has no checkpoint)"),
      CLI_FLAG_ON("help-keys", 0, &help_keys, .help = "list every config key with its default"),
      CLI_INT64("stop-after-steps", 0, &job->stop_after_steps, 1, INT64_MAX, .hidden = 1),
      CLI_END};
  int pos = cli_parse("train", argc, argv, opts, usage);
  if (help_keys) {
    printf("config keys (flat `key = value`; --set key=value overrides):\n");
    config_keys_help(stdout);
    exit(0);
  }
  if (pos < argc) cli_usage_error("train", "unexpected argument '%s'", argv[pos]);
  if (config) config_load(c, config);
  for (int i = 0; i < nsets; i++) config_set(c, sets[i], "--set");
  if (fold != INT32_MIN) c->fold = fold;
  return train_preflight(job, config, want_resume);
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
