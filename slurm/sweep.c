/* slurm/sweep.c: the sweep file: parsing (libinih), the grid's expansion
 * into tasks, their arm names and run directories. The data checks and the
 * sweep directory are slurm/sweep_dir.c. See slurm/sweep.h for the formats. */
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
  int indented; /* the line just read starts with a blank: libinih's continuation of the key above */
} SweepCtx;

#define LOAD_FATAL(ctx, hint, fmt, ...) \
  cs_fatal(hint, "sweep '%s' line %d: " fmt, (ctx)->s->path, (ctx)->lineno, __VA_ARGS__)

/* libinih's reader: counts lines, notes indentation, and refuses a line longer than libinih's buffer (it would
 * read the rest as the next line and report that one) */
static char *sweep_read_line(char *str, int num, void *stream) {
  SweepCtx *ctx = stream;
  char *r = fgets(str, num, ctx->f);
  if (!r) return r;
  ctx->lineno++;
  ctx->indented = str[0] == ' ' || str[0] == '\t';
  const size_t n = strlen(str);
  if (n + 1 == (size_t)num && str[n - 1] != '\n' && !feof(ctx->f))
    LOAD_FATAL(ctx, "split the values over indented continuation lines", "the line is longer than %d characters",
               num - 2);
  return r;
}

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
  /* libinih calls again with the same key for an indented continuation line; the same key on a line of its
   * own is the key given twice */
  int continued = ctx->indented && !strcmp(section, ctx->last_section) && !strcmp(name, ctx->last_key);
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
