/* cmd/sweep.c: `cordseg sweep plan|submit|status|resubmit`: a study
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
#include "slurm/sweep_submit.h"
#include "cmd/cli.h"
#include "jobs/paths.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "sweep");
  fprintf(f,
          "\nA study as a Slurm job array: every combination of the sweep file's axes is one array\n"
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
          "$CORDSEG_SLURM_DIR if set, else <prefix>/share/cordseg/slurm beside the binary. Template\n"
          "placeholders: JOB_NAME, NODES, NTASKS_PER_NODE, CPUS_PER_TASK, GPUS_PER_NODE, TIME, SIGNAL,\n"
          "LOG_DIR, SBATCH_MORE, SWEEP_DIR, CORDSEG, MAX_REQUEUES, REQUEUE_SIG, LAUNCH, REPORT_CPUS,\n"
          "REPORT_TIME, SBATCH_MORE_REPORT (written @NAME@).\n\n");
}

static void print_resources(const SweepBuild *p) {
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
static void print_common_config(const SweepBuild *p) {
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

static void print_plan(const SweepBuild *p, int full_configs) {
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

/* -------------------------------------------------------------- commands -- */

static int sweep_plan_cmd(const char *file, const char *dir, int check, int configs) {
  SweepBuild p;
  sweep_build(&p, file, dir, check, paths_slurm_dir());
  print_plan(&p, configs);
  printf("dry run: nothing was written or queued. `cordseg sweep submit %s%s%s` submits it.\n", file,
         dir ? " --dir " : "", dir ? dir : "");
  sweep_build_free(&p);
  return 0;
}

static int sweep_submit_cmd(const char *file, const char *dir, int check) {
  sweep_need_tools();
  SweepBuild p;
  sweep_build(&p, file, dir, check, paths_slurm_dir());
  printf("sweep '%s': %d task(s) -> %s\n", p.s.name, p.n, p.dir);
  printf("data:  %s\nslurm: %s\n", p.data, p.part);
  sweep_create_dir(&p.s, p.dir);
  sweep_prepare_shared(&p.s, p.tasks, p.n, p.dir);
  sweep_write_plan(&p.s, p.tasks, p.n, p.dir);
  sweep_build_write_scripts(&p);
  printf("prepared: shared/ (folds, data check, %d configs; read-only), plan.tsv, slurm/task.sbatch, slurm/report.sbatch\n",
         p.n);
  char spec[32];
  snprintf(spec, sizeof spec, p.n > 1 ? "0-%d" : "%d", p.n - 1);
  sweep_submit_array(p.dir, spec, p.s.slurm.throttle, 0);
  sweep_build_free(&p);
  return 0;
}

static int sweep_status_cmd(const char *dir_arg, int ask_queue) {
  char dir[PATH_MAX];
  sweep_absolute_dir(dir_arg, dir, sizeof dir);
  SweepState st;
  sweep_state_load(&st, dir, ask_queue);
  int32_t n = st.plan.n;
  char names[16][32], buf[32];
  int counts[16] = {0}, nnames = 0;
  int wr = 7;
  for (int32_t i = 0; i < n; i++)
    if ((int)strlen(st.plan.run_dir[i]) > wr) wr = (int)strlen(st.plan.run_dir[i]);
  printf("%4s  %-13s  %-24s  %-8s  %-22s  %s\n", "task", "state", "slurm", "attempts", "last end", "run dir");
  for (int32_t i = 0; i < n; i++) {
    const char *s = sweep_task_state(&st, i, buf, sizeof buf);
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
  for (int32_t i = 0; i < n; i++) unfinished += !(st.run[i].trained && st.run[i].evaluated) && !sweep_task_active(&st, i);
  if (unfinished) printf("%d task(s) neither finished nor queued: `cordseg sweep resubmit %s` runs them again\n", unfinished, dir);
  sweep_state_free(&st);
  return 0;
}

static int sweep_resubmit_cmd(const char *dir_arg, const char *only, int32_t throttle, int dry, int force) {
  char dir[PATH_MAX];
  sweep_absolute_dir(dir_arg, dir, sizeof dir);
  if (!dry) sweep_need_tools();
  SweepState st;
  sweep_state_load(&st, dir, 1);
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
    } else if (sweep_task_active(&st, i)) {
      active++;
      printf("task %d is %s (job %lld_%d): left alone\n", i, st.q[i].state, (long long)st.job[i], i);
    } else {
      pick[i] = 1, npick++;
    }
  }
  if (!npick) {
    printf("nothing to resubmit in %s: %d finished, %d still queued\n", dir, finished, active);
    free(want), free(pick), sweep_state_free(&st);
    return 0;
  }
  char spec[8192];
  sweep_idlist_format(pick, n, spec, sizeof spec);
  if (throttle < 0) throttle = st.plan.throttle;
  printf("resubmitting %d task(s): %s (%d finished, %d still queued: untouched)\n", npick, spec, finished, active);
  for (int32_t i = 0; i < n; i++)
    if (pick[i]) {
      char buf[32];
      printf("  task %d  %-10s  %s\n", i, sweep_task_state(&st, i, buf, sizeof buf), st.plan.run_dir[i]);
    }
  if (dry) printf("dry run: would submit --array=%s%s%.0d and a new report job\n", spec, throttle ? "%" : "", throttle);
  else sweep_submit_array(dir, spec, throttle, st.report);
  free(want), free(pick), sweep_state_free(&st);
  return 0;
}

int cmd_sweep(int argc, char **argv) {
  const char *dir = NULL, *tasks = NULL;
  int check = 1, configs = 0, queue = 1, dry = 0, force = 0;
  int32_t throttle = -1;
  const CliOption opts[] = {
      CLI_STRING("dir", 0, &dir, .arg = "DIR", .help = "sweep directory (default: [sweep] dir, else runs/sweep-NAME)"),
      CLI_FLAG_OFF("no-check", 0, &check, .help = "plan without asking Slurm (sinfo) whether the partition fits"),
      CLI_FLAG_ON("configs", 0, &configs, .help = "plan: print every task's full resolved config"),
      CLI_FLAG_OFF("no-queue", 0, &queue, .help = "status: do not ask squeue/sacct (run directories only)"),
      CLI_STRING("tasks", 0, &tasks, .arg = "LIST", .help = "resubmit: only these tasks (\"1,4-6\"), if unfinished"),
      CLI_INT32("throttle", 0, &throttle, 0, 100000, .help = "resubmit: tasks running at once (default: the sweep's)"),
      CLI_FLAG_ON("dry-run", 0, &dry, .help = "resubmit: print what would be submitted"),
      CLI_FLAG_ON("force", 0, &force, .help = "resubmit even when squeue cannot say what is still queued"),
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
