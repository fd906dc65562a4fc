/* slurm/sweep.h: a study as a grid of training runs: the sweep file (INI with
 * sections, libinih), its expansion into tasks with resolved configs, the
 * checks made before anything is queued, the shared inputs made once per
 * sweep, and the sweep directory's bookkeeping (plan.tsv, jobs.tsv, each
 * task's run-dir state). Slurm itself is slurm/slurmctl.h; the command is
 * cmd/sweep.c.
 *
 * Sweep file (configs/sweep_*.ini; `;` starts an inline comment):
 *   [sweep]  name, dir (sweep directory), config (base train config),
 *            folds_k, folds_seed (the folds manifest the sweep makes)
 *   [train]  train config keys (`cordseg train --help-keys`) for every task
 *   [grid]   axis = v1 v2 ...: one train key per line, the cartesian product;
 *            integer ranges a..b; `fold = all` = 0..folds_k-1
 *   [zip NAME] paired axis: keys with equally many values, taken together
 *   [slurm]  resources of one task and of the report job (SlurmResources)
 * Task order: the axes in file order, the last one varying fastest.
 *
 * Sweep directory:
 *   sweep.ini        copy of the sweep file
 *   plan.tsv         task, arm, fold, seed, run dir, config, overrides
 *   shared/          folds.txt, data-check.txt, configs/task-NNN.ini (read-only)
 *   runs/ARM/foldK-seedS/  each task's run directory (train, evaluate, attempts.tsv)
 *   slurm/           task.sbatch, report.sbatch, task-run.sh, logs/
 *   jobs.tsv         every submission: time, kind, job id, tasks
 *   report/          the chained report
 * defines: SweepAxis, Sweep, SweepTask, SweepPlan, SweepRunState, sweep_load,
 *          sweep_free, sweep_size, sweep_expand, sweep_check_data,
 *          sweep_create_dir, sweep_prepare_shared, sweep_write_plan, sweep_read_plan,
 *          sweep_plan_free, sweep_record_job, sweep_latest_jobs, sweep_run_state,
 *          sweep_idlist_parse, sweep_idlist_format */
#ifndef CORDSEG_SLURM_SWEEP_H
#define CORDSEG_SLURM_SWEEP_H
#include <stddef.h>
#include <stdint.h>

#include "io/config.h"
#include "slurm/slurmctl.h"

#define SWEEP_MAX_AXES 16
#define SWEEP_MAX_ZIP_KEYS 8
#define SWEEP_MAX_VALUES 1000
#define SWEEP_MAX_TRAIN 64
#define SWEEP_MAX_TASKS 10000

typedef struct {
  char name[64];                       /* zip group name; "" for a [grid] axis */
  int32_t nkeys;                       /* 1 for a [grid] axis */
  char keys[SWEEP_MAX_ZIP_KEYS][32];
  int32_t nvalues;
  char (*values)[64];                  /* value v of key k: values[v * nkeys + k] */
  int32_t line;                        /* where the axis starts in the file */
} SweepAxis;

typedef struct {
  char path[1024];                     /* the sweep file */
  char name[64];
  char dir[1024];                      /* sweep directory */
  char config[1024];                   /* base train config, "" = built-in defaults */
  int32_t folds_k;                     /* from the folds file when [train] folds is set */
  uint64_t folds_seed;
  int32_t ntrain;
  char train[SWEEP_MAX_TRAIN][1100];   /* [train] "key=value" overrides, file order */
  int32_t naxes;
  SweepAxis axes[SWEEP_MAX_AXES];
  SlurmResources slurm;
  TrainConfig base;                    /* defaults < base config < [train] */
} Sweep;

typedef struct {
  int32_t id;
  char arm[256];                       /* the non-fold, non-seed axis values: "vgg16-hybrid-b0" */
  char run_dir[512];                   /* relative to the sweep dir: runs/ARM/foldK-seedS */
  char overrides[1024];                /* the axis assignments: "backbone=vgg16 loss=hybrid fold=0" */
  TrainConfig cfg;                     /* base + axis values */
} SweepTask;

/* reads and validates the file (unknown section, key, axis or value; axis
 * repeated; zip lengths that differ: fatal with file:line and the fix) */
void sweep_load(Sweep *s, const char *path);
void sweep_free(Sweep *s);
int64_t sweep_size(const Sweep *s);
/* every task with its resolved config; fatal when a fold is >= folds_k or
 * two tasks would share a run directory. Caller frees. */
SweepTask *sweep_expand(const Sweep *s, int32_t *ntasks);
/* the data every task reads: the store opens and has enough subjects for
 * folds_k, a given folds file verifies and belongs to the store; and what
 * train would refuse: a network that does not fit the slice size, a fold
 * with fewer training slices than batch or steps_per_epoch batches. Fatal
 * otherwise; summary gets a line about the data. */
void sweep_check_data(const Sweep *s, const SweepTask *tasks, int32_t n, char *summary, size_t ns);
/* makes dir (parents too; fatal when it exists and is not empty), its
 * runs/, slurm/, slurm/logs/, and dir/sweep.ini (a copy of the sweep file) */
void sweep_create_dir(const Sweep *s, const char *dir);
/* makes dir/shared: folds.txt (made from the store, or the given file
 * verified and copied), data-check.txt (the store's checksum recomputed),
 * configs/task-NNN.ini (each task's resolved config, store and folds
 * absolute); all read-only afterwards. Sets every task's store and folds. */
void sweep_prepare_shared(const Sweep *s, SweepTask *tasks, int32_t n, const char *dir);
void sweep_write_plan(const Sweep *s, const SweepTask *tasks, int32_t n, const char *dir);

typedef struct {
  int32_t n, throttle, max_requeues;
  char name[64];
  int32_t *id;
  char (*arm)[256];
  char (*run_dir)[512];
  char (*overrides)[1024];
} SweepPlan;
void sweep_read_plan(SweepPlan *p, const char *dir); /* fatal when dir is no sweep directory */
void sweep_plan_free(SweepPlan *p);

/* appends "time kind job tasks" to dir/jobs.tsv (atomic rewrite) */
void sweep_record_job(const char *dir, const char *kind, int64_t job, const char *tasks);
/* for each task (n of them) the array job that ran it last (0 = never
 * submitted); *report = the last report job (0 = none) */
void sweep_latest_jobs(const char *dir, int32_t n, int64_t *job_of_task, int64_t *report);

typedef struct {
  int trained;           /* RUN/DONE */
  int evaluated;         /* RUN/eval/summary.json */
  int checkpoint;        /* RUN/ckpt/last.h5 */
  int32_t attempts;      /* lines "start" in RUN/attempts.tsv */
  int32_t last_rc;       /* exit status of the last finished attempt, -1 none */
  char last_action[32];  /* what task-run.sh did then: finished, requeue, failed, ... */
} SweepRunState;
void sweep_run_state(const char *run_dir, SweepRunState *st);

/* "0-3,7,9-10" -> mask[0..n) (1 = listed); 0 ok, -1 malformed or out of range */
int sweep_idlist_parse(const char *s, uint8_t *mask, int32_t n);
/* the inverse, compressed into ranges ("" when none) */
void sweep_idlist_format(const uint8_t *mask, int32_t n, char *out, size_t cap);
#endif
