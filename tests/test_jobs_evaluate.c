/* tests/test_jobs_evaluate.c: evaluate_run end to end on a synthetic store
 * (tests/evalfix.h) and a checkpoint of a seeded, untrained UNet-VGG16/4,
 * checked against an independent path: each slice run alone through the
 * network (input built here from the raw store: b0 / its 99.5th percentile,
 * FA clamped), then
 *   - thresholds.txt = the brute-force 1001-threshold pooled-Dice search on
 *     the validation probabilities (HDL, sigmoid);
 *   - pred.h5 = the thresholded (HDL) or argmax (hybrid) labels of the test
 *     slices, in the fold's test order;
 *   - slices.csv = the test slices of the fold with their store metadata and
 *     metrics_slice of (pred.h5, store labels, store FA, spacing);
 *   - summary.json carries the provenance;
 *   - a run whose data checksum differs from the store is refused. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/common.h"
#include "core/loss.h"
#include "core/metrics.h"
#include "core/unet.h"
#include "io/ckpt.h"
#include "jobs/evaluate.h"
#include "io/evalio.h"
#include "io/loader.h"
#include "io/textio.h"
#include "tests/evalfix.h"
#include "tests/testutil.h"
#include "io/path.h"

enum { SZ = 32, HW = SZ * SZ, K = 9, BATCH = 4 };
static char g_dir[512], g_store[700], g_folds[700], g_sum[64], g_fh[32];

/* a run dir with a checkpoint of a seeded untrained net */
static void make_run(const char *dir, LossKind loss, const char *checksum, TrainConfig *cfg) {
  config_defaults(cfg);
  snprintf(cfg->store, sizeof cfg->store, "%s", g_store);
  snprintf(cfg->folds, sizeof cfg->folds, "%s", g_folds);
  cfg->fold = 1, cfg->input = INPUT_B0_FA, cfg->width_div = 4, cfg->loss = loss, cfg->init = UNET_INIT_KAIMING;
  fix_run_dir(dir, cfg, loss == LOSS_KIND_HDL ? "vgg16-hdl-b0fa" : "vgg16-hybrid-b0fa", g_fh, checksum, 1);
  fix_run_ckpt(dir, cfg, t_cpu(), SZ);
}

/* probabilities [K][HW] of slice i, the slice alone at batch position 0 */
static void ref_probs(Unet *net, const LossConfig *lc, const H5Store *s, int32_t i, float *probs) {
  static float x[BATCH * 2 * HW], b0[HW], fa[HW], all[BATCH * K * HW];
  memset(x, 0, sizeof x);
  h5store_read_slices(s, &i, 1, b0, fa, NULL);
  /* the training normalisation (the contract): b0 / its slice's 99.5th percentile, FA clamped */
  prep_normalize_b0(b0, HW);
  for (int p = 0; p < HW; p++) x[p] = b0[p], x[HW + p] = fa[p] < 0 ? 0 : fa[p] > 1 ? 1 : fa[p];
  const float *logits = unet_forward(net, x, 0);
  loss_probs(lc, logits, BATCH, K, SZ, SZ, all);
  memcpy(probs, all, sizeof(float) * K * HW);
}

typedef struct {
  const char *run;
} RunArg;
static void evaluate_child(void *arg) {
  EvaluateOptions o;
  evaluate_options_default(&o);
  o.run_dir = ((RunArg *)arg)->run, o.quiet = 1;
  evaluate_run(&o);
}

static void check_run(const char *run, LossKind loss) {
  TrainConfig cfg;
  make_run(run, loss, g_sum, &cfg);
  EvaluateOptions o;
  evaluate_options_default(&o);
  o.run_dir = run, o.batch = BATCH, o.quiet = 1;
  evaluate_run(&o);

  H5Store s;
  h5store_open(&s, g_store);
  Folds f;
  folds_read(&f, g_folds);
  int32_t *vidx, *tidx;
  int32_t nv = folds_indices(&f, cfg.fold, FOLD_VAL, s.meta, s.n, &vidx);
  int32_t nt = folds_indices(&f, cfg.fold, FOLD_TEST, s.meta, s.n, &tidx);
  printf("%s: %d validation, %d test slices\n", run, nv, nt);
  T_CHECK(nv > 0 && nt > BATCH, "fold has validation slices and more than one test batch");
  UnetConfig u;
  config_unet(&cfg, &u);
  LossConfig lc;
  config_loss(&cfg, &lc);
  Unet *net = unet_init(t_cpu(), &u, BATCH, SZ, SZ);
  CkptState st;
  char p[PATH_CAP], err[PATH_MSG_CAP];
  rundir_path(p, sizeof p, run, "ckpt/best.h5");
  ModelState ms;
  model_state_init(&ms, net, 0);
  ckpt_read(p, &ms, &st);
  unet_state_upload(net, &ms);
  model_state_free(&ms);
  float *probs = mallocCheck(sizeof(float) * K * HW * (size_t)(nv > nt ? nv : nt));
  uint8_t *lab = mallocCheck((size_t)HW * (nv > nt ? nv : nt));

  /* thresholds: brute force over the pooled validation pixels */
  int sig = -1;
  double thr[K];
  rundir_path(p, sizeof p, run, "eval/thresholds.txt");
  T_CHECK(evalio_thresholds_read(p, &sig, thr, K, err, sizeof err) == 0, "thresholds.txt readable (%s)", err);
  T_CHECK(sig == (loss == LOSS_KIND_HDL), "mode %s", loss == LOSS_KIND_HDL ? "sigmoid" : "argmax");
  for (int32_t j = 0; j < nv; j++) {
    ref_probs(net, &lc, &s, vidx[j], probs + (size_t)j * K * HW);
    h5store_read_slices(&s, &vidx[j], 1, NULL, NULL, lab + (size_t)j * HW);
  }
  if (sig) {
    int ok = 1;
    for (int c = 1; c < K; c++) {
      double best = -1;
      int bi = -1;
      for (int t = 0; t <= 1000; t++) {
        long tp = 0, fp = 0, fn = 0;
        for (int32_t j = 0; j < nv; j++)
          for (int q = 0; q < HW; q++) {
            int P = (double)probs[((size_t)j * K + c) * HW + q] >= t / 1000.0, R = lab[(size_t)j * HW + q] == c;
            tp += P && R, fp += P && !R, fn += !P && R;
          }
        double d = (tp + fp + fn) && (tp + fn) ? 2.0 * tp / (2.0 * tp + fp + fn) : NAN;
        if (!isnan(d) && d > best) best = d, bi = t;
      }
      double want = bi < 0 ? 0.5 : bi / 1000.0;
      if (fabs(thr[c] - want) > 1e-9)
        ok = 0, fprintf(stderr, "class %d: threshold %.3f, brute force %.3f\n", c, thr[c], want);
    }
    T_CHECK(ok, "thresholds = brute-force validation search");
  }

  /* predicted labels of the test slices */
  int32_t n, h, w, *idx;
  uint8_t *pred;
  rundir_path(p, sizeof p, run, "eval/pred.h5");
  T_CHECK(evalio_pred_read(p, &n, &h, &w, &idx, &pred, err, sizeof err) == 0, "pred.h5 readable (%s)", err);
  T_CHECK(n == nt && h == SZ && w == SZ && !memcmp(idx, tidx, sizeof(int32_t) * (size_t)nt),
          "pred.h5 holds the fold's test slices in order");
  long mism = 0;
  for (int32_t j = 0; j < nt; j++) {
    ref_probs(net, &lc, &s, tidx[j], probs);
    for (int q = 0; q < HW; q++) {
      int want = 0;
      float bp = -1;
      for (int c = sig ? 1 : 0; c < K; c++) {
        float v = probs[(size_t)c * HW + q];
        if ((sig ? (double)v >= thr[c] : 1) && v > bp) want = c, bp = v;
      }
      mism += pred[(size_t)j * HW + q] != want;
    }
  }
  printf("%s: %ld of %d test pixels differ from the one-slice-at-a-time path\n", run, mism, nt * HW);
  T_CHECK(mism == 0, "batched labels = one-slice labels (%ld differ)", mism);

  /* slices.csv against metrics_slice of pred.h5 vs the store */
  EvalSlice *es;
  int64_t ne;
  RunInfo ri;
  rundir_path(p, sizeof p, run, "eval/slices.csv");
  T_CHECK(evalio_slices_read(p, &es, &ne, &ri, err, sizeof err) == 0, "slices.csv readable (%s)", err);
  T_CHECK(ne == nt && !strcmp(ri.folds_hash, g_fh) && !strcmp(ri.data_checksum, g_sum) && ri.fold == cfg.fold,
          "slices.csv: one slice per test slice, provenance columns");
  int ok = 1;
  for (int64_t j = 0; j < ne && j < nt; j++) {
    const SliceMeta *m = &s.meta[tidx[j]];
    ok &= es[j].index == tidx[j] && es[j].subject == m->subject && es[j].slice == m->slice;
    uint8_t ref[HW];
    float fa[HW];
    h5store_read_slices(&s, &tidx[j], 1, NULL, fa, ref);
    RoiMetrics rm[K];
    metrics_slice(pred + (size_t)j * HW, ref, fa, SZ, SZ, m->spacing, K, LABEL_LR_SWAP, rm);
    for (int c = 1; c < K; c++) {
      const RoiMetrics *a = &es[j].roi[c], *b = &rm[c];
#define EQ(f) ((isnan(a->f) && isnan(b->f)) || fabs(a->f - b->f) <= 1e-6 * fmax(1, fabs(b->f)))
      ok &= a->tp == b->tp && a->fp == b->fp && a->fn == b->fn && a->lr_cross_px == b->lr_cross_px &&
            a->outlier == b->outlier && EQ(dice) && EQ(recall) && EQ(precision) && EQ(hd95_mm) && EQ(fa_pred) &&
            EQ(fa_ref) && EQ(fa_err_pct) && EQ(ref_mm2);
#undef EQ
    }
  }
  T_CHECK(ok, "slices.csv rows = metrics of pred.h5 against the store's labels, FA and spacing");
  rundir_path(p, sizeof p, run, "eval/summary.json");
  char *js = textio_read(p);
  cJSON *sj = js ? cJSON_Parse(js) : NULL;
  const cJSON *prov = cJSON_GetObjectItemCaseSensitive(sj, "provenance");
  const cJSON *fc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sj, "fa_correlation"), "pearson");
  const char *fh = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prov, "folds_hash"));
  const char *ds = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prov, "data_checksum"));
  const char *gt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prov, "git"));
  T_CHECK(fh && ds && gt && !strcmp(fh, g_fh) && !strcmp(ds, g_sum) && !strcmp(gt, "test") &&
              cJSON_GetArraySize(fc) == LABEL_MAX && cJSON_GetArraySize(cJSON_GetArrayItem(fc, 0)) == LABEL_MAX,
          "summary.json (parsed) carries folds hash, data checksum, commit and the 8 x 8 FA correlation matrix");
  cJSON_Delete(sj);
  free(js), free(es), free(idx), free(pred), free(probs), free(lab), free(vidx), free(tidx);
  unet_free(net);
  folds_free(&f);
  h5store_close(&s);
}

int main(void) {
  fix_workdir("test_jobs_evaluate", 9, 3, g_dir, g_store, g_folds, g_sum, g_fh);
  char run[800];
  snprintf(run, sizeof run, "%s/hdl", g_dir);
  check_run(run, LOSS_KIND_HDL);
  snprintf(run, sizeof run, "%s/hybrid", g_dir);
  check_run(run, LOSS_KIND_HYBRID);

  /* a run that recorded another data checksum is refused */
  TrainConfig cfg;
  snprintf(run, sizeof run, "%s/other-data", g_dir);
  make_run(run, LOSS_KIND_HDL, "fnv1a64:0000000000000000", &cfg);
  RunArg a = {run};
  T_CHECK(t_child_exit(evaluate_child, &a) == 1, "evaluate refuses a store whose checksum differs from run.json");
  char p[900];
  path_fmt(p, sizeof p, "%s/eval/slices.csv", run);
  T_CHECK(access(p, F_OK) != 0, "nothing written for the refused run");
  fix_cleanup(g_dir, t_failures);
  return t_finish("test_jobs_evaluate");
}
