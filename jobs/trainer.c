/* jobs/trainer.c: the training loop of `cordseg train` (see trainer.h).
 * Per step: each rank loads its part of the global batch (io/loader.c), runs
 * forward/loss/backward, the gradients are summed over ranks in fixed buckets
 * of the flat buffer and divided by the world size, then every rank applies
 * the same Adam update, so parameters stay identical without broadcasts.
 * Loss semantics: the loss is that of the global batch: hdl and ce are means
 * over images, and hybrid's Dice statistics are summed over the ranks before
 * the Dice term (core/loss.h dice_allreduce), so for VGG16-UNet (no
 * BatchNorm) the trajectory does not depend on the split of the global batch
 * (up to float summation order). ResNet's BatchNorm uses local-batch
 * statistics (as PyTorch DDP without SyncBN), so ResNet runs do, unless
 * sync_bn = true (global-batch statistics through unet_set_bn_sync).
 * Backend: config key device (core/backend.h); the trainer sees host memory
 * only (ModelState for checkpoints, stepper_allreduce_grads for the sums).
 * BN running statistics are averaged over ranks before validation and
 * checkpoints (the average commutes with their update, so resume is exact).
 * Signals: the requeue signal or SIGTERM/SIGINT set a flag; the ranks agree on
 * it after the current step (one small all-reduce per step), write
 * ckpt/last.h5 and exit 75 (requeue) or 143. */
#define _POSIX_C_SOURCE 200809L
#include "jobs/trainer.h"

#include <hdf5.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "core/backend.h"
#include "core/metrics.h"
#include "core/step.h"
#include "io/ckpt.h"
#include "io/folds.h"
#include "io/labels.h"
#include "io/loader.h"
#include "io/rundir.h"
#include "io/runinfo.h"
#include "io/textio.h"
#include "jobs/predict.h"
#include "io/path.h"
#include "cordseg_git.h" /* CORDSEG_GIT, generated at build time (cmake/git_version.cmake) */

static volatile sig_atomic_t g_requeue = 0, g_term = 0;
static void on_requeue(int s) { (void)s, g_requeue = 1; }
static void on_term(int s) { (void)s, g_term = 1; }

static void signals_install(int requeue_sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_requeue;
  sigaction(requeue_sig, &sa, NULL);
}

/* what a signal asks for: stop with a checkpoint, requeued (75) or not (143);
 * SIGTERM wins over the requeue signal */
typedef enum { STOP_NONE = 0, STOP_REQUEUE, STOP_TERM } StopKind;

static int stop_exit_code(StopKind k) { return k == STOP_TERM ? TRAIN_EXIT_TERM : TRAIN_EXIT_REQUEUE; }

/* what the ranks agree on after every step, in one small all-reduce */
typedef struct {
  double loss_sum; /* the step's loss summed over the ranks */
  StopKind stop;   /* any rank saw a signal (or the test hook fired) */
  int ckpt_due;    /* rank 0's clock: a timed checkpoint is due */
} StepVote;

typedef struct {
  int32_t b, C, K, h, w;
  float *x;        /* [b][C][H][W] */
  uint8_t *y;      /* [b][H][W] */
  float *scratch;  /* [2][H][W] */
  uint8_t *labels; /* [H][W] predicted labels of one slice */
} Bufs;

/* one training run on this rank (trainer_run holds it) */
typedef struct {
  const TrainJob *job;
  const TrainConfig *c;
  const Dist *d;
  int root;
  /* data */
  H5Store store;
  Folds folds;
  int32_t *tr_idx, *va_idx, ntr, nva;
  char data_checksum[64], folds_hash[32], cfg_hash[32];
  char *config_text;
  int32_t b, H, W, C, K; /* per-rank batch, slice size, input channels, classes */
  /* model and optimizer */
  UnetConfig ucfg;
  LossConfig lc, lc_val; /* training: hybrid's Dice over the global batch; validation: per image */
  BackendSync bn_sync;
  Backend *be;
  Unet *net;
  Stepper sp;
  ModelState ms; /* host copy for checkpoints and resume */
  CkptState st;
  Loader *ld;
  int64_t spe, epoch0, step0; /* steps per epoch; where this process starts */
  /* files */
  char path_last[PATH_CAP], path_best[PATH_CAP], path_log[PATH_CAP], path_done[PATH_CAP];
  char header[1024]; /* log.csv */
  /* buffers and clocks */
  Bufs B;
  double grad_clip;                /* resolved grad_clip, 0 = off */
  double gnorm_max, gnorm_sum;     /* this process's steps of the epoch: gradient norms before clipping */
  int64_t gnorm_n, gnorm_clipped;  /* (printed and checked for a collapse, not logged: not in the checkpoint) */
  double t_start, elapsed0, t_ckpt, epoch_time_sum;
  int64_t epochs_timed, steps_run;
  double prior[256]; /* the head's data prior per class (head_prior_compute): head_init and revive_dead */
} Trainer;

/* one epoch as it runs: its steps, and what the last step's vote left for
 * the end of the epoch */
typedef struct {
  int64_t index, first_step;
  float lr;
  double t0;
  StopKind stop_after; /* a signal at the last step: checkpoint, then stop */
  int ckpt_after;      /* a checkpoint is due after the epoch (signal or clock) */
} Epoch;

/* how an epoch ended */
typedef enum { EPOCH_NEXT, EPOCH_STOP, EPOCH_EARLY_STOP, EPOCH_COLLAPSED } EpochOutcome;

static void sum_allreduce(double *v, int32_t n) { dist_allreduce_sum_f64(v, (size_t)n); }

/* the host collectives the backend and sync-BN see (core/ has no MPI) */
static void hook_sum_f32(void *ctx, float *v, size_t n) { (void)ctx, dist_allreduce_sum_f32(v, n); }
static void hook_sum_f64(void *ctx, double *v, size_t n) { (void)ctx, dist_allreduce_sum_f64(v, n); }
static void hook_sync_f64(void *ctx, double *v, int32_t n) { (void)ctx, dist_allreduce_sum_f64(v, (size_t)n); }
static void hook_bcast(void *ctx, void *buf, size_t bytes, int root) { (void)ctx, dist_bcast(buf, bytes, root); }

/* pixels of one slice predicted as pred_id / labelled ref_id, into tp/fp/fn */
static void count_class(const uint8_t *pred, uint8_t pred_id, const uint8_t *ref, uint8_t ref_id, size_t hw, double *tp,
                        double *fp, double *fn) {
  int64_t a = 0, b = 0, e = 0;
  for (size_t p = 0; p < hw; p++) {
    const int pr = pred[p] == pred_id, rf = ref[p] == ref_id;
    a += pr && rf, b += pr && !rf, e += !pr && rf;
  }
  *tp += (double)a, *fp += (double)b, *fn += (double)e;
}

/* validation's FA error (Fei et al. eq. 10, core/metrics.h metrics_slice_fa,
 * as evaluate measures it) over this rank's slices, per ROI c: sum[c] of the
 * slices' FA errors (%), n[c] slices where it is defined, ref[c] slices whose
 * reference holds the ROI; [3][K] summed over the ranks (val_fa_mean) */
typedef struct {
  const H5Store *st;
  const int32_t *idx; /* the validation slices; this rank's j-th is idx[rank + j * world] */
  const Dist *d;
  int32_t K, h, w;
  const double *thr;  /* sigmoid models: the epoch's searched thresholds */
  double *sum, *n, *ref; /* [K] each, one allocation of 3K */
  float *fa;          /* [H][W] */
  uint8_t *pred;
  RoiMetrics *roi;    /* [K] */
  int on;             /* the store has FA maps (a B0-only store: no FA error, NaN) */
} ValFa;

static void val_fa_init(ValFa *f, const H5Store *st, const int32_t *idx, const Dist *d, int32_t K) {
  const size_t hw = (size_t)st->h * st->w;
  *f = (ValFa){.st = st, .idx = idx, .d = d, .K = K, .h = st->h, .w = st->w, .on = st->has_fa};
  f->sum = callocCheck(3 * (size_t)K, sizeof(double)), f->n = f->sum + K, f->ref = f->n + K;
  f->fa = mallocCheck(sizeof(float) * hw), f->pred = mallocCheck(hw);
  f->roi = callocCheck((size_t)K, sizeof(RoiMetrics));
}

static void val_fa_free(ValFa *f) { free(f->sum), free(f->fa), free(f->pred), free(f->roi); }

/* this rank's j-th validation slice, labelled pred, with its reference labels ref */
static void val_fa_add(ValFa *f, int32_t j, const uint8_t *pred, const uint8_t *ref) {
  if (!f->on) return;
  const int32_t i = f->idx[f->d->rank + j * f->d->world];
  h5store_read_slices(f->st, &i, 1, NULL, f->fa, NULL);
  metrics_slice_fa(pred, ref, f->fa, (int64_t)f->h * f->w, f->K, f->roi);
  for (int32_t c = 1; c < f->K; c++) {
    const RoiMetrics *m = &f->roi[c];
    if (!isnan(m->fa_err_pct)) f->sum[c] += m->fa_err_pct, f->n[c] += 1;
    f->ref[c] += !isnan(m->fa_ref);
  }
}

/* the sums over the ranks; the mean over ROIs of each ROI's mean FA error
 * (evaluate's fa_err_pct_mean, then metrics_roi_mean); NaN when an ROI of
 * the validation reference has no FA error on any slice (never predicted:
 * the mean would otherwise reward dropping an ROI) */
static double val_fa_mean(ValFa *f) {
  if (!f->on) return NAN; /* the same store on every rank: all skip the reduction alike */
  dist_allreduce_sum_f64(f->sum, 3 * (size_t)f->K);
  double m[256];
  m[0] = NAN;
  for (int32_t c = 1; c < f->K; c++) {
    if (f->ref[c] > 0 && f->n[c] == 0) return NAN;
    m[c] = f->n[c] > 0 ? f->sum[c] / f->n[c] : NAN;
  }
  return metrics_roi_mean(m, f->K);
}

/* validation's running sums over this rank's slices (see validate) */
typedef struct {
  const LossConfig *lc;
  const H5Store *st;
  const int32_t *idx;
  const Dist *d;
  InputKind kind;
  Bufs *B;
  int sigmoid;
  double *acc, *tp, *fp, *fn; /* loss, images; per class tp, fp, fn */
  float *lo, *hi;             /* per class: the least and the largest logit */
  ThreshHist hist;
  ValFa fa;                   /* the FA error's sums (softmax models: in the same pass) */
} ValSums;

/* this rank's j-th validation slice (positions rank, rank+world, ...): its
 * input, and its labels in the batch row */
static void val_load(void *ctx, int32_t j, int32_t row, float *x) {
  ValSums *v = ctx;
  const size_t hw = (size_t)v->B->h * v->B->w;
  loader_load_slice(v->st, v->idx[v->d->rank + j * v->d->world], v->kind, x, v->B->y + (size_t)row * hw,
                    v->B->scratch);
}

/* sigmoid models' second pass: the labels at the searched thresholds, against
 * the reference labels val_load put in the batch row */
static void val_fa_take(void *ctx, int32_t j, int32_t row, const float *probs, const float *logits) {
  ValSums *v = ctx;
  ValFa *f = &v->fa;
  const size_t hw = (size_t)f->h * f->w;
  (void)logits;
  predict_labels(probs, f->K, (int64_t)hw, 1, f->thr, f->pred);
  val_fa_add(f, j, f->pred, v->B->y + (size_t)row * hw);
}

static void val_take(void *ctx, int32_t j, int32_t row, const float *probs, const float *logits) {
  ValSums *v = ctx;
  const int32_t K = v->B->K;
  const size_t hw = (size_t)v->B->h * v->B->w;
  const uint8_t *y = v->B->y + (size_t)row * hw;
  v->acc[0] += loss_compute(v->lc, logits, y, 1, K, v->B->h, v->B->w, NULL);
  v->acc[1] += 1;
  for (int32_t c = 0; c < K; c++) {
    const float *z = logits + (size_t)c * hw;
    float lo = v->lo[c], hi = v->hi[c];
    for (size_t p = 0; p < hw; p++) lo = z[p] < lo ? z[p] : lo, hi = z[p] > hi ? z[p] : hi;
    v->lo[c] = lo, v->hi[c] = hi;
  }
  if (v->sigmoid) {
    metrics_hist_add(&v->hist, probs, y, (int64_t)hw);
    return;
  }
  metrics_labels_argmax(probs, K, (int64_t)hw, v->B->labels);
  for (int32_t c = 1; c < K; c++)
    count_class(v->B->labels, (uint8_t)c, y, (uint8_t)c, hw, &v->tp[c], &v->fp[c], &v->fn[c]);
  val_fa_add(&v->fa, j, v->B->labels, y);
}

/* the ranks' validation sums added; the sigmoid models' histograms summed, then the threshold search */
static void val_reduce(ValSums *v, int32_t mine, double *loss_sum, double *images, double *dice, double *thr,
                       int *constant) {
  const int32_t K = v->B->K;
  double *spread = v->fn + K;
  for (int32_t c = 0; c < K; c++) spread[c] = mine > 0 ? (double)v->hi[c] - (double)v->lo[c] : 0;
  dist_allreduce_sum_f64(v->acc, (size_t)(2 + 4 * K));
  *loss_sum = v->acc[0], *images = v->acc[1];
  /* one logit per class over every validation pixel on every rank: the net
   * no longer sees its input (every feature into the head is 0) */
  *constant = 1;
  for (int32_t c = 0; c < K; c++) *constant &= spread[c] == 0;
  if (v->sigmoid) {
    ThreshHist *hist = &v->hist;
    const size_t nb = (size_t)K * (METRICS_THRESH_STEPS + 2);
    double *h = mallocCheck(sizeof(double) * 2 * nb);
    for (size_t i = 0; i < nb; i++) h[i] = (double)hist->pos[i], h[nb + i] = (double)hist->neg[i];
    dist_allreduce_sum_f64(h, 2 * nb);
    for (size_t i = 0; i < nb; i++) hist->pos[i] = (int64_t)h[i], hist->neg[i] = (int64_t)h[nb + i];
    free(h);
    metrics_hist_best(hist, thr, dice);
  } else {
    for (int32_t c = 1; c < K; c++) {
      const double den = 2 * v->tp[c] + v->fp[c] + v->fn[c];
      dice[c] = den > 0 ? 2 * v->tp[c] / den : NAN;
      thr[c] = NAN;
    }
  }
  dice[0] = thr[0] = NAN;
}

/* validation over this rank's share (positions rank, rank+world, ...) of the
 * slices, summed over ranks: *loss_sum, *images, and per ROI c >= 1 the
 * model-selection Dice dice[c] (NaN when undefined) and thr[c]. Softmax
 * models: the argmax label map, thr NaN. Sigmoid (HDL) models: the same
 * per-class threshold search as evaluate (core/metrics.h: one histogram pass
 * of the pooled validation pixels, thresholds 0.000..1.000), the histograms
 * summed over the ranks (exact: counts < 2^53 in doubles), so dice[c] is the
 * pooled validation Dice at the searched thr[c], whatever the rank split. The
 * slices go through jobs/predict.h with their logits (loss, collapse check).
 * *fa_err: the mean ROI FA error at the same labels (ValFa): softmax models
 * in the same pass, sigmoid models in a second pass at the searched thr
 * (the thresholds are known only after every slice). */
static void validate(Unet *net, const LossConfig *lc, const H5Store *st, const int32_t *idx, int32_t nval,
                     const Dist *d, InputKind kind, Bufs *B, double *loss_sum, double *images, double *dice,
                     double *thr, int *constant, double *fa_err) {
  const int32_t K = B->K;
  ValSums v = {.lc = lc, .st = st, .idx = idx, .d = d, .kind = kind, .B = B, .sigmoid = lc->kind == LOSS_KIND_HDL};
  val_fa_init(&v.fa, st, idx, d, K);
  /* loss, images, tp[K], fp[K], fn[K], the spread (max - min) of each class's logit over this rank's pixels */
  v.acc = callocCheck((size_t)(2 + 4 * K), sizeof(double));
  v.tp = v.acc + 2, v.fp = v.tp + K, v.fn = v.fp + K;
  v.lo = mallocCheck(sizeof(float) * (size_t)K), v.hi = mallocCheck(sizeof(float) * (size_t)K);
  for (int32_t c = 0; c < K; c++) v.lo[c] = INFINITY, v.hi[c] = -INFINITY;
  if (v.sigmoid) metrics_hist_init(&v.hist, K);
  const int32_t mine = nval > d->rank ? (nval - d->rank + d->world - 1) / d->world : 0;
  Predictor p;
  predict_init(&p, net, lc, B->b, B->C, K, B->h, B->w, PREDICT_LOGITS);
  const PredictSink s = {.ctx = &v, .load = val_load, .take = val_take};
  predict_run(&p, mine, 0, &s);
  predict_free(&p);
  val_reduce(&v, mine, loss_sum, images, dice, thr, constant);
  if (v.sigmoid && v.fa.on) {
    v.fa.thr = thr;
    predict_init(&p, net, lc, B->b, B->C, K, B->h, B->w, 0);
    const PredictSink s2 = {.ctx = &v, .load = val_load, .take = val_fa_take};
    predict_run(&p, mine, 0, &s2);
    predict_free(&p);
  }
  *fa_err = val_fa_mean(&v.fa);
  val_fa_free(&v.fa);
  if (v.sigmoid) metrics_hist_free(&v.hist);
  free(v.lo), free(v.hi), free(v.acc);
}

/* head_init = prior: final.bias[c] <- the data prior over the training slices
 * (no augmentation), computed on rank 0 and broadcast. Sigmoid (HDL): p_c =
 * mean of the HDL target G_c over every pixel of every training slice, bias =
 * logit(p_c), so the untrained net predicts the mean target and neither the
 * all-on nor the all-off saturation is where it starts; softmax: p_c = the
 * class's pixel frequency, bias = log(p_c). p_c is clamped to [1e-6, 1 - 1e-6].
 * Then final.weight, as seeded, is rescaled to std head_weight_std (0.01, as
 * RetinaNet's head): with Kaiming's std the initial logits of a class spread
 * several units around its prior, and a class that starts far below it over
 * its own region (sigmoid factor H(1-H) ~ 1e-4) often never rises. */
static void head_prior_compute(Trainer *t) {
  const int32_t K = t->K, H = t->H, W = t->W;
  const size_t hw = (size_t)H * W;
  const int sigmoid = t->lc.kind == LOSS_KIND_HDL, uniform = t->c->head_init == HEAD_INIT_UNIFORM;
  double *p = t->prior; /* uniform: every bias 0 */
  for (int32_t c = 0; c < K; c++) p[c] = 0;
  if (t->root && !uniform) {
    float *x = alignedAllocCheck(sizeof(float) * (size_t)t->C * hw), *scratch = alignedAllocCheck(sizeof(float) * 2 * hw);
    float *g = alignedAllocCheck(sizeof(float) * (size_t)K * hw);
    uint8_t *y = mallocCheck(hw);
    for (int32_t i = 0; i < t->ntr; i++) {
      loader_load_slice(&t->store, t->tr_idx[i], t->c->input, x, y, scratch);
      if (sigmoid) {
        loss_hdl_target(y, 1, K, H, W, t->lc.hdl_sigma, g);
        for (int32_t c = 0; c < K; c++) {
          double s = 0;
          for (size_t q = 0; q < hw; q++) s += g[(size_t)c * hw + q];
          p[c] += s;
        }
      } else {
        for (size_t q = 0; q < hw; q++)
          if (y[q] < K) p[y[q]] += 1;
      }
    }
    for (int32_t c = 0; c < K; c++) {
      double v = t->ntr > 0 ? p[c] / ((double)t->ntr * (double)hw) : 0.5;
      v = v < 1e-6 ? 1e-6 : v > 1 - 1e-6 ? 1 - 1e-6 : v;
      p[c] = sigmoid ? log(v / (1 - v)) : log(v);
    }
    free(x), free(scratch), free(g), free(y);
  }
  dist_bcast(p, sizeof(double) * (size_t)K, 0);
}

/* the head's tensors (final.weight [K][Cin][1][1], final.bias [K]) */
static void head_tensors(const Trainer *t, const UnetTensorInfo **weight, const UnetTensorInfo **bias) {
  *bias = *weight = NULL;
  for (size_t i = 0; i < unet_num_tensors(t->net); i++) {
    if (!strcmp(unet_tensor(t->net, i)->name, "final.bias")) *bias = unet_tensor(t->net, i);
    if (!strcmp(unet_tensor(t->net, i)->name, "final.weight")) *weight = unet_tensor(t->net, i);
  }
  CS_CHECK(*bias && (*bias)->numel == (size_t)t->K && *weight && (*weight)->numel % (size_t)t->K == 0, NULL,
           "internal: the net has no final.weight/bias of %d classes", t->K);
}

static void head_prior_init(Trainer *t) {
  const int32_t K = t->K;
  const int sigmoid = t->lc.kind == LOSS_KIND_HDL, uniform = t->c->head_init == HEAD_INIT_UNIFORM;
  const double *p = t->prior;
  const UnetTensorInfo *bias, *weight;
  head_tensors(t, &weight, &bias);
  const size_t P = unet_num_params(t->net);
  float *params = mallocCheck(sizeof(float) * P);
  unet_params_download(t->net, params);
  for (int32_t c = 0; c < K; c++) params[bias->offset + (size_t)c] = (float)p[c];
  if (t->c->head_weight_std > 0) { /* the seeded head weights rescaled to this standard deviation */
    double ss = 0;
    for (size_t i = 0; i < weight->numel; i++) ss += (double)params[weight->offset + i] * params[weight->offset + i];
    const double sd = sqrt(ss / (double)weight->numel);
    for (size_t i = 0; i < weight->numel && sd > 0; i++)
      params[weight->offset + i] = (float)(params[weight->offset + i] * (t->c->head_weight_std / sd));
  }
  unet_params_upload(t->net, params);
  if (t->root) {
    printf("cordseg train: head_init %s: final.bias =", uniform ? "uniform" : "prior");
    for (int32_t c = 0; c < K; c++) printf(" %.3f", p[c]);
    if (uniform) printf(" (every class alike), final.weight at std %g\n", t->c->head_weight_std);
    else
      printf(" (%s of the training slices' %s)\n", sigmoid ? "logit" : "log",
             sigmoid ? "mean HDL target per class" : "class pixel frequencies");
  }
  free(params);
}

/* revive_dead (io/config.h, CONFIG_REVIVE_*): at a check epoch, every class
 * whose validation Dice is below CONFIG_REVIVE_DICE gets a fresh head row: its
 * bias at the data prior, its weights drawn N(0, head_weight_std) from a
 * stream of (seed, epoch, class), the Adam moments of both 0. Rank 0 decides
 * (from the pooled validation) and broadcasts; every rank changes its copy
 * the same way, so the ranks stay identical and a resumed run, which replays
 * from a checkpoint written after this, is exact. */
static void trainer_revive(Trainer *t, const double *dice) {
  const int32_t K = t->K;
  uint8_t dead[256] = {0};
  if (t->root)
    for (int32_t k = 1; k < K; k++) dead[k] = isfinite(dice[k]) && dice[k] < CONFIG_REVIVE_DICE;
  dist_bcast(dead, sizeof dead, 0);
  int any = 0;
  for (int32_t k = 1; k < K; k++) any |= dead[k];
  if (!any) return;
  const UnetTensorInfo *bias, *weight;
  head_tensors(t, &weight, &bias);
  const size_t cin = weight->numel / (size_t)K;
  const double sd = t->c->head_weight_std > 0 ? t->c->head_weight_std : 0.01;
  ModelState *ms = &t->ms;
  stepper_state_download(&t->sp, ms);
  for (int32_t k = 1; k < K; k++) {
    if (!dead[k]) continue;
    Rng r;
    rng_init(&r, t->c->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(t->st.epoch * 256 + k + 1)));
    const size_t b = bias->offset + (size_t)k, w0 = weight->offset + (size_t)k * cin;
    ms->params[b] = (float)t->prior[k];
    ms->adam_m[b] = ms->adam_v[b] = 0;
    for (size_t i = 0; i < cin; i++) {
      ms->params[w0 + i] = (float)(sd * rng_normal(&r));
      ms->adam_m[w0 + i] = ms->adam_v[w0 + i] = 0;
    }
    if (t->root)
      printf("cordseg train: epoch %lld: %s's validation Dice %.4f is below %.2f: its head row re-initialised "
             "(bias %.3f at the data prior, weights at std %g, Adam moments 0; revive_dead = 0 turns this off)\n",
             (long long)t->st.epoch, K == LABEL_COUNT ? LABEL_NAMES[k] : "a class", dice[k], CONFIG_REVIVE_DICE,
             t->prior[k], sd);
  }
  stepper_state_upload(&t->sp, ms);
}

static void write_provenance(const Trainer *t, int64_t resumed_epoch) {
  const TrainJob *job = t->job;
  char hosts[1024], mpi[256], hdf5[32], arm[64], when[64];
  dist_hosts(&job->dist, hosts, sizeof hosts);
  if (job->dist.rank != 0) return;
  dist_library_version(mpi, sizeof mpi);
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  snprintf(hdf5, sizeof hdf5, "%u.%u.%u", maj, min, rel);
  const TrainConfig *c = t->c;
  const Backend *be = t->be;
  config_arm_name(c, arm, sizeof arm);
  char arm_hash[32];
  config_arm_hash(c, arm_hash);
  char *config_text = config_format(c);
  time_t now = time(NULL);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
  const RunProvenance p = {.config_text = config_text, .arm_hash = arm_hash, .arm = arm, .fold = c->fold, .seed = (int64_t)c->seed, .config_hash = t->cfg_hash,
                           .folds_hash = t->folds_hash, .data_checksum = t->data_checksum, .store = c->store,
                           .folds = c->folds, .git = CORDSEG_GIT, .version = CORDSEG_VERSION,
                           .world_size = job->dist.world, .hosts = hosts, .backend = be->name,
                           .backend_version = be->version,
                           .precision = cs_enum_name(&BACKEND_PRECISION_ENUM, (int)be->precision),
                           .deterministic = be->deterministic, .mpi = mpi, .hdf5 = hdf5,
                           .omp_threads_per_rank = omp_get_max_threads(), .started = when,
                           .resumed_at_epoch = resumed_epoch, .command = job->command};
  runinfo_write(job->run, &p);
  free(config_text);
}

/* CSV cell: empty for NaN (no validation this epoch, or no reference pixels) */
static void csv_num(char *out, size_t n, double v) {
  if (isnan(v)) out[0] = 0;
  else snprintf(out, n, "%.8g", v);
}

static void fmt_duration(double s, char *out, size_t n) {
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(out, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
}

/* ---------------------------------------------------------------- setup -- */

/* data, model, optimizer and checkpoint state (rank 0 already checked all of it) */
static void trainer_setup(Trainer *t, const TrainJob *job) {
  memset(t, 0, sizeof *t);
  t->job = job, t->c = &job->cfg, t->d = &job->dist, t->root = job->dist.rank == 0;
  const TrainConfig *c = t->c;
  const Dist *d = t->d;
  if (!getenv("OMP_NUM_THREADS")) { /* share this host's cores among its ranks */
    int n = omp_get_num_procs() / (d->local_size > 0 ? d->local_size : 1);
    omp_set_num_threads(n > 0 ? n : 1);
  }
  h5store_open(&t->store, c->store);
  folds_read(&t->folds, c->folds);
  t->ntr = folds_indices(&t->folds, c->fold, FOLD_TRAIN, t->store.meta, t->store.n, &t->tr_idx);
  t->nva = folds_indices(&t->folds, c->fold, FOLD_VAL, t->store.meta, t->store.n, &t->va_idx);
  h5store_attr_string(&t->store, "checksum", t->data_checksum, sizeof t->data_checksum);
  snprintf(t->folds_hash, sizeof t->folds_hash, "%s", t->folds.hash);
  config_hash(c, t->cfg_hash);
  t->config_text = config_format(c);
  t->b = c->batch / d->world, t->H = t->store.h, t->W = t->store.w, t->C = input_channels(c->input), t->K = c->classes;
  config_unet(c, &t->ucfg);
  config_loss(c, &t->lc);
  t->lc_val = t->lc;
  if (d->world > 1) t->lc.dice_allreduce = sum_allreduce, t->lc.dice_grad_scale = (float)d->world;
  /* CUDA: the local rank's GPU where the node's ranks see several, else the one visible */
  const int gpu = backend_cuda_device_count() > 1 ? d->local_rank : -1;
  t->be = backend_init(c->device, c->precision, c->deterministic, gpu);
  t->be->conv_benchmark = c->cudnn_benchmark;
  const BackendComm comm = {.rank = d->rank, .world = d->world, .local_rank = d->local_rank, .local_size = d->local_size,
                            .host = d->host, .nccl_timeout_s = c->nccl_timeout_s, .sum_f32 = hook_sum_f32,
                            .sum_f64 = hook_sum_f64, .bcast = hook_bcast};
  t->be->comm_init(t->be, &comm);
  t->bn_sync = (BackendSync){.sum_f64 = hook_sync_f64, .world = d->world};
  t->net = unet_init(t->be, &t->ucfg, t->b, t->H, t->W);
  if (d->world > 1 && c->sync_bn) unet_set_bn_sync(t->net, &t->bn_sync);
  unet_init_weights(t->net, c->init, c->seed);
  if (config_head_prior(c) || config_revive_dead(c)) head_prior_compute(t);
  if (config_head_prior(c) && !job->resume) head_prior_init(t); /* a resumed run reads its weights */
  t->grad_clip = config_grad_clip(c);
  stepper_init(&t->sp, t->net, &t->lc, t->b, t->H, t->W);
  if (getenv("CORDSEG_NO_GRAPH")) t->sp.use_graph = 0; /* every step eager (locating a failing CUDA kernel) */
  model_state_init(&t->ms, t->net, 1);
  t->st.best_dice = -1, t->st.best_fa_err = -1, t->st.height = t->H, t->st.width = t->W;
  snprintf(t->st.config_hash, sizeof t->st.config_hash, "%s", t->cfg_hash);
  ckpt_model_key(t->net, &t->ucfg, t->st.model, sizeof t->st.model);
  rundir_path(t->path_last, sizeof t->path_last, job->run, "ckpt/last.h5");
  rundir_path(t->path_best, sizeof t->path_best, job->run, "ckpt/best.h5");
  rundir_path(t->path_log, sizeof t->path_log, job->run, "log.csv");
  rundir_path(t->path_done, sizeof t->path_done, job->run, "DONE");
}

/* a resumed run: rank 0 reads ckpt/last.h5, every rank receives it */
static void trainer_resume(Trainer *t) {
  if (!t->job->resume) return;
  const size_t P = unet_num_params(t->net), NB = unet_num_buffers(t->net);
  ModelState *ms = &t->ms;
  if (t->root) ckpt_read(t->path_last, ms, &t->st);
  dist_bcast(&t->st, sizeof t->st, 0);
  dist_bcast(ms->params, P * sizeof(float), 0);
  dist_bcast(ms->buffers, NB * sizeof(float), 0);
  dist_bcast(ms->adam_m, P * sizeof(float), 0);
  dist_bcast(ms->adam_v, P * sizeof(float), 0);
  dist_bcast(&ms->adam_t, sizeof ms->adam_t, 0);
  stepper_state_upload(&t->sp, ms);
}

/* the loader at the resume point, the run directory's files, signals, the
 * banner, buffers and the log header */
static void trainer_start(Trainer *t) {
  const TrainJob *job = t->job;
  const TrainConfig *c = t->c;
  const Dist *d = t->d;
  AugmentConfig aug;
  augment_config_default(&aug);
  aug.enabled = c->augment;
  t->ld = loader_init(&t->store, t->tr_idx, t->ntr, t->b, d->rank, d->world, c->seed, &aug, c->input);
  if (t->be->kind != BACKEND_KIND_CPU) { /* the CPU cores are free for the input side: this rank's share */
    const int share = omp_get_num_procs() / (d->local_size > 0 ? d->local_size : 1);
    loader_set_threads(t->ld, share > 1 ? share - 1 : 1);
  }
  t->spe = c->steps_per_epoch ? c->steps_per_epoch : loader_steps_per_epoch(t->ld);
  t->epoch0 = t->st.epoch, t->step0 = t->st.step_in_epoch;
  CS_CHECK(t->step0 >= 0 && t->step0 < t->spe, "the checkpoint is damaged; delete ckpt/last.h5 to fall back to an epoch checkpoint",
           "checkpoint: step_in_epoch %lld is outside 0..%lld (steps per epoch of this config)", (long long)t->step0,
           (long long)t->spe - 1);
  if (t->epoch0 < c->epochs) loader_seek(t->ld, t->epoch0, t->step0, t->spe);
  if (t->root) {
    char p[PATH_CAP];
    rundir_path(p, sizeof p, job->run, "config.ini");
    textio_write(p, t->config_text);
    if (job->resume) rundir_log_truncate(t->path_log, t->st.epoch);
  }
  write_provenance(t, job->resume ? t->st.epoch : -1);
  signals_install(config_signal_number(c));
  if (t->root) {
    printf("cordseg train: %s, %s loss, input %s, fold %d | %d train / %d val slices %dx%d | global batch %d = %d "
           "rank(s) x %d, %lld steps/epoch, %d epochs | %s, %d thread(s)/rank | run %s\n",
           unet_backbone_name(c->backbone), loss_kind_name(c->loss), input_kind_name(c->input), c->fold, t->ntr, t->nva,
           t->H, t->W, c->batch, d->world, t->b, (long long)t->spe, c->epochs, t->be->version, omp_get_max_threads(),
           job->run);
    if (job->resume)
      printf("cordseg train: resuming from %s at epoch %lld step %lld (best by %s: epoch %lld, Dice %.4f, FA error "
             "%.2f %%)\n", t->path_last, (long long)t->st.epoch, (long long)t->st.step_in_epoch,
             cs_enum_name(&SELECT_BY_ENUM, (int)c->select_by), (long long)t->st.best_epoch, t->st.best_dice,
             t->st.best_fa_err);
    fflush(stdout);
  }
  Bufs *B = &t->B;
  *B = (Bufs){.b = t->b, .C = t->C, .K = t->K, .h = t->H, .w = t->W};
  const size_t hw = (size_t)t->H * t->W;
  B->x = alignedAllocCheck(sizeof(float) * (size_t)t->b * t->C * hw);
  B->y = alignedAllocCheck((size_t)t->b * hw);
  B->scratch = alignedAllocCheck(sizeof(float) * 2 * hw);
  B->labels = mallocCheck(hw);
  int hl = snprintf(t->header, sizeof t->header,
                    "epoch,global_step,train_loss,val_loss,lr,img_per_s,elapsed_s,eta_s,val_dice_mean");
  for (int pass = 0; pass < 2; pass++) /* dice_<ROI> then thr_<ROI> (the searched thresholds; empty for softmax) */
    for (int32_t k = 1; k < t->K && hl < (int)sizeof t->header - 40; k++)
      hl += t->K == LABEL_COUNT
                ? snprintf(t->header + hl, sizeof t->header - hl, ",%s_%s", pass ? "thr" : "dice", LABEL_ABBREV[k])
                : snprintf(t->header + hl, sizeof t->header - hl, ",%s_c%d", pass ? "thr" : "dice", k);
  /* columns added later go last, so `cut -d, -f` readers of the earlier ones keep working */
  snprintf(t->header + hl, sizeof t->header - hl, ",val_fa_err_mean");
  t->t_start = cs_now(), t->elapsed0 = t->st.elapsed_s;
  t->t_ckpt = t->t_start;
}

/* ----------------------------------------------------------- the steps -- */

/* writes ckpt/last.h5 (rank 0) with BN statistics averaged over the ranks */
static void trainer_checkpoint(Trainer *t) {
  unet_buffers_average(t->net);
  t->st.elapsed_s = t->elapsed0 + cs_now() - t->t_start;
  stepper_state_download(&t->sp, &t->ms);
  if (t->root) ckpt_write(t->path_last, &t->ms, 1, &t->st, t->config_text);
  t->t_ckpt = cs_now();
}

/* the ranks' step loss, signals and checkpoint clock, in one all-reduce */
static StepVote step_vote(Trainer *t, double loss) {
  const TrainConfig *c = t->c;
  const int test_stop = t->job->stop_after_steps > 0 && t->steps_run == t->job->stop_after_steps;
  double red[4] = {loss, g_requeue || test_stop, g_term,
                   t->root && c->ckpt_every_minutes > 0 && cs_now() - t->t_ckpt >= 60 * c->ckpt_every_minutes};
  dist_allreduce_sum_f64(red, 4);
  StepVote v = {.loss_sum = red[0], .ckpt_due = red[3] > 0};
  v.stop = red[2] > 0 ? STOP_TERM : red[1] > 0 ? STOP_REQUEUE : STOP_NONE;
  return v;
}

/* the epoch's remaining steps; EPOCH_STOP when a signal stopped it mid-epoch
 * (checkpoint written), else EPOCH_NEXT with what is due after it in *e */
static EpochOutcome trainer_epoch(Trainer *t, int64_t epoch, Epoch *e) {
  const TrainConfig *c = t->c;
  *e = (Epoch){.index = epoch, .first_step = epoch == t->epoch0 ? t->step0 : 0, .t0 = cs_now()};
  e->lr = (float)lr_schedule((int32_t)epoch, c->epochs, c->lr_max, c->lr_min, c->warmup_epochs, c->no_aug_epochs);
  if (e->first_step == 0) t->st.epoch_loss_sum = 0;
  t->gnorm_max = t->gnorm_sum = 0, t->gnorm_n = t->gnorm_clipped = 0;
  for (int64_t s = e->first_step; s < t->spe; s++) {
    int64_t le = loader_next(t->ld, t->B.x, t->B.y);
    CS_CHECK(le == epoch, NULL, "internal: loader at epoch %lld, trainer at %lld", (long long)le, (long long)epoch);
    double loss = stepper_grad(&t->sp, t->B.x, t->B.y);
    stepper_allreduce_grads(&t->sp);
    { /* the rank-averaged gradient's norm (every rank sees the same), clipped when grad_clip > 0 */
      const double gn = stepper_clip_grads(&t->sp, t->grad_clip);
      t->gnorm_sum += gn, t->gnorm_n++, t->gnorm_clipped += t->grad_clip > 0 && gn > t->grad_clip;
      if (gn > t->gnorm_max) t->gnorm_max = gn;
    }
    t->steps_run++;
    const StepVote v = step_vote(t, loss);
    stepper_update(&t->sp, e->lr);
    t->st.epoch_loss_sum += v.loss_sum / t->d->world;
    t->st.global_step++;
    t->st.step_in_epoch = s + 1;
    if (!v.stop && !v.ckpt_due) continue;
    if (s + 1 == t->spe) { /* the last step: the end of the epoch checkpoints */
      e->stop_after = v.stop, e->ckpt_after = 1;
      continue;
    }
    trainer_checkpoint(t); /* mid-epoch */
    if (!v.stop) continue;
    if (t->root)
      printf("cordseg train: %s at epoch %lld step %lld: checkpoint %s written, exiting %d\n",
             v.stop == STOP_TERM ? "SIGTERM" : c->requeue_signal, (long long)epoch + 1, (long long)s + 1, t->path_last,
             stop_exit_code(v.stop));
    e->stop_after = v.stop;
    return EPOCH_STOP;
  }
  return EPOCH_NEXT;
}

/* what an epoch measured */
typedef struct {
  double train_loss, val_loss, mean_dice, dice[256], thr[256];
  double fa_err;     /* mean ROI FA error (%) of validation (val_fa_mean) */
  int do_val, val_constant;
  int best;          /* this epoch became best.h5 */
  double ips, eta; /* images/s of this process's steps; seconds left */
} EpochStats;

/* does the epoch measured in r beat the selected one (select_by)? The first
 * of equal epochs stays */
static int trainer_better(const Trainer *t, const EpochStats *r) {
  const CkptState *st = &t->st;
  if (t->c->select_by == SELECT_BY_FA_ERROR) return !isnan(r->fa_err) && (st->best_fa_err < 0 || r->fa_err < st->best_fa_err);
  return !isnan(r->mean_dice) && r->mean_dice > st->best_dice;
}

/* validation (when due) and best.h5 on a new best selection measure (select_by) */
static void trainer_validate_epoch(Trainer *t, EpochStats *r) {
  const TrainConfig *c = t->c;
  CkptState *st = &t->st;
  double loss_sum, images;
  validate(t->net, &t->lc_val, &t->store, t->va_idx, t->nva, t->d, c->input, &t->B, &loss_sum, &images, r->dice, r->thr,
           &r->val_constant, &r->fa_err);
  r->val_loss = loss_sum / images;
  r->mean_dice = metrics_roi_mean(r->dice, t->K);
  if ((r->best = trainer_better(t, r))) {
    st->best_dice = isnan(r->mean_dice) ? -1 : r->mean_dice, st->best_fa_err = isnan(r->fa_err) ? -1 : r->fa_err;
    st->best_epoch = st->epoch, st->stale_validations = 0;
    unet_state_download(t->net, &t->ms);
    if (t->root) ckpt_write(t->path_best, &t->ms, 0, st, t->config_text);
  } else {
    st->stale_validations++;
  }
}

/* rank 0: the log.csv row and the progress line */
static void trainer_log_epoch(const Trainer *t, const Epoch *e, const EpochStats *r) {
  const TrainConfig *c = t->c;
  const CkptState *st = &t->st;
  const int32_t K = t->K;
  char row[2048], left[32], vl[32], md[32];
  csv_num(vl, sizeof vl, r->val_loss), csv_num(md, sizeof md, r->mean_dice);
  int rl = snprintf(row, sizeof row, "%lld,%lld,%.8g,%s,%.6g,%.4g,%.1f,%.1f,%s", (long long)st->epoch,
                    (long long)st->global_step, r->train_loss, vl, e->lr, r->ips, t->elapsed0 + cs_now() - t->t_start,
                    r->eta, md);
  for (int pass = 0; pass < 2; pass++)
    for (int32_t k = 1; k < K && rl < (int)sizeof row - 40; k++) {
      char v[32];
      csv_num(v, sizeof v, r->do_val ? (pass ? r->thr[k] : r->dice[k]) : NAN);
      rl += snprintf(row + rl, sizeof row - rl, ",%s", v);
    }
  char fe[32];
  csv_num(fe, sizeof fe, r->do_val ? r->fa_err : NAN);
  snprintf(row + rl, sizeof row - rl, ",%s", fe);
  rundir_log_append(t->path_log, t->header, row);
  fmt_duration(r->eta, left, sizeof left);
  printf("epoch %4lld/%d  loss %.5f", (long long)st->epoch, c->epochs, r->train_loss);
  if (r->do_val) {
    printf("  val %.5f  dice", r->val_loss);
    for (int32_t k = 1; k < K; k++) printf(" %.3f", r->dice[k]);
    printf("  mean %.4f", r->mean_dice);
    if (t->lc.kind == LOSS_KIND_HDL) printf(" (searched thr)");
    if (isnan(r->fa_err)) printf("  FAerr n/a");
    else printf("  FAerr %.2f%%", r->fa_err);
    if (r->best) printf("  best (%s)", c->select_by == SELECT_BY_FA_ERROR ? "lowest FA error" : "highest Dice");
  }
  if (t->gnorm_n) printf("  |g| mean %.3g max %.3g", t->gnorm_sum / (double)t->gnorm_n, t->gnorm_max);
  if (t->gnorm_n && t->grad_clip > 0) printf(" clipped %lld/%lld", (long long)t->gnorm_clipped, (long long)t->gnorm_n);
  printf("  lr %.2e  %.1f img/s  left %s\n", e->lr, r->ips, left);
  fflush(stdout);
}

/* validation, best.h5, the log row and progress line, the epoch's
 * checkpoint; then whether to go on */
static EpochOutcome trainer_end_epoch(Trainer *t, const Epoch *e) {
  const TrainConfig *c = t->c;
  CkptState *st = &t->st;
  EpochStats r = {.train_loss = st->epoch_loss_sum / (double)t->spe, .val_loss = NAN, .mean_dice = NAN};
  st->epoch = e->index + 1;
  st->step_in_epoch = 0;
  const int last_epoch = st->epoch == c->epochs;
  r.do_val = t->nva > 0 && (st->epoch % c->val_every == 0 || last_epoch);
  unet_buffers_average(t->net); /* BN running statistics */
  if (r.do_val) trainer_validate_epoch(t, &r);
  if (r.do_val && config_revive_epoch(c, st->epoch)) trainer_revive(t, r.dice);
  const double dt = cs_now() - e->t0;
  t->epoch_time_sum += dt, t->epochs_timed++;
  r.eta = t->epoch_time_sum / t->epochs_timed * (double)(c->epochs - st->epoch);
  r.ips = (double)(t->spe - e->first_step) * c->batch / dt;
  const int early = c->patience > 0 && r.do_val && st->stale_validations >= c->patience;
  /* a collapse nothing can undo (HDL's failure modes): every step of the
   * epoch (that this process ran) had a gradient of exactly 0 (saturated
   * sigmoids), or the validation logits are one constant per class (every
   * feature into the head is 0: only the head's bias still gets a gradient) */
  const int dead_grad = t->gnorm_n > 0 && t->gnorm_max == 0;
  const int collapsed = c->collapse_stop && (dead_grad || r.val_constant);
  if (t->root) trainer_log_epoch(t, e, &r);
  const int periodic = st->epoch % c->ckpt_every_epochs == 0 || last_epoch;
  if (periodic || e->ckpt_after || early || collapsed) {
    trainer_checkpoint(t);
    if (t->root && periodic) rundir_keep_epoch(t->job->run, st->epoch, c->ckpt_keep);
  }
  if (e->stop_after) {
    if (t->root)
      printf("cordseg train: %s after epoch %lld: checkpoint %s written, exiting %d\n",
             e->stop_after == STOP_TERM ? "SIGTERM" : c->requeue_signal, (long long)st->epoch, t->path_last,
             stop_exit_code(e->stop_after));
    return EPOCH_STOP;
  }
  if (early) {
    if (t->root)
      printf("cordseg train: early stop: no better validation %s in %d validations\n",
             c->select_by == SELECT_BY_FA_ERROR ? "FA error" : "Dice", c->patience);
    return EPOCH_EARLY_STOP;
  }
  if (collapsed) {
    if (t->root)
      printf("cordseg train: collapsed at epoch %lld: %s; it cannot learn again, stopping. best.h5 is epoch %lld. "
             "Hint: lower lr_max "
             "(HDL at the demo budget: 5e-4), keep head_init and grad_clip at auto, or another seed (README, \"Why "
             "HDL collapsed\"); collapse_stop = 0 trains on.\n",
             (long long)st->epoch,
             dead_grad ? "the gradient was exactly 0 at every step (saturated sigmoids)"
                       : "the network's output no longer depends on its input (one logit per class on every "
                         "validation pixel: every feature into the head is 0)",
             (long long)st->best_epoch);
    return EPOCH_COLLAPSED;
  }
  return EPOCH_NEXT;
}

/* a finished run: RUN/DONE (rank 0) */
static void trainer_finish(const Trainer *t, const char *reason) {
  if (!t->root) return;
  const CkptState *st = &t->st;
  char txt[512];
  const char *by = cs_enum_name(&SELECT_BY_ENUM, (int)t->c->select_by);
  snprintf(txt, sizeof txt,
           "reason %s\nepochs %lld of %d\nglobal_step %lld\nbest_dice %.6g\nbest_epoch %lld\nselect_by %s\n"
           "best_fa_err %.6g\n",
           reason, (long long)st->epoch, t->c->epochs, (long long)st->global_step, st->best_dice,
           (long long)st->best_epoch, by, st->best_fa_err);
  textio_write(t->path_done, txt);
  char fe[32] = "n/a";
  if (st->best_fa_err >= 0) snprintf(fe, sizeof fe, "%.2f %%", st->best_fa_err);
  if (st->best_epoch > 0)
    printf("cordseg train: done (%s): %lld epochs, best.h5 = epoch %lld by %s (%s): mean validation Dice %.4f, FA "
           "error %s; run %s\n",
           reason, (long long)st->epoch, (long long)st->best_epoch, by,
           t->c->select_by == SELECT_BY_FA_ERROR ? "lowest FA error" : "highest Dice", st->best_dice, fe, t->job->run);
  else
    printf("cordseg train: done (%s): %lld epochs, no best.h5: no validation epoch had a defined %s (select_by = "
           "%s); run %s\n",
           reason, (long long)st->epoch, t->c->select_by == SELECT_BY_FA_ERROR ? "mean FA error" : "mean Dice", by,
           t->job->run);
}

static void trainer_free(Trainer *t) {
  loader_free(t->ld);
  stepper_free(&t->sp);
  unet_free(t->net);
  backend_free(t->be);
  model_state_free(&t->ms);
  free(t->B.x), free(t->B.y), free(t->B.scratch), free(t->B.labels);
  free(t->tr_idx), free(t->va_idx), free(t->config_text);
  folds_free(&t->folds);
  h5store_close(&t->store);
}

int trainer_run(TrainJob *job) {
  Trainer t;
  trainer_setup(&t, job);
  trainer_resume(&t);
  trainer_start(&t);
  int exit_code = TRAIN_EXIT_OK;
  const char *finish = "complete";
  for (int64_t epoch = t.epoch0; epoch < t.c->epochs; epoch++) {
    Epoch e;
    EpochOutcome o = trainer_epoch(&t, epoch, &e);
    if (o == EPOCH_NEXT) o = trainer_end_epoch(&t, &e);
    if (o == EPOCH_STOP) {
      exit_code = stop_exit_code(e.stop_after);
      break;
    }
    if (o == EPOCH_EARLY_STOP || o == EPOCH_COLLAPSED) {
      finish = o == EPOCH_COLLAPSED ? "collapsed" : "early-stop";
      break;
    }
  }
  if (exit_code == TRAIN_EXIT_OK) trainer_finish(&t, finish);
  fflush(stdout);
  trainer_free(&t);
  return exit_code;
}
