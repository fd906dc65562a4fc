/* slurm/segment_submit.h: `cordseg segment --bids DIR -o OUT --slurm`: the
 * subjects not yet done as one Slurm job array (slurm/segment-task.sbatch,
 * one subject per task, throttled), and a job chained after it
 * (slurm/segment-collect.sbatch, afterany) that writes the BIDS sidecars,
 * OUT/metrics.tsv and lists the subjects not done. Scripts and logs in
 * OUT/slurm/; every submission appended to OUT/slurm/jobs.tsv (time, kind,
 * job id, tasks). Running the same command again submits only the subjects
 * still not done (jobs/segment.h segment_cohort_plan).
 * defines: SegmentSlurm, segment_slurm_submit */
#ifndef CORDSEG_SLURM_SEGMENT_SUBMIT_H
#define CORDSEG_SLURM_SEGMENT_SUBMIT_H
#include <stdint.h>

typedef struct {
  const char *out;          /* OUT, absolute */
  const char *slurm_dir;    /* the templates (jobs/paths.h paths_slurm_dir) */
  const char *args;         /* segment's arguments, shell-quoted: -m, --bids, -o and the options */
  const char *pending;      /* the array indices, e.g. "0-3,5" */
  int32_t cpus, throttle, gpus;
  int64_t time_s;           /* per subject */
  const char *partition;    /* NULL or "": the default */
  int dry;                  /* 1: write the scripts, submit nothing */
} SegmentSlurm;

void segment_slurm_submit(const SegmentSlurm *s);
#endif
