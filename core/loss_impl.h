/* core/loss_impl.h: the precision-generic body of the losses in core/loss.h.
 * Included twice by core/loss.c (no include guard on purpose) with
 *   REAL          float | double  (element type of logits, probs, gradients)
 *   LOSS_FN(x)    x | x##_f64     (public and static names)
 *   R_EXP, R_LOG                  exp and log of that precision
 * and the helpers loss_check_shape, loss_check_labels, LossEdtWork,
 * loss_edt_core and LOSS_BLOCK already defined. Per-pixel math runs in REAL;
 * every reduction accumulates in double, in a fixed order. */

/* sigmoid(z) and its derivative sigmoid(z)(1-sigmoid(z)), both from one
 * exp(-|z|) so neither overflows nor cancels when |z| is large. */
static inline REAL LOSS_FN(loss_sigmoid)(REAL z, REAL *deriv) {
  REAL e = R_EXP(-(z < 0 ? -z : z));
  REAL r = (REAL)1 / ((REAL)1 + e);
  *deriv = e * r * r;
  return z >= 0 ? r : e * r;
}

/* Softmax over the K channels of the pixels [i0, i0+cnt) of one image:
 * zn, pn point at the image's [K][HW] logits and probabilities; lse[i]
 * receives the log-sum-exp of pixel i0+i (max subtracted first). */
static void LOSS_FN(loss_softmax_block)(const REAL *zn, REAL *pn, int64_t hw, int32_t k, int64_t i0, int32_t cnt,
                                        REAL *lse) {
  REAL mx[LOSS_BLOCK], sum[LOSS_BLOCK];
  for (int32_t i = 0; i < cnt; i++) mx[i] = zn[i0 + i];
  for (int32_t c = 1; c < k; c++) {
    const REAL *zc = zn + c * hw + i0;
    for (int32_t i = 0; i < cnt; i++) mx[i] = zc[i] > mx[i] ? zc[i] : mx[i];
  }
  for (int32_t i = 0; i < cnt; i++) sum[i] = 0;
  for (int32_t c = 0; c < k; c++) {
    const REAL *restrict zc = zn + c * hw + i0;
    REAL *restrict pc = pn + c * hw + i0;
#pragma omp simd
    for (int32_t i = 0; i < cnt; i++) {
      const REAL e = R_EXP(zc[i] - mx[i]);
      pc[i] = e;
      sum[i] += e;
    }
  }
  for (int32_t i = 0; i < cnt; i++) {
    lse[i] = mx[i] + R_LOG(sum[i]);
    sum[i] = (REAL)1 / sum[i];
  }
  for (int32_t c = 0; c < k; c++) {
    REAL *pc = pn + c * hw + i0;
    for (int32_t i = 0; i < cnt; i++) pc[i] *= sum[i];
  }
}

/* hybrid (focal + dice) and ce, in three named steps. Pass 1 (per block of
 * pixels): softmax into probs, per-pixel focal/ce loss, the per-pixel
 * coefficient dL/dlogpt, and the per-class dice sums. Then the block
 * partials combined in block order and the Dice terms. Pass 2 (only with
 * dlogits; probs == dlogits there):
 *   dL/dz_j = coef (d_jy - p_j) + p_j (g_j - sum_c p_c g_c),
 *   g_c = dL_dice/dp_c = a_c [y == c] + b_c. */
typedef struct {
  int64_t hw, npix, nbi, nblk, stride; /* stride: per block loss, sum p[k], sum t[k], tp[k] */
  int32_t k;
  int hybrid;
} LOSS_FN(SoftmaxShape);

static void LOSS_FN(loss_softmax_pass1)(const LOSS_FN(SoftmaxShape) *sh, const LossConfig *cfg, const REAL *logits,
                                        const uint8_t *labels, REAL *probs, REAL *coef, double *part) {
  const int64_t hw = sh->hw, nbi = sh->nbi, stride = sh->stride;
  const int32_t k = sh->k;
  const int hybrid = sh->hybrid;
  const REAL alpha = (REAL)cfg->focal_alpha, gamma = (REAL)cfg->focal_gamma;
  const REAL inv_p = (REAL)(1.0 / (double)sh->npix);
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < sh->nblk; blk++) {
    const int32_t b = (int32_t)(blk / nbi);
    const int64_t i0 = (blk % nbi) * LOSS_BLOCK;
    const int32_t cnt = (int32_t)(hw - i0 < LOSS_BLOCK ? hw - i0 : LOSS_BLOCK);
    const REAL *zn = logits + (int64_t)b * k * hw;
    REAL *pn = probs + (int64_t)b * k * hw;
    const uint8_t *yl = labels + (int64_t)b * hw + i0;
    double *pp = part + blk * stride, *sp = pp + 1, *st = sp + k, *tp = st + k;
    REAL lse[LOSS_BLOCK];
    LOSS_FN(loss_softmax_block)(zn, pn, hw, k, i0, cnt, lse);
    for (int64_t j = 0; j < stride; j++) pp[j] = 0;
    double lsum = 0;
    for (int32_t i = 0; i < cnt; i++) {
      const int32_t y = yl[i];
      const REAL logpt = zn[y * hw + i0 + i] - lse[i];
      const REAL pt = pn[y * hw + i0 + i];
      REAL l, cf;
      if (hybrid) {
        /* f = -alpha (1-pt)^gamma logpt; df/dlogpt = alpha (-(1-pt)^gamma + gamma (1-pt)^(gamma-1) pt logpt) */
        const REAL om = (REAL)1 - pt;
        REAL wgt, dwgt; /* (1-pt)^gamma and gamma (1-pt)^(gamma-1) */
        if (gamma == (REAL)2) {
          wgt = om * om;
          dwgt = 2 * om;
        } else {
          wgt = (REAL)pow((double)om, (double)gamma);
          dwgt = (gamma == 0 || om == 0) ? 0 : gamma * (REAL)pow((double)om, (double)gamma - 1.0);
        }
        l = -alpha * wgt * logpt;
        cf = alpha * inv_p * (-wgt + dwgt * pt * logpt);
      } else {
        l = -logpt;
        cf = -inv_p;
      }
      lsum += (double)l;
      if (coef) coef[(int64_t)b * hw + i0 + i] = cf;
      st[y] += 1.0;
      tp[y] += (double)pt;
    }
    pp[0] = lsum;
    if (hybrid) {
      for (int32_t c = 0; c < k; c++) {
        const REAL *pc = pn + c * hw + i0;
        double acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int32_t i = 0; i < cnt; i++) acc += (double)pc[i];
        sp[c] = acc;
      }
    }
  }
}

/* the block partials combined in block order (independent of the thread
 * count), the Dice term and its gradient pieces ga (a_c), gb (b_c): the loss */
static double LOSS_FN(loss_softmax_dice)(const LOSS_FN(SoftmaxShape) *sh, const LossConfig *cfg, const double *part,
                                         REAL *ga, REAL *gb) {
  const int64_t stride = sh->stride;
  const int32_t k = sh->k;
  double lsum = 0;
  double *tot = (double *)callocCheck((size_t)stride, sizeof(double));
  for (int64_t blk = 0; blk < sh->nblk; blk++) {
    const double *pp = part + blk * stride;
    lsum += pp[0];
    for (int64_t j = 1; j < stride; j++) tot[j] += pp[j];
  }
  double loss = lsum / (double)sh->npix;
  for (int32_t c = 0; c < k; c++) ga[c] = gb[c] = 0;
  if (sh->hybrid) {
    const double s = (double)cfg->dice_smooth;
    const double *sp = tot + 1, *st = sp + k, *tp = st + k;
    if (cfg->dice_allreduce) cfg->dice_allreduce(tot + 1, 3 * k); /* global-batch Dice */
    const double gs = cfg->dice_grad_scale > 0 ? (double)cfg->dice_grad_scale : 1.0;
    double mean = 0;
    for (int32_t c = 0; c < k; c++) {
      const double den = sp[c] + st[c] + s;
      const double dc = (2.0 * tp[c] + s) / den;
      mean += dc;
      ga[c] = (REAL)(-2.0 * gs / ((double)k * den));
      gb[c] = (REAL)(dc * gs / ((double)k * den));
    }
    loss += 1.0 - mean / (double)k;
  }
  free(tot);
  return loss;
}

/* pass 2: dlogits (holding the probabilities) <- dL/dz per pixel block */
static void LOSS_FN(loss_softmax_grad)(const LOSS_FN(SoftmaxShape) *sh, const uint8_t *labels, const REAL *coef,
                                       const REAL *ga, const REAL *gb, REAL *dlogits) {
  const int64_t hw = sh->hw, nbi = sh->nbi;
  const int32_t k = sh->k;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < sh->nblk; blk++) {
    const int32_t b = (int32_t)(blk / nbi);
    const int64_t i0 = (blk % nbi) * LOSS_BLOCK;
    const int32_t cnt = (int32_t)(hw - i0 < LOSS_BLOCK ? hw - i0 : LOSS_BLOCK);
    REAL *pn = dlogits + (int64_t)b * k * hw;
    const uint8_t *yl = labels + (int64_t)b * hw + i0;
    const REAL *cf = coef + (int64_t)b * hw + i0;
    REAL sg[LOSS_BLOCK]; /* sum_c p_c g_c per pixel */
    for (int32_t i = 0; i < cnt; i++) sg[i] = ga[yl[i]] * pn[yl[i] * hw + i0 + i];
    for (int32_t c = 0; c < k; c++) {
      const REAL *pc = pn + c * hw + i0, bc = gb[c];
      for (int32_t i = 0; i < cnt; i++) sg[i] += pc[i] * bc;
    }
    for (int32_t c = 0; c < k; c++) {
      REAL *pc = pn + c * hw + i0;
      const REAL ac = ga[c], bc = gb[c];
      for (int32_t i = 0; i < cnt; i++) {
        const REAL p = pc[i];
        const int is_y = yl[i] == c;
        const REAL g = is_y ? ac + bc : bc;
        pc[i] = cf[i] * ((is_y ? (REAL)1 : (REAL)0) - p) + p * (g - sg[i]);
      }
    }
  }
}

static double LOSS_FN(loss_softmax_compute)(const LossConfig *cfg, const REAL *logits, const uint8_t *labels, int32_t n,
                                            int32_t k, int32_t h, int32_t w, REAL *dlogits) {
  LOSS_FN(SoftmaxShape) sh;
  sh.hw = (int64_t)h * w, sh.npix = (int64_t)n * sh.hw, sh.k = k, sh.hybrid = cfg->kind == LOSS_KIND_HYBRID;
  sh.nbi = (sh.hw + LOSS_BLOCK - 1) / LOSS_BLOCK, sh.nblk = (int64_t)n * sh.nbi, sh.stride = 1 + 3 * (int64_t)k;
  REAL *probs = dlogits ? dlogits : (REAL *)mallocCheck((size_t)(sh.npix * k) * sizeof(REAL));
  REAL *coef = dlogits ? (REAL *)mallocCheck((size_t)sh.npix * sizeof(REAL)) : NULL;
  double *part = (double *)mallocCheck((size_t)(sh.nblk * sh.stride) * sizeof(double));
  REAL ga[256], gb[256]; /* dice gradient pieces a_c, b_c (0 for ce) */
  LOSS_FN(loss_softmax_pass1)(&sh, cfg, logits, labels, probs, coef, part);
  const double loss = LOSS_FN(loss_softmax_dice)(&sh, cfg, part, ga, gb);
  if (dlogits) LOSS_FN(loss_softmax_grad)(&sh, labels, coef, ga, gb, dlogits);
  free(part);
  free(coef);
  if (!dlogits) free(probs);
  return loss;
}

/* Per-thread scratch of the HDL target: mask plane, EDT work, target plane. */
typedef struct {
  uint8_t *mask;
  LossEdtWork edt;
  REAL *g;
} LOSS_FN(LossHdlScratch);

static LOSS_FN(LossHdlScratch) *LOSS_FN(loss_hdl_scratch_new)(int32_t h, int32_t w, int nt, int with_g) {
  const int64_t hw = (int64_t)h * w;
  LOSS_FN(LossHdlScratch) *s = (LOSS_FN(LossHdlScratch) *)callocCheck((size_t)nt, sizeof *s);
  for (int t = 0; t < nt; t++) {
    s[t].mask = (uint8_t *)mallocCheck((size_t)hw);
    loss_edt_work_init(&s[t].edt, h, w);
    s[t].g = with_g ? (REAL *)mallocCheck((size_t)hw * sizeof(REAL)) : NULL;
  }
  return s;
}

static void LOSS_FN(loss_hdl_scratch_free)(LOSS_FN(LossHdlScratch) *s, int nt) {
  for (int t = 0; t < nt; t++) {
    free(s[t].mask);
    loss_edt_work_free(&s[t].edt);
    free(s[t].g);
  }
  free(s);
}

/* G = exp(-D^2 / (2 sigma^2)) of class cls in one image's label plane lab
 * [H][W] into g; 0 everywhere when the class is absent. G is set to 0 where
 * D^2 / (2 sigma^2) > 80 (G < 2e-35 there), which lets the EDT skip every
 * distance beyond that. */
static void LOSS_FN(loss_hdl_plane)(const uint8_t *lab, int32_t cls, int32_t h, int32_t w, double sigma,
                                    LOSS_FN(LossHdlScratch) *s, REAL *g) {
  const int64_t hw = (int64_t)h * w;
  double inv;
  const int32_t cutoff = loss_hdl_cutoff(sigma, &inv);
  uint8_t *restrict mask = s->mask;
  for (int64_t i = 0; i < hw; i++) mask[i] = lab[i] == cls;
  if (loss_edt_core(s->mask, h, w, cutoff, &s->edt) == 0) {
    for (int64_t i = 0; i < hw; i++) g[i] = 0;
    return;
  }
  const int32_t *restrict d2 = s->edt.d2;
  REAL *restrict gg = g;
  const REAL rinv = (REAL)inv;
#pragma omp simd
  for (int64_t i = 0; i < hw; i++) {
    /* written without a branch around the exp so that the loop vectorises */
    const int32_t d = d2[i] <= cutoff ? d2[i] : cutoff + 1;
    gg[i] = R_EXP(-(REAL)d * rinv) * (REAL)(d <= cutoff);
  }
}

/* hdl: H = sigmoid(z) per class vs the Gaussian EDT target, one task per
 * (image, class) plane, each plane's sum of squares stored and combined in
 * plane order. */
static double LOSS_FN(loss_hdl_compute)(const LossConfig *cfg, const REAL *logits, const uint8_t *labels, int32_t n,
                                        int32_t k, int32_t h, int32_t w, REAL *dlogits) {
  const int64_t hw = (int64_t)h * w;
  const int64_t npl = (int64_t)n * k;
  const int norm = cfg->hdl_reduce == HDL_REDUCE_NORM;
  const double eps = (double)cfg->hdl_eps;
  CS_CHECK(cfg->hdl_sigma > 0, "set hdl_sigma to a positive width in pixels", "hdl_sigma is %g", (double)cfg->hdl_sigma);
  CS_CHECK(cfg->hdl_reduce == HDL_REDUCE_NORM || cfg->hdl_reduce == HDL_REDUCE_MSE, "use hdl_reduce norm or mse",
           "unknown hdl_reduce %d", (int)cfg->hdl_reduce);
  double *ss = (double *)mallocCheck((size_t)npl * sizeof(double));
  const int nt = omp_get_max_threads();
  LOSS_FN(LossHdlScratch) *scr = LOSS_FN(loss_hdl_scratch_new)(h, w, nt, 1);
#pragma omp parallel
  {
    LOSS_FN(LossHdlScratch) *s = &scr[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
    for (int64_t pl = 0; pl < npl; pl++) {
      const int32_t b = (int32_t)(pl / k), c = (int32_t)(pl % k);
      LOSS_FN(loss_hdl_plane)(labels + (int64_t)b * hw, c, h, w, (double)cfg->hdl_sigma, s, s->g);
      const REAL *zc = logits + pl * hw, *g = s->g;
      double acc = 0;
      if (dlogits) {
        REAL *dz = dlogits + pl * hw;
#pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < hw; i++) {
          REAL dh;
          const REAL hv = LOSS_FN(loss_sigmoid)(zc[i], &dh);
          const REAL d = hv - g[i];
          acc += (double)d * (double)d;
          dz[i] = d * dh;
        }
        const REAL scale = norm ? (REAL)(1.0 / ((double)n * sqrt(acc + eps))) : (REAL)(2.0 / ((double)npl * (double)hw));
        for (int64_t i = 0; i < hw; i++) dz[i] *= scale;
      } else {
#pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < hw; i++) {
          REAL dh;
          const REAL d = LOSS_FN(loss_sigmoid)(zc[i], &dh) - g[i];
          acc += (double)d * (double)d;
        }
      }
      ss[pl] = acc;
    }
  }
  double loss = 0;
  for (int64_t pl = 0; pl < npl; pl++) loss += norm ? sqrt(ss[pl] + eps) : ss[pl];
  loss /= norm ? (double)n : (double)npl * (double)hw;
  LOSS_FN(loss_hdl_scratch_free)(scr, nt);
  free(ss);
  return loss;
}

double LOSS_FN(loss_compute)(const LossConfig *cfg, const REAL *logits, const uint8_t *labels, int32_t n, int32_t k,
                             int32_t h, int32_t w, REAL *dlogits) {
  CS_CHECK(cfg && logits && labels, "pass a config, logits and labels", "loss_compute called with a NULL argument");
  loss_check_shape(n, k, h, w);
  loss_check_labels(labels, n, k, h, w);
  switch (cfg->kind) {
    case LOSS_KIND_HYBRID:
    case LOSS_KIND_CE: return LOSS_FN(loss_softmax_compute)(cfg, logits, labels, n, k, h, w, dlogits);
    case LOSS_KIND_HDL: return LOSS_FN(loss_hdl_compute)(cfg, logits, labels, n, k, h, w, dlogits);
  }
  cs_fatal("use loss hybrid, hdl or ce", "unknown loss kind %d", (int)cfg->kind);
}

void LOSS_FN(loss_probs)(const LossConfig *cfg, const REAL *logits, int32_t n, int32_t k, int32_t h, int32_t w,
                         REAL *probs) {
  CS_CHECK(cfg && logits && probs, "pass a config, logits and an output buffer", "loss_probs called with a NULL argument");
  loss_check_shape(n, k, h, w);
  const int64_t hw = (int64_t)h * w;
  if (cfg->kind == LOSS_KIND_HDL) {
    const int64_t total = (int64_t)n * k * hw;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < total; i++) {
      REAL dh;
      probs[i] = LOSS_FN(loss_sigmoid)(logits[i], &dh);
    }
    return;
  }
  const int64_t nbi = (hw + LOSS_BLOCK - 1) / LOSS_BLOCK;
  const int64_t nblk = (int64_t)n * nbi;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < nblk; blk++) {
    const int64_t b = blk / nbi, i0 = (blk % nbi) * LOSS_BLOCK;
    const int32_t cnt = (int32_t)(hw - i0 < LOSS_BLOCK ? hw - i0 : LOSS_BLOCK);
    REAL lse[LOSS_BLOCK];
    LOSS_FN(loss_softmax_block)(logits + b * k * hw, probs + b * k * hw, hw, k, i0, cnt, lse);
  }
}

void LOSS_FN(loss_edt_sq)(const uint8_t *mask, int32_t h, int32_t w, REAL *out) {
  CS_CHECK(mask && out && h >= 1 && w >= 1 && h <= LOSS_MAX_SIDE && w <= LOSS_MAX_SIDE,
           "pass a mask and an output of H*W elements, sides at most 32767", "loss_edt_sq: bad arguments (H=%d W=%d)", (int)h,
           (int)w);
  const int64_t hw = (int64_t)h * w;
  LossEdtWork e;
  loss_edt_work_init(&e, h, w);
  loss_edt_core(mask, h, w, LOSS_EDT_EXACT, &e);
  for (int64_t i = 0; i < hw; i++) out[i] = e.d2[i] == LOSS_EDT_INF ? (REAL)INFINITY : (REAL)e.d2[i];
  loss_edt_work_free(&e);
}

void LOSS_FN(loss_hdl_target)(const uint8_t *labels, int32_t n, int32_t k, int32_t h, int32_t w, REAL sigma,
                              REAL *target) {
  CS_CHECK(labels && target, "pass labels and an output of N*K*H*W elements", "loss_hdl_target called with a NULL argument");
  CS_CHECK(sigma > 0, "set hdl_sigma to a positive width in pixels", "hdl sigma is %g", (double)sigma);
  loss_check_shape(n, k, h, w);
  loss_check_labels(labels, n, k, h, w);
  const int64_t hw = (int64_t)h * w;
  const int64_t npl = (int64_t)n * k;
  const int nt = omp_get_max_threads();
  LOSS_FN(LossHdlScratch) *scr = LOSS_FN(loss_hdl_scratch_new)(h, w, nt, 0);
#pragma omp parallel
  {
    LOSS_FN(LossHdlScratch) *s = &scr[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
    for (int64_t pl = 0; pl < npl; pl++)
      LOSS_FN(loss_hdl_plane)(labels + (pl / k) * hw, (int32_t)(pl % k), h, w, (double)sigma, s, target + pl * hw);
  }
  LOSS_FN(loss_hdl_scratch_free)(scr, nt);
}
