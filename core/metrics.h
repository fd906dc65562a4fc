/* core/metrics.h: segmentation metrics of one predicted label map against its
 * reference, per ROI, and their aggregation over slices; the per-class
 * probability threshold search. Pure math on arrays: no files.
 *
 * Per slice and ROI c (label id 1..K-1):
 *   TP/FP/FN pixel counts of pred==c against ref==c; areas in pixels and mm^2
 *   Dice = 2TP/(2TP+FP+FN), IoU = TP/(TP+FP+FN), Recall = TP/(TP+FN),
 *   Precision = TP/(TP+FP)
 *   HD95 (mm) = 95th percentile (linear interpolation) of the symmetric
 *   boundary-to-boundary distances, with the pixel spacing (medpy's hd95:
 *   boundary = mask pixels with a 4-neighbour outside the mask or the image)
 *   FA: mean FA under pred==c and under ref==c; FA error = |pred - ref| / ref
 *   in % (Fei et al. 2023, eq. 10)
 *   laterality: lr_cross_px = pixels of pred==c inside ref==mirror(c) (the
 *   same structure on the other side); lr_swap = 1 when that exceeds TP (the
 *   prediction overlaps the opposite side's reference more than its own)
 * Empty-mask policy (nnU-Net's): a ratio whose denominator is 0 is NaN, and
 * every mean is a nan-mean. So with ref and pred both empty every ratio is
 * NaN (the slice does not count for that ROI); ref empty, pred not: Dice =
 * IoU = Precision = 0, Recall NaN; ref not empty, pred empty: Dice = IoU =
 * Recall = 0, Precision NaN, and the slice is an OUTLIER for that ROI (the
 * model gives no segmentation, Fei et al. Table 2). HD95 and the FA values
 * are NaN whenever either mask they need is empty.
 *
 * Threshold search (sigmoid models): for each class c >= 1, on the pooled
 * validation pixels, t in {0, 0.001, ..., 1} maximising the pooled Dice of
 * (p_c >= t) against (ref == c); the smallest such t wins ties; 0.5 (Dice NaN) when
 * the class is absent from the validation reference. One pass fills a 1001-bin
 * histogram of p_c per class and reference state; cumulative sums give every
 * threshold's TP/FP/FN exactly.
 * Labels from thresholds: the class c >= 1 with the largest p_c among those
 * with p_c >= t_c; background when none passes. Softmax models: argmax over
 * all K classes (first maximum on ties).
 * Mean over ROIs (metrics_roi_mean): the mean of a per-ROI value over ROIs
 * 1..K-1 whose value is defined (NaN when none): the mean validation Dice
 * and FA error train logs and selects by.
 * Cord shape (metrics_cord_ratio): the AP/LR diameter ratio of the cord, the
 * union of labels 1..K-1 of one slice: AP = the extent of its rows (first to
 * last row holding a cord pixel, both included) x the row spacing, LR = the
 * extent of its columns x the column spacing (the stores' orientation: rows
 * anterior->posterior, columns right->left); NaN without cord pixels. A
 * round cord is near 1 (taller than wide above 1), a flattened (compressed)
 * one lower. Bounding extents: a stray pixel far from the cord widens them.
 * defines: RoiMetrics, metrics_slice, metrics_slice_fa, metrics_roi_mean, metrics_cord_ratio,
 *          metrics_hd95, metrics_edt_sq,
 *          RoiSummary, metrics_summarize, ThreshHist, metrics_hist_init,
 *          metrics_hist_add, metrics_hist_best, metrics_hist_free,
 *          metrics_labels_threshold, metrics_labels_argmax */
#ifndef CORDSEG_METRICS_H
#define CORDSEG_METRICS_H
#include <stdint.h>

#define METRICS_THRESH_STEPS 1000 /* thresholds i / 1000, i = 0..1000 */

typedef struct {
  int64_t tp, fp, fn, ref_px, pred_px;
  double ref_mm2, pred_mm2;
  double dice, iou, recall, precision, hd95_mm;
  double fa_pred, fa_ref, fa_err_pct;
  int64_t lr_cross_px;
  int32_t lr_swap;
  int32_t outlier; /* ref not empty, pred empty */
} RoiMetrics;

/* pred/ref [H][W] label ids, fa [H][W] (NULL: FA fields NaN), spacing (row,
 * column) mm, mirror[c] = the opposite-side id (NULL: no laterality). Fills
 * out[1..k-1]; out[0] (background) is zeroed. */
void metrics_slice(const uint8_t *pred, const uint8_t *ref, const float *fa, int32_t h, int32_t w,
                   const float spacing[2], int32_t k, const uint8_t *mirror, RoiMetrics *out);

/* only the FA fields of out[1..k-1] (fa_pred, fa_ref, fa_err_pct: eq. 10),
 * the rest untouched; metrics_slice computes them with this, and train's
 * validation (the FA error it logs and may select by) calls it alone */
void metrics_slice_fa(const uint8_t *pred, const uint8_t *ref, const float *fa, int64_t hw, int32_t k,
                      RoiMetrics *out);

/* nan-mean of v[1..k-1] (NaN when every one is NaN) */
double metrics_roi_mean(const double *v, int32_t k);

/* the AP/LR diameter ratio of the cord (labels 1..k-1) of one slice, see the
 * header comment; spacing (row, column) mm; NaN when the slice holds no cord */
double metrics_cord_ratio(const uint8_t *labels, int32_t h, int32_t w, const float spacing[2], int32_t k);

/* HD95 in mm between the masks (a == ca) and (b == cb); NaN if either is empty */
double metrics_hd95(const uint8_t *a, uint8_t ca, const uint8_t *b, uint8_t cb, int32_t h, int32_t w, double sy,
                    double sx);

/* exact squared Euclidean distance (mm^2) to the nearest pixel with
 * seed != 0 under anisotropic spacing (sy rows, sx columns), separable
 * Felzenszwalb-Huttenlocher; +INFINITY everywhere when no seed */
void metrics_edt_sq(const uint8_t *seed, int32_t h, int32_t w, double sy, double sx, double *out);

/* aggregate of one ROI over slices (stride = RoiMetrics per slice, i.e. K) */
typedef struct {
  int64_t slices;           /* slices seen */
  int64_t ref_slices;       /* slices whose reference holds the ROI */
  double dice_mean, dice_sd, iou_mean, iou_sd, recall_mean, recall_sd, precision_mean, precision_sd;
  double hd95_mean, hd95_sd;
  /* outliers removed (Fei et al. Table 2) */
  double dice_mean_no, dice_sd_no, recall_mean_no, recall_sd_no, precision_mean_no, precision_sd_no;
  double outlier_pct;       /* outliers / ref_slices, % */
  double fa_err_mean, fa_err_sd; /* % */
  double fa_icc;            /* ICC(2,1) absolute agreement of fa_pred vs fa_ref */
  double ba_bias, ba_lo, ba_hi; /* Bland-Altman of fa_pred - fa_ref */
  int64_t pred_slices;      /* slices whose prediction holds the ROI */
  int64_t swap_slices;      /* slices with lr_swap among pred_slices */
  double swap_rate;         /* swap_slices / pred_slices, % */
  double pair_swap_rate;    /* the L/R pair's rate: both sides' swap_slices / pred_slices, % (set by the
                               caller that knows the pairing, e.g. evaluate_summarize; NaN otherwise) */
} RoiSummary;
void metrics_summarize(const RoiMetrics *m, int64_t nslices, int32_t stride, int32_t roi, RoiSummary *out);

typedef struct {
  int32_t k;
  int64_t *pos; /* [k][1002]: pixels with ref == c per bin ([0] below every
                 threshold, [1 + i] highest threshold reached i / 1000) */
  int64_t *neg; /* [k][1002]: the same for pixels with ref != c */
} ThreshHist;
void metrics_hist_init(ThreshHist *t, int32_t k);
/* probs [K][HW] of one slice, ref [HW] */
void metrics_hist_add(ThreshHist *t, const float *probs, const uint8_t *ref, int64_t hw);
/* thr[0..k), dice[0..k) (pooled validation Dice at thr; NaN when undefined);
 * entries for class 0 are 0 / NaN */
void metrics_hist_best(const ThreshHist *t, double *thr, double *dice);
void metrics_hist_free(ThreshHist *t);

void metrics_labels_threshold(const float *probs, int32_t k, int64_t hw, const double *thr, uint8_t *labels);
void metrics_labels_argmax(const float *probs, int32_t k, int64_t hw, uint8_t *labels);
#endif
