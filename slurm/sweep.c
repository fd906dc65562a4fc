/* slurm/sweep.c: sweep file parsing (libinih), grid expansion, the pre-queue
 * data checks, shared inputs and the sweep directory's bookkeeping. See
 * slurm/sweep.h for the formats. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "slurm/sweep.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
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

#define SWEEP_HINT "the sweep file format is in slurm/sweep.h and `cordseg sweep --help`; examples in configs/"

/* ------------------------------------------------------------- loading -- */

typedef struct {
  Sweep *s;
  FILE *f;
  int lineno;
  int zip_axis;             /* axis index of the current [zip] section, -1 outside one */
  char last_section[80], last_key[64];
  int32_t train_line[SWEEP_MAX_TRAIN];
  int32_t folds_k_line, fold_all_axis;
  int32_t count[SWEEP_MAX_AXES][SWEEP_MAX_ZIP_KEYS]; /* values read so far, per axis and key */
  char seen[128][64];       /* [sweep], [train] and [slurm] keys already set */
  int nseen;
} SweepCtx;

static char *sweep_read_line(char *str, int num, void *stream) {
  SweepCtx *ctx = stream;
  char *r = fgets(str, num, ctx->f);
  if (r) ctx->lineno++;
  return r;
}

#define LOAD_FATAL(ctx, hint, fmt, ...) \
  cs_fatal(hint, "sweep '%s' line %d: " fmt, (ctx)->s->path, (ctx)->lineno, __VA_ARGS__)

static int64_t parse_int_in(SweepCtx *ctx, const char *key, const char *v, int64_t lo, int64_t hi) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end)
    LOAD_FATAL(ctx, SWEEP_HINT, "key '%s' = '%s': not an integer", key, v);
  if (x < lo || x > hi)
    LOAD_FATAL(ctx, SWEEP_HINT, "key '%s' = %lld is outside [%lld, %lld]", key, x, (long long)lo, (long long)hi);
  return x;
}

static void copy_str(SweepCtx *ctx, const char *key, char *dst, size_t cap, const char *v) {
  if (strlen(v) >= cap) LOAD_FATAL(ctx, SWEEP_HINT, "key '%s': value longer than %zu characters", key, cap - 1);
  memcpy(dst, v, strlen(v) + 1);
}

static void on_sweep_key(SweepCtx *ctx, const char *name, const char *v) {
  Sweep *s = ctx->s;
  if (!strcmp(name, "name")) {
    for (const char *p = v; *p; p++)
      if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
        LOAD_FATAL(ctx, "use letters, digits, '.', '_' and '-'", "name '%s': character '%c' not allowed", v, *p);
    copy_str(ctx, name, s->name, sizeof s->name, v);
  } else if (!strcmp(name, "dir")) copy_str(ctx, name, s->dir, sizeof s->dir, v);
  else if (!strcmp(name, "config")) copy_str(ctx, name, s->config, sizeof s->config, v);
  else if (!strcmp(name, "folds_k")) s->folds_k = (int32_t)parse_int_in(ctx, name, v, 2, 100), ctx->folds_k_line = ctx->lineno;
  else if (!strcmp(name, "folds_seed")) s->folds_seed = (uint64_t)parse_int_in(ctx, name, v, 0, INT64_MAX);
  else
    LOAD_FATAL(ctx, "[sweep] keys: name, dir, config, folds_k, folds_seed", "unknown key '%s' in [sweep]", name);
}

static void on_slurm_key(SweepCtx *ctx, const char *name, const char *v) {
  SlurmResources *r = &ctx->s->slurm;
  if (!strcmp(name, "time") || !strcmp(name, "report_time")) {
    int64_t t = slurm_parse_time(v);
    if (t <= 0 || t == INT64_MAX)
      LOAD_FATAL(ctx, "Slurm time: minutes, H:MM:SS or D-HH:MM:SS", "key '%s' = '%s': not a finite Slurm time", name, v);
    *(name[0] == 't' ? &r->time_s : &r->report_time_s) = t;
  } else if (!strcmp(name, "mem") || !strcmp(name, "report_mem")) {
    int64_t m = slurm_parse_mem(v);
    if (m < 0) LOAD_FATAL(ctx, "memory per node: 16G, 500M or MB as a number; 0 = the partition default", "key '%s' = '%s': not a size", name, v);
    *(name[0] == 'm' ? &r->mem_mb : &r->report_mem_mb) = m;
  } else if (!strcmp(name, "nodes")) r->nodes = (int32_t)parse_int_in(ctx, name, v, 1, 10000);
  else if (!strcmp(name, "ntasks_per_node")) r->ntasks_per_node = (int32_t)parse_int_in(ctx, name, v, 1, 1024);
  else if (!strcmp(name, "gpus_per_node")) r->gpus_per_node = (int32_t)parse_int_in(ctx, name, v, 0, 64);
  else if (!strcmp(name, "cpus_per_task")) r->cpus_per_task = (int32_t)parse_int_in(ctx, name, v, 1, 4096);
  else if (!strcmp(name, "report_cpus")) r->report_cpus = (int32_t)parse_int_in(ctx, name, v, 1, 4096);
  else if (!strcmp(name, "throttle")) r->throttle = (int32_t)parse_int_in(ctx, name, v, 0, 100000);
  else if (!strcmp(name, "max_requeues")) r->max_requeues = (int32_t)parse_int_in(ctx, name, v, 0, 1000);
  else if (!strcmp(name, "signal_lead")) r->signal_lead_s = (int32_t)parse_int_in(ctx, name, v, 1, 65535);
  else if (!strcmp(name, "launcher")) {
    if (strcmp(v, "srun") && strcmp(v, "mpirun") && strcmp(v, "direct"))
      LOAD_FATAL(ctx, "srun (the cluster's MPI plugin), mpirun (Open MPI inside the allocation) or direct (one rank)",
                 "launcher '%s' is not one of: srun, mpirun, direct", v);
    copy_str(ctx, name, r->launcher, sizeof r->launcher, v);
  } else if (!strcmp(name, "mpi")) copy_str(ctx, name, r->mpi, sizeof r->mpi, v);
  else if (!strcmp(name, "partition")) copy_str(ctx, name, r->partition, sizeof r->partition, v);
  else if (!strcmp(name, "template")) copy_str(ctx, name, r->template_path, sizeof r->template_path, v);
  else if (!strcmp(name, "account")) copy_str(ctx, name, r->account, sizeof r->account, v);
  else if (!strcmp(name, "qos")) copy_str(ctx, name, r->qos, sizeof r->qos, v);
  else if (!strcmp(name, "constraint")) copy_str(ctx, name, r->constraint, sizeof r->constraint, v);
  else if (!strcmp(name, "extra")) copy_str(ctx, name, r->extra, sizeof r->extra, v);
  else
    LOAD_FATAL(ctx,
               "[slurm] keys: partition, time, nodes, ntasks_per_node, gpus_per_node, cpus_per_task, mem, throttle, "
               "max_requeues, signal_lead, launcher, mpi, template, account, qos, constraint, extra, report_time, "
               "report_cpus, report_mem",
               "unknown key '%s' in [slurm]", name);
}

static const char *const NOT_AXES[] = {"store", "folds", "requeue_signal"};

static void check_axis_key(SweepCtx *ctx, const char *section, const char *key) {
  for (size_t i = 0; i < sizeof NOT_AXES / sizeof NOT_AXES[0]; i++)
    if (!strcmp(key, NOT_AXES[i]))
      LOAD_FATAL(ctx, "every task of a sweep shares one store, one folds file and one requeue signal: set it in [train]",
                 "[%s] axis '%s' cannot vary", section, key);
  if (strlen(key) >= sizeof ctx->s->axes[0].keys[0]) LOAD_FATAL(ctx, SWEEP_HINT, "axis name '%s' too long", key);
  /* the key must be a train key: config_set names the nearest one if not */
  for (int a = 0; a < ctx->s->naxes; a++)
    for (int k = 0; k < ctx->s->axes[a].nkeys; k++)
      if (!strcmp(ctx->s->axes[a].keys[k], key))
        LOAD_FATAL(ctx, "each key is one axis: list all its values on one line", "axis '%s' already defined on line %d",
                   key, ctx->s->axes[a].line);
}

/* validates one value of axis key against the train config rules */
static void check_value(SweepCtx *ctx, const char *section, const char *key, const char *v) {
  char origin[1200], assign[200];
  snprintf(origin, sizeof origin, "sweep '%.1000s' line %d [%s] axis '%s'", ctx->s->path, ctx->lineno, section, key);
  snprintf(assign, sizeof assign, "%s=%s", key, v);
  TrainConfig scratch;
  config_defaults(&scratch);
  config_set(&scratch, assign, origin);
}

static void axis_add_value(SweepCtx *ctx, SweepAxis *a, int key, const char *v) {
  /* values are appended per key into a scratch layout of stride
   * SWEEP_MAX_ZIP_KEYS and packed when the whole file is read */
  if (strlen(v) >= sizeof a->values[0]) LOAD_FATAL(ctx, SWEEP_HINT, "value '%s' is too long", v);
  int32_t *count = ctx->count[a - ctx->s->axes];
  if (count[key] >= SWEEP_MAX_VALUES) LOAD_FATAL(ctx, SWEEP_HINT, "axis '%s' has over %d values", a->keys[key], SWEEP_MAX_VALUES);
  snprintf(a->values[count[key]++ * SWEEP_MAX_ZIP_KEYS + key], sizeof a->values[0], "%s", v);
}

static void axis_add_values(SweepCtx *ctx, const char *section, SweepAxis *a, int key, const char *text) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", text);
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(buf, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save), n++) {
    char *dots = strstr(tok, "..");
    if (!strcmp(tok, "all")) {
      if (strcmp(a->keys[key], "fold") || strcmp(section, "grid"))
        LOAD_FATAL(ctx, "only `fold = all` in [grid] is defined (= 0..folds_k-1)", "axis '%s': 'all' is not a value here",
                   a->keys[key]);
      ctx->fold_all_axis = (int)(a - ctx->s->axes);
      continue;
    }
    if (dots && dots != tok) {
      char *end;
      *dots = 0;
      long lo = strtol(tok, &end, 10);
      int bad = *end != 0;
      long hi = strtol(dots + 2, &end, 10);
      bad |= *end != 0 || !dots[2];
      if (bad || hi < lo || hi - lo >= SWEEP_MAX_VALUES)
        LOAD_FATAL(ctx, "a range is two integers, low..high (e.g. fold = 0..4)", "axis '%s': bad range '%s..%s'",
                   a->keys[key], tok, dots + 2);
      for (long x = lo; x <= hi; x++) {
        char v[32];
        snprintf(v, sizeof v, "%ld", x);
        check_value(ctx, section, a->keys[key], v);
        axis_add_value(ctx, a, key, v);
      }
      continue;
    }
    check_value(ctx, section, a->keys[key], tok);
    axis_add_value(ctx, a, key, tok);
  }
  if (!n) LOAD_FATAL(ctx, "list the values separated by spaces", "axis '%s' has no values", a->keys[key]);
}

static SweepAxis *axis_new(SweepCtx *ctx, const char *name) {
  Sweep *s = ctx->s;
  if (s->naxes == SWEEP_MAX_AXES) LOAD_FATAL(ctx, SWEEP_HINT, "more than %d axes", SWEEP_MAX_AXES);
  SweepAxis *a = &s->axes[s->naxes++];
  memset(a, 0, sizeof *a);
  snprintf(a->name, sizeof a->name, "%s", name);
  a->line = ctx->lineno;
  a->values = callocCheck((size_t)SWEEP_MAX_VALUES * SWEEP_MAX_ZIP_KEYS, sizeof a->values[0]); /* scratch */
  return a;
}

/* single-valued sections: a key once, on one line (libinih reports an
 * indented continuation line as the same key again) */
static void mark_seen(SweepCtx *ctx, const char *section, const char *name, int continued) {
  char key[64];
  snprintf(key, sizeof key, "%.20s.%.40s", section, name);
  int twice = continued;
  for (int i = 0; i < ctx->nseen; i++) twice |= !strcmp(ctx->seen[i], key);
  if (twice)
    LOAD_FATAL(ctx, "give each key once, on one line", "[%s] key '%s' is set twice (or continued on an indented line)",
               section, name);
  if (ctx->nseen < 128) snprintf(ctx->seen[ctx->nseen++], sizeof ctx->seen[0], "%s", key);
}

static int on_ini(void *user, const char *section, const char *name, const char *value) {
  SweepCtx *ctx = user;
  Sweep *s = ctx->s;
  /* libinih calls again with the same key for an indented continuation line */
  int continued = !strcmp(section, ctx->last_section) && !strcmp(name, ctx->last_key);
  int new_section = strcmp(section, ctx->last_section) != 0;
  snprintf(ctx->last_section, sizeof ctx->last_section, "%s", section);
  snprintf(ctx->last_key, sizeof ctx->last_key, "%s", name);
  if (!*section)
    LOAD_FATAL(ctx, "put every key under a [section]: [sweep], [train], [grid], [zip NAME], [slurm]",
               "key '%s' before the first [section]", name);
  if (!strcmp(section, "sweep") || !strcmp(section, "slurm")) {
    mark_seen(ctx, section, name, continued);
    if (section[1] == 'w') on_sweep_key(ctx, name, value);
    else on_slurm_key(ctx, name, value);
  } else if (!strcmp(section, "train")) {
    if (s->ntrain == SWEEP_MAX_TRAIN) LOAD_FATAL(ctx, SWEEP_HINT, "more than %d [train] keys", SWEEP_MAX_TRAIN);
    mark_seen(ctx, section, name, continued);
    char origin[1200];
    snprintf(origin, sizeof origin, "sweep '%.1000s' line %d [train]", s->path, ctx->lineno);
    TrainConfig scratch;
    config_defaults(&scratch);
    snprintf(s->train[s->ntrain], sizeof s->train[0], "%s=%s", name, value);
    config_set(&scratch, s->train[s->ntrain], origin); /* unknown key or bad value: fatal here */
    ctx->train_line[s->ntrain++] = ctx->lineno;
  } else if (!strcmp(section, "grid")) {
    SweepAxis *a;
    if (continued) a = &s->axes[s->naxes - 1];
    else {
      check_axis_key(ctx, section, name);
      a = axis_new(ctx, "");
      snprintf(a->keys[0], sizeof a->keys[0], "%s", name);
      a->nkeys = 1;
    }
    axis_add_values(ctx, section, a, 0, value);
  } else if (!strncmp(section, "zip", 3) && (!section[3] || strchr(" .:", section[3]))) {
    if (new_section) {
      const char *gname = section[3] ? section + 4 : "";
      axis_new(ctx, *gname ? gname : "zip");
      ctx->zip_axis = s->naxes - 1;
    }
    SweepAxis *a = &s->axes[ctx->zip_axis];
    if (!continued) {
      check_axis_key(ctx, section, name);
      if (a->nkeys == SWEEP_MAX_ZIP_KEYS) LOAD_FATAL(ctx, SWEEP_HINT, "more than %d keys in one zip", SWEEP_MAX_ZIP_KEYS);
      snprintf(a->keys[a->nkeys++], sizeof a->keys[0], "%s", name);
    }
    axis_add_values(ctx, section, a, a->nkeys - 1, value);
  } else {
    LOAD_FATAL(ctx, "sections: [sweep], [train], [grid], [zip NAME], [slurm]", "unknown section [%s]", section);
  }
  return 1;
}

/* pack the scratch layout of every axis; expand `fold = all`; zip lengths */
static void axes_finish(SweepCtx *ctx) {
  Sweep *s = ctx->s;
  for (int i = 0; i < s->naxes; i++) {
    SweepAxis *a = &s->axes[i];
    int32_t *count = ctx->count[i];
    if (i == ctx->fold_all_axis) {
      if (count[0])
        cs_fatal("write either `fold = all` or the fold numbers", "sweep '%s' line %d: 'all' mixed with fold values",
                 s->path, a->line);
      for (int f = 0; f < s->folds_k; f++) snprintf(a->values[count[0]++ * SWEEP_MAX_ZIP_KEYS], 64, "%d", f);
    }
    for (int k = 1; k < a->nkeys; k++)
      if (count[k] != count[0])
        cs_fatal("the keys of a [zip] section pair their values one to one: give each the same number",
                 "sweep '%s' [zip %s] (line %d): '%s' has %d values but '%s' has %d", s->path, a->name, a->line,
                 a->keys[k], count[k], a->keys[0], count[0]);
    a->nvalues = count[0];
    char (*packed)[64] = callocCheck((size_t)a->nvalues * a->nkeys, sizeof *packed);
    for (int v = 0; v < a->nvalues; v++)
      for (int k = 0; k < a->nkeys; k++) memcpy(packed[v * a->nkeys + k], a->values[v * SWEEP_MAX_ZIP_KEYS + k], 64);
    for (int v = 0; v < a->nvalues; v++)
      for (int w = 0; w < v; w++)
        if (!memcmp(packed[(size_t)v * a->nkeys], packed[(size_t)w * a->nkeys], (size_t)a->nkeys * 64))
          cs_fatal("each value once: two equal entries would be two tasks with the same run directory",
                   "sweep '%s' line %d: axis '%s' lists '%s' twice", s->path, a->line, a->keys[0],
                   packed[(size_t)v * a->nkeys]);
    free(a->values);
    a->values = packed;
  }
}

void sweep_load(Sweep *s, const char *path) {
  memset(s, 0, sizeof *s);
  snprintf(s->path, sizeof s->path, "%s", path);
  s->folds_k = 5;
  s->folds_seed = 42;
  slurm_resources_default(&s->slurm);
  FILE *f = fopen(path, "r");
  if (!f) cs_fatal("check the path; the example sweeps are in configs/ (ls configs/sweep_*.ini)",
                   "cannot open sweep file '%s': %s", path, strerror(errno));
  SweepCtx ctx = {.s = s, .f = f, .zip_axis = -1, .fold_all_axis = -1};
  int rc = ini_parse_stream(sweep_read_line, &ctx, on_ini, &ctx);
  fclose(f);
  if (rc > 0)
    cs_fatal("write `key = value` lines under [section] headers; comments start with # or ;",
             "sweep '%s' line %d: cannot parse", path, rc);
  if (rc < 0) cs_fatal(NULL, "sweep '%s': read error", path);

  /* the base config every task starts from: defaults < config < [train] */
  config_defaults(&s->base);
  if (s->config[0]) config_load(&s->base, s->config);
  for (int i = 0; i < s->ntrain; i++) {
    char origin[1200];
    snprintf(origin, sizeof origin, "sweep '%.1000s' line %d [train]", path, ctx.train_line[i]);
    config_set(&s->base, s->train[i], origin);
  }
  if (s->base.folds[0]) { /* a given manifest decides the number of folds */
    if (access(s->base.folds, R_OK) != 0)
      cs_fatal("make it with `cordseg folds STORE -o FILE`, or drop `folds` so the sweep makes the folds",
               "sweep '%s': folds file '%s' cannot be read: %s", path, s->base.folds, strerror(errno));
    Folds fo;
    folds_read(&fo, s->base.folds);
    if (ctx.folds_k_line && fo.k != s->folds_k)
      cs_fatal("drop folds_k, or drop the folds file so the sweep makes one with folds_k folds",
               "sweep '%s' line %d: folds_k = %d but folds file '%s' has %d folds", path, ctx.folds_k_line,
               s->folds_k, s->base.folds, fo.k);
    s->folds_k = fo.k;
    folds_free(&fo);
  }
  axes_finish(&ctx);
  for (int a = 0; a < s->naxes; a++)
    for (int k = 0; k < s->axes[a].nkeys; k++)
      for (int i = 0; i < s->ntrain; i++) {
        size_t n = strlen(s->axes[a].keys[k]);
        if (!strncmp(s->train[i], s->axes[a].keys[k], n) && s->train[i][n] == '=')
          cs_fatal("a key is either fixed in [train] or an axis, not both",
                   "sweep '%s' line %d: '%s' is set in [train] and is an axis (line %d)", path, ctx.train_line[i],
                   s->axes[a].keys[k], s->axes[a].line);
      }
  SlurmResources *r = &s->slurm;
  if (r->signal_lead_s >= r->time_s)
    cs_fatal("the requeue signal must come before the time limit: lower signal_lead or raise time",
             "sweep '%s': signal_lead %d s is not below time %lld s", path, r->signal_lead_s, (long long)r->time_s);
  if (r->nodes * r->ntasks_per_node > 1 && !strcmp(r->launcher, "direct"))
    cs_fatal("launcher = direct runs one rank: use srun or mpirun for several", "sweep '%s': %d ranks with launcher direct",
             path, r->nodes * r->ntasks_per_node);
  if (!s->name[0]) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *b = basename(tmp), *dot = strrchr(b, '.');
    if (dot) *dot = 0;
    snprintf(s->name, sizeof s->name, "%s", b);
  }
  if (!s->dir[0]) snprintf(s->dir, sizeof s->dir, "runs/sweep-%s", s->name);
}

void sweep_free(Sweep *s) {
  for (int a = 0; a < s->naxes; a++) free(s->axes[a].values), s->axes[a].values = NULL;
}

int64_t sweep_size(const Sweep *s) {
  int64_t n = 1;
  for (int a = 0; a < s->naxes; a++) {
    n *= s->axes[a].nvalues;
    if (n > SWEEP_MAX_TASKS) return n;
  }
  return n;
}

/* ----------------------------------------------------------- expansion -- */

static void append(char *dst, size_t cap, const char *sep, const char *text) {
  size_t l = strlen(dst);
  snprintf(dst + l, cap - l, "%s%s", l ? sep : "", text);
}

/* keys in the arm name: backbone, loss and input always (train's run.json
 * "arm"); fold and seed never (they are the run directory's name) */
static int arm_key(const char *key) {
  static const char *K[] = {"backbone", "loss", "input", "fold", "seed"};
  for (size_t i = 0; i < sizeof K / sizeof K[0]; i++)
    if (!strcmp(key, K[i])) return 0;
  return 1;
}

/* "vgg16-hdl-b0" as train writes it into run.json, then "-" + any other
 * axis as key+value ("-width_div2"; init and hdl_reduce by value alone) */
static void arm_name(const Sweep *s, const SweepTask *t, const int *digit, char *out, size_t n) {
  const TrainConfig *c = &t->cfg;
  config_arm_name(c, out, n);
  for (int a = 0; a < s->naxes; a++)
    for (int k = 0; k < s->axes[a].nkeys; k++) {
      const char *key = s->axes[a].keys[k], *v = s->axes[a].values[(size_t)digit[a] * s->axes[a].nkeys + k];
      if (!arm_key(key)) continue;
      char part[128];
      int by_value = !strcmp(key, "init") || !strcmp(key, "hdl_reduce");
      snprintf(part, sizeof part, "%s%s", by_value ? "" : key, v);
      for (char *p = part; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".+-_", *p)) *p = '_';
      append(out, n, "-", part);
    }
}

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

SweepTask *sweep_expand(const Sweep *s, int32_t *ntasks) {
  int64_t total = sweep_size(s);
  if (total > SWEEP_MAX_TASKS)
    cs_fatal("split the study into several sweep files", "sweep '%s': %lld tasks, more than %d", s->path,
             (long long)total, SWEEP_MAX_TASKS);
  SweepTask *t = callocCheck((size_t)total, sizeof *t);
  for (int64_t i = 0; i < total; i++) {
    SweepTask *tk = &t[i];
    tk->id = (int32_t)i;
    tk->cfg = s->base;
    int64_t rest = i;
    int digit[SWEEP_MAX_AXES];
    for (int a = s->naxes - 1; a >= 0; a--) digit[a] = (int)(rest % s->axes[a].nvalues), rest /= s->axes[a].nvalues;
    for (int a = 0; a < s->naxes; a++) {
      const SweepAxis *ax = &s->axes[a];
      for (int k = 0; k < ax->nkeys; k++) {
        const char *v = ax->values[(size_t)digit[a] * ax->nkeys + k];
        char assign[128], origin[1200];
        snprintf(assign, sizeof assign, "%s=%s", ax->keys[k], v);
        snprintf(origin, sizeof origin, "sweep '%.1000s' line %d", s->path, ax->line);
        config_set(&tk->cfg, assign, origin);
        append(tk->overrides, sizeof tk->overrides, " ", assign);
      }
    }
    arm_name(s, tk, digit, tk->arm, sizeof tk->arm);
    if (tk->cfg.fold >= s->folds_k)
      cs_fatal("folds are numbered 0..folds_k-1 (-1 = the 81/9/10 split); raise folds_k or drop the fold",
               "sweep '%s': task %d has fold %d but the sweep has folds_k = %d", s->path, tk->id, tk->cfg.fold,
               s->folds_k);
    if (tk->cfg.fold < 0)
      snprintf(tk->run_dir, sizeof tk->run_dir, "runs/%s/split-seed%llu", tk->arm, (unsigned long long)tk->cfg.seed);
    else
      snprintf(tk->run_dir, sizeof tk->run_dir, "runs/%s/fold%d-seed%llu", tk->arm, tk->cfg.fold,
               (unsigned long long)tk->cfg.seed);
  }
  char **dirs = mallocCheck((size_t)total * sizeof *dirs);
  for (int64_t i = 0; i < total; i++) dirs[i] = t[i].run_dir;
  qsort(dirs, (size_t)total, sizeof *dirs, cmp_str_ptr);
  for (int64_t i = 1; i < total; i++)
    if (!strcmp(dirs[i], dirs[i - 1]))
      cs_fatal("two axis values map to the same directory name; make them differ in letters or digits",
               "sweep '%s': two tasks would share the run directory '%s'", s->path, dirs[i]);
  free(dirs);
  *ntasks = (int32_t)total;
  return t;
}

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
  char tmp[4200], buf[8192];
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
  char p[4200];
  make_dir(dir); /* parents too */
  const char *sub[] = {"runs", "slurm", "slurm/logs"};
  for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) snprintf(p, sizeof p, "%s/%s", dir, sub[i]), make_dir(p);
  snprintf(p, sizeof p, "%s/sweep.ini", dir);
  copy_file(s->path, p);
}

static void config_rel(int32_t id, int32_t n, char *out, size_t cap) {
  /* SWEEP_MAX_TASKS = 10000: three or four digits */
  if (n > 1000) snprintf(out, cap, "shared/configs/task-%04d.ini", id % 10000);
  else snprintf(out, cap, "shared/configs/task-%03d.ini", id % 1000);
}

void sweep_prepare_shared(const Sweep *s, SweepTask *tasks, int32_t n, const char *dir) {
  char p[4200], store_abs[PATH_MAX], folds_path[4200];
  snprintf(p, sizeof p, "%s/shared", dir);
  make_dir(p);
  snprintf(p, sizeof p, "%s/shared/configs", dir);
  make_dir(p);
  if (!realpath(s->base.store, store_abs))
    cs_fatal("the store must stay where `plan` found it", "store '%s': %s", s->base.store, strerror(errno));
  snprintf(folds_path, sizeof folds_path, "%s/shared/folds.txt", dir);
  if (strlen(store_abs) >= sizeof tasks[0].cfg.store || strlen(folds_path) >= sizeof tasks[0].cfg.folds)
    cs_fatal("use shorter paths for the store and the sweep directory", "store '%s' or sweep dir '%s': path too long",
             store_abs, dir);
  H5Store h;
  h5store_open(&h, store_abs);
  uint64_t computed = 0, stored = 0;
  if (!h5store_verify(&h, &computed, &stored))
    cs_fatal("the store was modified or damaged after it was written; regenerate it",
             "store '%s': checksum mismatch (stored %016llx, content %016llx): nothing was queued", store_abs,
             (unsigned long long)stored, (unsigned long long)computed);
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
  snprintf(p, sizeof p, "%s/shared/data-check.txt", dir);
  textio_write(p, text);
  folds_free(&f);
  h5store_close(&h);
  for (int32_t i = 0; i < n; i++) {
    TrainConfig *c = &tasks[i].cfg;
    memcpy(c->store, store_abs, strlen(store_abs) + 1);
    memcpy(c->folds, folds_path, strlen(folds_path) + 1);
    char rel[64];
    config_rel(i, n, rel, sizeof rel);
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    char *cfg = config_format(c);
    textio_write(p, cfg);
    free(cfg);
    set_mode(p, 0444);
  }
  /* read-only from here on: tasks read shared/, never write it */
  snprintf(p, sizeof p, "%s/shared/folds.txt", dir), set_mode(p, 0444);
  snprintf(p, sizeof p, "%s/shared/data-check.txt", dir), set_mode(p, 0444);
  snprintf(p, sizeof p, "%s/shared/configs", dir), set_mode(p, 0555);
  snprintf(p, sizeof p, "%s/shared", dir), set_mode(p, 0555);
}

/* ------------------------------------------------------- bookkeeping -- */

void sweep_write_plan(const Sweep *s, const SweepTask *tasks, int32_t n, const char *dir) {
  char path[4200], tmp[4200];
  snprintf(path, sizeof path, "%s/plan.tsv", dir);
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
  char path[4200], line[4096];
  snprintf(path, sizeof path, "%s/plan.tsv", dir);
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
  char path[4200], stamp[64];
  snprintf(path, sizeof path, "%s/jobs.tsv", dir);
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
  char path[4200], line[8192];
  snprintf(path, sizeof path, "%s/jobs.tsv", dir);
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
  char p[4200], line[1024];
  snprintf(p, sizeof p, "%s/DONE", run_dir);
  st->trained = access(p, F_OK) == 0;
  snprintf(p, sizeof p, "%s/eval/summary.json", run_dir);
  st->evaluated = access(p, F_OK) == 0;
  snprintf(p, sizeof p, "%s/ckpt/last.h5", run_dir);
  st->checkpoint = access(p, F_OK) == 0;
  snprintf(p, sizeof p, "%s/attempts.tsv", run_dir);
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
