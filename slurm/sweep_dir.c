/* slurm/sweep_dir.c: what happens to an expanded sweep before and after it
 * is queued: the pre-queue data checks, the sweep directory (shared inputs,
 * plan.tsv, job records) and its bookkeeping (each run's state, task-id
 * lists). The sweep file itself is slurm/sweep.c; formats in slurm/sweep.h. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "slurm/sweep.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/folds.h"
#include "io/h5store.h"
#include "io/rundir.h"
#include "io/textio.h"
#include "io/path.h"

/* ---------------------------------------------------------- data check -- */

/* what train checks before it starts, for every task: the network fits the
 * slice size, the fold has a global batch and steps_per_epoch batches */
static void check_tasks(const Sweep *s, const SweepTask *t, int32_t n, const Folds *f, const H5Store *h) {
  for (int32_t i = 0; i < n; i++) {
    char msg[512];
    const char *hint = NULL;
    if (config_check_fit(&t[i].cfg, h, f, msg, sizeof msg, &hint))
      cs_fatal(hint, "sweep '%s': task %d (%s): %s", s->path, t[i].id, t[i].overrides, msg);
  }
}

void sweep_check_data(const Sweep *s, const SweepTask *tasks, int32_t n, char *summary, size_t ns) {
  const char *store = s->base.store;
  if (!store[0])
    cs_fatal("set `store = FILE.h5` in [train] (or in the base config): the HDF5 store from cordseg phantom / import",
             "sweep '%s': no store given", s->path);
  if (access(store, R_OK) != 0)
    cs_fatal("build it first (cordseg phantom -o STORE or cordseg import), or fix `store` in [train]",
             "sweep '%s': store '%s' cannot be read: %s", s->path, store, strerror(errno));
  H5Store h;
  h5store_open(&h, store);
  int32_t subjects = h5store_subject_count(&h);
  char checksum[64];
  h5store_attr_string(&h, "checksum", checksum, sizeof checksum);
  if (subjects < s->folds_k)
    cs_fatal("lower folds_k or use a store with more subjects",
             "sweep '%s': store '%s' has %d subjects, fewer than folds_k = %d", s->path, store, subjects, s->folds_k);
  int w = snprintf(summary, ns, "store '%s': %d slices of %dx%d, %d subjects, %s", store, h.n, h.h, h.w, subjects,
                   checksum);
  Folds f;
  if (s->base.folds[0]) {
    folds_read(&f, s->base.folds);
    if (strcmp(f.store_checksum, checksum))
      cs_fatal("remake it with `cordseg folds STORE -o FILE`, or drop `folds` so the sweep makes one",
               "sweep '%s': folds file '%s' was made for a store with checksum %s, not '%s' (%s)", s->path,
               s->base.folds, f.store_checksum, store, checksum);
    if (w > 0 && (size_t)w < ns) snprintf(summary + w, ns - (size_t)w, "; folds '%s' (%d folds, %s)", s->base.folds, f.k, f.hash);
  } else {
    folds_make(&f, h.meta, h.n, s->folds_k, s->folds_seed); /* the same folds submit writes */
    if (w > 0 && (size_t)w < ns)
      snprintf(summary + w, ns - (size_t)w, "; the sweep makes %d folds (seed %llu)", s->folds_k,
               (unsigned long long)s->folds_seed);
  }
  check_tasks(s, tasks, n, &f, &h);
  folds_free(&f);
  h5store_close(&h);
}

/* --------------------------------------------------------- shared dir -- */

static void make_dir(const char *d) { textio_mkdir_p(d, "check that the parent directory exists and is writable"); }

/* chmod that fails with the path */
static void set_mode(const char *p, mode_t mode) {
  if (chmod(p, mode) != 0)
    cs_fatal("check the permissions of the sweep directory", "cannot make '%s' read-only: %s", p, strerror(errno));
}

static void copy_file(const char *src, const char *dst) {
  char tmp[PATH_CAP], buf[8192];
  FILE *in = fopenCheck(src, "rb");
  atomic_begin(dst, tmp, sizeof tmp);
  FILE *out = fopenCheck(tmp, "wb");
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, in)) > 0) fwriteCheck(buf, 1, got, out, dst);
  fclose(in);
  fcloseCheck(out, dst);
  atomic_commit(tmp, dst);
}

void sweep_create_dir(const Sweep *s, const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    closedir(d);
    if (!empty)
      cs_fatal("`cordseg sweep status DIR` / `resubmit DIR` continue a sweep; for a new one give another --dir or [sweep] dir",
               "sweep directory '%s' already exists and is not empty", dir);
  }
  char p[PATH_CAP];
  make_dir(dir); /* parents too */
  const char *sub[] = {"runs", "slurm", "slurm/logs"};
  for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) path_fmt(p, sizeof p, "%s/%s", dir, sub[i]), make_dir(p);
  path_fmt(p, sizeof p, "%s/sweep.ini", dir);
  copy_file(s->path, p);
}

static void config_rel(int32_t id, int32_t n, char *out, size_t cap) {
  /* SWEEP_MAX_TASKS = 10000: three or four digits */
  if (n > 1000) snprintf(out, cap, "shared/configs/task-%04d.ini", id % 10000);
  else snprintf(out, cap, "shared/configs/task-%03d.ini", id % 1000);
}

void sweep_prepare_shared(const Sweep *s, SweepTask *tasks, int32_t n, const char *dir) {
  char p[PATH_CAP], store_abs[PATH_MAX], folds_path[PATH_CAP];
  path_fmt(p, sizeof p, "%s/shared", dir);
  make_dir(p);
  path_fmt(p, sizeof p, "%s/shared/configs", dir);
  make_dir(p);
  if (!realpath(s->base.store, store_abs))
    cs_fatal("the store must stay where `plan` found it", "store '%s': %s", s->base.store, strerror(errno));
  path_fmt(folds_path, sizeof folds_path, "%s/shared/folds.txt", dir);
  if (strlen(store_abs) >= sizeof tasks[0].cfg.store || strlen(folds_path) >= sizeof tasks[0].cfg.folds)
    cs_fatal("use shorter paths for the store and the sweep directory", "store '%s' or sweep dir '%s': path too long",
             store_abs, dir);
  H5Store h;
  h5store_open(&h, store_abs);
  const uint64_t computed = h5store_require_verified(&h, "nothing was queued");
  Folds f;
  if (s->base.folds[0]) {
    folds_read(&f, s->base.folds); /* verified by its hash; copied byte for byte */
    copy_file(s->base.folds, folds_path);
  } else {
    folds_make(&f, h.meta, h.n, s->folds_k, s->folds_seed);
    snprintf(f.store, sizeof f.store, "%.1000s", store_abs);
    h5store_attr_string(&h, "checksum", f.store_checksum, sizeof f.store_checksum);
    folds_write(&f, folds_path);
  }
  char stamp[64];
  time_t now = time(NULL);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
  char text[16384];
  snprintf(text, sizeof text,
           "# cordseg sweep data check, made before anything was queued\n"
           "store = %s\nstore_checksum = fnv1a64:%016llx\nchecksum_verified = %s\nslices = %d\nsubjects = %d\n"
           "folds = %s\nfolds_k = %d\nfolds_hash = %s\n",
           store_abs, (unsigned long long)computed, stamp, h.n, h5store_subject_count(&h), folds_path, f.k, f.hash);
  path_fmt(p, sizeof p, "%s/shared/data-check.txt", dir);
  textio_write(p, text);
  folds_free(&f);
  h5store_close(&h);
  for (int32_t i = 0; i < n; i++) {
    TrainConfig *c = &tasks[i].cfg;
    memcpy(c->store, store_abs, strlen(store_abs) + 1);
    memcpy(c->folds, folds_path, strlen(folds_path) + 1);
    char rel[64];
    config_rel(i, n, rel, sizeof rel);
    path_fmt(p, sizeof p, "%s/%s", dir, rel);
    char *cfg = config_format(c);
    textio_write(p, cfg);
    free(cfg);
    set_mode(p, 0444);
  }
  /* read-only from here on: tasks read shared/, never write it */
  path_fmt(p, sizeof p, "%s/shared/folds.txt", dir), set_mode(p, 0444);
  path_fmt(p, sizeof p, "%s/shared/data-check.txt", dir), set_mode(p, 0444);
  path_fmt(p, sizeof p, "%s/shared/configs", dir), set_mode(p, 0555);
  path_fmt(p, sizeof p, "%s/shared", dir), set_mode(p, 0555);
}

/* ------------------------------------------------------- bookkeeping -- */

void sweep_write_plan(const Sweep *s, const SweepTask *tasks, int32_t n, const char *dir) {
  char path[PATH_CAP], tmp[PATH_CAP];
  path_fmt(path, sizeof path, "%s/plan.tsv", dir);
  atomic_begin(path, tmp, sizeof tmp);
  FILE *f = fopenCheck(tmp, "w");
  fprintf(f, "# cordseg sweep plan: name=%s tasks=%d throttle=%d max_requeues=%d\n", s->name, n, s->slurm.throttle,
          s->slurm.max_requeues);
  fprintf(f, "task\tarm\tfold\tseed\trun\tconfig\toverrides\n");
  for (int32_t i = 0; i < n; i++) {
    char rel[64];
    config_rel(i, n, rel, sizeof rel);
    fprintf(f, "%d\t%s\t%d\t%llu\t%s\t%s\t%s\n", tasks[i].id, tasks[i].arm, tasks[i].cfg.fold,
            (unsigned long long)tasks[i].cfg.seed, tasks[i].run_dir, rel, tasks[i].overrides);
  }
  fcloseCheck(f, path);
  atomic_commit(tmp, path);
}

void sweep_read_plan(SweepPlan *p, const char *dir) {
  memset(p, 0, sizeof *p);
  char path[PATH_CAP], line[4096];
  path_fmt(path, sizeof path, "%s/plan.tsv", dir);
  FILE *f = fopen(path, "r");
  if (!f)
    cs_fatal("give the directory `cordseg sweep submit` made (it holds plan.tsv)", "'%s' is not a sweep directory: %s",
             dir, strerror(errno));
  if (!fgets(line, sizeof line, f) ||
      sscanf(line, "# cordseg sweep plan: name=%63s tasks=%d throttle=%d max_requeues=%d", p->name, &p->n, &p->throttle,
             &p->max_requeues) != 4 || p->n <= 0 || p->n > SWEEP_MAX_TASKS)
    cs_fatal("plan.tsv is written by `cordseg sweep submit`; do not edit it", "'%s': bad header", path);
  p->id = callocCheck((size_t)p->n, sizeof *p->id);
  p->arm = callocCheck((size_t)p->n, sizeof *p->arm);
  p->run_dir = callocCheck((size_t)p->n, sizeof *p->run_dir);
  p->overrides = callocCheck((size_t)p->n, sizeof *p->overrides);
  int32_t got = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *col[7];
    int nc = 0;
    for (char *c = line; nc < 7 && c; nc++) {
      col[nc] = c;
      c = strchr(c, '\t');
      if (c) *c++ = 0;
    }
    if (nc < 7 || !isdigit((unsigned char)col[0][0])) continue;
    int32_t id = (int32_t)atoi(col[0]);
    if (id != got) cs_fatal("plan.tsv is written by `cordseg sweep submit`; do not edit it", "'%s': task %d out of order", path, id);
    p->id[got] = id;
    snprintf(p->arm[got], sizeof p->arm[0], "%s", col[1]);
    snprintf(p->run_dir[got], sizeof p->run_dir[0], "%s", col[4]);
    snprintf(p->overrides[got], sizeof p->overrides[0], "%s", col[6]);
    if (++got == p->n) break;
  }
  fclose(f);
  if (got != p->n) cs_fatal("plan.tsv is written by `cordseg sweep submit`; do not edit it", "'%s': %d of %d tasks", path, got, p->n);
}

void sweep_plan_free(SweepPlan *p) {
  free(p->id), free(p->arm), free(p->run_dir), free(p->overrides);
  memset(p, 0, sizeof *p);
}

void sweep_record_job(const char *dir, const char *kind, int64_t job, const char *tasks) {
  char path[PATH_CAP], stamp[64];
  path_fmt(path, sizeof path, "%s/jobs.tsv", dir);
  char *old = textio_read(path);
  time_t now = time(NULL);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", localtime(&now));
  size_t n = (old ? strlen(old) : 64) + strlen(tasks) + 128;
  char *text = mallocCheck(n);
  snprintf(text, n, "%s%s\t%s\t%lld\t%s\n", old ? old : "time\tkind\tjob\ttasks\n", stamp, kind, (long long)job, tasks);
  textio_write(path, text);
  free(text), free(old);
}

void sweep_latest_jobs(const char *dir, int32_t n, int64_t *job_of_task, int64_t *report) {
  for (int32_t i = 0; i < n; i++) job_of_task[i] = 0;
  *report = 0;
  char path[PATH_CAP], line[8192];
  path_fmt(path, sizeof path, "%s/jobs.tsv", dir);
  FILE *f = fopen(path, "r");
  if (!f) return;
  uint8_t *mask = mallocCheck((size_t)n);
  while (fgets(line, sizeof line, f)) {
    char when[64], kind[32], tasks[8000];
    long long job;
    tasks[0] = 0;
    if (sscanf(line, "%63s\t%31s\t%lld\t%7999s", when, kind, &job, tasks) < 3) continue;
    if (!strcmp(kind, "report")) *report = job;
    if (strcmp(kind, "array") || sweep_idlist_parse(tasks, mask, n)) continue;
    for (int32_t i = 0; i < n; i++)
      if (mask[i]) job_of_task[i] = job;
  }
  free(mask);
  fclose(f);
}

void sweep_run_state(const char *run_dir, SweepRunState *st) {
  memset(st, 0, sizeof *st);
  st->last_rc = -1;
  char p[PATH_CAP], line[1024];
  path_fmt(p, sizeof p, "%s/DONE", run_dir);
  st->trained = access(p, F_OK) == 0;
  path_fmt(p, sizeof p, "%s/eval/summary.json", run_dir);
  st->evaluated = access(p, F_OK) == 0;
  path_fmt(p, sizeof p, "%s/ckpt/last.h5", run_dir);
  st->checkpoint = access(p, F_OK) == 0;
  path_fmt(p, sizeof p, "%s/attempts.tsv", run_dir);
  FILE *f = fopen(p, "r");
  if (!f) return;
  /* time job restart event rc action (slurm/task-run.sh) */
  while (fgets(line, sizeof line, f)) {
    char when[64], job[32], restart[16], event[16], rc[16], action[32];
    if (sscanf(line, "%63s %31s %15s %15s %15s %31s", when, job, restart, event, rc, action) != 6) continue;
    if (!strcmp(event, "start")) st->attempts++;
    if (!strcmp(event, "end")) st->last_rc = atoi(rc), snprintf(st->last_action, sizeof st->last_action, "%s", action);
  }
  fclose(f);
}

/* ------------------------------------------------------------ id lists -- */

int sweep_idlist_parse(const char *s, uint8_t *mask, int32_t n) {
  memset(mask, 0, (size_t)n);
  const char *p = s;
  if (!*p) return -1;
  while (*p) {
    char *end;
    if (!isdigit((unsigned char)*p)) return -1;
    long lo = strtol(p, &end, 10), hi = lo;
    if (*end == '-') {
      if (!isdigit((unsigned char)end[1])) return -1;
      hi = strtol(end + 1, &end, 10);
    }
    if (lo > hi || hi >= n) return -1;
    for (long i = lo; i <= hi; i++) mask[i] = 1;
    if (*end == ',') end++;
    else if (*end) return -1;
    p = end;
  }
  return 0;
}

void sweep_idlist_format(const uint8_t *mask, int32_t n, char *out, size_t cap) {
  out[0] = 0;
  for (int32_t i = 0; i < n; i++) {
    if (!mask[i]) continue;
    int32_t j = i;
    while (j + 1 < n && mask[j + 1]) j++;
    char part[32];
    if (j == i) snprintf(part, sizeof part, "%d", i);
    else snprintf(part, sizeof part, "%d-%d", i, j);
    size_t l = strlen(out);
    CS_CHECK(l + strlen(part) + 2 < cap, "resubmit fewer tasks at once (--tasks)", "task list too long");
    snprintf(out + l, cap - l, "%s%s", l ? "," : "", part);
    i = j;
  }
}
