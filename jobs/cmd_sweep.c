/* jobs/cmd_sweep.c: `cordseg sweep plan|submit|status|resubmit`: a study
 * (backbone x loss x input x fold x seed, slurm/sweep.h) as one Slurm job array
 * of train+evaluate tasks and one chained report job (slurm/slurmctl.h), with
 * the state of every task and resubmission of the ones that did not finish. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "slurm/sweep.h"
#include "jobs/cli.h"
#include "jobs/paths.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: cordseg sweep plan FILE [--dir DIR] [--no-check] [--configs]\n"
          "       cordseg sweep submit FILE [--dir DIR] [--no-check]\n"
          "       cordseg sweep status DIR [--no-queue]\n"
          "       cordseg sweep resubmit DIR [--tasks LIST] [--throttle N] [--dry-run] [--force]\n\n"
          "A study as a Slurm job array: every combination of the sweep file's axes is one array\n"
          "task that trains (`cordseg train`) and then evaluates (`cordseg evaluate`) one run;\n"
          "a report job (`cordseg report`) is chained after the array with afterany.\n\n"
          "  plan      dry run: check the file, the data and the resources (sinfo), list every task\n"
          "            with its config, resources and run directory. Writes and queues nothing.\n"
          "  submit    plan, then create the sweep directory, make the shared inputs once (folds,\n"
          "            data check, per-task configs; read-only), write the sbatch scripts from\n"
          "            slurm/, submit `sbatch --array=0-N%%THROTTLE` and the report job, print the\n"
          "            job ids and return.\n"
          "  status    each task's state from squeue/sacct and its run directory.\n"
          "  resubmit  submit again only the tasks that failed or never finished (never a\n"
          "            finished one, never one still queued), with a new chained report.\n\n"
          "options:\n"
          "      --dir DIR      sweep directory (default: [sweep] dir, else runs/sweep-NAME)\n"
          "      --no-check     plan without asking Slurm (sinfo) whether the partition fits\n"
          "      --configs      plan: print every task's full resolved config\n"
          "      --no-queue     status: do not ask squeue/sacct (run directories only)\n"
          "      --tasks LIST   resubmit: only these tasks (\"1,4-6\"), if unfinished\n"
          "      --throttle N   resubmit: tasks running at once (default: the sweep's)\n"
          "      --dry-run      resubmit: print what would be submitted\n"
          "      --force        resubmit even when squeue cannot say what is still queued\n"
          "  -h, --help         this help\n\n"
          "Sweep file (INI; examples: configs/sweep_paper.ini, configs/sweep_tiny.ini):\n"
          "  [sweep]  name, dir, config (base train config), folds_k (5), folds_seed (42)\n"
          "  [train]  train keys for every task (`cordseg train --help-keys`), e.g. store = FILE.h5\n"
          "  [grid]   one axis per line, the cartesian product: backbone = vgg16 resnet50,\n"
          "           fold = all | 0..4 | 0 2, seed = 1 2 3; any train key except store, folds,\n"
          "           requeue_signal\n"
          "  [zip N]  paired axis: its keys' values are taken together (equally many each)\n"
          "  [slurm]  partition, time (24:00:00), nodes (1), ntasks_per_node (1), gpus_per_node (1),\n"
          "           cpus_per_task (8), mem (per node, 0 = default), throttle (8), max_requeues (3),\n"
          "           signal_lead (300 s), launcher (srun|mpirun|direct), mpi (pmix),\n"
          "           template (1gpu|1node|multinode|PATH, default by nodes/ranks), account, qos,\n"
          "           constraint, extra (more sbatch options), report_time (1:00:00),\n"
          "           report_cpus (2), report_mem (8G)\n\n"
          "Jobs run $CORDSEG_BIN if set, else this cordseg binary; the templates are read from\n"
          "$CORDSEG_SLURM_DIR if set, else <prefix>/share/cordseg/slurm beside the binary. Template placeholders: JOB_NAME, NODES,\n"
          "NTASKS_PER_NODE, CPUS_PER_TASK, GPUS_PER_NODE, TIME, SIGNAL, LOG_DIR, SBATCH_MORE,\n"
          "SWEEP_DIR, CORDSEG, MAX_REQUEUES, REQUEUE_SIG, LAUNCH, REPORT_CPUS, REPORT_TIME,\n"
          "SBATCH_MORE_REPORT (written @NAME@).\n");
}

/* ------------------------------------------------------------ planning -- */

typedef struct {
  Sweep s;
  SweepTask *tasks;
  int32_t n;
  char dir[PATH_MAX];       /* sweep directory, absolute */
  char template_path[4200]; /* the task template */
  char data[2048], part[1024];
  char *script_task, *script_report, *script_run; /* rendered templates (slurm/) */
} Plan;

static const char *slurm_dir(void) { return paths_slurm_dir(); /* $CORDSEG_SLURM_DIR, else beside the binary */ }

/* the dir made absolute whether or not it exists yet */
static void absolute_dir(const char *dir, char *out, size_t n) {
  char cwd[PATH_MAX];
  int w;
  if (dir[0] == '/' || !getcwd(cwd, sizeof cwd)) w = snprintf(out, n, "%s", dir);
  else w = snprintf(out, n, "%s/%s", cwd, dir);
  if (w < 0 || (size_t)w >= n) cs_fatal("use a shorter sweep directory path", "path too long: '%s'", dir);
  size_t l = strlen(out);
  while (l > 1 && out[l - 1] == '/') out[--l] = 0;
}

static void pick_template(Plan *p) {
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
    snprintf(p->template_path, sizeof p->template_path, "%s/task-%s.sbatch", slurm_dir(), t);
  } else {
    snprintf(p->template_path, sizeof p->template_path, "%s", t);
  }
  if (access(p->template_path, R_OK) != 0)
    cs_fatal("set CORDSEG_SLURM_DIR to the slurm/ directory of the source tree, or [slurm] template = PATH",
             "sweep '%s': sbatch template '%s' cannot be read", p->s.path, p->template_path);
}

static void plan_free(Plan *p) {
  free(p->tasks);
  free(p->script_task), free(p->script_report), free(p->script_run);
  sweep_free(&p->s);
}

static void print_resources(const Plan *p) {
  const SlurmResources *r = &p->s.slurm;
  char t[32], rt[32];
  slurm_format_time(r->time_s, t, sizeof t);
  slurm_format_time(r->report_time_s, rt, sizeof rt);
  char mem[32] = "partition default";
  if (r->mem_mb) snprintf(mem, sizeof mem, "%lld MB/node", (long long)r->mem_mb);
  printf("per task:  %d node(s) x %d rank(s), %d GPU(s)/node, %d CPU(s)/rank, mem %s, time %s\n", r->nodes,
         r->ntasks_per_node, r->gpus_per_node, r->cpus_per_task, mem, t);
  printf("           %s %d s before the limit, then self-requeue up to %d times; launcher %s%s%s\n",
         p->s.base.requeue_signal, r->signal_lead_s, r->max_requeues, r->launcher,
         strcmp(r->launcher, "srun") ? "" : " --mpi=", strcmp(r->launcher, "srun") ? "" : r->mpi);
  printf("           template %s\n", p->template_path);
  printf("array:     --array=0-%d%s%.0d at most %d at once; report job after it (afterany), %d CPU(s), %s\n",
         p->n - 1, r->throttle ? "%" : "", r->throttle, r->throttle ? r->throttle : p->n, r->report_cpus, rt);
}

/* every key of the resolved config that no axis changes, as key=value words */
static void print_common_config(const Plan *p) {
  char *text = config_format(&p->s.base);
  printf("config of every task (defaults < %s < [train]), besides the axes:\n ", p->s.config[0] ? p->s.config : "no base file");
  int col = 1;
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#') continue;
    char key[64] = "";
    if (sscanf(line, "%63s", key) != 1) continue;
    int axis = 0;
    for (int a = 0; a < p->s.naxes; a++)
      for (int k = 0; k < p->s.axes[a].nkeys; k++) axis |= !strcmp(p->s.axes[a].keys[k], key);
    if (axis) continue;
    char word[1200];
    const char *eq = strstr(line, " = ");
    snprintf(word, sizeof word, "%s=%s", key, eq ? eq + 3 : "");
    if (col + (int)strlen(word) > 100) printf("\n "), col = 1;
    col += printf(" %s", word);
  }
  printf("\n");
  free(text);
}

static void print_plan(const Plan *p, int full_configs) {
  printf("sweep '%s' (%s): %d task(s) =", p->s.name, p->s.path, p->n);
  for (int a = 0; a < p->s.naxes; a++) {
    const SweepAxis *ax = &p->s.axes[a];
    printf("%s %s%s%s %d", a ? " x" : "", ax->name[0] ? "(" : "", ax->name[0] ? ax->name : ax->keys[0],
           ax->name[0] ? ")" : "", ax->nvalues);
  }
  printf("%s\n", p->s.naxes ? "" : " one run");
  printf("directory: %s\n", p->dir);
  printf("data:      %s\n", p->data);
  printf("slurm:     %s\n", p->part);
  print_resources(p);
  print_common_config(p);
  int wa = 3, wr = 7;
  for (int32_t i = 0; i < p->n; i++) {
    int la = (int)strlen(p->tasks[i].arm), lr = (int)strlen(p->tasks[i].run_dir);
    if (la > wa) wa = la;
    if (lr > wr) wr = lr;
  }
  printf("%4s  %-*s  %-*s  %s\n", "task", wa, "arm", wr, "run dir", "axes");
  for (int32_t i = 0; i < p->n; i++) {
    const SweepTask *t = &p->tasks[i];
    printf("%4d  %-*s  %-*s  %s\n", t->id, wa, t->arm, wr, t->run_dir, t->overrides);
    if (full_configs) {
      char *cfg = config_format(&t->cfg);
      printf("%s\n", cfg);
      free(cfg);
    }
  }
}

/* ---------------------------------------------------------- submission -- */

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
static void render_scripts(Plan *p) {
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
  char in[4200];
  p->script_task = slurm_render(p->template_path, vars);
  snprintf(in, sizeof in, "%s/report.sbatch", slurm_dir());
  p->script_report = slurm_render(in, vars);
  snprintf(in, sizeof in, "%s/task-run.sh", slurm_dir());
  p->script_run = slurm_render(in, vars);
}

static void write_scripts(const Plan *p) {
  const char *name[] = {"task.sbatch", "report.sbatch", "task-run.sh"};
  const char *text[] = {p->script_task, p->script_report, p->script_run};
  for (int i = 0; i < 3; i++) {
    char out[PATH_MAX + 64];
    snprintf(out, sizeof out, "%s/slurm/%s", p->dir, name[i]);
    slurm_write_script(out, text[i]);
  }
}

/* the [slurm] resources against what sinfo says the partition has */
static void check_partition(Plan *p, const char *file) {
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

static void plan_build(Plan *p, const char *file, const char *dir_opt, int check) {
  memset(p, 0, sizeof *p);
  sweep_load(&p->s, file);
  if (dir_opt) snprintf(p->s.dir, sizeof p->s.dir, "%s", dir_opt);
  absolute_dir(p->s.dir, p->dir, sizeof p->dir);
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
static void submit_array(const char *dir, const char *spec, int32_t throttle, int64_t prev_report) {
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

static void need_tools(void) {
  const char *tools[] = {"sbatch", "scontrol", "squeue"};
  for (int i = 0; i < 3; i++)
    if (!slurm_have(tools[i]))
      cs_fatal("submit from a Slurm login node (slurm-client installed, slurm.conf in place)",
               "%s is not on PATH: nothing was created or queued", tools[i]);
}

/* ---------------------------------------------------------------- state -- */

typedef struct {
  SweepPlan plan;
  int64_t *job;             /* latest array job of each task */
  int64_t report;
  SlurmTaskState *q;        /* queue view of each task under its latest job */
  SweepRunState *run;
  int queue_known;          /* squeue answered */
} SweepState;

static void state_load(SweepState *st, const char *dir, int ask_queue) {
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

static void state_free(SweepState *st) {
  sweep_plan_free(&st->plan);
  free(st->job), free(st->q), free(st->run);
}

/* one word: finished, pending/running/... (queue), failed, not-submitted, unknown */
static const char *task_state(const SweepState *st, int32_t i, char *buf, size_t n) {
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

static int task_active(const SweepState *st, int32_t i) {
  return st->q[i].state[0] && slurm_state_active(st->q[i].state);
}

/* -------------------------------------------------------------- commands -- */

static int sweep_plan_cmd(const char *file, const char *dir, int check, int configs) {
  Plan p;
  plan_build(&p, file, dir, check);
  print_plan(&p, configs);
  printf("dry run: nothing was written or queued. `cordseg sweep submit %s%s%s` submits it.\n", file,
         dir ? " --dir " : "", dir ? dir : "");
  plan_free(&p);
  return 0;
}

static int sweep_submit_cmd(const char *file, const char *dir, int check) {
  need_tools();
  Plan p;
  plan_build(&p, file, dir, check);
  printf("sweep '%s': %d task(s) -> %s\n", p.s.name, p.n, p.dir);
  printf("data:  %s\nslurm: %s\n", p.data, p.part);
  sweep_create_dir(&p.s, p.dir);
  sweep_prepare_shared(&p.s, p.tasks, p.n, p.dir);
  sweep_write_plan(&p.s, p.tasks, p.n, p.dir);
  write_scripts(&p);
  printf("prepared: shared/ (folds, data check, %d configs; read-only), plan.tsv, slurm/task.sbatch, slurm/report.sbatch\n",
         p.n);
  char spec[32];
  snprintf(spec, sizeof spec, p.n > 1 ? "0-%d" : "%d", p.n - 1);
  submit_array(p.dir, spec, p.s.slurm.throttle, 0);
  plan_free(&p);
  return 0;
}

static int sweep_status_cmd(const char *dir_arg, int ask_queue) {
  char dir[PATH_MAX];
  absolute_dir(dir_arg, dir, sizeof dir);
  SweepState st;
  state_load(&st, dir, ask_queue);
  int32_t n = st.plan.n;
  char names[16][32], buf[32];
  int counts[16] = {0}, nnames = 0;
  int wr = 7;
  for (int32_t i = 0; i < n; i++)
    if ((int)strlen(st.plan.run_dir[i]) > wr) wr = (int)strlen(st.plan.run_dir[i]);
  printf("%4s  %-13s  %-24s  %-8s  %-22s  %s\n", "task", "state", "slurm", "attempts", "last end", "run dir");
  for (int32_t i = 0; i < n; i++) {
    const char *s = task_state(&st, i, buf, sizeof buf);
    int k = 0;
    while (k < nnames && strcmp(names[k], s)) k++;
    if (k == nnames && nnames < 16) snprintf(names[nnames++], sizeof names[0], "%s", s);
    if (k < 16) counts[k]++;
    char slurm[64] = "-", last[48] = "-";
    if (st.job[i])
      snprintf(slurm, sizeof slurm, "%lld_%d %s", (long long)st.job[i], i,
               st.q[i].state[0] ? st.q[i].state : (st.queue_known ? "(forgotten)" : "(unknown)"));
    if (st.run[i].last_rc >= 0) snprintf(last, sizeof last, "%s (%d)", st.run[i].last_action, st.run[i].last_rc);
    printf("%4d  %-13s  %-24s  %8d  %-22s  %s%s\n", i, s, slurm, st.run[i].attempts, last, st.plan.run_dir[i],
           st.run[i].checkpoint && !st.run[i].trained ? " (checkpoint)" : "");
  }
  printf("sweep '%s' (%s): %d task(s):", st.plan.name, dir, n);
  for (int k = 0; k < nnames; k++) printf("%s %d %s", k ? "," : "", counts[k], names[k]);
  printf("\n");
  if (st.report) {
    char rs[32] = "";
    if (ask_queue) slurm_job_state(st.report, rs, sizeof rs);
    char idx[PATH_MAX + 32];
    snprintf(idx, sizeof idx, "%s/report/index.html", dir);
    printf("report job %lld: %s; report %s\n", (long long)st.report, rs[0] ? rs : "(state not known)",
           access(idx, F_OK) == 0 ? idx : "not written yet");
  }
  int unfinished = 0;
  for (int32_t i = 0; i < n; i++) unfinished += !(st.run[i].trained && st.run[i].evaluated) && !task_active(&st, i);
  if (unfinished) printf("%d task(s) neither finished nor queued: `cordseg sweep resubmit %s` runs them again\n", unfinished, dir);
  state_free(&st);
  return 0;
}

static int sweep_resubmit_cmd(const char *dir_arg, const char *only, int32_t throttle, int dry, int force) {
  char dir[PATH_MAX];
  absolute_dir(dir_arg, dir, sizeof dir);
  if (!dry) need_tools();
  SweepState st;
  state_load(&st, dir, 1);
  int32_t n = st.plan.n;
  if (!st.queue_known && !force)
    cs_fatal("run where squeue reaches the controller (`scontrol ping`); --force resubmits without knowing, and a "
             "task still queued would then run twice",
             "squeue is not available: cannot tell which tasks of '%s' are still queued", dir);
  uint8_t *want = mallocCheck((size_t)n), *pick = callocCheck((size_t)n, 1);
  if (only) {
    if (sweep_idlist_parse(only, want, n))
      cli_usage_error("sweep", "--tasks '%s': give task ids 0..%d as a list like 1,4-6", only, n - 1);
  } else {
    memset(want, 1, (size_t)n);
  }
  int finished = 0, active = 0, npick = 0;
  for (int32_t i = 0; i < n; i++) {
    if (!want[i]) continue;
    if (st.run[i].trained && st.run[i].evaluated) {
      finished++;
      if (only) printf("task %d finished: not run again\n", i);
    } else if (task_active(&st, i)) {
      active++;
      printf("task %d is %s (job %lld_%d): left alone\n", i, st.q[i].state, (long long)st.job[i], i);
    } else {
      pick[i] = 1, npick++;
    }
  }
  if (!npick) {
    printf("nothing to resubmit in %s: %d finished, %d still queued\n", dir, finished, active);
    free(want), free(pick), state_free(&st);
    return 0;
  }
  char spec[8192];
  sweep_idlist_format(pick, n, spec, sizeof spec);
  if (throttle < 0) throttle = st.plan.throttle;
  printf("resubmitting %d task(s): %s (%d finished, %d still queued: untouched)\n", npick, spec, finished, active);
  for (int32_t i = 0; i < n; i++)
    if (pick[i]) {
      char buf[32];
      printf("  task %d  %-10s  %s\n", i, task_state(&st, i, buf, sizeof buf), st.plan.run_dir[i]);
    }
  if (dry) printf("dry run: would submit --array=%s%s%.0d and a new report job\n", spec, throttle ? "%" : "", throttle);
  else submit_array(dir, spec, throttle, st.report);
  free(want), free(pick), state_free(&st);
  return 0;
}

int cmd_sweep(int argc, char **argv) {
  const char *dir = NULL, *tasks = NULL;
  int check = 1, configs = 0, queue = 1, dry = 0, force = 0;
  int32_t throttle = -1;
  const CliOption opts[] = {CLI_STRING("dir", 0, &dir),         CLI_FLAG_OFF("no-check", 0, &check),
                            CLI_FLAG_ON("configs", 0, &configs), CLI_FLAG_OFF("no-queue", 0, &queue),
                            CLI_STRING("tasks", 0, &tasks),     CLI_INT32("throttle", 0, &throttle, 0, 100000),
                            CLI_FLAG_ON("dry-run", 0, &dry),    CLI_FLAG_ON("force", 0, &force),
                            CLI_END};
  int pos = cli_parse("sweep", argc, argv, opts, usage);
  if (argc - pos != 2) cli_usage_error("sweep", "expected an action (plan, submit, status, resubmit) and a FILE or DIR");
  const char *action = argv[pos], *arg = argv[pos + 1];
  if (!strcmp(action, "plan")) return sweep_plan_cmd(arg, dir, check, configs);
  if (!strcmp(action, "submit")) return sweep_submit_cmd(arg, dir, check);
  if (!strcmp(action, "status")) return sweep_status_cmd(arg, queue);
  if (!strcmp(action, "resubmit")) return sweep_resubmit_cmd(arg, tasks, throttle, dry, force);
  cli_usage_error("sweep", "unknown action '%s': plan, submit, status or resubmit", action);
}
