/* jobs/trainer.h: the data-parallel training loop of `cordseg train` (after
 * cmd/train.c resolved and checked the config on rank 0).
 * defines: TrainJob, TRAIN_EXIT_*, trainer_run */
#ifndef CORDSEG_JOBS_TRAINER_H
#define CORDSEG_JOBS_TRAINER_H
#include <stdint.h>

#include "io/config.h"
#include "jobs/dist.h"

enum {
  TRAIN_EXIT_OK = 0,
  TRAIN_EXIT_REQUEUE = 75,  /* requeue signal: checkpointed, please requeue (EX_TEMPFAIL) */
  TRAIN_EXIT_TERM = 143,    /* SIGTERM/SIGINT: checkpointed, do not requeue (128 + 15) */
};

typedef struct {
  TrainConfig cfg;
  Dist dist;
  char run[4096];           /* run directory */
  char command[2048];       /* the command line, for run.json */
  int resume;               /* ckpt/last.h5 exists and matches */
  int64_t stop_after_steps; /* test hook: act as if the requeue signal came after N steps (0 = off) */
} TrainJob;

/* returns the process exit code (TRAIN_EXIT_*) */
int trainer_run(TrainJob *job);
#endif
