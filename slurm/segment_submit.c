/* slurm/segment_submit.c: segment's Slurm array (see slurm/segment_submit.h). */
#define _XOPEN_SOURCE 700
#include "slurm/segment_submit.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "io/textio.h"
#include "slurm/slurmctl.h"
#include "slurm/sweep_submit.h"

static void segment_slurm_record(const char *out, const char *kind, int64_t job, const char *tasks) {
  char p[PATH_MAX + 64], stamp[32];
  snprintf(p, sizeof p, "%s/slurm/jobs.tsv", out);
  FILE *f = fopen(p, "a");
  if (!f) cs_fatal("choose a writable -o directory", "cannot append to '%s'", p);
  const time_t now = time(NULL);
  struct tm tmv;
  localtime_r(&now, &tmv);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tmv);
  if (ftell(f) == 0) fprintf(f, "time\tkind\tjob\ttasks\n");
  fprintf(f, "%s\t%s\t%lld\t%s\n", stamp, kind, (long long)job, tasks);
  fclose(f);
}

void segment_slurm_submit(const SegmentSlurm *s) {
  char bin[PATH_MAX], qbin[PATH_MAX + 64], logs[PATH_MAX + 64], qout[PATH_MAX + 64], t[32], cpus[16];
  const char *env = getenv("CORDSEG_BIN");
  if (env && *env) snprintf(bin, sizeof bin, "%s", env);
  else if (!realpath("/proc/self/exe", bin))
    cs_fatal("set CORDSEG_BIN to the cordseg binary the jobs should run", "cannot find this program's path");
  slurm_quote(bin, qbin, sizeof qbin);
  slurm_quote(s->out, qout, sizeof qout);
  snprintf(logs, sizeof logs, "%s/slurm/logs", s->out);
  textio_mkdir_p(logs, "choose a writable -o directory");
  slurm_format_time(s->time_s, t, sizeof t);
  snprintf(cpus, sizeof cpus, "%d", s->cpus);
  char more[512] = "", more_c[256] = "";
  size_t w = 0;
  if (s->partition && *s->partition) {
    w += (size_t)snprintf(more + w, sizeof more - w, "#SBATCH --partition=%s\n", s->partition);
    snprintf(more_c, sizeof more_c, "#SBATCH --partition=%s", s->partition);
  }
  if (s->gpus > 0) w += (size_t)snprintf(more + w, sizeof more - w, "#SBATCH --gpus-per-node=%d\n", s->gpus);
  if (w && more[w - 1] == '\n') more[w - 1] = 0;
  const char *vars[] = {"JOB_NAME", "cordseg-segment", "CPUS_PER_TASK", cpus, "TIME", t, "LOG_DIR", logs,
                        "SBATCH_MORE", more, "SBATCH_MORE_COLLECT", more_c, "OUT_DIR", s->out, "CORDSEG", qbin,
                        "SEGMENT_ARGS", s->args, "COLLECT_TIME", "00:30:00", NULL};
  char in[PATH_MAX + 64], task[PATH_MAX + 64], collect[PATH_MAX + 64];
  snprintf(in, sizeof in, "%.4000s/segment-task.sbatch", s->slurm_dir);
  char *text = slurm_render(in, vars);
  snprintf(task, sizeof task, "%s/slurm/segment-task.sbatch", s->out);
  slurm_write_script(task, text);
  free(text);
  snprintf(in, sizeof in, "%.4000s/segment-collect.sbatch", s->slurm_dir);
  text = slurm_render(in, vars);
  snprintf(collect, sizeof collect, "%s/slurm/segment-collect.sbatch", s->out);
  slurm_write_script(collect, text);
  free(text);
  if (s->dry) {
    printf("segment --slurm: scripts in %s/slurm/ (nothing submitted): array %s\n", s->out, s->pending);
    return;
  }
  sweep_need_tools();
  char args[3 * PATH_MAX], thr[24] = "", qtask[PATH_MAX + 64], qcollect[PATH_MAX + 64];
  if (s->throttle > 0) snprintf(thr, sizeof thr, "%%%d", s->throttle);
  slurm_quote(task, qtask, sizeof qtask);
  slurm_quote(collect, qcollect, sizeof qcollect);
  snprintf(args, sizeof args, "--array=%s%s --chdir=%s %s", s->pending, thr, qout, qtask);
  const int64_t array = slurm_sbatch(args);
  segment_slurm_record(s->out, "array", array, s->pending);
  snprintf(args, sizeof args, "--dependency=afterany:%lld --chdir=%s %s", (long long)array, qout, qcollect);
  const int64_t col = slurm_sbatch(args);
  segment_slurm_record(s->out, "collect", col, s->pending);
  printf("segment --slurm: submitted array job %lld (subjects %s%s of %s/slurm/subjects.tsv), collect job %lld "
         "(after the array: sidecars, %s/metrics.tsv)\n",
         (long long)array, s->pending, thr, s->out, (long long)col, s->out);
  printf("follow it: squeue -j %lld,%lld; logs: %s/slurm/logs/; the same command again submits only the subjects "
         "not done\n",
         (long long)array, (long long)col, s->out);
}
