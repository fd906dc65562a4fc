/* tests/test_slurm_sweep.c: the sweep file and its plan, without a cluster:
 * the paper's sweep expands to its 40 tasks in order (last axis fastest)
 * with the right configs, arms and run directories; [zip] pairs values;
 * every kind of bad sweep file is fatal at load/plan time with a message
 * naming the file, line and key; the data checks (missing store, folds_k,
 * slice size, batch, steps) and the shared inputs (read-only, configs that
 * load back to the same hash); plan.tsv / jobs.tsv / attempts.tsv
 * bookkeeping; Slurm notations, the sinfo resource check on canned cluster
 * descriptions, squeue/sacct parsing and template rendering. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/folds.h"
#include "io/h5store.h"
#include "slurm/sweep.h"
#include "tests/testutil.h"

static char T[256]; /* scratch directory */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static char *sweep_file(const char *name, const char *text) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", T, name);
  write_file(path, text);
  return path;
}

/* runs fn in a child; returns 1 when it exited 1 and its stderr holds every
 * string of want (NULL-terminated) */
static int fatal_with(void (*fn)(void *), void *arg, const char *const *want) {
  char err[512];
  snprintf(err, sizeof err, "%s/stderr.txt", T);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(err, "w", stderr)) _exit(99);
    fn(arg);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  char text[4096] = "";
  FILE *f = fopen(err, "r");
  size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
  text[n] = 0;
  if (f) fclose(f);
  int ok = WIFEXITED(st) && WEXITSTATUS(st) == 1;
  for (int i = 0; want[i]; i++) ok &= strstr(text, want[i]) != NULL;
  if (!ok) fprintf(stderr, "  (child status %d, stderr: %s)\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1, text);
  return ok;
}

static void load_and_expand(void *path) {
  Sweep s;
  sweep_load(&s, path);
  int32_t n;
  free(sweep_expand(&s, &n));
}

/* a sweep file = a valid head + body; fatal with the listed strings */
static void expect_bad(const char *what, const char *body, const char *w1, const char *w2) {
  char text[20000];
  snprintf(text, sizeof text, "[sweep]\nname = bad\n%s", body);
  char *path = sweep_file("bad.ini", text);
  const char *want[] = {"bad.ini", w1, w2, NULL};
  if (!w2) want[2] = NULL;
  T_CHECK(fatal_with(load_and_expand, path, want), "bad sweep file (%s) is fatal naming '%s'", what, w1);
}

static void test_paper(void) {
  Sweep s;
  sweep_load(&s, CORDSEG_SOURCE_DIR "/configs/sweep_paper.ini");
  int32_t n;
  SweepTask *t = sweep_expand(&s, &n);
  T_CHECK(n == 40 && sweep_size(&s) == 40, "paper sweep: 2 x 2 x 2 x 5 = 40 tasks (got %d)", n);
  T_CHECK(s.folds_k == 5 && !strcmp(s.name, "paper") && !strcmp(s.dir, "runs/sweep-paper"), "paper sweep: name, dir, 5 folds");
  T_CHECK(!strcmp(t[0].arm, "vgg16-hybrid-b0") && !strcmp(t[39].arm, "resnet50-hdl-fa"), "arms: %s .. %s", t[0].arm,
          t[39].arm);
  T_CHECK(!strcmp(t[7].run_dir, "runs/vgg16-hybrid-fa/fold2-seed11"), "task 7 run dir (fold fastest): %s", t[7].run_dir);
  T_CHECK(!strcmp(t[7].overrides, "backbone=vgg16 loss=hybrid input=fa fold=2"), "task 7 overrides: %s", t[7].overrides);
  int ok = 1;
  for (int32_t i = 0; i < n; i++) {
    const TrainConfig *c = &t[i].cfg;
    ok &= c->fold == i % 5 && c->input == ((i / 5) % 2 ? INPUT_FA : INPUT_B0) &&
          c->loss == ((i / 10) % 2 ? LOSS_KIND_HDL : LOSS_KIND_HYBRID) &&
          c->backbone == (i / 20 ? UNET_BACKBONE_RESNET50 : UNET_BACKBONE_VGG16) && t[i].id == i &&
          !strcmp(c->store, "data/cohort.h5") && c->epochs == 500;
  }
  T_CHECK(ok, "every task's resolved config = defaults + [train] + its axis values");
  const SlurmResources *r = &s.slurm;
  T_CHECK(r->time_s == 86400 && r->gpus_per_node == 1 && r->cpus_per_task == 8 && r->mem_mb == 65536 &&
              r->throttle == 8 && r->max_requeues == 3 && r->signal_lead_s == 300 && r->report_mem_mb == 16384,
          "paper sweep [slurm] values");
  free(t);
  sweep_free(&s);
}

static void test_zip_and_ranges(void) {
  char *path = sweep_file("zip.ini",
                          "# comment\n[sweep]\nname = z\nfolds_k = 3\n[train]\nwidth_div = 4 ; inline comment\n"
                          "[zip arm]\nbackbone = vgg16 resnet50\nloss = hybrid,hdl\n"
                          "[grid]\nseed = 1..2\nfold = all\nlr_max = 1e-3 3e-4\n");
  Sweep s;
  sweep_load(&s, path);
  int32_t n;
  SweepTask *t = sweep_expand(&s, &n);
  T_CHECK(n == 2 * 2 * 3 * 2, "zip(2) x seed(2) x fold(3) x lr(2) = 24 tasks (got %d)", n);
  T_CHECK(s.naxes == 4 && s.axes[0].nkeys == 2 && !strcmp(s.axes[0].name, "arm"), "the zip is one axis of two keys");
  T_CHECK(t[0].cfg.backbone == UNET_BACKBONE_VGG16 && t[0].cfg.loss == LOSS_KIND_HYBRID &&
              t[12].cfg.backbone == UNET_BACKBONE_RESNET50 && t[12].cfg.loss == LOSS_KIND_HDL,
          "zipped values are paired, not crossed");
  T_CHECK(t[23].cfg.seed == 2 && t[23].cfg.fold == 2 && t[23].cfg.width_div == 4 && t[23].cfg.lr_max == 3e-4,
          "last task: seed 2, fold 2, lr 3e-4, width_div 4 from [train]");
  T_CHECK(!strcmp(t[1].arm, "vgg16-hybrid-b0-lr_max3e-4") && !strcmp(t[1].run_dir, "runs/vgg16-hybrid-b0-lr_max3e-4/fold0-seed1"),
          "other axes join the arm as key+value: %s, %s", t[1].arm, t[1].run_dir);
  free(t);
  sweep_free(&s);
  /* a sweep without axes is one run; [train] fold -1 = the split */
  path = sweep_file("one.ini", "[train]\nfold = -1\n");
  sweep_load(&s, path);
  t = sweep_expand(&s, &n);
  T_CHECK(n == 1 && !strcmp(t[0].run_dir, "runs/vgg16-hdl-b0/split-seed11") && !strcmp(s.name, "one") &&
              !strcmp(s.dir, "runs/sweep-one"),
          "no axes: one task, name from the file (%s, %s)", t[0].run_dir, s.name);
  free(t);
  sweep_free(&s);
}

static void test_bad_files(void) {
  expect_bad("unknown axis", "[grid]\nlosses = hdl\n", "line 4 [grid] axis 'losses'", "unknown key 'losses' (did you mean 'loss'?)");
  expect_bad("unknown value", "[grid]\nloss = hybrid dice\n", "line 4", "'dice' is not one of: hybrid,hdl,ce");
  expect_bad("value out of range", "[grid]\nwidth_div = 2 64\n", "axis 'width_div'", "64 is outside");
  expect_bad("unknown section", "[grids]\nloss = hdl\n", "line 4", "unknown section [grids]");
  expect_bad("unknown [slurm] key", "[slurm]\ngpus = 2\n", "line 4", "unknown key 'gpus' in [slurm]");
  expect_bad("unknown [sweep] key", "folds = 3\n", "line 3", "unknown key 'folds' in [sweep]");
  expect_bad("bad [train] key", "[train]\nepoch = 3\n", "line 4", "unknown key 'epoch'");
  expect_bad("bad time", "[slurm]\ntime = 1h\n", "line 4", "'1h': not a finite Slurm time");
  expect_bad("bad mem", "[slurm]\nmem = lots\n", "line 4", "'lots': not a size");
  expect_bad("bad launcher", "[slurm]\nlauncher = ssh\n", "line 4", "launcher 'ssh'");
  expect_bad("zip lengths", "[zip a]\nbackbone = vgg16 resnet50\nloss = hdl\n", "[zip a]", "'loss' has 1 values");
  expect_bad("axis twice", "[grid]\nloss = hdl\n[zip p]\nloss = ce\n", "line 6", "axis 'loss' already defined on line 4");
  expect_bad("grid axis on two lines", "[grid]\nlr_max = 1e-4 1e-3\nlr_max = 1e-2\n", "line 5",
             "axis 'lr_max' already defined on line 4");
  expect_bad("zip key on two lines", "[zip z]\nseed = 1 2\nseed = 3 4\n", "line 5", "axis 'seed' already defined");
  {
    char longline[16000] = "[grid]\nseed =";
    for (int i = 0; i < 2500; i++) snprintf(longline + strlen(longline), sizeof longline - strlen(longline), " %d", i);
    strcat(longline, "\n[train]\nbatch = 2\n");
    expect_bad("a line longer than the reader's buffer", longline, "line 4", "longer than");
  }
  expect_bad("axis and [train]", "[train]\nloss = hdl\n[grid]\nloss = ce hybrid\n", "line 4", "is set in [train] and is an axis");
  expect_bad("store as axis", "[grid]\nstore = a.h5 b.h5\n", "line 4", "axis 'store' cannot vary");
  expect_bad("value twice", "[grid]\nseed = 1 2 1\n", "line 4", "lists '1' twice");
  expect_bad("fold beyond folds_k", "folds_k = 3\n[grid]\nfold = 0..3\n", "task 3 has fold 3", "folds_k = 3");
  expect_bad("bad range", "[grid]\nfold = 3..1\n", "line 4", "bad range");
  expect_bad("all in a zip", "[zip z]\nfold = all\n", "line 4", "'all' is not a value here");
  expect_bad("key twice", "[slurm]\nnodes = 1\nnodes = 2\n", "line 5", "'nodes' is set twice");
  expect_bad("[train] key twice", "[train]\nbatch = 1\nseed = 2\nbatch = 2\n", "line 6", "'batch' is set twice");
  expect_bad("signal after the limit", "[slurm]\ntime = 5\nsignal_lead = 300\n", "signal_lead 300 s", "time 300 s");
  char *path = sweep_file("nosection.ini", "loss = hdl\n");
  const char *want[] = {"line 1", "before the first [section]", NULL};
  T_CHECK(fatal_with(load_and_expand, path, want), "a key before any [section] is fatal");
  const char *want2[] = {"cannot open sweep file", NULL};
  T_CHECK(fatal_with(load_and_expand, (void *)"/nonexistent/sweep.ini", want2), "a missing sweep file is fatal");
}

/* ------------------------------------------------------------- data -- */

static char g_store[512];
static void make_store(const char *path, int subjects, int size) {
  H5Store s;
  int per = 2, n = subjects * per;
  size_t hw = (size_t)size * size;
  float *b0 = callocCheck((size_t)n * hw, sizeof(float)), *fa = callocCheck((size_t)n * hw, sizeof(float));
  uint8_t *lab = callocCheck((size_t)n * hw, 1);
  SliceMeta *meta = callocCheck((size_t)n, sizeof *meta);
  for (int i = 0; i < n; i++) {
    meta[i] = (SliceMeta){.subject = 10 + i / per, .slice = i % per, .level = 3, .spacing = {0.625f, 0.625f}};
    for (size_t p = 0; p < hw; p++) b0[i * hw + p] = (float)(p % 7), fa[i * hw + p] = 0.5f, lab[i * hw + p] = (uint8_t)(p % 9);
  }
  h5store_create(&s, path, size, size, 0, "test_slurm_sweep");
  h5store_append(&s, n, b0, fa, NULL, NULL, NULL, lab, meta);
  h5store_commit(&s);
  free(b0), free(fa), free(lab), free(meta);
}

/* what `sweep plan` does without Slurm: load, expand, check the data */
static SweepTask *plan(Sweep *s, const char *path, int32_t *n, char *summary, size_t ns) {
  sweep_load(s, path);
  SweepTask *t = sweep_expand(s, n);
  sweep_check_data(s, t, *n, summary, ns);
  return t;
}

static void plan_data(void *path) {
  Sweep s;
  int32_t n;
  char summary[2048];
  free(plan(&s, path, &n, summary, sizeof summary));
}

/* a sweep over g_store (or store) with these folds_k, batch and extra lines */
static void expect_bad_data(const char *what, const char *store, int k, int batch, const char *extra, const char *w1) {
  char text[2048];
  snprintf(text, sizeof text, "[sweep]\nfolds_k = %d\n[train]\nstore = %s\nbatch = %d\n%s", k, store ? store : g_store,
           batch, extra);
  char *path = sweep_file("data.ini", text);
  const char *want[] = {"data.ini", w1, NULL};
  T_CHECK(fatal_with(plan_data, path, want), "plan-time data check (%s) is fatal naming '%s'", what, w1);
}

static Sweep *g_sweep;
static void create_again(void *dir) { sweep_create_dir(g_sweep, dir); }

static int mode_of(const char *dir, const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  struct stat st;
  return stat(p, &st) ? -1 : (int)(st.st_mode & 0777);
}

static void test_data_and_shared(void) {
  snprintf(g_store, sizeof g_store, "%s/store.h5", T);
  make_store(g_store, 6, 48); /* 6 subjects x 2 slices, 48x48: VGG fits, ResNet (x32) does not */
  expect_bad_data("missing store", "/nonexistent/c.h5", 2, 2, "", "store '/nonexistent/c.h5' cannot be read");
  expect_bad_data("folds_k > subjects", NULL, 7, 2, "", "6 subjects, fewer than folds_k = 7");
  expect_bad_data("network vs slice size", NULL, 2, 2, "[grid]\nbackbone = vgg16 resnet50\n", "task 1 (backbone=resnet50)");
  expect_bad_data("batch > training slices", NULL, 2, 64, "", "fewer than one batch of 64");
  expect_bad_data("steps_per_epoch", NULL, 2, 2, "steps_per_epoch = 50\n", "steps_per_epoch 50 exceeds");
  char bad_folds[600];
  snprintf(bad_folds, sizeof bad_folds, "folds = %s/nofolds.txt\n", T);
  expect_bad_data("missing folds file", NULL, 2, 2, bad_folds, "folds file");

  char text[2048];
  snprintf(text, sizeof text,
           "[sweep]\nname = t\nfolds_k = 2\n[train]\nstore = %s\nbatch = 2\nwidth_div = 4\n[grid]\nloss = hdl ce\nfold = all\n",
           g_store);
  char *path = sweep_file("good.ini", text);
  Sweep s;
  int32_t n;
  char summary[2048];
  SweepTask *t = plan(&s, path, &n, summary, sizeof summary);
  T_CHECK(strstr(summary, "12 slices of 48x48, 6 subjects") && strstr(summary, "makes 2 folds"), "data summary: %s", summary);
  char dir[512];
  snprintf(dir, sizeof dir, "%s/sweepdir", T);
  sweep_create_dir(&s, dir);
  sweep_prepare_shared(&s, t, n, dir);
  sweep_write_plan(&s, t, n, dir);
  char shared[600];
  snprintf(shared, sizeof shared, "%s/shared", dir);
  T_CHECK(mode_of(shared, ".") == 0555 && mode_of(shared, "configs") == 0555 && mode_of(shared, "folds.txt") == 0444 &&
              mode_of(shared, "data-check.txt") == 0444 && mode_of(shared, "configs/task-003.ini") == 0444,
          "shared/ and everything in it is read-only");
  T_CHECK(mode_of(dir, "sweep.ini") >= 0 && mode_of(dir, "runs") >= 0 && mode_of(dir, "slurm/logs") >= 0,
          "sweep dir has sweep.ini, runs/, slurm/logs/");
  int same = 1;
  for (int32_t i = 0; i < n; i++) {
    char p[700], h1[32], h2[32];
    snprintf(p, sizeof p, "%s/configs/task-%03d.ini", shared, i);
    TrainConfig c;
    config_defaults(&c);
    config_load(&c, p);
    config_hash(&c, h1), config_hash(&t[i].cfg, h2);
    same &= !strcmp(h1, h2) && c.store[0] == '/' && strstr(c.folds, "/shared/folds.txt") != NULL;
  }
  T_CHECK(same, "each task's config file loads back to its resolved config (same hash), store and folds absolute");
  Folds f;
  char fp[700];
  snprintf(fp, sizeof fp, "%s/folds.txt", shared);
  folds_read(&f, fp);
  T_CHECK(f.k == 2 && f.n == 6, "shared folds: 2 folds of 6 subjects");
  folds_free(&f);
  /* bookkeeping: plan.tsv, jobs.tsv, attempts.tsv */
  SweepPlan p;
  sweep_read_plan(&p, dir);
  T_CHECK(p.n == 4 && !strcmp(p.name, "t") && p.throttle == 8 && !strcmp(p.run_dir[3], "runs/vgg16-ce-b0/fold1-seed11") &&
              !strcmp(p.overrides[2], "loss=ce fold=0"),
          "plan.tsv round-trips (%d tasks, %s)", p.n, p.run_dir[3]);
  sweep_plan_free(&p);
  sweep_record_job(dir, "array", 100, "0-3");
  sweep_record_job(dir, "report", 101, "0-3");
  sweep_record_job(dir, "array", 105, "1,3");
  sweep_record_job(dir, "report", 106, "1,3");
  int64_t job[4], report;
  sweep_latest_jobs(dir, 4, job, &report);
  T_CHECK(job[0] == 100 && job[1] == 105 && job[2] == 100 && job[3] == 105 && report == 106,
          "jobs.tsv: latest array job per task and the last report");
  char run[700], att[800];
  snprintf(run, sizeof run, "%s/runs/vgg16-hdl-b0/fold0-seed11", dir);
  snprintf(att, sizeof att, "%s/runs/vgg16-hdl-b0", dir);
  mkdir(att, 0755);
  mkdir(run, 0755);
  snprintf(att, sizeof att, "%s/attempts.tsv", run);
  write_file(att, "2026-01-01T00:00:00\t7\t0\tstart\t-\t-\n2026-01-01T00:01:00\t7\t0\tend\t75\trequeue\n"
                  "2026-01-01T00:02:00\t7\t1\tstart\t-\t-\n2026-01-01T00:03:00\t7\t1\tend\t143\tterminated\n");
  SweepRunState rs;
  sweep_run_state(run, &rs);
  T_CHECK(rs.attempts == 2 && rs.last_rc == 143 && !strcmp(rs.last_action, "terminated") && !rs.trained && !rs.evaluated,
          "attempts.tsv: 2 attempts, the last ended 143 (terminated)");
  const char *want3[] = {"already exists and is not empty", NULL};
  g_sweep = &s;
  T_CHECK(fatal_with(create_again, dir, want3), "submit into an existing sweep dir is refused");
  free(t);
  sweep_free(&s);
}

/* ------------------------------------------------------------ slurm -- */

/* sinfo -h -N -o '%N|%P|%a|%l|%c|%m|%G|%T' of a small cluster */
static const char *SINFO =
    "cpu01|cpu*|up|2-00:00:00|64|256000|(null)|idle\n"
    "cpu02|cpu*|up|2-00:00:00|64|256000|(null)|mixed\n"
    "gpu01|gpu|up|1-00:00:00|32|512000|gpu:a100:4(S:0-1)|idle\n"
    "gpu02|gpu|up|1-00:00:00|32|512000|gpu:a100:4(S:0-1)|drained\n"
    "gpu03|gpu|up|1-00:00:00|16|128000|gpu:2|allocated\n";

static int check(const char *part, int nodes, int ntpn, int gpus, int cpus, int64_t mem, int64_t time_s, char *why) {
  SlurmResources r;
  slurm_resources_default(&r);
  snprintf(r.partition, sizeof r.partition, "%s", part);
  r.nodes = nodes, r.ntasks_per_node = ntpn, r.gpus_per_node = gpus, r.cpus_per_task = cpus, r.mem_mb = mem;
  r.time_s = time_s;
  char summary[512];
  why[0] = 0;
  return slurm_check_resources(&r, SINFO, why, 1024, summary, sizeof summary);
}

static void test_slurm(void) {
  T_CHECK(slurm_parse_time("30") == 1800 && slurm_parse_time("30:15") == 1815 && slurm_parse_time("2:00:00") == 7200 &&
              slurm_parse_time("1-00:00:00") == 86400 && slurm_parse_time("1-2") == 93600 &&
              slurm_parse_time("1-2:30") == 95400 && slurm_parse_time("infinite") == INT64_MAX,
          "Slurm time notations");
  T_CHECK(slurm_parse_time("1h") < 0 && slurm_parse_time("") < 0 && slurm_parse_time("1:2:3:4") < 0 &&
              slurm_parse_time("-5") < 0,
          "malformed times rejected");
  char buf[32];
  slurm_format_time(95400, buf, sizeof buf);
  T_CHECK(!strcmp(buf, "1-02:30:00"), "format 95400 s = %s", buf);
  T_CHECK(slurm_parse_mem("16G") == 16384 && slurm_parse_mem("500M") == 500 && slurm_parse_mem("24105+") == 24105 &&
              slurm_parse_mem("2T") == 2097152 && slurm_parse_mem("1.5G") == 1536 && slurm_parse_mem("x") < 0 &&
              slurm_parse_mem("5Q") < 0,
          "memory notations");
  T_CHECK(slurm_gres_gpus("(null)") == 0 && slurm_gres_gpus("gpu:4") == 4 && slurm_gres_gpus("gpu:a100:4(S:0-1)") == 4 &&
              slurm_gres_gpus("gpu:a100:2(S:0,1),gpu:v100:2") == 4 && slurm_gres_gpus("shard:8,gpu:1") == 1,
          "GPU counts from GRES strings");

  char why[1024];
  SlurmResources r;
  slurm_resources_default(&r);
  r.gpus_per_node = 0;
  char summary[512];
  T_CHECK(slurm_check_resources(&r, SINFO, why, sizeof why, summary, sizeof summary) == 0 && !strcmp(r.partition, "cpu") &&
              strstr(summary, "partition 'cpu' (default): 2 nodes"),
          "no partition: the default one is used (%s)", summary);
  T_CHECK(check("gpu", 1, 4, 4, 8, 400000, 86400, why) == 0, "4 GPUs x 8 CPUs on one gpu node fits");
  T_CHECK(check("gpu", 2, 4, 4, 8, 0, 3600, why) == 0, "2 nodes of 4 GPUs: gpu01 and the drained gpu02 exist");
  T_CHECK(check("gpu", 3, 4, 4, 8, 0, 3600, why) == 1 && strstr(why, "has 2 such nodes (of 3)"), "3 such nodes: %s", why);
  T_CHECK(check("big", 1, 1, 0, 1, 0, 60, why) == 1 && strstr(why, "'big' does not exist; the cluster has: cpu, gpu"),
          "unknown partition: %s", why);
  T_CHECK(check("gpu", 1, 1, 8, 1, 0, 60, why) == 1 && strstr(why, "8 GPUs per node but partition 'gpu''s nodes have at most 4"),
          "too many GPUs: %s", why);
  T_CHECK(check("cpu", 1, 1, 1, 1, 0, 60, why) == 1 && strstr(why, "set gpus_per_node = 0"), "GPUs on a CPU partition: %s", why);
  T_CHECK(check("cpu", 1, 4, 0, 32, 0, 60, why) == 1 && strstr(why, "128 CPUs per node (ntasks_per_node 4 x cpus_per_task 32)"),
          "too many CPUs: %s", why);
  T_CHECK(check("cpu", 1, 1, 0, 1, 300000, 60, why) == 1 && strstr(why, "300000 MB per node"), "too much memory: %s", why);
  T_CHECK(check("gpu", 1, 1, 1, 1, 0, 2 * 86400, why) == 1 && strstr(why, "time 2-00:00:00 is above partition 'gpu''s limit 1-00:00:00"),
          "time above the limit: %s", why);
  T_CHECK(slurm_check_resources(&r, "", why, sizeof why, summary, sizeof summary) == 1 && strstr(why, "no nodes"),
          "empty sinfo: %s", why);

  uint8_t mask[12];
  char spec[64];
  T_CHECK(sweep_idlist_parse("0-2,5,7-8", mask, 12) == 0 && mask[0] && mask[2] && !mask[3] && mask[5] && mask[8] && !mask[9],
          "id list parse");
  sweep_idlist_format(mask, 12, spec, sizeof spec);
  T_CHECK(!strcmp(spec, "0-2,5,7-8"), "id list round trip: %s", spec);
  T_CHECK(sweep_idlist_parse("3-1", mask, 12) && sweep_idlist_parse("12", mask, 12) && sweep_idlist_parse("1,,2", mask, 12) &&
              sweep_idlist_parse("", mask, 12) && sweep_idlist_parse("a", mask, 12),
          "bad id lists rejected");

  SlurmTaskState st[4];
  memset(st, 0, sizeof st);
  int found = slurm_parse_queue("42_[2-3%2]|PENDING\n42_0|RUNNING\n42_1|COMPLETED\n7_3|FAILED\n", 42, 0, st, 4);
  T_CHECK(found == 2 && !strcmp(st[0].state, "RUNNING") && !strcmp(st[1].state, "COMPLETED") && !st[2].state[0] &&
              !strcmp(st[0].source, "squeue"),
          "squeue -r lines parsed, summaries and other jobs skipped");
  memset(st, 0, sizeof st);
  found = slurm_parse_queue("42_2|CANCELLED by 0|0:15\n42_2.batch|CANCELLED|0:15\n42_3|FAILED|1:0\n", 42, 1, st, 4);
  T_CHECK(found == 2 && !strcmp(st[2].state, "CANCELLED") && !strcmp(st[3].exit_code, "1:0"), "sacct lines parsed");
  T_CHECK(slurm_state_active("PENDING") && slurm_state_active("REQUEUED") && !slurm_state_active("COMPLETED") &&
              !slurm_state_active("CANCELLED"),
          "active states");

  char tpl[600];
  snprintf(tpl, sizeof tpl, "%s/t.sbatch", T);
  write_file(tpl, "#SBATCH --signal=@SIGNAL@\necho \"$@\" user@host @...@ ${A[@]}\nX=@NAME_2@@NAME_2@\n");
  const char *vars[] = {"SIGNAL", "B:USR2@60", "NAME_2", "v", NULL};
  char *out = slurm_render(tpl, vars);
  T_CHECK(!strcmp(out, "#SBATCH --signal=B:USR2@60\necho \"$@\" user@host @...@ ${A[@]}\nX=vv\n"), "template rendered: %s", out);
  free(out);
  char q[64];
  slurm_quote("a b'c", q, sizeof q);
  T_CHECK(!strcmp(q, "'a b'\\''c'"), "shell quoting: %s", q);
}

static void render_unknown(void *tpl) {
  const char *vars[] = {"A", "1", NULL};
  free(slurm_render(tpl, vars));
}

int main(void) {
  snprintf(T, sizeof T, "%s/test_slurm_sweep.XXXXXX", CORDSEG_BINARY_DIR);
  if (!mkdtemp(T)) t_skip("cannot make a scratch directory in the build tree");
  test_paper();
  test_zip_and_ranges();
  test_bad_files();
  test_data_and_shared();
  test_slurm();
  char tpl[600];
  snprintf(tpl, sizeof tpl, "%s/u.sbatch", T);
  write_file(tpl, "ok @A@\nbad @TYPO@\n");
  const char *want[] = {"u.sbatch' line 2: unknown placeholder @TYPO@", NULL};
  T_CHECK(fatal_with(render_unknown, tpl, want), "an unknown template placeholder is fatal with file and line");
  char cmd[700];
  snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' && rm -rf '%s'", T, T);
  if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", T);
  return t_finish("test_slurm_sweep");
}
