/* jobs/evaluate.c: batched prediction of a run's validation and test slices,
 * threshold choice and per-slice metrics (see jobs/evaluate.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/loss.h"
#include "core/metrics.h"
#include "core/stats.h"
#include "core/unet.h"
#include "io/ckpt.h"
#include "io/config.h"
#include "io/folds.h"
#include "io/h5store.h"
#include "io/loader.h"
#include "io/rundir.h"
#include "io/textio.h"
#include "jobs/predict.h"
#include "io/path.h"

static const char *const EVAL_MASKS_NAMES[] = {"label-map", "per-class", "cord-argmax", "peak"};
const CsEnum EVAL_MASKS_ENUM = {EVAL_MASKS_NAMES, 4};

void evaluate_options_default(EvaluateOptions *o) {
  memset(o, 0, sizeof *o);
  o->batch = 8;
  o->device = BACKEND_KIND_AUTO;
}

void evaluate_fa_corr(const EvalSlice *s, int64_t n, double *corr) {
  double *x = mallocCheck(sizeof(double) * (size_t)(n + 1)), *y = mallocCheck(sizeof(double) * (size_t)(n + 1));
  for (int i = 1; i < LABEL_COUNT; i++)
    for (int j = 1; j < LABEL_COUNT; j++) {
      for (int64_t q = 0; q < n; q++) x[q] = s[q].roi[i].fa_pred, y[q] = s[q].roi[j].fa_ref;
      corr[(i - 1) * LABEL_MAX + (j - 1)] = stats_pearson(x, y, n);
    }
  free(x), free(y);
}

void evaluate_summarize(const EvalSlice *s, int64_t n, RoiSummary *sum) {
  RoiMetrics *m = mallocCheck(sizeof(RoiMetrics) * LABEL_COUNT * (size_t)(n + 1));
  for (int64_t q = 0; q < n; q++) memcpy(m + q * LABEL_COUNT, s[q].roi, sizeof s[q].roi);
  memset(sum, 0, sizeof(RoiSummary) * LABEL_COUNT);
  for (int c = 1; c < LABEL_COUNT; c++) metrics_summarize(m, n, LABEL_COUNT, c, &sum[c]);
  for (int c = 1; c < LABEL_COUNT; c++) {
    const RoiSummary *a = &sum[c], *b = &sum[LABEL_LR_SWAP[c]];
    int64_t pred = a->pred_slices + b->pred_slices;
    sum[c].pair_swap_rate = pred ? 100.0 * (double)(a->swap_slices + b->swap_slices) / (double)pred : NAN;
  }
  free(m);
}

void evaluate_tertiles(const EvalSlice *s, int64_t n, EvalTertiles *t) {
  memset(t, 0, sizeof *t);
  t->n = n;
  double *r = mallocCheck(sizeof(double) * (size_t)(n + 1));
  int64_t m = 0;
  for (int64_t q = 0; q < n; q++)
    if (!isnan(s[q].cord_ratio)) r[m++] = s[q].cord_ratio;
  t->cut[0] = m ? stats_percentile(r, m, 100.0 / 3) : NAN;
  t->cut[1] = m ? stats_percentile(r, m, 200.0 / 3) : NAN;
  free(r);
  EvalSlice *g = mallocCheck(sizeof(EvalSlice) * (size_t)(n + 1));
  for (int k = 0; k < EVAL_GROUPS; k++) {
    int64_t gn = 0;
    t->lo[k] = t->hi[k] = NAN;
    for (int64_t q = 0; q < n; q++) {
      const double v = s[q].cord_ratio;
      const int grp = isnan(v) ? 3 : v <= t->cut[0] ? 0 : v <= t->cut[1] ? 1 : 2;
      if (grp != k) continue;
      g[gn++] = s[q];
      if (!isnan(v)) t->lo[k] = isnan(t->lo[k]) || v < t->lo[k] ? v : t->lo[k], t->hi[k] = isnan(t->hi[k]) || v > t->hi[k] ? v : t->hi[k];
      for (int c = 1; c < LABEL_COUNT; c++)
        t->dice_n[k][c] += !isnan(s[q].roi[c].dice), t->fa_n[k][c] += !isnan(s[q].roi[c].fa_err_pct);
    }
    t->count[k] = gn;
    evaluate_summarize(g, gn, t->sum[k]);
  }
  free(g);
}

void evaluate_print_tertiles(FILE *f, const char *prefix, const EvalTertiles *t) {
  fprintf(f, "%scompression tertiles of the AP/LR cord ratio (reference labels): cut points %.3f, %.3f\n", prefix,
          t->cut[0], t->cut[1]);
  fprintf(f, "%s%-22s %6s %13s  %-6s", prefix, "group", "slices", "ratio", "");
  for (int c = 1; c < LABEL_COUNT; c++) fprintf(f, " %6s", LABEL_ABBREV[c]);
  fputc('\n', f);
  for (int k = 0; k < EVAL_GROUPS; k++) {
    if (k == 3 && !t->count[k]) continue;
    for (int what = 0; what < 2; what++) {
      if (what == 0) fprintf(f, "%s%-22s %6lld %6.3f-%-6.3f  %-6s", prefix, EVAL_GROUP_NAMES[k], (long long)t->count[k], t->lo[k], t->hi[k], "Dice");
      else fprintf(f, "%s%-22s %6s %13s  %-6s", prefix, "", "", "", "FAerr%");
      for (int c = 1; c < LABEL_COUNT; c++)
        fprintf(f, what ? " %6.2f" : " %6.3f", what ? t->sum[k][c].fa_err_mean : t->sum[k][c].dice_mean);
      fputc('\n', f);
    }
  }
}

/* evaluate's slices: a store's slices idx[] through the predictor, a
 * progress line per batch unless quiet */
typedef struct {
  const H5Store *store;
  const int32_t *idx;
  InputKind input;
  float *scratch; /* [2][H][W] */
  const char *what;
  int quiet;
  double t0;
  void (*take)(void *ctx, int32_t j, const float *probs);
  void *ctx;
} EvalFeed;

static void feed_load(void *ctx, int32_t j, int32_t row, float *x) {
  const EvalFeed *f = ctx;
  (void)row;
  loader_load_slice(f->store, f->idx[j], f->input, x, NULL, f->scratch);
}

static void feed_take(void *ctx, int32_t j, int32_t row, const float *probs, const float *logits) {
  const EvalFeed *f = ctx;
  (void)row, (void)logits;
  f->take(f->ctx, j, probs);
}

static void feed_progress(void *ctx, int32_t done, int32_t n) {
  const EvalFeed *f = ctx;
  if (f->quiet) return;
  const double dt = cs_now() - f->t0;
  fprintf(stderr, "\revaluate: %s %d/%d slices (%.1f slices/s)", f->what, done, n, done / (dt > 0 ? dt : 1e-9));
  if (done == n) fprintf(stderr, "\n");
}

/* probabilities [k][H][W] of store slices idx[0..n): fn(ctx, j, probs) for each */
static void predict_slices(Predictor *p, const H5Store *store, InputKind input, float *scratch, const int32_t *idx,
                           int32_t n, const char *what, int quiet, void (*fn)(void *ctx, int32_t j, const float *probs),
                           void *ctx) {
  EvalFeed f = {.store = store, .idx = idx, .input = input, .scratch = scratch, .what = what, .quiet = quiet,
                .t0 = cs_now(), .take = fn, .ctx = ctx};
  const PredictSink s = {.ctx = &f, .load = feed_load, .take = feed_take, .progress = feed_progress};
  predict_run(p, n, 0, &s);
}

typedef struct {
  ThreshHist hist;
  ThreshHist cord; /* cord-argmax: the cord's probability max_c p_c (c >= 1) against ref != 0, as class 1 of 2 */
  const H5Store *store;
  const int32_t *idx;
  uint8_t *ref;
  float *cprob; /* [2][H][W]: 0, then max_c p_c */
  float *peak;  /* --masks peak: [K][H][W] the slice's heatmaps relative to their peaks; NULL = not that mode */
} ValCtx;

/* [2][hw] probs of the two-class problem cord vs background: plane 0 unused (0), plane 1 max_{c>=1} p_c */
static void cord_probs(const float *probs, int32_t k, int64_t hw, float *out) {
  for (int64_t q = 0; q < hw; q++) {
    float m = 0;
    for (int32_t c = 1; c < k; c++) m = probs[(int64_t)c * hw + q] > m ? probs[(int64_t)c * hw + q] : m;
    out[q] = 0, out[hw + q] = m;
  }
}

static void val_slice(void *ctx, int32_t j, const float *probs) {
  ValCtx *v = ctx;
  const int64_t hw = (int64_t)v->store->h * v->store->w;
  h5store_read_slices(v->store, &v->idx[j], 1, NULL, NULL, v->ref);
  if (v->peak) predict_heatmap_peak(probs, v->hist.k, hw, v->peak), probs = v->peak;
  metrics_hist_add(&v->hist, probs, v->ref, hw);
  if (!v->cprob) return;
  cord_probs(probs, v->hist.k, hw, v->cprob);
  for (int64_t q = 0; q < hw; q++) v->ref[q] = v->ref[q] != 0;
  metrics_hist_add(&v->cord, v->cprob, v->ref, hw);
}

typedef struct {
  const H5Store *store;
  const int32_t *idx;
  int sigmoid;
  int per_class; /* sigmoid models: each ROI measured on its own mask (EVAL_MASKS_PER_CLASS) */
  double cord_thr; /* sigmoid models, EVAL_MASKS_CORD_ARGMAX: the cord threshold; < 0 = not that mode */
  const double *thr;
  int32_t k;
  uint8_t *pred; /* [n][H][W] */
  uint8_t *mask; /* per_class: [H][W] one ROI's mask as label ids */
  uint8_t *ref;
  float *fa;
  float *peak; /* --masks peak: as ValCtx's */
  EvalSlice *out;
} TestCtx;

static void test_slice(void *ctx, int32_t j, const float *probs) {
  TestCtx *t = ctx;
  const int64_t hw = (int64_t)t->store->h * t->store->w;
  uint8_t *pred = t->pred + (size_t)j * hw;
  if (t->sigmoid && t->peak) predict_heatmap_peak(probs, t->k, hw, t->peak), probs = t->peak;
  if (!(t->sigmoid && t->cord_thr >= 0)) predict_labels(probs, t->k, hw, t->sigmoid, t->thr, pred);
  else /* cord-argmax: the ROI with the largest p_c wherever the cord's max passes */
    for (int64_t q = 0; q < hw; q++) {
      int32_t best = 1;
      for (int32_t c = 2; c < t->k; c++) best = probs[(int64_t)c * hw + q] > probs[(int64_t)best * hw + q] ? c : best;
      pred[q] = (double)probs[(int64_t)best * hw + q] >= t->cord_thr ? (uint8_t)best : 0;
    }
  int32_t i = t->idx[j];
  h5store_read_slices(t->store, &i, 1, NULL, t->store->has_fa ? t->fa : NULL, t->ref); /* FA metrics need FA */
  const SliceMeta *m = &t->store->meta[i];
  EvalSlice *e = &t->out[j];
  e->index = i, e->subject = m->subject, e->slice = m->slice, e->level = m->level;
  char nb[H5STORE_NAME_MAX];
  snprintf(e->subject_name, sizeof e->subject_name, "%s", h5store_subject_name(t->store, m->subject, nb));
  metrics_slice(pred, t->ref, t->store->has_fa ? t->fa : NULL, t->store->h, t->store->w, m->spacing, LABEL_COUNT, LABEL_LR_SWAP, e->roi);
  e->cord_ratio = h5store_cord_ratio(t->store, i);
  if (!(t->sigmoid && t->per_class)) return;
  for (int32_t c = 1; c < LABEL_COUNT; c++) { /* ROI c on its own mask [p_c >= t_c], whatever its neighbours hold */
    RoiMetrics one[LABEL_COUNT];
    const float *pc = probs + (int64_t)c * hw;
    for (int64_t q = 0; q < hw; q++) t->mask[q] = (double)pc[q] >= t->thr[c] ? (uint8_t)c : 0;
    metrics_slice(t->mask, t->ref, t->store->has_fa ? t->fa : NULL, t->store->h, t->store->w, m->spacing, LABEL_COUNT, LABEL_LR_SWAP, one);
    e->roi[c] = one[c];
  }
}

/* one evaluation as it runs */
typedef struct {
  const EvaluateOptions *o;
  RunInfo ri;
  TrainConfig cfg;
  char ckpt[PATH_CAP], outdir[PATH_CAP];
  H5Store store, other; /* the run's store; --test-store's */
  const H5Store *ts;    /* the store tested */
  Folds folds;
  int32_t *vidx, *tidx, nval, ntest;
  Backend *be;
  Unet *net;
  Predictor pr;
  int64_t epoch; /* the checkpoint's */
  int sigmoid;
  double thr[LABEL_COUNT], vdice[LABEL_COUNT];
  double cord_thr, cord_vdice; /* --masks cord-argmax: the searched cord threshold and its validation Dice; -1 = off */
  TestCtx t;
  RoiSummary sum[LABEL_COUNT];
  double corr[LABEL_MAX * LABEL_MAX];
  EvalTertiles ter;
  EvalSelection sel;
  char rule[256];
} Eval;

/* which rule chose the checkpoint evaluated (summary.json "model_selection", the first line) */
static void evaluate_selection(Eval *e) {
  const int fa = e->cfg.select_by == SELECT_BY_FA_ERROR;
  const char *base = strrchr(e->ckpt, '/');
  base = base ? base + 1 : e->ckpt;
  e->sel.select_by = cs_enum_name(&SELECT_BY_ENUM, (int)e->cfg.select_by);
  if (e->o->ckpt) {
    e->sel.checkpoint = "named";
    snprintf(e->rule, sizeof e->rule, "the checkpoint named with --ckpt (%.80s); the run's best.h5 rule is select_by = %s",
             base, e->sel.select_by);
  } else if (!strcmp(base, "best.h5")) {
    e->sel.checkpoint = "best.h5";
    snprintf(e->rule, sizeof e->rule, "best.h5: the epoch of the %s on validation (select_by = %s)",
             fa ? "lowest mean ROI FA error" : "highest mean Dice", e->sel.select_by);
  } else {
    e->sel.checkpoint = "last.h5";
    snprintf(e->rule, sizeof e->rule, "last.h5: the run has no best.h5 (no validation epoch had a %s)",
             fa ? "defined mean FA error" : "defined mean Dice");
  }
  e->sel.rule = e->rule;
}

/* run.json, config.ini and the checkpoint of the run directory */
static void evaluate_open_run(Eval *e) {
  const EvaluateOptions *o = e->o;
  char err[PATH_MSG_CAP], p[PATH_CAP];
  if (runinfo_read(o->run_dir, &e->ri, err, sizeof err))
    cs_fatal("point evaluate at a directory written by `cordseg train` (it holds run.json)", "%s", err);
  if (!e->ri.done)
    fprintf(stderr, "cordseg evaluate: warning: '%s' has no DONE file: training did not finish, evaluating anyway\n",
            o->run_dir);
  config_defaults_stored(&e->cfg);
  rundir_path(p, sizeof p, o->run_dir, "config.ini");
  config_load(&e->cfg, p);
  CS_CHECK(e->cfg.classes == LABEL_COUNT, "evaluate knows the 9 labels of io/labels.h; train with classes = 9",
           "'%s': classes = %d", p, e->cfg.classes);
  if (o->ckpt) snprintf(e->ckpt, sizeof e->ckpt, "%s", o->ckpt);
  else {
    rundir_path(e->ckpt, sizeof e->ckpt, o->run_dir, "ckpt/best.h5");
    if (access(e->ckpt, R_OK) != 0) rundir_path(e->ckpt, sizeof e->ckpt, o->run_dir, "ckpt/last.h5");
  }
  evaluate_selection(e);
  CS_CHECK(access(e->ckpt, R_OK) == 0, "train the run first, or name a checkpoint with --ckpt",
           "no checkpoint: '%s' is missing", e->ckpt);
}

/* the store and the folds the run recorded, and the fold's validation and test slices */
static void evaluate_open_data(Eval *e) {
  const TrainConfig *cfg = &e->cfg;
  h5store_open(&e->store, cfg->store);
  char checksum[64];
  h5store_attr_string(&e->store, "checksum", checksum, sizeof checksum);
  CS_CHECK(!strcmp(checksum, e->ri.data_checksum),
           "the store changed since training; evaluate against the store the run was trained on",
           "store '%s' has checksum %s, run '%s' recorded %s", cfg->store, checksum, e->o->run_dir, e->ri.data_checksum);
  folds_read(&e->folds, cfg->folds);
  CS_CHECK(!strcmp(e->folds.hash, e->ri.folds_hash), "the folds file changed since training; restore it or retrain",
           "folds '%s' has hash %s, run '%s' recorded %s", cfg->folds, e->folds.hash, e->o->run_dir, e->ri.folds_hash);
  e->nval = folds_indices(&e->folds, cfg->fold, FOLD_VAL, e->store.meta, e->store.n, &e->vidx);
  e->ntest = folds_indices(&e->folds, cfg->fold, FOLD_TEST, e->store.meta, e->store.n, &e->tidx);
  CS_CHECK(e->ntest > 0, "use a folds file whose fold has test subjects", "fold %d of '%s' has no test slices", cfg->fold,
           cfg->folds);
}

/* the run's network with the checkpoint's weights, and its predictor */
static void evaluate_open_net(Eval *e) {
  const TrainConfig *cfg = &e->cfg;
  UnetConfig ucfg;
  config_unet(cfg, &ucfg);
  const char *bad = unet_config_check(&ucfg, e->store.h, e->store.w);
  CS_CHECK(!bad, "the run's config does not fit this store", "%s", bad ? bad : "");
  LossConfig lc;
  config_loss(cfg, &lc);
  e->be = backend_init((BackendKind)e->o->device, cfg->precision, cfg->deterministic, -1);
  e->net = unet_init(e->be, &ucfg, e->o->batch, e->store.h, e->store.w);
  predict_init(&e->pr, e->net, &lc, e->o->batch, ucfg.in_channels, ucfg.classes, e->store.h, e->store.w, 0);
  CkptState st;
  ModelState ms;
  model_state_init(&ms, e->net, 0);
  ckpt_read(e->ckpt, &ms, &st);
  char want[32]; /* a checkpoint of another run or config must not be reported under this run's provenance */
  config_hash(cfg, want);
  CS_CHECK(!strcmp(st.config_hash, want), "evaluate a checkpoint from its own run directory (--ckpt names one of this run)",
           "checkpoint '%s' was written by config %s, run '%s' has config %s", e->ckpt, st.config_hash, e->o->run_dir,
           want);
  unet_state_upload(e->net, &ms);
  model_state_free(&ms);
  e->epoch = st.epoch;
  e->sel.epoch = st.epoch;
}

/* thresholds: sigmoid (HDL) models search on validation, softmax models take argmax */
static void evaluate_thresholds(Eval *e, float *scratch) {
  const int64_t hw = (int64_t)e->store.h * e->store.w;
  e->sigmoid = e->cfg.loss == LOSS_KIND_HDL;
  for (int c = 0; c < LABEL_COUNT; c++) e->thr[c] = 0.5, e->vdice[c] = NAN;
  e->cord_thr = -1, e->cord_vdice = NAN;
  if (!e->sigmoid) return;
  const int cord = e->o->masks == EVAL_MASKS_CORD_ARGMAX;
  ValCtx v = {.store = &e->store, .idx = e->vidx, .ref = mallocCheck((size_t)hw),
              .cprob = cord ? mallocCheck(sizeof(float) * 2 * (size_t)hw) : NULL,
              .peak = e->o->masks == EVAL_MASKS_PEAK ? mallocCheck(sizeof(float) * LABEL_COUNT * (size_t)hw) : NULL};
  metrics_hist_init(&v.hist, LABEL_COUNT);
  if (cord) metrics_hist_init(&v.cord, 2);
  if (e->nval > 0)
    predict_slices(&e->pr, &e->store, e->cfg.input, scratch, e->vidx, e->nval, "validation", e->o->quiet, val_slice, &v);
  else
    fprintf(stderr, "cordseg evaluate: warning: fold %d has no validation slices: thresholds stay 0.5\n", e->cfg.fold);
  if (e->nval > 0) metrics_hist_best(&v.hist, e->thr, e->vdice);
  metrics_hist_free(&v.hist);
  if (cord) {
    double t2[2] = {0, 0.5}, d2[2] = {NAN, NAN};
    if (e->nval > 0) metrics_hist_best(&v.cord, t2, d2);
    e->cord_thr = t2[1], e->cord_vdice = d2[1];
    metrics_hist_free(&v.cord);
  }
  free(v.ref), free(v.cprob), free(v.peak);
}

/* --test-store: every slice (of the --subjects listed) of another cohort's store */
static void evaluate_other_cohort(Eval *e) {
  const EvaluateOptions *o = e->o;
  H5Store *other = &e->other;
  h5store_open(other, o->test_store);
  CS_CHECK(other->h == e->store.h && other->w == e->store.w,
           "import the cohort at the training slice size and spacing (cordseg import --size)",
           "store '%s' holds %dx%d slices, the run was trained on %dx%d", o->test_store, other->h, other->w,
           e->store.h, e->store.w);
  char oc[64];
  h5store_attr_string(other, "checksum", oc, sizeof oc);
  if (!strcmp(oc, e->ri.data_checksum))
    fprintf(stderr, "cordseg evaluate: warning: '%s' is the training store: its train and validation subjects are "
                    "tested too\n", o->test_store);
  free(e->tidx);
  e->tidx = mallocCheck(sizeof(int32_t) * (size_t)(other->n ? other->n : 1));
  e->ntest = 0;
  /* --subjects: names (or ids as text) of the other store's subjects, each one it holds */
  int32_t *want = mallocCheck(sizeof(int32_t) * (o->subjects ? strlen(o->subjects) + 1 : 1)), nwant = 0;
  for (const char *q = o->subjects; q && *q;) {
    const size_t len = strcspn(q, ",");
    char name[H5STORE_NAME_MAX];
    int32_t ns;
    CS_CHECK(len > 0 && len < sizeof name, "list subjects as sub-01,sub-05 (or ids 3,5,8)", "--subjects '%s': bad list",
             o->subjects);
    memcpy(name, q, len), name[len] = 0;
    if (!h5store_subject_find(other, name, &want[nwant++], &ns))
      cs_fatal("check the names with cordseg info STORE", "--subjects: store '%s' has no subject '%s'", o->test_store,
               name);
    q += len + (q[len] == ',');
  }
  for (int32_t i = 0; i < other->n; i++) {
    int keep = !o->subjects;
    for (int32_t j = 0; j < nwant && !keep; j++) keep = want[j] == other->meta[i].subject;
    if (keep) e->tidx[e->ntest++] = i;
  }
  free(want);
  CS_CHECK(e->ntest > 0, "check the ids with cordseg info STORE", "store '%s' has no slices of subjects '%s'",
           o->test_store, o->subjects ? o->subjects : "(any)");
  e->ts = other;
  if (!o->quiet)
    printf("evaluate: testing on another cohort: %s (checksum %s), %d slices%s%s\n", o->test_store, oc, e->ntest,
           o->subjects ? " of subjects " : "", o->subjects ? o->subjects : "");
}

/* the test slices: labels, per-slice metrics, their summary and the FA correlations */
static void evaluate_test(Eval *e, float *scratch) {
  const int64_t hw = (int64_t)e->store.h * e->store.w;
  e->t = (TestCtx){.store = e->ts, .idx = e->tidx, .sigmoid = e->sigmoid, .thr = e->thr, .k = e->pr.k,
                   .pred = mallocCheck((size_t)e->ntest * (size_t)hw), .ref = mallocCheck((size_t)hw),
                   .fa = mallocCheck(sizeof(float) * (size_t)hw), .per_class = e->o->masks == EVAL_MASKS_PER_CLASS,
                   .cord_thr = e->cord_thr,
                   .peak = e->o->masks == EVAL_MASKS_PEAK ? mallocCheck(sizeof(float) * LABEL_COUNT * (size_t)hw) : NULL,
                   .mask = mallocCheck((size_t)hw),
                   .out = callocCheck((size_t)e->ntest, sizeof(EvalSlice))};
  predict_slices(&e->pr, e->ts, e->cfg.input, scratch, e->tidx, e->ntest, "test", e->o->quiet, test_slice, &e->t);
  evaluate_summarize(e->t.out, e->ntest, e->sum);
  evaluate_fa_corr(e->t.out, e->ntest, e->corr);
  evaluate_tertiles(e->t.out, e->ntest, &e->ter);
}

/* --out, else RUN/eval, or RUN/eval-<store file name without .h5> for another cohort */
static void evaluate_outdir(Eval *e) {
  const EvaluateOptions *o = e->o;
  if (o->out) snprintf(e->outdir, sizeof e->outdir, "%s", o->out);
  else if (o->test_store) {
    const char *b = strrchr(o->test_store, '/');
    char name[256];
    snprintf(name, sizeof name, "eval-%s", b ? b + 1 : o->test_store);
    char *dot = strstr(name, ".h5");
    if (dot) *dot = 0;
    rundir_path(e->outdir, sizeof e->outdir, o->run_dir, name);
  } else
    rundir_path(e->outdir, sizeof e->outdir, o->run_dir, "eval");
}

/* thresholds.txt, slices.csv, pred.h5, cohort.txt (another cohort), summary.json */
static void evaluate_write(Eval *e) {
  const EvaluateOptions *o = e->o;
  char p[PATH_CAP];
  evaluate_outdir(e);
  textio_mkdir_p(e->outdir, "choose a writable --out directory");
  rundir_path(p, sizeof p, e->outdir, "thresholds.txt");
  evalio_thresholds_write(p, e->sigmoid, e->thr, e->vdice, LABEL_COUNT);
  rundir_path(p, sizeof p, e->outdir, "slices.csv");
  evalio_slices_write(p, &e->ri, e->t.out, e->ntest);
  rundir_path(p, sizeof p, e->outdir, "pred.h5");
  evalio_pred_write(p, e->ri.name, e->ntest, e->store.h, e->store.w, e->tidx, e->t.pred);
  if (o->test_store) { /* which cohort these files are about */
    char txt[PATH_MSG_CAP], oc[64];
    h5store_attr_string(e->ts, "checksum", oc, sizeof oc);
    snprintf(txt, sizeof txt, "store %s\nchecksum %s\nslices %d\nsubjects %s\ntrained_on %s\n", o->test_store, oc,
             e->ntest, o->subjects ? o->subjects : "all", e->cfg.store);
    rundir_path(p, sizeof p, e->outdir, "cohort.txt");
    textio_write(p, txt);
  }
  rundir_path(p, sizeof p, e->outdir, "summary.json");
  char cordm[96];
  snprintf(cordm, sizeof cordm, "sigmoid, cord threshold %.3f (validation Dice %.4f), then argmax", e->cord_thr,
           e->cord_vdice);
  const char *mode = !e->sigmoid ? "argmax"
                     : o->masks == EVAL_MASKS_PER_CLASS ? "sigmoid thresholds, per-class masks (overlaps allowed)"
                     : o->masks == EVAL_MASKS_CORD_ARGMAX ? cordm
                     : o->masks == EVAL_MASKS_PEAK ? "sigmoid thresholds on the heatmaps relative to their per-slice peak, label map"
                                                          : "sigmoid thresholds, label map";
  evalio_summary_write(p, &e->ri, e->ckpt, o->git, e->sigmoid, mode, e->thr, e->vdice, e->sum, e->corr, e->ntest, e->nval,
                       &e->sel, &e->ter);
}

static void evaluate_print(const Eval *e, double t0) {
  const RoiSummary *sum = e->sum;
  if (e->sigmoid && e->o->masks == EVAL_MASKS_CORD_ARGMAX)
    printf("evaluate: masks: cord-argmax (cord = max_c p_c >= %.3f, validation Dice %.4f; inside it the largest p_c; "
           "the per-class thresholds below are not used)\n", e->cord_thr, e->cord_vdice);
  else if (e->sigmoid)
    printf("evaluate: masks: %s\n", e->o->masks == EVAL_MASKS_PER_CLASS
                                        ? "per-class (each ROI on its own threshold mask, overlaps allowed)"
                                    : e->o->masks == EVAL_MASKS_PEAK
                                        ? "peak (each heatmap divided by its maximum on the slice, then the label map; the "
                                          "thresholds below are relative)"
                                        : "label map (the most probable class among those passing their threshold)");
  printf("evaluate: %-18s %6s %6s %6s %8s %7s %9s %7s\n", "ROI", "thr", "Dice", "Dice*", "outlier%", "HD95mm",
         "FAerr%", "swap%");
  for (int c = 1; c < LABEL_COUNT; c++)
    printf("evaluate: %-18s %6.3f %6.3f %6.3f %8.1f %7.2f %9.2f %7.1f\n", LABEL_NAMES[c], e->sigmoid ? e->thr[c] : NAN,
           sum[c].dice_mean, sum[c].dice_mean_no, sum[c].outlier_pct, sum[c].hd95_mean, sum[c].fa_err_mean,
           sum[c].swap_rate);
  evaluate_print_tertiles(stdout, "evaluate: ", &e->ter);
  printf("evaluate: model: %s\n", e->rule);
  printf("evaluate: (Dice* = outliers removed) -> %s/{slices.csv,summary.json,thresholds.txt,pred.h5} in %.1f s\n",
         e->outdir, cs_now() - t0);
}

static void evaluate_free(Eval *e) {
  free(e->t.pred), free(e->t.ref), free(e->t.fa), free(e->t.out), free(e->t.mask), free(e->t.peak);
  predict_free(&e->pr);
  unet_free(e->net);
  backend_free(e->be);
  free(e->vidx), free(e->tidx);
  folds_free(&e->folds);
  if (e->o->test_store) h5store_close(&e->other);
  h5store_close(&e->store);
}

void evaluate_run(const EvaluateOptions *o) {
  const double t0 = cs_now();
  Eval *e = callocCheck(1, sizeof *e);
  e->o = o;
  evaluate_open_run(e);
  evaluate_open_data(e);
  e->ts = &e->store;
  evaluate_open_net(e);
  float *scratch = mallocCheck(sizeof(float) * 2 * (size_t)e->store.h * e->store.w);
  if (!o->quiet)
    printf("evaluate: %s (arm %s, fold %d, seed %lld), checkpoint %s (epoch %lld; %s), %d val + %d test slices\n",
           e->ri.name, e->ri.arm, e->ri.fold, (long long)e->ri.seed, e->ckpt, (long long)e->epoch, e->rule, e->nval,
           e->ntest);
  evaluate_thresholds(e, scratch);
  if (o->test_store) evaluate_other_cohort(e);
  evaluate_test(e, scratch);
  evaluate_write(e);
  if (!o->quiet) evaluate_print(e, t0);
  free(scratch);
  evaluate_free(e);
  free(e);
}
