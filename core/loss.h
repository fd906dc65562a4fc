/* core/loss.h: segmentation losses on plain-layout logits, with gradients.
 *   hybrid = Focal (alpha 0.5, gamma 2, mean over all N*H*W pixels) + Dice
 *            (softmax; sums over the whole batch; smooth 1e-5; mean over all K
 *            classes, background included)        (model.md section 4)
 *   hdl    = heatmap distance loss: per-class sigmoid vs Gaussian heatmap of the
 *            exact Euclidean distance to each class mask; L2 norm per image and
 *            class, summed over classes, averaged over the batch (or mse)
 *                                                   (model.md section 5)
 *   ce     = softmax cross-entropy, mean over pixels
 * Every function exists in float (production) and double (_f64, for the
 * finite-difference tests) from one source, core/loss_impl.h.
 * Layouts: logits/dlogits/probs [N][K][H][W]; labels uint8 [N][H][W] in 0..K-1.
 * defines: LossKind, HdlReduce, LossConfig, loss_config_default, loss_kind_parse,
 *          loss_compute(_f64), loss_probs(_f64), loss_edt_sq(_f64), loss_hdl_target(_f64) */
#ifndef CORDSEG_LOSS_H
#define CORDSEG_LOSS_H
#include <stdint.h>

#include "core/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HDL's default sigma: 2 px = one native DTI voxel on the paper's 0.625 mm
 * network grid (model.md section 5); the one owner of this fact */
#define LOSS_HDL_SIGMA_DEFAULT 2.0
typedef enum { LOSS_KIND_HYBRID = 0, LOSS_KIND_HDL = 1, LOSS_KIND_CE = 2 } LossKind;
typedef enum { HDL_REDUCE_NORM = 0, HDL_REDUCE_MSE = 1 } HdlReduce;
extern const CsEnum LOSS_KIND_ENUM, HDL_REDUCE_ENUM; /* hybrid|hdl|ce, norm|mse */

typedef struct {
  LossKind kind;
  float focal_alpha;     /* 0.5 */
  float focal_gamma;     /* 2 */
  float dice_smooth;     /* 1e-5 */
  float hdl_sigma;       /* Gaussian sigma in network-input pixels, LOSS_HDL_SIGMA_DEFAULT */
  float hdl_eps;         /* 1e-6 inside the sqrt of the norm reduction */
  HdlReduce hdl_reduce;  /* norm (default) or mse */
  /* Data parallel (hybrid): sums the Dice statistics (3K doubles) over the
   * ranks in place, so the Dice term is that of the global batch; the Dice
   * gradient is then scaled by dice_grad_scale (= ranks), because the trainer
   * averages gradients over ranks. NULL (default) = this process's batch. */
  void (*dice_allreduce)(double *v, int32_t n);
  float dice_grad_scale; /* 1 by default */
} LossConfig;

void loss_config_default(LossConfig *cfg, LossKind kind);
/* "hybrid" | "hdl" | "ce" -> kind; returns -1 for anything else */
int loss_kind_parse(const char *name);
const char *loss_kind_name(LossKind kind);

/* Returns the scalar loss. If dlogits != NULL, writes dloss/dlogits there
 * (overwritten, not accumulated). Labels outside 0..K-1 are a fatal error that
 * names the value and its position. Internal sums run in double. */
double loss_compute(const LossConfig *cfg, const float *logits, const uint8_t *labels, int32_t n, int32_t k, int32_t h,
                    int32_t w, float *dlogits);
double loss_compute_f64(const LossConfig *cfg, const double *logits, const uint8_t *labels, int32_t n, int32_t k, int32_t h,
                        int32_t w, double *dlogits);

/* Class probabilities as the loss sees them: softmax over K (hybrid, ce) or
 * per-class sigmoid (hdl). probs [N][K][H][W]. */
void loss_probs(const LossConfig *cfg, const float *logits, int32_t n, int32_t k, int32_t h, int32_t w, float *probs);
void loss_probs_f64(const LossConfig *cfg, const double *logits, int32_t n, int32_t k, int32_t h, int32_t w, double *probs);

/* Exact squared Euclidean distance transform (Felzenszwalb-Huttenlocher), in
 * pixel units: out[p] = min over q with mask[q] != 0 of |p-q|^2, 0 inside the
 * mask, +INFINITY everywhere when the mask is empty. mask/out [H][W]. */
void loss_edt_sq(const uint8_t *mask, int32_t h, int32_t w, float *out);
void loss_edt_sq_f64(const uint8_t *mask, int32_t h, int32_t w, double *out);

/* HDL target G_i = exp(-D_i^2 / (2 sigma^2)) for every image and class,
 * 0 everywhere for a class absent from the image. target [N][K][H][W]. */
/* Labels must be class ids 0..K-1: fatal otherwise, naming the value and its
 * position (loss_compute and loss_hdl_target check; core/step.c checks every
 * batch before a backend that does not, the CUDA one, sees it). */
void loss_check_labels(const uint8_t *labels, int32_t n, int32_t k, int32_t h, int32_t w);
/* The HDL target's reach for Gaussian width sigma (pixels): *inv =
 * 1 / (2 sigma^2), and the squared distance (returned) beyond which the
 * target is 0 (exp(-80)); every maker of HDL targets uses both. */
int32_t loss_hdl_cutoff(double sigma, double *inv);
void loss_hdl_target(const uint8_t *labels, int32_t n, int32_t k, int32_t h, int32_t w, float sigma, float *target);
void loss_hdl_target_f64(const uint8_t *labels, int32_t n, int32_t k, int32_t h, int32_t w, double sigma, double *target);
#ifdef __cplusplus
}
#endif
#endif
