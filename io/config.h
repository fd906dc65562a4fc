/* io/config.h: the experiment configuration of `cordseg train` (and of every
 * command that reads a run back: evaluate, report, sweep).
 *
 * Format: a flat INI file read with Debian's libinih: `key = value` lines,
 * `#` or `;` comments, no sections (a [section] header is an error, so a
 * key can never be silently ignored). The same keys can be overridden on
 * the command line (`--set key=value`). Unknown keys, values of the wrong
 * type or out of range are fatal errors naming the file, line and key.
 * The canonical form (config_write) lists every key in table order with its
 * resolved value; config_hash is the FNV-1a hash of that text.
 * defines: TrainConfig, config_defaults, config_load, config_load_text, config_set,
 *          config_write, config_format, config_hash, config_diff, config_unet, config_loss,
 *          config_check_fit, config_arm_name, config_arm_hash, config_key_arm, config_key_at,
 *          config_keys_help */
#ifndef CORDSEG_IO_CONFIG_H
#define CORDSEG_IO_CONFIG_H
#include <stdint.h>
#include <stdio.h>

#include "core/backend.h"
#include "core/loss.h"
#include "core/unet.h"
#include "io/folds.h"
#include "io/h5store.h"
#include "io/loader.h"

/* head_init: prior = final.bias[c] at the data prior (sigmoid: logit of the
 * mean HDL target G_c over the training slices; softmax: log of the class's
 * pixel frequency), default = the init scheme's bias, auto = prior for every
 * loss (HDL: docs/training.md "Why HDL collapsed"; softmax since 2026-12-07:
 * issue 30, a rare ROI left at zero pixels for a whole run). */
typedef enum { HEAD_INIT_AUTO = 0, HEAD_INIT_PRIOR = 1, HEAD_INIT_DEFAULT = 2, HEAD_INIT_UNIFORM = 3 } HeadInit;
extern const CsEnum HEAD_INIT_ENUM; /* auto|prior|default|uniform */

/* select_by: which validation measure picks ckpt/best.h5 (and counts for
 * patience): dice = the highest mean validation Dice over the ROIs, fa_error =
 * the lowest mean ROI FA error (Fei et al. eq. 10, as evaluate computes it) at
 * the epoch's labels (searched thresholds for sigmoid models); log.csv
 * val_dice_mean / val_fa_err_mean. docs/training.md "Model selection". */
typedef enum { SELECT_BY_DICE = 0, SELECT_BY_FA_ERROR = 1 } SelectBy;
extern const CsEnum SELECT_BY_ENUM; /* dice|fa_error */

typedef struct {
  /* data */
  char store[1024];        /* HDF5 slice store */
  char folds[1024];        /* folds manifest (cordseg folds) */
  int32_t fold;            /* -1 = the 81/9/10 split, 0..k-1 = CV fold */
  InputKind input;         /* b0 | fa | b0+fa */
  /* model */
  UnetBackbone backbone;   /* vgg16 | resnet50 */
  UnetConvAlgo conv_algo;  /* auto | direct (CPU convolution kernels) */
  BackendKind device;      /* cpu | cuda | auto (not in the hash) */
  BackendPrecision precision; /* fp32 | bf16 */
  int32_t deterministic;   /* 0/1 */
  int32_t cudnn_benchmark; /* 0/1: CUDA, time the cuDNN algorithms at start-up (not hashed) */
  int32_t width_div;       /* 1 = paper widths */
  int32_t classes;         /* 9 */
  UnetInit init;           /* normal | kaiming */
  /* loss */
  LossKind loss;           /* hdl | hybrid | ce */
  double hdl_sigma;        /* pixels; CONFIG_HDL_SIGMA_DEFAULT */
  HdlReduce hdl_reduce;    /* norm | mse */
  HeadInit head_init;      /* auto | prior | default: the 1x1 head's per-class bias */
  double head_weight_std;  /* with the prior head: the 1x1 head's weights rescaled to this std (0.01); 0 = as initialised */
  double grad_clip;        /* global gradient L2-norm clip; 0 = off, -1 = auto (CONFIG_GRAD_CLIP_AUTO, every loss) */
  int32_t collapse_stop;  /* 1: stop after an epoch with a zero gradient or constant logits (not hashed) */
  int32_t revive_dead;    /* 1: a class still unlearned at a check epoch gets a fresh head row (CONFIG_REVIVE_*) */
  /* schedule */
  int32_t epochs;
  int32_t batch;           /* global batch (split over ranks) */
  double lr_max, lr_min;
  int32_t warmup_epochs;   /* -1 = model.md formula min(max(0.05T,1),3) */
  int32_t no_aug_epochs;   /* -1 = model.md formula min(max(0.05T,1),15) */
  int32_t steps_per_epoch; /* 0 = floor(train slices / batch) */
  int32_t augment;         /* 0/1 */
  uint64_t seed;
  int32_t val_every;       /* epochs between validations */
  int32_t patience;        /* early stop after this many validations without a better selection measure; 0 = off */
  SelectBy select_by;      /* dice | fa_error: the measure best.h5 is chosen by */
  int32_t sync_bn;         /* 0/1: synchronized BatchNorm across ranks */
  double nccl_timeout_s;   /* CUDA: an NCCL wait longer than this stops the rank; 0 = for ever (not hashed) */
  /* checkpoints and signals */
  int32_t ckpt_every_epochs;
  double ckpt_every_minutes;
  int32_t ckpt_keep;       /* numbered epoch checkpoints kept besides best and last */
  char requeue_signal[16]; /* SIGUSR2 (default) | SIGUSR1 | SIGTERM-like names */
} TrainConfig;

/* grad_clip = -1 (auto) resolves to this for loss = hdl: HDL's gradient
 * norm is 0.3-10 in the first steps and 100-10,000 once classes rise, so a
 * norm of 1 clips nearly every step to a unit-norm direction and Adam's
 * second moment never meets a spike it has not seen (README, "Why HDL
 * collapsed"; clip 100 collapsed 1 run in 8 at lr 5e-4, clip 1 none) */
#define CONFIG_GRAD_CLIP_AUTO 1.0
/* revive_dead (loss = hdl; softmax losses do not lose classes this way with the
 * prior head and clip, and are left alone: not hashed for them): at the
 * validation epochs W+1, W+1+3v, W+1+6v, ... up to half
 * the run (W the warm-up epochs, v = val_every), a class whose validation Dice
 * is below CONFIG_REVIVE_DICE has its head row re-initialised: bias at the
 * data prior, weights at head_weight_std, their Adam moments 0. A sigmoid
 * (HDL) class whose logits went far below 0 over its own region early on has
 * a gradient factor H(1-H) of ~1e-3 there and rises by Adam's lr per step at
 * most: it stays at 0 for the whole run (issue 30: 3 of 18 B0 runs lost a
 * ventral column). */
#define CONFIG_REVIVE_DICE 0.02
#define CONFIG_REVIVE_EVERY 3
int config_revive_dead(const TrainConfig *c);                  /* 1: revive_dead acts (on and loss = hdl) */
int config_revive_epoch(const TrainConfig *c, int64_t epoch); /* 1: epoch (1-based) is a check epoch */
/* the resolved values of the auto settings */
int config_head_prior(const TrainConfig *c);    /* 1: the head's bias at the data prior */
double config_grad_clip(const TrainConfig *c);  /* 0 = off */

/* The HDL sigma of every run that does not set it, in network-input pixels.
 * model.md section 5: sigma = one native DTI voxel (the manual-boundary
 * uncertainty) expressed in input pixels, i.e. the resample factor. The
 * paper's slices (and the phantom) are 128x128 at 0.625 mm, acquired at
 * 1.0 x 1.26 mm: 1.6-2 px, so 2, as every config in configs/ and the
 * quickstart set it. The value lives in core/loss.h (LossConfig's default too). */
#define CONFIG_HDL_SIGMA_DEFAULT LOSS_HDL_SIGMA_DEFAULT /* core/loss.h owns it */
void config_defaults(TrainConfig *c);
/* the defaults for reading a config that cordseg stored (RUN/config.ini, a
 * checkpoint's or a model file's config attribute): the same, except that a
 * key added after runs existed takes the value that reproduces those runs
 * (revive_dead = 0), since the stored text of such a run lacks its line; a
 * stored text of today lists every key, so nothing else changes */
void config_defaults_stored(TrainConfig *c);
/* reads path over the current values; fatal with file:line:key on any error */
void config_load(TrainConfig *c, const char *path);
/* the same from text (e.g. the config rank 0 resolved); origin names it */
void config_load_text(TrainConfig *c, const char *text, const char *origin);
/* one "key=value" override; origin names where it came from in errors */
void config_set(TrainConfig *c, const char *assignment, const char *origin);
/* canonical text: a header comment line then every key in table order */
void config_write(const TrainConfig *c, FILE *f);
/* the canonical text into a malloc'ed string */
char *config_format(const TrainConfig *c);
/* "fnv1a64:<hex>" of the canonical text (without its comment line) */
void config_hash(const TrainConfig *c, char out[32]);
/* out: the keys whose lines differ between two canonical config texts a and b, ", "-separated */
void config_diff(const char *a, const char *b, char *out, size_t n);
void config_unet(const TrainConfig *c, UnetConfig *u);
int config_signal_number(const TrainConfig *c); /* of requeue_signal */
void config_loss(const TrainConfig *c, LossConfig *l);
/* Does the config fit the data? NULL when the store has the maps `input`
 * reads, the model suits the store's slice size and its fold holds one global batch and steps_per_epoch of them;
 * else the problem (written into msg) with *hint the fix. Shared by train's
 * rank-0 checks and sweep plan. */
/* Are the values consistent among themselves (lr_min <= lr_max, warm-up plus
 * final epochs within epochs)? NULL, or the problem in msg with *hint; also
 * the first step of config_check_fit. */
const char *config_check_values(const TrainConfig *c, char *msg, size_t n, const char **hint);
const char *config_check_fit(const TrainConfig *c, const H5Store *h, const Folds *f, char *msg, size_t n,
                             const char **hint);
/* the arm of a run: "backbone-loss-input" ("vgg16-hdl-b0"; b0+fa as "b0fa"),
 * run.json's "arm" and the start of a sweep task's arm */
void config_arm_name(const TrainConfig *c, char *out, size_t n);
/* Does key `name` set an arm apart? Every hashed key except fold and seed
 * (the cells of an arm) and the store and folds paths (the data are checked
 * by their checksum and manifest hash, so a moved store is the same arm). */
int config_key_arm(const char *name);
/* 1: key i (config_key_at order) is an arm key whose value enters the arm hash of a or of b and differs
 * between them (a key that acts on neither, e.g. revive_dead on softmax runs, does not count) */
int config_arm_key_differs(const TrainConfig *a, const TrainConfig *b, size_t i);
/* "fnv1a64:<hex>" of the canonical lines of the arm keys (config_key_arm):
 * runs with equal arm hashes differ only in fold, seed and paths; run.json's
 * "arm_hash", `report` groups runs by it */
void config_arm_hash(const TrainConfig *c, char out[32]);
/* the i-th key in table order with its canonical value in value; NULL past the last */
const char *config_key_at(const TrainConfig *c, size_t i, char *value, size_t n);
/* one line per key: name, default, meaning (for --help) */
void config_keys_help(FILE *f);
#endif
