/* slurm/slurmctl.h: cordseg's side of Slurm: the resources one sweep task asks
 * for, Slurm's time/memory/GRES notations, the check of those resources
 * against what `sinfo` reports for the partition, the rendering of the sbatch
 * templates in slurm/, and the sbatch/squeue/sacct calls (popen) with the
 * parsing of their output. Nothing here links against Slurm: the CLI tools
 * are called, and a missing tool is a clear error.
 * defines: SlurmResources, SlurmTaskState, slurm_resources_default,
 *          slurm_parse_time, slurm_format_time, slurm_parse_mem,
 *          slurm_gres_gpus, slurm_check_resources, slurm_render,
 *          slurm_write_script,
 *          slurm_have, slurm_capture, slurm_quote, slurm_sbatch,
 *          slurm_queue_states, slurm_parse_queue, slurm_job_state, slurm_queue_reachable,
 *          slurm_state_active */
#ifndef CORDSEG_SLURM_SLURMCTL_H
#define CORDSEG_SLURM_SLURMCTL_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  char partition[64];      /* "" = the cluster's default partition (resolved by the check) */
  int64_t time_s;          /* wall-time limit of one task */
  int32_t nodes;           /* nodes per task */
  int32_t ntasks_per_node; /* MPI ranks per node (= GPUs per node on GPU clusters) */
  int32_t gpus_per_node;   /* 0 = CPU only */
  int32_t cpus_per_task;   /* cores per rank (OMP_NUM_THREADS) */
  int64_t mem_mb;          /* memory per node, 0 = the partition's default */
  int32_t throttle;        /* array tasks running at once (the %N of --array), 0 = no limit */
  int32_t max_requeues;    /* self-requeues after the time-limit signal */
  int32_t signal_lead_s;   /* seconds before the time limit the requeue signal arrives */
  char launcher[16];       /* srun | mpirun | direct */
  char mpi[32];            /* srun --mpi= plugin (pmix, pmi2, ...) */
  char template_path[1024];/* "" = pick slurm/task-{1gpu,1node,multinode}.sbatch */
  char account[64], qos[64], constraint[128];
  char extra[512];         /* more #SBATCH options, space separated ("--exclusive --reservation=x") */
  int64_t report_time_s;   /* the chained report job */
  int32_t report_cpus;
  int64_t report_mem_mb;
} SlurmResources;

void slurm_resources_default(SlurmResources *r);

/* Slurm time notation: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S";
 * "infinite"/"UNLIMITED" -> INT64_MAX; -1 when malformed */
int64_t slurm_parse_time(const char *s);
/* "D-HH:MM:SS" or "HH:MM:SS"; "infinite" for INT64_MAX */
void slurm_format_time(int64_t s, char *buf, size_t n);
/* "16G", "500M", "2T", "16000" (MB); a trailing '+' (sinfo) is ignored; -1 when malformed */
int64_t slurm_parse_mem(const char *s);
/* GPUs in a GRES string: "gpu:4", "gpu:a100:4(S:0-1)", "gpu:2,gpu:v100:2" -> 4,4,4; "(null)" -> 0 */
int32_t slurm_gres_gpus(const char *gres);

/* Checks r (one task) and the report job against the partition, from the
 * text of `sinfo -h -N -o '%N|%P|%a|%l|%c|%m|%G|%T'`. An empty r->partition
 * becomes the default partition ('*'). Returns 0 when the partition can run
 * them (summary gets one line about the partition), else 1 with the reason
 * and the fix in why. */
int slurm_check_resources(SlurmResources *r, const char *sinfo_text, char *why, size_t nwhy, char *summary,
                          size_t nsummary);

/* The template file with every @NAME@ replaced by the value of NAME in
 * vars[] ({"NAME", "value", ..., NULL}), malloc'ed. An @NAME@ without a
 * value is fatal (a typo in a template). */
char *slurm_render(const char *template_path, const char *const *vars);
/* text to path atomically, mode 0755 */
void slurm_write_script(const char *path, const char *text);

/* 1 if the program is on PATH */
int slurm_have(const char *tool);
/* runs cmd through /bin/sh (popen); returns its whole stdout (malloc'ed) and
 * its exit status in *status (-1 when it could not run). stderr passes through. */
char *slurm_capture(const char *cmd, int *status);
/* s as one shell word in single quotes, into out (fatal when too long) */
void slurm_quote(const char *s, char *out, size_t n);
/* `sbatch --parsable ARGS`; returns the job id, fatal (with sbatch's message
 * above it) on failure or when sbatch is missing */
int64_t slurm_sbatch(const char *args);

/* Slurm's view of array tasks, by task id. */
typedef struct {
  char state[32];    /* PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, REQUEUED, ... ("" = unknown) */
  char exit_code[16];/* "0:0" from sacct ("" when not known) */
  char source[8];    /* "squeue" or "sacct" */
} SlurmTaskState;

/* fills st[0..ntasks) for the tasks of array job `job` that squeue
 * (recent, `-t all`) or sacct know; returns how many were found. A tool
 * that is missing or fails (no accounting database) is skipped. */
int slurm_queue_states(int64_t job, SlurmTaskState *st, int32_t ntasks);
/* parses squeue `-h -r -t all -o '%i|%T'` or sacct `-n -P -X -o JobID,State,ExitCode`
 * text for array job `job`; returns how many tasks it filled */
int slurm_parse_queue(const char *text, int64_t job, int sacct, SlurmTaskState *st, int32_t ntasks);
/* state of a plain (non-array) job from squeue, else sacct; "" when unknown */
void slurm_job_state(int64_t job, char *state, size_t n);
/* 1 when squeue is on PATH and answers (the controller is reachable) */
int slurm_queue_reachable(void);
/* 1 for a state in which the task still is, or will be, in the queue */
int slurm_state_active(const char *state);
#endif
