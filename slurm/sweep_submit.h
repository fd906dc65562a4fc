/* slurm/sweep_submit.h: planning, submitting and reading back a sweep (the
 * engine of `cordseg sweep`; cmd/sweep.c is the command).
 * defines: SweepBuild, sweep_build, sweep_build_free, sweep_build_write_scripts,
 *          sweep_submit_array, sweep_need_tools, SweepState, sweep_state_load,
 *          sweep_state_free, sweep_task_state, sweep_task_active */
#ifndef CORDSEG_SLURM_SWEEP_SUBMIT_H
#define CORDSEG_SLURM_SWEEP_SUBMIT_H
#include <limits.h>
#include <stdint.h>

#include "slurm/slurmctl.h"
#include "slurm/sweep.h"
#include "io/path.h"

typedef struct {
  Sweep s;
  SweepTask *tasks;
  int32_t n;
  char dir[PATH_MAX];       /* sweep directory, absolute */
  char template_path[PATH_CAP]; /* the task template */
  char data[2048], part[1024];
  char *script_task, *script_report, *script_run; /* rendered templates (slurm/) */
  char slurm_dir[PATH_CAP];     /* where the templates are */
} SweepBuild;
/* loads, expands and checks the sweep, picks and renders the templates of
 * slurm_dir (a template error shows here, before anything is written) */
void sweep_build(SweepBuild *p, const char *file, const char *dir_opt, int check, const char *slurm_dir);
void sweep_build_free(SweepBuild *p);
/* dir made absolute whether or not it exists yet (no trailing /) */
void sweep_absolute_dir(const char *dir, char *out, size_t n);
void sweep_build_write_scripts(const SweepBuild *p);
/* the array (tasks in spec) and the report after it; both recorded */
void sweep_submit_array(const char *dir, const char *spec, int32_t throttle, int64_t prev_report);
/* fatal unless sbatch, scontrol and squeue are on PATH */
void sweep_need_tools(void);

typedef struct {
  SweepPlan plan;
  int64_t *job;             /* latest array job of each task */
  int64_t report;
  SlurmTaskState *q;        /* queue view of each task under its latest job */
  SweepRunState *run;
  int queue_known;          /* squeue answered */
} SweepState;
void sweep_state_load(SweepState *st, const char *dir, int ask_queue);
void sweep_state_free(SweepState *st);
/* one word: finished, pending/running/... (queue), failed, not-submitted, ... */
const char *sweep_task_state(const SweepState *st, int32_t i, char *buf, size_t n);
int sweep_task_active(const SweepState *st, int32_t i);
#endif
