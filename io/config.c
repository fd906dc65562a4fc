/* io/config.c: TrainConfig keys table, INI parsing (libinih), overrides,
 * canonical writing and hashing. See io/config.h. */
#define _POSIX_C_SOURCE 200809L
#include "io/config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/adam.h"
#include "core/common.h"
#include "io/hash.h"
#include "io/textio.h"

typedef enum { KEY_STR, KEY_INT, KEY_FLOAT, KEY_BOOL, KEY_ENUM, KEY_U64 } KeyType;

typedef struct {
  const char *name;
  KeyType type;
  size_t off;
  double lo, hi;          /* numeric range */
  const CsEnum *choices;  /* KEY_ENUM: its spellings, owned by the enum's module (index = value) */
  const char *help;
} Key;

#define O(f) offsetof(TrainConfig, f)
static const char *const HEAD_INIT_NAMES[] = {"auto", "prior", "default", "uniform"};
const CsEnum HEAD_INIT_ENUM = {HEAD_INIT_NAMES, 4};
static const char *const SELECT_BY_NAMES[] = {"dice", "fa_error"};
const CsEnum SELECT_BY_ENUM = {SELECT_BY_NAMES, 2};
static const Key KEYS[] = {
    {"store", KEY_STR, O(store), 0, 0, NULL, "HDF5 slice store (cordseg phantom / import)"},
    {"folds", KEY_STR, O(folds), 0, 0, NULL, "folds manifest (cordseg folds); train records both paths made absolute"},
    {"fold", KEY_INT, O(fold), -1, 99, NULL, "cross-validation fold, -1 = the 81/9/10 split"},
    {"input", KEY_ENUM, O(input), 0, 0, &INPUT_KIND_ENUM, "network input: b0, fa or both channels"},
    {"backbone", KEY_ENUM, O(backbone), 0, 0, &UNET_BACKBONE_ENUM, "UNet encoder"},
    {"width_div", KEY_INT, O(width_div), 1, 4, NULL, "divide every layer width: 1 (the paper), 2 or 4"},
    {"conv_algo", KEY_ENUM, O(conv_algo), 0, 0, &UNET_CONV_ALGO_ENUM,
     "auto = Winograd on 3x3 layers of >= 16x16 (~2x faster on AVX-512 CPUs), direct = the reference kernels"},
    {"device", KEY_ENUM, O(device), 0, 0, &BACKEND_KIND_ENUM,
     "compute backend: cpu, cuda (one GPU per rank), auto = cuda when built with it and a GPU is visible; not hashed"},
    {"precision", KEY_ENUM, O(precision), 0, 0, &BACKEND_PRECISION_ENUM,
     "convolution precision: fp32 (CUDA may use TF32), bf16 (CUDA: bf16 operands, fp32 master weights/loss/BN)"},
    {"deterministic", KEY_BOOL, O(deterministic), 0, 1, NULL,
     "CUDA: deterministic cuDNN algorithms only (the CPU backend always is, for a fixed thread count)"},
    {"cudnn_benchmark", KEY_BOOL, O(cudnn_benchmark), 0, 1, NULL,
     "CUDA: time cuDNN's candidate algorithms once per shape at start-up (as PyTorch's cudnn.benchmark; with "
     "deterministic only deterministic ones); the pick may differ between runs, so set false for bit-identical "
     "reruns and resumes on CUDA; not hashed"},
    {"classes", KEY_INT, O(classes), 2, 255, NULL, "output classes incl. background (9 = 8 ROIs + bg)"},
    {"init", KEY_ENUM, O(init), 0, 0, &UNET_INIT_ENUM, "weight initialisation"},
    {"loss", KEY_ENUM, O(loss), 0, 0, &LOSS_KIND_ENUM, "hybrid = focal + dice, hdl = heatmap distance loss"},
    {"hdl_sigma", KEY_FLOAT, O(hdl_sigma), 0.05, 100, NULL,
     "HDL Gaussian sigma in network-input pixels (2 = one native DTI voxel on the paper's 0.625 mm grid)"},
    {"hdl_reduce", KEY_ENUM, O(hdl_reduce), 0, 0, &HDL_REDUCE_ENUM, "HDL reduction"},
    {"head_init", KEY_ENUM, O(head_init), 0, 0, &HEAD_INIT_ENUM,
     "head bias: prior = data prior (logit of mean HDL target for hdl, log class frequency for softmax), auto = prior, default = as initialised, uniform = every bias 0"},
    {"head_weight_std", KEY_FLOAT, O(head_weight_std), 0, 10, NULL,
     "with the prior head: the head's seeded weights rescaled to this std (as RetinaNet), 0 = as initialised"},
    {"grad_clip", KEY_FLOAT, O(grad_clip), -1, 1e12, NULL,
     "clip the rank-averaged gradient to this global L2 norm; 0 = off, -1 = auto (1)"},
    {"collapse_stop", KEY_BOOL, O(collapse_stop), 0, 1, NULL,
     "stop (DONE: collapsed) after an epoch whose every step had a gradient of exactly 0, or whose validation "
     "logits are one constant per class: collapses that cannot learn again; not hashed"},
    {"revive_dead", KEY_BOOL, O(revive_dead), 0, 1, NULL,
     "HDL: re-initialise the head row of a class whose validation Dice is below 0.02 at epochs W+1, W+4, ... up to "
     "half the run (W = warm-up; a saturated sigmoid never rises); 0 = off, as runs before 2026-12-07; softmax "
     "losses: no effect"},
    {"epochs", KEY_INT, O(epochs), 1, 100000, NULL, "training epochs"},
    {"batch", KEY_INT, O(batch), 1, 65536, NULL, "global batch size (split evenly over the ranks)"},
    {"lr_max", KEY_FLOAT, O(lr_max), 1e-12, 10, NULL, "peak learning rate (cosine schedule)"},
    {"lr_min", KEY_FLOAT, O(lr_min), 0, 10, NULL, "final learning rate"},
    {"warmup_epochs", KEY_INT, O(warmup_epochs), -1, 100000, NULL, "quadratic warm-up epochs, -1 = min(max(0.05T,1),3)"},
    {"no_aug_epochs", KEY_INT, O(no_aug_epochs), -1, 100000, NULL, "final epochs at lr_min, -1 = min(max(0.05T,1),15)"},
    {"steps_per_epoch", KEY_INT, O(steps_per_epoch), 0, 100000000, NULL, "0 = floor(train slices / batch)"},
    {"augment", KEY_BOOL, O(augment), 0, 1, NULL, "training augmentation (flip with L/R swap, scale, shift, brightness)"},
    {"seed", KEY_U64, O(seed), 0, 0, NULL, "seed of weights, shuffling and augmentation"},
    {"val_every", KEY_INT, O(val_every), 1, 100000, NULL, "epochs between validations"},
    {"patience", KEY_INT, O(patience), 0, 100000, NULL,
     "early stop after N validations without a better selection measure (select_by), 0 = off"},
    {"select_by", KEY_ENUM, O(select_by), 0, 0, &SELECT_BY_ENUM,
     "best.h5 = the epoch of the highest mean validation Dice (dice) or the lowest mean ROI FA error (fa_error, eq. "
     "10); hashed only when not dice"},
    {"sync_bn", KEY_BOOL, O(sync_bn), 0, 1, NULL, "synchronized BatchNorm: global-batch statistics across ranks (ResNet)"},
    {"nccl_timeout_s", KEY_FLOAT, O(nccl_timeout_s), 0, 1e6, NULL,
     "CUDA, several ranks: a rank that waits longer than this for an NCCL all-reduce (a lost or stuck peer) stops "
     "with its rank, host and GPU named; 0 = wait for ever; not hashed"},
    {"ckpt_every_epochs", KEY_INT, O(ckpt_every_epochs), 1, 100000, NULL, "checkpoint every N epochs"},
    {"ckpt_every_minutes", KEY_FLOAT, O(ckpt_every_minutes), 0, 1e6, NULL, "also checkpoint every T minutes, 0 = off"},
    {"ckpt_keep", KEY_INT, O(ckpt_keep), 0, 100000, NULL, "numbered epoch checkpoints kept besides best and last"},
    {"requeue_signal", KEY_STR, O(requeue_signal), 0, 0, NULL,
     "signal that means: checkpoint, exit 75 for requeue (SIGUSR2; NCCL may use SIGUSR1)"},
};
#undef O
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))
_Static_assert(NKEYS <= 128, "LoadCtx.line_of holds 128 keys");

void config_defaults(TrainConfig *c) {
  memset(c, 0, sizeof(*c));
  c->fold = 0;
  c->input = INPUT_B0;
  c->backbone = UNET_BACKBONE_VGG16;
  c->width_div = 1;
  c->device = BACKEND_KIND_AUTO;
  c->precision = BACKEND_PRECISION_FP32;
  c->deterministic = 1;
  c->cudnn_benchmark = 1;
  c->classes = 9;
  c->init = UNET_INIT_NORMAL;
  c->loss = LOSS_KIND_HDL;
  c->hdl_sigma = CONFIG_HDL_SIGMA_DEFAULT;
  c->hdl_reduce = HDL_REDUCE_NORM;
  c->head_init = HEAD_INIT_AUTO;
  c->head_weight_std = 0.01;
  c->grad_clip = -1;
  c->collapse_stop = 1;
  c->revive_dead = 1;
  c->epochs = 500;
  c->batch = 16;
  c->lr_max = 1e-4;
  c->lr_min = 1e-6;
  c->warmup_epochs = -1;
  c->no_aug_epochs = -1;
  c->augment = 1;
  c->seed = 11;
  c->val_every = 1;
  c->nccl_timeout_s = 600;
  c->ckpt_every_epochs = 5;
  c->ckpt_every_minutes = 30;
  c->ckpt_keep = 2;
  snprintf(c->requeue_signal, sizeof c->requeue_signal, "SIGUSR2");
}

void config_defaults_stored(TrainConfig *c) {
  config_defaults(c);
  c->revive_dead = 0;
}

static const Key *key_find(const char *name) {
  for (size_t i = 0; i < NKEYS; i++)
    if (!strcmp(KEYS[i].name, name)) return &KEYS[i];
  return NULL;
}

static int parse_signal(const char *v) {
  static const struct { const char *n; int s; } SIGS[] = {
      {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT}, {"SIGHUP", SIGHUP}};
  for (size_t i = 0; i < sizeof SIGS / sizeof SIGS[0]; i++)
    if (!strcmp(v, SIGS[i].n) || !strcmp(v, SIGS[i].n + 3)) return SIGS[i].s;
  return -1;
}

/* sets key to the text v; returns NULL or an error message (static buffer) */
static const char *key_assign(TrainConfig *c, const Key *k, const char *v) {
  static char err[512];
  char *p = (char *)c + k->off, *end = NULL;
  errno = 0;
  switch (k->type) {
    case KEY_STR: {
      size_t cap = !strcmp(k->name, "requeue_signal") ? sizeof c->requeue_signal : sizeof c->store;
      if (strlen(v) >= cap) return snprintf(err, sizeof err, "value is longer than %zu characters", cap - 1), err;
      if (!strcmp(k->name, "requeue_signal")) {
        if (parse_signal(v) < 0) return "not a signal name: use SIGUSR2, SIGUSR1, SIGTERM, SIGINT or SIGHUP";
        if (strncmp(v, "SIG", 3)) return snprintf(err, sizeof err, "write the full name SIG%s", v), err;
      }
      memcpy(p, v, strlen(v) + 1);
      return NULL;
    }
    case KEY_INT: case KEY_U64: {
      long long x = strtoll(v, &end, 10);
      if (errno || end == v || *end) return "not an integer";
      if (k->type == KEY_U64) {
        if (x < 0) return "must be >= 0";
        *(uint64_t *)p = (uint64_t)x;
        return NULL;
      }
      if (x < k->lo || x > k->hi)
        return snprintf(err, sizeof err, "%lld is outside [%g, %g]", x, k->lo, k->hi), err;
      *(int32_t *)p = (int32_t)x;
      return NULL;
    }
    case KEY_FLOAT: {
      double x = strtod(v, &end);
      if (errno || end == v || *end || !isfinite(x)) return "not a finite number";
      if (x < k->lo || x > k->hi) return snprintf(err, sizeof err, "%g is outside [%g, %g]", x, k->lo, k->hi), err;
      *(double *)p = x;
      return NULL;
    }
    case KEY_BOOL: {
      int b = !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on");
      int f = !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off");
      if (!b && !f) return "not a boolean: use true or false";
      *(int32_t *)p = b;
      return NULL;
    }
    case KEY_ENUM: {
      int idx = cs_enum_parse(k->choices, v);
      if (idx < 0) {
        char alts[128];
        cs_enum_list(k->choices, alts, sizeof alts);
        for (char *q = alts; *q; q++)
          if (*q == '|') *q = ',';
        return snprintf(err, sizeof err, "'%s' is not one of: %s", v, alts), err;
      }
      *(int32_t *)p = idx;
      return NULL;
    }
  }
  return "internal: unknown key type";
}

typedef struct {
  TrainConfig *c;
  const char *path;
  FILE *f;
  int lineno; /* Debian's libinih is built without INI_HANDLER_LINENO: count lines in the reader */
  int line_of[128]; /* the line each key was set on, by its index in KEYS (0 = not yet) */
} LoadCtx;

static char *ini_read_line(char *str, int num, void *stream) {
  LoadCtx *ctx = stream;
  char *r = fgets(str, num, ctx->f);
  if (r) {
    ctx->lineno++;
    /* libinih would take the rest of a long line as the next line */
    if (!strchr(r, '\n') && !feof(ctx->f))
      cs_fatal("shorten the line (long paths: use a symlink or a relative path)",
               "config '%s' line %d is longer than %d characters", ctx->path, ctx->lineno, num - 2);
  }
  return r;
}

static const char *nearest_key(const char *name) {
  /* suggest a key sharing the longest prefix (typo help) */
  const char *best = NULL;
  size_t bestn = 2;
  for (size_t i = 0; i < NKEYS; i++) {
    size_t n = 0;
    while (name[n] && name[n] == KEYS[i].name[n]) n++;
    if (n > bestn) bestn = n, best = KEYS[i].name;
  }
  return best;
}

static int on_ini(void *user, const char *section, const char *name, const char *value) {
  LoadCtx *ctx = user;
  int lineno = ctx->lineno;
  if (section && *section)
    cs_fatal("the config format is flat `key = value` lines; remove the [section] header",
             "config '%s' line %d: section [%s] is not part of the format", ctx->path, lineno, section);
  const Key *k = key_find(name);
  if (!k) {
    const char *near = nearest_key(name);
    cs_fatal("`cordseg train --help-keys` lists every key", "config '%s' line %d: unknown key '%s'%s%s%s", ctx->path,
             lineno, name, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
  }
  const size_t ki = (size_t)(k - KEYS);
  if (ki < sizeof ctx->line_of / sizeof ctx->line_of[0]) {
    if (ctx->line_of[ki])
      cs_fatal("give each key once (a later line would silently win); use `--set key=value` to override",
               "config '%s' line %d: key '%s' is already set on line %d", ctx->path, lineno, name, ctx->line_of[ki]);
    ctx->line_of[ki] = lineno;
  }
  const char *bad = key_assign(ctx->c, k, value);
  if (bad)
    cs_fatal("`cordseg train --help-keys` lists every key with its range", "config '%s' line %d: key '%s' = '%s': %s",
             ctx->path, lineno, name, value, bad);
  return 1;
}

void config_load(TrainConfig *c, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    cs_fatal("check the path; the paper arms are in configs/ (ls configs)", "cannot open config '%s': %s", path,
             strerror(errno));
  LoadCtx ctx = {c, path, f, 0, {0}};
  int rc = ini_parse_stream(ini_read_line, &ctx, on_ini, &ctx);
  fclose(f);
  if (rc > 0)
    cs_fatal("write one `key = value` per line; comments start with # or ;", "config '%s' line %d: cannot parse", path,
             rc);
  if (rc < 0) cs_fatal(NULL, "config '%s': read error", path);
}

void config_load_text(TrainConfig *c, const char *text, const char *origin) {
  LoadCtx ctx = {c, origin, NULL, 0, {0}};
  FILE *f = fmemopen((void *)text, strlen(text), "r");
  CS_CHECK(f, NULL, "out of memory parsing %s", origin);
  ctx.f = f;
  int rc = ini_parse_stream(ini_read_line, &ctx, on_ini, &ctx);
  fclose(f);
  if (rc) cs_fatal(NULL, "%s line %d: cannot parse", origin, rc);
}

void config_set(TrainConfig *c, const char *assignment, const char *origin) {
  const char *eq = strchr(assignment, '=');
  if (!eq)
    cs_fatal("write it as key=value, e.g. --set loss=hdl", "%s '%s': no '=' in the override", origin, assignment);
  char name[64];
  size_t n = (size_t)(eq - assignment);
  while (n && assignment[n - 1] == ' ') n--;
  if (n >= sizeof name) n = sizeof name - 1;
  memcpy(name, assignment, n);
  name[n] = 0;
  const char *v = eq + 1;
  while (*v == ' ') v++;
  const Key *k = key_find(name);
  if (!k) {
    const char *near = nearest_key(name);
    cs_fatal("`cordseg train --help-keys` lists every key", "%s: unknown key '%s'%s%s%s", origin, name,
             near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
  }
  const char *bad = key_assign(c, k, v);
  if (bad) cs_fatal("`cordseg train --help-keys` lists every key with its range", "%s: key '%s' = '%s': %s", origin,
                    name, v, bad);
}

static void key_value(const TrainConfig *c, const Key *k, char *buf, size_t n) {
  const char *p = (const char *)c + k->off;
  switch (k->type) {
    case KEY_STR: snprintf(buf, n, "%s", p); break;
    case KEY_INT: snprintf(buf, n, "%d", *(const int32_t *)p); break;
    case KEY_U64: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case KEY_FLOAT: snprintf(buf, n, "%.17g", *(const double *)p); break;
    case KEY_BOOL: snprintf(buf, n, "%s", *(const int32_t *)p ? "true" : "false"); break;
    case KEY_ENUM: snprintf(buf, n, "%s", cs_enum_name(k->choices, *(const int32_t *)p)); break;
  }
}

/* device is where a run computes, not what it computes: a run may resume on
 * another backend (checkpoints are backend-neutral), so the hash leaves it out */
/* keys that do not change what a run computes, so not in the config hash: a
 * run resumed on another device, or with the collapse stop switched, is the
 * same run */
static int key_unhashed(const char *name) {
  return !strcmp(name, "device") || !strcmp(name, "collapse_stop") || !strcmp(name, "nccl_timeout_s") ||
         !strcmp(name, "cudnn_benchmark");
}

/* keys added after runs existed, whose default reproduces what those runs
 * did: hashed only when set away from that default, so the config and arm
 * hashes of earlier runs (their checkpoints, run.json and report's arms) stay
 * valid. value: the key's canonical value */
static int key_hashed_value(const TrainConfig *c, const char *name, const char *value) {
  if (!strcmp(name, "select_by")) return strcmp(value, "dice") != 0;
  /* revive_dead acts on sigmoid (HDL) heads only: a softmax run computes the same with it on or off */
  if (!strcmp(name, "revive_dead")) return config_revive_dead(c);
  return 1;
}

static void write_keys(const TrainConfig *c, FILE *f, int for_hash) {
  char v[1100];
  for (size_t i = 0; i < NKEYS; i++) {
    if (for_hash && key_unhashed(KEYS[i].name)) continue;
    key_value(c, &KEYS[i], v, sizeof v);
    if (for_hash && !key_hashed_value(c, KEYS[i].name, v)) continue;
    fprintf(f, "%s = %s\n", KEYS[i].name, v);
  }
}

void config_write(const TrainConfig *c, FILE *f) {
  fprintf(f, "# cordseg resolved config (every key; see `cordseg train --help-keys`)\n");
  write_keys(c, f, 0);
}

/* the keys as text (with the header comment line when header), malloc'ed */
static char *keys_text(const TrainConfig *c, int header, size_t *len) {
  TextBuf t;
  FILE *f = textbuf_open(&t);
  if (header) config_write(c, f);
  else write_keys(c, f, 1);
  char *buf = textbuf_take(&t);
  if (len) *len = strlen(buf);
  return buf;
}

char *config_format(const TrainConfig *c) { return keys_text(c, 1, NULL); }

void config_hash(const TrainConfig *c, char out[32]) {
  size_t n = 0;
  char *buf = keys_text(c, 0, &n);
  snprintf(out, 32, "fnv1a64:%016llx", (unsigned long long)hash_fnv1a(HASH_FNV_INIT, buf, n));
  free(buf);
}

int config_signal_number(const TrainConfig *c) { return parse_signal(c->requeue_signal); }

void config_unet(const TrainConfig *c, UnetConfig *u) {
  *u = (UnetConfig){c->backbone, input_channels(c->input), c->classes, c->width_div, c->conv_algo};
}

int config_revive_dead(const TrainConfig *c) { return c->revive_dead && c->loss == LOSS_KIND_HDL; }

int config_revive_epoch(const TrainConfig *c, int64_t epoch) {
  if (!config_revive_dead(c) || epoch < 1 || epoch > c->epochs / 2 || epoch % c->val_every) return 0;
  double W, Z;
  lr_schedule_phases(c->epochs, c->warmup_epochs, c->no_aug_epochs, &W, &Z);
  const int64_t v = c->val_every, first = ((int64_t)ceil(W) + 1 + v - 1) / v; /* the first validation after W */
  return epoch / v >= first && (epoch / v - first) % CONFIG_REVIVE_EVERY == 0;
}

int config_head_prior(const TrainConfig *c) {
  return c->head_init != HEAD_INIT_DEFAULT; /* auto = prior for every loss (issue 30: a softmax head left at
                                              * Kaiming loses a rare ROI for a whole run) */
}

double config_grad_clip(const TrainConfig *c) {
  if (c->grad_clip >= 0) return c->grad_clip;
  return CONFIG_GRAD_CLIP_AUTO; /* every loss (the softmax ones since 2026-12-07: issue 30, hybrid on FA) */
}

void config_loss(const TrainConfig *c, LossConfig *l) {
  loss_config_default(l, c->loss);
  l->hdl_sigma = (float)c->hdl_sigma;
  l->hdl_reduce = c->hdl_reduce;
}

const char *config_check_values(const TrainConfig *c, char *msg, size_t n, const char **hint) {
  if (c->lr_min > c->lr_max) {
    *hint = "set lr_min <= lr_max (the cosine schedule decays from lr_max to lr_min)";
    snprintf(msg, n, "config: lr_min = %g is greater than lr_max = %g", c->lr_min, c->lr_max);
    return msg;
  }
  /* a phase set by hand must fit: with the other at its formula (core/adam.h) when that one is -1 */
  double W, Z;
  lr_schedule_phases(c->epochs, c->warmup_epochs, c->no_aug_epochs, &W, &Z);
  if ((c->warmup_epochs >= 0 || c->no_aug_epochs >= 0) && W + Z > c->epochs) {
    *hint = "lower warmup_epochs or no_aug_epochs (or -1 for the model.md formulas), or raise epochs";
    snprintf(msg, n, "config: warmup_epochs %g%s + no_aug_epochs %g%s exceed epochs %d", W,
             c->warmup_epochs < 0 ? " (its formula)" : "", Z, c->no_aug_epochs < 0 ? " (its formula)" : "", c->epochs);
    return msg;
  }
  return NULL;
}

const char *config_check_fit(const TrainConfig *c, const H5Store *h, const Folds *f, char *msg, size_t n,
                             const char **hint) {
  if (config_check_values(c, msg, n, hint)) return msg;
  folds_check_store(f, c->folds, h);
  const int want_b0 = c->input != INPUT_FA, want_fa = c->input != INPUT_B0;
  if ((want_b0 && !h->has_b0) || (want_fa && !h->has_fa)) {
    *hint = h->has_b0 ? "train with input = b0 (the map this store has), or import the subjects' FA maps into a new store"
                      : "train with input = fa (the map this store has), or import the subjects' B0 maps into a new store";
    snprintf(msg, n, "input = %s needs the %s map, and store '%s' holds %s maps only", input_kind_name(c->input),
             want_b0 && !h->has_b0 ? "B0" : "FA", h->path, h5store_maps_name(h->has_b0, h->has_fa));
    return msg;
  }
  if (c->select_by == SELECT_BY_FA_ERROR && !h->has_fa) {
    *hint = "select by dice (select_by = dice), or import the subjects' FA maps into a new store";
    snprintf(msg, n, "select_by = fa_error needs the FA map, and store '%s' holds %s maps only", h->path,
             h5store_maps_name(h->has_b0, h->has_fa));
    return msg;
  }
  UnetConfig u;
  config_unet(c, &u);
  const char *bad = unet_config_check(&u, h->h, h->w);
  if (bad) {
    *hint = "change the model keys (backbone, width_div, classes) or use a store of another slice size";
    snprintf(msg, n, "%s (store slices are %dx%d)", bad, h->h, h->w);
    return msg;
  }
  int32_t *idx = NULL;
  int32_t ntr = folds_indices(f, c->fold, FOLD_TRAIN, h->meta, h->n, &idx);
  free(idx);
  if (ntr < c->batch) {
    *hint = "lower `batch`, or use a store with more subjects";
    snprintf(msg, n, "fold %d has %d training slices, fewer than one batch of %d (the global batch)", c->fold, ntr,
             c->batch);
    return msg;
  }
  if (c->steps_per_epoch > ntr / c->batch) {
    *hint = "lower steps_per_epoch (0 = one pass over the training slices)";
    snprintf(msg, n, "steps_per_epoch %d exceeds the %d full batches of fold %d", c->steps_per_epoch, ntr / c->batch,
             c->fold);
    return msg;
  }
  return NULL;
}

void config_arm_name(const TrainConfig *c, char *out, size_t n) {
  char input[16];
  size_t o = 0;
  for (const char *p = input_kind_name(c->input); *p && o + 1 < sizeof input; p++)
    if (*p != '+') input[o++] = *p; /* file-safe: b0+fa -> b0fa */
  input[o] = 0;
  snprintf(out, n, "%s-%s-%s", unet_backbone_name(c->backbone), loss_kind_name(c->loss), input);
}

int config_key_arm(const char *name) {
  return !key_unhashed(name) && strcmp(name, "fold") && strcmp(name, "seed") && strcmp(name, "store") &&
         strcmp(name, "folds") && key_find(name);
}

int config_arm_key_differs(const TrainConfig *a, const TrainConfig *b, size_t i) {
  if (i >= NKEYS || !config_key_arm(KEYS[i].name)) return 0;
  char va[1100], vb[1100];
  key_value(a, &KEYS[i], va, sizeof va), key_value(b, &KEYS[i], vb, sizeof vb);
  return strcmp(va, vb) && (key_hashed_value(a, KEYS[i].name, va) || key_hashed_value(b, KEYS[i].name, vb));
}

void config_arm_hash(const TrainConfig *c, char out[32]) {
  TextBuf t;
  FILE *f = textbuf_open(&t);
  char v[1100];
  for (size_t i = 0; i < NKEYS; i++)
    if (config_key_arm(KEYS[i].name)) {
      key_value(c, &KEYS[i], v, sizeof v);
      if (key_hashed_value(c, KEYS[i].name, v)) fprintf(f, "%s = %s\n", KEYS[i].name, v);
    }
  char *buf = textbuf_take(&t);
  snprintf(out, 32, "fnv1a64:%016llx", (unsigned long long)hash_fnv1a(HASH_FNV_INIT, buf, strlen(buf)));
  free(buf);
}

const char *config_key_at(const TrainConfig *c, size_t i, char *value, size_t n) {
  if (i >= NKEYS) return NULL;
  key_value(c, &KEYS[i], value, n);
  return KEYS[i].name;
}

void config_keys_help(FILE *f) {
  TrainConfig d;
  config_defaults(&d);
  char v[1100];
  for (size_t i = 0; i < NKEYS; i++) {
    key_value(&d, &KEYS[i], v, sizeof v);
    fprintf(f, "  %-19s %-10s %s\n", KEYS[i].name, *v ? v : "(none)", KEYS[i].help);
  }
}

/* names the keys whose values differ between two canonical config texts */
void config_diff(const char *a, const char *b, char *out, size_t n) {
  out[0] = 0;
  for (const char *p = a; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (*p != '#') {
      char line[1200];
      snprintf(line, sizeof line, "%.*s", (int)len, p);
      const char *q = strstr(b, line);
      if (!q || (q != b && q[-1] != '\n') || (q[len] != '\n' && q[len])) {
        size_t o = strlen(out);
        const char *eq = strchr(line, ' ');
        snprintf(out + o, n - o, "%s%.*s", o ? ", " : "", eq ? (int)(eq - line) : (int)len, line);
      }
    }
    p = nl ? nl + 1 : NULL;
  }
}
