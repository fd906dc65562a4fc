/* jobs/predict.c: batched eval-mode probabilities, the flipped pass, the
 * ensemble mean and labels (see jobs/predict.h). */
#include "jobs/predict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/metrics.h"
#include "io/labels.h"
#include "io/loader.h"

void predict_init(Predictor *p, Unet *net, const LossConfig *lc, int32_t batch, int32_t cin, int32_t k, int32_t h,
                  int32_t w, int flags) {
  const size_t hw = (size_t)h * w;
  *p = (Predictor){.net = net, .loss = *lc, .batch = batch, .cin = cin, .k = k, .h = h, .w = w, .flags = flags};
  p->x = mallocCheck(sizeof(float) * (size_t)batch * cin * hw);
  p->probs = mallocCheck(sizeof(float) * (size_t)batch * k * hw);
  p->flip = mallocCheck(sizeof(float) * (size_t)k * hw);
}

void predict_free(Predictor *p) {
  free(p->x), free(p->probs), free(p->flip);
  memset(p, 0, sizeof *p);
}

/* x [c][h][w] mirrored left-right in place */
static void mirror_columns(float *x, int32_t c, int32_t h, int32_t w) {
  for (int32_t r = 0; r < c * h; r++) {
    float *row = x + (size_t)r * w;
    for (int32_t a = 0, b = w - 1; a < b; a++, b--) {
      const float t = row[a];
      row[a] = row[b], row[b] = t;
    }
  }
}

/* probabilities of the mirrored slice -> those of the slice: class c is the
 * mirror's LABEL_LR_SWAP[c], columns mirrored */
static void unflip_probs(const float *pm, int32_t k, int32_t h, int32_t w, float *out) {
  const size_t hw = (size_t)h * w;
  for (int32_t c = 0; c < k; c++) {
    const float *src = pm + (size_t)(k == LABEL_COUNT ? LABEL_LR_SWAP[c] : c) * hw;
    float *dst = out + (size_t)c * hw;
    for (int32_t y = 0; y < h; y++)
      for (int32_t x = 0; x < w; x++) dst[(size_t)y * w + x] = src[(size_t)y * w + (w - 1 - x)];
  }
}

/* the batch in p->x -> p->probs; the host logits with PREDICT_LOGITS, else NULL */
static const float *predict_batch(Predictor *p) {
  if (!(p->flags & PREDICT_LOGITS)) {
    unet_predict_probs(p->net, &p->loss, p->x, p->probs);
    return NULL;
  }
  const float *logits = unet_forward(p->net, p->x, 0);
  loss_probs(&p->loss, logits, p->batch, p->k, p->h, p->w, p->probs);
  return logits;
}

void predict_run(Predictor *p, int32_t n, int flip, const PredictSink *s) {
  CS_CHECK(!(flip && (p->flags & PREDICT_LOGITS)), "the flipped pass gives probabilities only",
           "predict_run: flip with PREDICT_LOGITS");
  CS_CHECK(!flip || p->k == LABEL_COUNT, "the flipped pass needs the 9 labels of io/labels.h",
           "predict_run: flip with %d classes", p->k);
  const size_t in = (size_t)p->cin * p->h * p->w, out = (size_t)p->k * p->h * p->w;
  for (int32_t j0 = 0; j0 < n; j0 += p->batch) {
    const int32_t nb = n - j0 < p->batch ? n - j0 : p->batch;
    memset(p->x, 0, sizeof(float) * (size_t)p->batch * in); /* the rows of a last partial batch */
    for (int32_t r = 0; r < nb; r++) {
      s->load(s->ctx, j0 + r, r, p->x + r * in);
      if (flip) mirror_columns(p->x + r * in, p->cin, p->h, p->w);
    }
    const float *logits = predict_batch(p);
    for (int32_t r = 0; r < nb; r++) {
      const float *pr = p->probs + r * out;
      if (flip) unflip_probs(pr, p->k, p->h, p->w, p->flip), pr = p->flip;
      s->take(s->ctx, j0 + r, r, pr, logits ? logits + r * out : NULL);
    }
    if (s->progress) s->progress(s->ctx, j0 + nb, n);
  }
}

void predict_labels(const float *probs, int32_t k, int64_t hw, int sigmoid, const double *thr, uint8_t *lab) {
  if (sigmoid) metrics_labels_threshold(probs, k, hw, thr, lab);
  else metrics_labels_argmax(probs, k, hw, lab);
}

void predict_heatmap_peak(const float *probs, int32_t k, int64_t hw, float *out) {
  memcpy(out, probs, sizeof(float) * (size_t)hw);
  for (int32_t c = 1; c < k; c++) {
    const float *p = probs + (int64_t)c * hw;
    float *o = out + (int64_t)c * hw, m = 0;
    for (int64_t q = 0; q < hw; q++) m = p[q] > m ? p[q] : m;
    const float s = m >= PREDICT_PEAK_FLOOR ? 1.0f / m : 0.0f;
    for (int64_t q = 0; q < hw; q++) o[q] = p[q] * s;
  }
}

/* ---- an exported model's ensemble ---- */
typedef struct {
  const float *x; /* [n][cin][h][w] */
  float *mean;    /* [n][k][h][w] sums, then the mean */
  size_t in, out;
  int32_t member;
  int pass;
  void (*progress)(void *ctx, int32_t member, int pass, int64_t done, int64_t n);
  void *ctx;
} EnsembleCtx;

static void ens_load(void *ctx, int32_t j, int32_t row, float *x) {
  const EnsembleCtx *e = ctx;
  (void)row;
  memcpy(x, e->x + (size_t)j * e->in, sizeof(float) * e->in);
}

static void ens_take(void *ctx, int32_t j, int32_t row, const float *probs, const float *logits) {
  EnsembleCtx *e = ctx;
  (void)row, (void)logits;
  float *a = e->mean + (size_t)j * e->out;
  for (size_t i = 0; i < e->out; i++) a[i] += probs[i];
}

static void ens_progress(void *ctx, int32_t done, int32_t n) {
  const EnsembleCtx *e = ctx;
  if (e->progress) e->progress(e->ctx, e->member, e->pass, done, n);
}

/* member mi's net on its own backend: every pass's probabilities added to e->mean */
static void predict_member(const ModelFile *mf, int32_t mi, BackendKind device, int64_t n, int passes, int32_t batch,
                           EnsembleCtx *e) {
  const ModelMember *m = &mf->m[mi];
  UnetConfig u;
  config_unet(&m->cfg, &u);
  const char *bad = unet_config_check(&u, mf->height, mf->width);
  CS_CHECK(!bad, "export the model again", "model '%s' member %d: %s", mf->path, mi, bad ? bad : "");
  LossConfig lc;
  config_loss(&m->cfg, &lc);
  Backend *be = backend_init(device, m->cfg.precision, m->cfg.deterministic, -1);
  Unet *net = unet_init(be, &u, batch, mf->height, mf->width);
  model_load_member(mf, mi, net);
  Predictor p;
  predict_init(&p, net, &lc, batch, input_channels(mf->input), LABEL_COUNT, mf->height, mf->width, 0);
  const PredictSink s = {.ctx = e, .load = ens_load, .take = ens_take, .progress = ens_progress};
  e->member = mi;
  for (e->pass = 0; e->pass < passes; e->pass++) predict_run(&p, (int32_t)n, e->pass, &s);
  predict_free(&p);
  unet_free(net);
  backend_free(be);
}

void predict_model_file(const ModelFile *mf, const float *x, int64_t n, BackendKind device, int tta, int32_t batch,
                        float *mean,
                        double *thr,
                        void (*progress)(void *ctx, int32_t member, int pass, int64_t done, int64_t n), void *ctx) {
  const size_t hw = (size_t)mf->height * mf->width;
  EnsembleCtx e = {.x = x, .mean = mean, .in = (size_t)input_channels(mf->input) * hw, .out = (size_t)LABEL_COUNT * hw,
                   .progress = progress, .ctx = ctx};
  const int passes = tta ? 2 : 1;
  memset(mean, 0, sizeof(float) * (size_t)n * e.out);
  for (int c = 0; c < LABEL_COUNT; c++) thr[c] = 0;
  for (int32_t mi = 0; mi < mf->n; mi++) {
    for (int c = 0; c < LABEL_COUNT; c++) thr[c] += mf->m[mi].thr[c] / mf->n;
    predict_member(mf, mi, device, n, passes, batch, &e);
  }
  const float inv = 1.0f / (float)(mf->n * passes);
  for (size_t i = 0; i < (size_t)n * e.out; i++) mean[i] *= inv;
}
