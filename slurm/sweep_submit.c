/* slurm/sweep_submit.c: what `cordseg sweep` does with a sweep file (see
 * slurm/sweep_submit.h): build the task list and render the sbatch scripts
 * (plan), write them and submit the job array with its report job, and read
 * back the state of every task (status, resubmit). The command, its options
 * and its printing are cmd/sweep.c. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "slurm/sweep_submit.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/path.h"

/* ------------------------------------------------------------ planning -- */



/* the dir made absolute whether or not it exists yet */
void sweep_absolute_dir(const char *dir, char *out, size_t n) {
  char cwd[PATH_MAX];
  int w;
  if (dir[0] == '/' || !getcwd(cwd, sizeof cwd)) w = snprintf(out, n, "%s", dir);
  else w = snprintf(out, n, "%s/%s", cwd, dir);
  if (w < 0 || (size_t)w >= n) cs_fatal("use a shorter sweep directory path", "path too long: '%s'", dir);
  size_t l = strlen(out);
  while (l > 1 && out[l - 1] == '/') out[--l] = 0;
}

static void pick_template(SweepBuild *p) {
  const SlurmResources *r = &p->s.slurm;
  const char *t = r->template_path;
  if (!t[0]) t = r->nodes > 1 ? "multinode" : r->ntasks_per_node > 1 ? "1node" : "1gpu";
  if (!strcmp(t, "1gpu") || !strcmp(t, "1node") || !strcmp(t, "multinode")) {
    if (!strcmp(t, "1gpu") && (r->nodes > 1 || r->ntasks_per_node > 1 || r->gpus_per_node > 1))
      cs_fatal("leave template unset to pick by resources, or set 1node / multinode",
               "sweep '%s': template 1gpu runs one rank on one node, but [slurm] asks %d nodes x %d ranks, %d GPUs",
               p->s.path, r->nodes, r->ntasks_per_node, r->gpus_per_node);
    if (!strcmp(t, "1node") && r->nodes > 1)
      cs_fatal("leave template unset, or set multinode", "sweep '%s': template 1node with nodes = %d", p->s.path, r->nodes);
    snprintf(p->template_path, sizeof p->template_path, "%.4000s/task-%.100s.sbatch", p->slurm_dir, t);
  } else {
    snprintf(p->template_path, sizeof p->template_path, "%s", t);
  }
  if (access(p->template_path, R_OK) != 0)
    cs_fatal("set CORDSEG_SLURM_DIR to the slurm/ directory of the source tree, or [slurm] template = PATH",
             "sweep '%s': sbatch template '%s' cannot be read", p->s.path, p->template_path);
}

void sweep_build_free(SweepBuild *p) {
  free(p->tasks);
  free(p->script_task), free(p->script_report), free(p->script_run);
  sweep_free(&p->s);
}

static void signal_name(const char *sig, char *out, size_t n) { snprintf(out, n, "%.15s", strncmp(sig, "SIG", 3) ? sig : sig + 3); }

static void more_lines(char *out, size_t n, const SlurmResources *r, int report) {
  out[0] = 0;
  size_t l = 0;
#define MORE(...) (l += (size_t)snprintf(out + l, l < n ? n - l : 0, __VA_ARGS__))
  if (r->partition[0]) MORE("#SBATCH --partition=%s\n", r->partition);
  int64_t mem = report ? r->report_mem_mb : r->mem_mb;
  if (mem) MORE("#SBATCH --mem=%lldM\n", (long long)mem);
  if (r->account[0]) MORE("#SBATCH --account=%s\n", r->account);
  if (r->qos[0]) MORE("#SBATCH --qos=%s\n", r->qos);
  if (r->constraint[0] && !report) MORE("#SBATCH --constraint=%s\n", r->constraint);
  if (r->extra[0] && !report) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", r->extra);
    for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
      MORE("#SBATCH %s\n", w);
  }
  if (!l) MORE("# (no partition, memory, account, qos or extra options: the cluster's defaults)\n");
#undef MORE
  CS_CHECK(l < n, "shorten [slurm] extra", "sbatch options too long");
  if (l && out[l - 1] == '\n') out[l - 1] = 0;
}

static void cordseg_path(char *out, size_t n) {
  const char *env = getenv("CORDSEG_BIN");
  char self[PATH_MAX];
  if (env && *env) snprintf(out, n, "%s", env);
  else if (realpath("/proc/self/exe", self)) snprintf(out, n, "%s", self);
  else cs_fatal("set CORDSEG_BIN to the cordseg binary the jobs should run", "cannot find this program's path");
}

/* renders the task and report templates and task-run.sh (a template error
 * shows at plan time) */
static void render_scripts(SweepBuild *p) {
  const SlurmResources *r = &p->s.slurm;
  char qdir[PATH_MAX + 64], qbin[PATH_MAX + 64], bin[PATH_MAX], logs[PATH_MAX + 64], more[2048], more_r[2048];
  char t[32], rt[32], sig[16], signal[64], launch[256], nodes[16], ntpn[16], cpus[16], gpus[16], maxrq[16], rcpus[16];
  cordseg_path(bin, sizeof bin);
  slurm_quote(p->dir, qdir, sizeof qdir);
  slurm_quote(bin, qbin, sizeof qbin);
  snprintf(logs, sizeof logs, "%s/slurm/logs", p->dir);
  slurm_format_time(r->time_s, t, sizeof t);
  slurm_format_time(r->report_time_s, rt, sizeof rt);
  signal_name(p->s.base.requeue_signal, sig, sizeof sig);
  snprintf(signal, sizeof signal, "B:%s@%d", sig, r->signal_lead_s);
  if (!strcmp(r->launcher, "srun"))
    snprintf(launch, sizeof launch, "srun --mpi=%s --cpus-per-task=\"$SLURM_CPUS_PER_TASK\" --kill-on-bad-exit=1", r->mpi);
  else if (!strcmp(r->launcher, "mpirun")) snprintf(launch, sizeof launch, "mpirun --bind-to none");
  else launch[0] = 0;
  snprintf(nodes, sizeof nodes, "%d", r->nodes);
  snprintf(ntpn, sizeof ntpn, "%d", r->ntasks_per_node);
  snprintf(cpus, sizeof cpus, "%d", r->cpus_per_task);
  snprintf(gpus, sizeof gpus, "%d", r->gpus_per_node);
  snprintf(maxrq, sizeof maxrq, "%d", r->max_requeues);
  snprintf(rcpus, sizeof rcpus, "%d", r->report_cpus);
  more_lines(more, sizeof more, r, 0);
  more_lines(more_r, sizeof more_r, r, 1);
  const char *vars[] = {"JOB_NAME", p->s.name, "NODES", nodes, "NTASKS_PER_NODE", ntpn, "CPUS_PER_TASK", cpus,
                        "GPUS_PER_NODE", gpus, "TIME", t, "SIGNAL", signal, "LOG_DIR", logs, "SBATCH_MORE", more,
                        "SWEEP_DIR", qdir, "CORDSEG", qbin, "MAX_REQUEUES", maxrq, "REQUEUE_SIG", sig,
                        "LAUNCH", launch, "REPORT_CPUS", rcpus, "REPORT_TIME", rt, "SBATCH_MORE_REPORT", more_r,
                        NULL};
  char in[PATH_CAP];
  p->script_task = slurm_render(p->template_path, vars);
  path_fmt(in, sizeof in, "%s/report.sbatch", p->slurm_dir);
  p->script_report = slurm_render(in, vars);
  path_fmt(in, sizeof in, "%s/task-run.sh", p->slurm_dir);
  p->script_run = slurm_render(in, vars);
}

void sweep_build_write_scripts(const SweepBuild *p) {
  const char *name[] = {"task.sbatch", "report.sbatch", "task-run.sh"};
  const char *text[] = {p->script_task, p->script_report, p->script_run};
  for (int i = 0; i < 3; i++) {
    char out[PATH_MAX + 64];
    snprintf(out, sizeof out, "%s/slurm/%s", p->dir, name[i]);
    slurm_write_script(out, text[i]);
  }
}

/* the [slurm] resources against what sinfo says the partition has */
static void check_partition(SweepBuild *p, const char *file) {
  if (!slurm_have("sinfo"))
    cs_fatal("plan on a Slurm login node, or pass --no-check to skip the resource check",
             "sinfo is not on PATH: cannot check the [slurm] resources of '%s'", file);
  int rc;
  char *text = slurm_capture("sinfo -h -N -o '%N|%P|%a|%l|%c|%m|%G|%T'", &rc);
  if (rc != 0)
    cs_fatal("is slurmctld reachable (scontrol ping)? --no-check skips the resource check",
             "sinfo failed (exit %d)", rc);
  char why[1024];
  if (slurm_check_resources(&p->s.slurm, text, why, sizeof why, p->part, sizeof p->part))
    cs_fatal("fix the [slurm] section; `sinfo -N -l` shows what the cluster has", "sweep '%s': %s", file, why);
  free(text);
}

void sweep_build(SweepBuild *p, const char *file, const char *dir_opt, int check, const char *slurm_dir) {
  memset(p, 0, sizeof *p);
  snprintf(p->slurm_dir, sizeof p->slurm_dir, "%s", slurm_dir);
  sweep_load(&p->s, file);
  if (dir_opt) snprintf(p->s.dir, sizeof p->s.dir, "%s", dir_opt);
  sweep_absolute_dir(p->s.dir, p->dir, sizeof p->dir);
  p->tasks = sweep_expand(&p->s, &p->n);
  sweep_check_data(&p->s, p->tasks, p->n, p->data, sizeof p->data);
  pick_template(p);
  if (!check)
    snprintf(p->part, sizeof p->part, "not checked (--no-check)%s", p->s.slurm.partition[0] ? "" : "; default partition");
  else
    check_partition(p, file);
  render_scripts(p);
}

/* submits the array (tasks in `spec`) and the report after it, and after
 * the previous report job when that one is still queued (two reports never
 * write DIR/report at once); records both */
void sweep_submit_array(const char *dir, const char *spec, int32_t throttle, int64_t prev_report) {
  char qdir[PATH_MAX + 64], args[12288];
  slurm_quote(dir, qdir, sizeof qdir);
  char thr[24] = "";
  if (throttle > 0) snprintf(thr, sizeof thr, "%%%d", throttle);
  snprintf(args, sizeof args, "--array=%s%s --chdir=%s %s/slurm/task.sbatch", spec, thr, qdir, qdir);
  int64_t array = slurm_sbatch(args);
  sweep_record_job(dir, "array", array, spec);
  char after[64] = "", state[32] = "";
  if (prev_report) slurm_job_state(prev_report, state, sizeof state);
  if (state[0] && slurm_state_active(state)) snprintf(after, sizeof after, ":%lld", (long long)prev_report);
  snprintf(args, sizeof args, "--dependency=afterany:%lld%s --chdir=%s %s/slurm/report.sbatch", (long long)array, after,
           qdir, qdir);
  int64_t report = slurm_sbatch(args);
  sweep_record_job(dir, "report", report, spec);
  printf("submitted: array job %lld (tasks %s%s), report job %lld (after the array%s)\n", (long long)array, spec, thr,
         (long long)report, after[0] ? " and the previous report" : "");
  printf("follow it: cordseg sweep status %s\n", dir);
  printf("logs:      %s/slurm/logs/   report: %s/report/\n", dir, dir);
}

void sweep_need_tools(void) {
  const char *tools[] = {"sbatch", "scontrol", "squeue"};
  for (int i = 0; i < 3; i++)
    if (!slurm_have(tools[i]))
      cs_fatal("submit from a Slurm login node (slurm-client installed, slurm.conf in place)",
               "%s is not on PATH: nothing was created or queued", tools[i]);
}

/* ---------------------------------------------------------------- state -- */


void sweep_state_load(SweepState *st, const char *dir, int ask_queue) {
  memset(st, 0, sizeof *st);
  sweep_read_plan(&st->plan, dir);
  int32_t n = st->plan.n;
  st->job = callocCheck((size_t)n, sizeof *st->job);
  st->q = callocCheck((size_t)n, sizeof *st->q);
  st->run = callocCheck((size_t)n, sizeof *st->run);
  sweep_latest_jobs(dir, n, st->job, &st->report);
  st->queue_known = ask_queue && slurm_queue_reachable();
  if (ask_queue && !st->queue_known)
    fprintf(stderr, "cordseg sweep: warning: squeue cannot reach the Slurm controller: task states from the run "
                    "directories only\n");
  SlurmTaskState *tmp = callocCheck((size_t)n, sizeof *tmp);
  for (int32_t i = 0; i < n && st->queue_known; i++) {
    if (!st->job[i] || st->q[i].state[0]) continue;
    int seen = 0;
    for (int32_t j = 0; j < i; j++) seen |= st->job[j] == st->job[i];
    if (seen) continue; /* that job was asked already */
    memset(tmp, 0, (size_t)n * sizeof *tmp);
    slurm_queue_states(st->job[i], tmp, n);
    for (int32_t j = i; j < n; j++)
      if (st->job[j] == st->job[i]) st->q[j] = tmp[j];
  }
  free(tmp);
  for (int32_t i = 0; i < n; i++) {
    char run[PATH_MAX + 600];
    snprintf(run, sizeof run, "%s/%s", dir, st->plan.run_dir[i]);
    sweep_run_state(run, &st->run[i]);
  }
}

void sweep_state_free(SweepState *st) {
  sweep_plan_free(&st->plan);
  free(st->job), free(st->q), free(st->run);
}

/* one word: finished, pending/running/... (queue), failed, not-submitted, unknown */
const char *sweep_task_state(const SweepState *st, int32_t i, char *buf, size_t n) {
  const SlurmTaskState *q = &st->q[i];
  const SweepRunState *r = &st->run[i];
  if (q->state[0] && slurm_state_active(q->state)) {
    snprintf(buf, n, "%s", q->state);
    for (char *c = buf; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    return buf;
  }
  if (r->trained && r->evaluated) return "finished";
  if (!st->job[i]) return "not-submitted";
  if (r->last_rc > 0 || (q->state[0] && strcmp(q->state, "COMPLETED"))) return "failed";
  if (r->attempts) return "incomplete"; /* started, no end recorded: killed hard (node failure, SIGKILL) */
  return q->state[0] ? "failed" : "never-ran";
}

int sweep_task_active(const SweepState *st, int32_t i) {
  return st->q[i].state[0] && slurm_state_active(st->q[i].state);
}
