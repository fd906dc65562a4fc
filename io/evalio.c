/* io/evalio.c: RUN/eval/ files and log.csv reading (see io/evalio.h; run.json
 * is io/runinfo.c). */
#define _POSIX_C_SOURCE 200809L
#include "io/evalio.h"

#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/h5util.h"
#include "io/rundir.h"
#include "io/textio.h"
#include "io/path.h"

#define HINT_W "check that the run directory is writable and the disk has space"


/* ---- slices.csv ---- */

static const char *const CSV_COLS[] = {
    "run", "arm", "fold", "seed", "config_hash", "folds_hash", "data_checksum", "git", "index", "subject", "subject_name",
    "slice", "level", "roi", "roi_key", "ref_px", "pred_px", "ref_mm2", "pred_mm2", "tp", "fp", "fn", "dice", "iou", "recall",
    "precision", "hd95_mm", "outlier", "fa_pred", "fa_ref", "fa_err_pct", "lr_cross_px", "lr_swap", "cord_ratio"};
enum { NCOLS = sizeof(CSV_COLS) / sizeof(CSV_COLS[0]) };

static void put_num(FILE *f, double v) {
  if (isnan(v)) fputs(",nan", f);
  else fprintf(f, ",%.9g", v);
}

/* a provenance value with the CSV separator replaced */
static void put_str(FILE *f, const char *s, int first) {
  if (!first) fputc(',', f);
  for (; *s; s++) fputc(*s == ',' || *s == '\n' ? ';' : *s, f);
}

void evalio_slices_write(const char *path, const RunInfo *ri, const EvalSlice *s, int64_t n) {
  char tmp[PATH_CAP];
  atomic_begin(path, tmp, sizeof tmp);
  FILE *f = fopenCheck(tmp, "w");
  for (int c = 0; c < NCOLS; c++) fprintf(f, "%s%s", c ? "," : "", CSV_COLS[c]);
  fputc('\n', f);
  char prov[512];
  snprintf(prov, sizeof prov, "%d,%lld", ri->fold, (long long)ri->seed);
  for (int64_t i = 0; i < n; i++)
    for (int32_t c = 1; c < LABEL_COUNT; c++) {
      const RoiMetrics *m = &s[i].roi[c];
      put_str(f, ri->name, 1), put_str(f, ri->arm, 0), fprintf(f, ",%s", prov);
      put_str(f, ri->config_hash, 0), put_str(f, ri->folds_hash, 0), put_str(f, ri->data_checksum, 0);
      put_str(f, ri->git, 0);
      fprintf(f, ",%d,%d", s[i].index, s[i].subject);
      if (s[i].subject_name[0]) put_str(f, s[i].subject_name, 0);
      else fprintf(f, ",%d", s[i].subject);
      fprintf(f, ",%d,%d,%d,%s,%lld,%lld", s[i].slice, s[i].level, c, LABEL_KEYS[c], (long long)m->ref_px,
              (long long)m->pred_px);
      put_num(f, m->ref_mm2), put_num(f, m->pred_mm2);
      fprintf(f, ",%lld,%lld,%lld", (long long)m->tp, (long long)m->fp, (long long)m->fn);
      put_num(f, m->dice), put_num(f, m->iou), put_num(f, m->recall), put_num(f, m->precision), put_num(f, m->hd95_mm);
      fprintf(f, ",%d", m->outlier);
      put_num(f, m->fa_pred), put_num(f, m->fa_ref), put_num(f, m->fa_err_pct);
      fprintf(f, ",%lld,%d", (long long)m->lr_cross_px, m->lr_swap);
      put_num(f, s[i].cord_ratio);
      fputc('\n', f);
    }
  fcloseCheck(f, tmp);
  atomic_commit(tmp, path);
}

/* splits line (modified in place) at commas into at most max fields */
static int csv_split(char *line, char **fields, int max) {
  int n = 0;
  line[strcspn(line, "\r\n")] = 0;
  for (char *p = line; n < max;) {
    fields[n++] = p;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = 0, p = c + 1;
  }
  return n;
}

int evalio_slices_read(const char *path, EvalSlice **out, int64_t *n_out, RunInfo *ri, char *err, size_t errn) {
  *out = NULL, *n_out = 0;
  FILE *f = fopen(path, "r");
  if (!f) return textio_fail(err, errn, "'%s': cannot be opened (run `cordseg evaluate` on the run)", path);
  char *line = NULL, *fl[64];
  size_t cap = 0;
  int col[NCOLS];
  if (getline(&line, &cap, f) < 0) return free(line), fclose(f), textio_fail(err, errn, "'%s': empty file", path);
  int nh = csv_split(line, fl, 64);
  for (int c = 0; c < NCOLS; c++) {
    col[c] = -1;
    for (int j = 0; j < nh; j++)
      if (!strcmp(fl[j], CSV_COLS[c])) col[c] = j;
    if (col[c] < 0 && strcmp(CSV_COLS[c], "subject_name") && strcmp(CSV_COLS[c], "cord_ratio")) {
      /* subject_name, cord_ratio: not in files of older cordseg */
      fclose(f), free(line);
      return textio_fail(err, errn, "'%s': no column '%s' (written by another cordseg version?)", path, CSV_COLS[c]);
    }
  }
  int64_t n = 0, scap = 64, lineno = 1;
  EvalSlice *s = callocCheck((size_t)scap, sizeof(EvalSlice));
  int32_t last = -1;
  while (getline(&line, &cap, f) >= 0) {
    lineno++;
    if (!line[0] || line[0] == '\n') continue;
    int nf = csv_split(line, fl, 64);
    if (nf != nh) {
      free(s), free(line), fclose(f);
      return textio_fail(err, errn, "'%s' line %lld: %d fields, the header has %d (truncated?)", path, (long long)lineno, nf,
                  nh);
    }
#define F(name) fl[col[name]]
    enum { RUN, ARM, FOLD, SEED, CH, FH, DC, GIT, INDEX, SUBJ, SNAME, SLICE, LEVEL, ROI };
    int32_t index = atoi(F(INDEX)), roi = atoi(F(ROI));
    if (roi < 1 || roi >= LABEL_COUNT) {
      free(s), free(line), fclose(f);
      return textio_fail(err, errn, "'%s' line %lld: roi %d is not in 1..%d", path, (long long)lineno, roi, LABEL_MAX);
    }
    if (n == 0 || index != last) {
      if (n == scap) s = realloc(s, sizeof(EvalSlice) * (size_t)(scap *= 2));
      CS_CHECK(s, NULL, "out of memory reading '%s'", path);
      memset(&s[n], 0, sizeof s[n]);
      s[n].index = index, s[n].subject = atoi(F(SUBJ)), s[n].slice = atoi(F(SLICE)), s[n].level = atoi(F(LEVEL));
      snprintf(s[n].subject_name, sizeof s[n].subject_name, "%.63s", col[SNAME] >= 0 ? F(SNAME) : F(SUBJ));
      s[n].cord_ratio = col[NCOLS - 1] >= 0 ? strtod(F(NCOLS - 1), NULL) : NAN;
      n++, last = index;
      if (n == 1 && ri) {
        memset(ri, 0, sizeof *ri);
        snprintf(ri->name, sizeof ri->name, "%s", F(RUN));
        snprintf(ri->arm, sizeof ri->arm, "%s", F(ARM));
        ri->fold = atoi(F(FOLD)), ri->seed = atoll(F(SEED));
        snprintf(ri->config_hash, sizeof ri->config_hash, "%s", F(CH));
        snprintf(ri->folds_hash, sizeof ri->folds_hash, "%s", F(FH));
        snprintf(ri->data_checksum, sizeof ri->data_checksum, "%s", F(DC));
        snprintf(ri->git, sizeof ri->git, "%s", F(GIT));
      }
    }
    RoiMetrics *m = &s[n - 1].roi[roi];
    double v[NCOLS];
    for (int c = ROI + 2; c < NCOLS - 1; c++) v[c] = strtod(F(c), NULL); /* the last, cord_ratio: per slice, above */
#undef F
    int c = ROI + 2;
    m->ref_px = (int64_t)v[c++], m->pred_px = (int64_t)v[c++], m->ref_mm2 = v[c++], m->pred_mm2 = v[c++];
    m->tp = (int64_t)v[c++], m->fp = (int64_t)v[c++], m->fn = (int64_t)v[c++];
    m->dice = v[c++], m->iou = v[c++], m->recall = v[c++], m->precision = v[c++], m->hd95_mm = v[c++];
    m->outlier = (int32_t)v[c++], m->fa_pred = v[c++], m->fa_ref = v[c++], m->fa_err_pct = v[c++];
    m->lr_cross_px = (int64_t)v[c++], m->lr_swap = (int32_t)v[c++];
  }
  free(line), fclose(f);
  if (n == 0) return free(s), textio_fail(err, errn, "'%s': no rows", path);
  *out = s, *n_out = n;
  return 0;
}

/* ---- thresholds.txt ---- */

void evalio_thresholds_write(const char *path, int sigmoid, const double *thr, const double *val_dice, int32_t k) {
  char tmp[PATH_CAP];
  atomic_begin(path, tmp, sizeof tmp);
  FILE *f = fopenCheck(tmp, "w");
  fprintf(f, "# cordseg evaluate: how probabilities become labels. sigmoid: per-class threshold maximising the\n"
             "# pooled validation Dice (0..1 step 0.001); a pixel takes the most probable class over its threshold\n"
             "mode %s\n", sigmoid ? "sigmoid" : "argmax");
  if (sigmoid)
    for (int32_t c = 1; c < k; c++)
      fprintf(f, "class %d %s %.3f val_dice %.6f\n", c, c < LABEL_COUNT ? LABEL_KEYS[c] : "-", thr[c], val_dice[c]);
  fcloseCheck(f, tmp);
  atomic_commit(tmp, path);
}

int evalio_thresholds_read(const char *path, int *sigmoid, double *thr, int32_t k, char *err, size_t errn) {
  FILE *f = fopen(path, "r");
  if (!f) return textio_fail(err, errn, "'%s': cannot be opened", path);
  char line[512], mode[32] = "";
  int seen = 0;
  for (int32_t c = 0; c < k; c++) thr[c] = 0.5;
  while (fgets(line, sizeof line, f)) {
    int c;
    double t;
    if (sscanf(line, "mode %31s", mode) == 1) continue;
    if (sscanf(line, "class %d %*s %lf", &c, &t) == 2 && c >= 1 && c < k) thr[c] = t, seen++;
  }
  fclose(f);
  *sigmoid = !strcmp(mode, "sigmoid");
  if (!*sigmoid && strcmp(mode, "argmax")) return textio_fail(err, errn, "'%s': no 'mode sigmoid|argmax' line", path);
  if (*sigmoid && seen != k - 1) return textio_fail(err, errn, "'%s': %d class lines, want %d", path, seen, k - 1);
  return 0;
}

/* ---- pred.h5 ---- */

void evalio_pred_write(const char *path, const char *run, int32_t n, int32_t h, int32_t w, const int32_t *index,
                       const uint8_t *labels) {
  h5_quiet();
  char tmp[PATH_CAP];
  atomic_begin(path, tmp, sizeof tmp);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(f, tmp, "create", HINT_W);
  hsize_t d3[3] = {(hsize_t)n, (hsize_t)h, (hsize_t)w}, d1 = (hsize_t)n;
  hid_t sp = H5Screate_simple(3, d3, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
  if (n > 0) {
    hsize_t ch[3] = {1, (hsize_t)h, (hsize_t)w};
    H5Pset_chunk(pl, 3, ch), H5Pset_deflate(pl, 4);
  }
  hid_t ds = H5Dcreate2(f, "labels", H5T_STD_U8LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  H5_CHECK(ds, tmp, "labels", HINT_W);
  if (n) H5_CHECK(H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels), tmp, "labels", HINT_W);
  H5Dclose(ds), H5Sclose(sp), H5Pclose(pl);
  sp = H5Screate_simple(1, &d1, NULL);
  ds = H5Dcreate2(f, "index", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(ds, tmp, "index", HINT_W);
  if (n) H5_CHECK(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, index), tmp, "index", HINT_W);
  H5Dclose(ds), H5Sclose(sp);
  h5_attr_write_string(f, tmp, "schema", "cordseg-pred");
  h5_attr_write_string(f, tmp, "run", run);
  H5_CHECK(H5Fclose(f), tmp, "close", HINT_W);
  atomic_commit(tmp, path);
}

int evalio_pred_read(const char *path, int32_t *n, int32_t *h, int32_t *w, int32_t **index, uint8_t **labels, char *err,
                     size_t errn) {
  h5_quiet();
  *index = NULL, *labels = NULL;
  if (access(path, R_OK) != 0) return textio_fail(err, errn, "'%s': missing", path);
  hid_t f = h5_open_read(path);
  if (f < 0) return textio_fail(err, errn, "'%s': not an HDF5 file", path);
  hid_t dl = H5Dopen2(f, "labels", H5P_DEFAULT), di = H5Dopen2(f, "index", H5P_DEFAULT);
  int rc = 0;
  if (dl < 0 || di < 0) rc = textio_fail(err, errn, "'%s': no /labels or /index", path);
  else {
    hid_t sp = H5Dget_space(dl);
    hsize_t d[3] = {0, 0, 0};
    if (H5Sget_simple_extent_ndims(sp) != 3) rc = textio_fail(err, errn, "'%s': /labels is not [N,H,W]", path);
    H5Sget_simple_extent_dims(sp, d, NULL);
    H5Sclose(sp);
    *n = (int32_t)d[0], *h = (int32_t)d[1], *w = (int32_t)d[2];
    if (!rc) {
      *labels = mallocCheck(d[0] * d[1] * d[2] + 1);
      *index = mallocCheck(sizeof(int32_t) * (d[0] + 1));
      if ((d[0] && H5Dread(dl, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, *labels) < 0) ||
          (d[0] && H5Dread(di, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, *index) < 0)) {
        rc = textio_fail(err, errn, "'%s': read error", path);
        free(*labels), free(*index), *labels = NULL, *index = NULL;
      }
    }
  }
  if (dl >= 0) H5Dclose(dl);
  if (di >= 0) H5Dclose(di);
  H5Fclose(f);
  return rc;
}

/* ---- summary.json ---- */

const char *const EVAL_GROUP_NAMES[EVAL_GROUPS] = {"T1 (most compressed)", "T2", "T3 (least compressed)", "no cord"};

/* "model_selection": which checkpoint and the rule that chose it */
static void summary_add_selection(cJSON *root, const EvalSelection *sel) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "model_selection", m);
  cJSON_AddStringToObject(m, "checkpoint", sel->checkpoint);
  cJSON_AddStringToObject(m, "select_by", sel->select_by);
  cJSON_AddStringToObject(m, "rule", sel->rule);
  runinfo_json_number(m, "epoch", (double)sel->epoch, 20);
}

/* "compression_tertiles": the cut points, and per group its slices and per ROI Dice and FA error */
static void summary_add_tertiles(cJSON *root, const EvalTertiles *t) {
  cJSON *c = cJSON_CreateObject(), *cuts = cJSON_CreateArray(), *groups = cJSON_CreateArray();
  cJSON_AddItemToObject(root, "compression_tertiles", c);
  cJSON_AddStringToObject(c, "measure",
                          "AP/LR diameter ratio of the reference cord (labels 1..8) per test slice; lower = flatter = "
                          "more compressed; cut points = the 1/3 and 2/3 quantiles of the test slices' ratios; "
                          "overall mean = sum over groups of n * mean / sum of n (dice_n, fa_err_n)");
  for (int k = 0; k < 2; k++) {
    char num[64] = "null";
    if (isfinite(t->cut[k])) snprintf(num, sizeof num, "%.6g", t->cut[k]);
    cJSON_AddItemToArray(cuts, cJSON_CreateRaw(num));
  }
  cJSON_AddItemToObject(c, "cut_points", cuts);
  cJSON_AddItemToObject(c, "groups", groups);
  for (int g = 0; g < EVAL_GROUPS; g++) {
    cJSON *G = cJSON_CreateObject(), *rois = cJSON_CreateObject();
    cJSON_AddItemToArray(groups, G);
    cJSON_AddStringToObject(G, "group", EVAL_GROUP_NAMES[g]);
    runinfo_json_number(G, "slices", (double)t->count[g], 20);
    runinfo_json_number(G, "ratio_min", t->lo[g], 6), runinfo_json_number(G, "ratio_max", t->hi[g], 6);
    cJSON_AddItemToObject(G, "rois", rois);
    for (int r = 1; r < LABEL_COUNT; r++) {
      cJSON *R = cJSON_CreateObject();
      cJSON_AddItemToObject(rois, LABEL_KEYS[r], R);
      const RoiSummary *s = &t->sum[g][r];
      runinfo_json_number(R, "dice_mean", s->dice_mean, 6), runinfo_json_number(R, "dice_n", (double)t->dice_n[g][r], 20);
      runinfo_json_number(R, "fa_err_pct_mean", s->fa_err_mean, 6);
      runinfo_json_number(R, "fa_err_n", (double)t->fa_n[g][r], 20);
      runinfo_json_number(R, "outlier_pct", s->outlier_pct, 6);
    }
  }
}

void evalio_summary_write(const char *path, const RunInfo *ri, const char *ckpt, const char *git, int sigmoid,
                          const char *label_mode,
                          const double *thr, const double *val_dice, const RoiSummary *sum, const double *corr,
                          int64_t nslices, int64_t nval, const EvalSelection *sel, const EvalTertiles *ter) {
  cJSON *root = cJSON_CreateObject(), *prov = cJSON_CreateObject(), *rois = cJSON_CreateObject();
  CS_CHECK(root && prov && rois, "free memory", "summary.json: out of memory");
  cJSON_AddStringToObject(root, "schema", "cordseg-eval-summary 1");
  cJSON_AddItemToObject(root, "provenance", prov);
  cJSON_AddStringToObject(prov, "run", ri->name), cJSON_AddStringToObject(prov, "arm", ri->arm);
  runinfo_json_number(prov, "fold", ri->fold, 20), runinfo_json_number(prov, "seed", (double)ri->seed, 20);
  cJSON_AddStringToObject(prov, "config_hash", ri->config_hash);
  cJSON_AddStringToObject(prov, "folds_hash", ri->folds_hash);
  cJSON_AddStringToObject(prov, "data_checksum", ri->data_checksum), cJSON_AddStringToObject(prov, "git", ri->git);
  cJSON_AddStringToObject(prov, "checkpoint", ckpt);
  cJSON_AddStringToObject(prov, "evaluated_by_git", git ? git : "unknown");
  runinfo_json_number(root, "test_slices", (double)nslices, 20), runinfo_json_number(root, "val_slices", (double)nval, 20);
  cJSON_AddStringToObject(root, "label_mode", label_mode);
  cJSON_AddStringToObject(root, "policy",
                          "ratios with a zero denominator are NaN (null); means are nan-means; an outlier is a slice "
                          "whose reference holds the ROI and whose prediction does not; *_no = outliers removed; FA "
                          "error = |FA_pred - FA_ref| / FA_ref (%); ICC(2,1) absolute agreement; Bland-Altman of "
                          "FA_pred - FA_ref");
  cJSON_AddItemToObject(root, "rois", rois);
  for (int c = 1; c < LABEL_COUNT; c++) {
    const RoiSummary *s = &sum[c];
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToObject(rois, LABEL_KEYS[c], r);
    cJSON_AddStringToObject(r, "name", LABEL_NAMES[c]);
    runinfo_json_number(r, "threshold", sigmoid ? thr[c] : NAN, 6);
    runinfo_json_number(r, "val_dice_at_threshold", sigmoid ? val_dice[c] : NAN, 6);
    runinfo_json_number(r, "ref_slices", (double)s->ref_slices, 20);
    runinfo_json_number(r, "pred_slices", (double)s->pred_slices, 20);
    const struct {
      const char *k;
      double v;
    } kv[] = {{"dice_mean", s->dice_mean},         {"dice_sd", s->dice_sd},
              {"iou_mean", s->iou_mean},           {"iou_sd", s->iou_sd},
              {"recall_mean", s->recall_mean},     {"recall_sd", s->recall_sd},
              {"precision_mean", s->precision_mean}, {"precision_sd", s->precision_sd},
              {"hd95_mm_mean", s->hd95_mean},      {"hd95_mm_sd", s->hd95_sd},
              {"dice_mean_no", s->dice_mean_no},   {"dice_sd_no", s->dice_sd_no},
              {"recall_mean_no", s->recall_mean_no}, {"recall_sd_no", s->recall_sd_no},
              {"precision_mean_no", s->precision_mean_no}, {"precision_sd_no", s->precision_sd_no},
              {"outlier_pct", s->outlier_pct},     {"fa_err_pct_mean", s->fa_err_mean},
              {"fa_err_pct_sd", s->fa_err_sd},     {"fa_icc_2_1", s->fa_icc},
              {"fa_ba_bias", s->ba_bias},          {"fa_ba_loa_lo", s->ba_lo},
              {"fa_ba_loa_hi", s->ba_hi},          {"lr_swap_pct", s->swap_rate},
              {"lr_pair_swap_pct", s->pair_swap_rate}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) runinfo_json_number(r, kv[i].k, kv[i].v, 6);
  }
  cJSON *fc = cJSON_CreateObject(), *rows = cJSON_CreateArray(), *cols = cJSON_CreateArray(), *pr = cJSON_CreateArray();
  cJSON_AddItemToObject(root, "fa_correlation", fc);
  for (int c = 1; c < LABEL_COUNT; c++)
    cJSON_AddItemToArray(rows, cJSON_CreateString(LABEL_KEYS[c])), cJSON_AddItemToArray(cols, cJSON_CreateString(LABEL_KEYS[c]));
  cJSON_AddItemToObject(fc, "rows_pred", rows), cJSON_AddItemToObject(fc, "cols_ref", cols);
  cJSON_AddItemToObject(fc, "pearson", pr);
  for (int i = 0; i < LABEL_MAX; i++) {
    cJSON *row = cJSON_CreateArray();
    for (int k = 0; k < LABEL_MAX; k++) {
      char num[64] = "null";
      const double v = corr[i * LABEL_MAX + k];
      if (isfinite(v)) snprintf(num, sizeof num, "%.6g", v);
      cJSON_AddItemToArray(row, cJSON_CreateRaw(num));
    }
    cJSON_AddItemToArray(pr, row);
  }
  summary_add_selection(root, sel);
  summary_add_tertiles(root, ter);
  runinfo_json_write(path, root);
  cJSON_Delete(root);
}

/* ---- log.csv ---- */

int evalio_log_read(const char *path, TrainLog *log, char *err, size_t errn) {
  memset(log, 0, sizeof *log);
  FILE *f = fopen(path, "r");
  if (!f) return textio_fail(err, errn, "'%s': cannot be opened", path);
  char *line = NULL, *fl[128];
  size_t cap = 0;
  if (getline(&line, &cap, f) < 0) return free(line), fclose(f), textio_fail(err, errn, "'%s': empty", path);
  static const char *const want[5] = {"epoch", "train_loss", "val_loss", "lr", "val_dice_mean"};
  int col[5], nh = csv_split(line, fl, 128);
  for (int c = 0; c < 5; c++) {
    col[c] = -1;
    for (int j = 0; j < nh; j++)
      if (!strcmp(fl[j], want[c])) col[c] = j;
  }
  if (col[0] < 0) return free(line), fclose(f), textio_fail(err, errn, "'%s': no 'epoch' column", path);
  int64_t lcap = 64;
  double *v[5];
  for (int c = 0; c < 5; c++) v[c] = mallocCheck(sizeof(double) * (size_t)lcap);
  while (getline(&line, &cap, f) >= 0) {
    int nf = csv_split(line, fl, 128);
    if (nf < 1 || !fl[0][0]) continue;
    if (log->n == lcap) {
      lcap *= 2;
      for (int c = 0; c < 5; c++) CS_CHECK(v[c] = realloc(v[c], sizeof(double) * (size_t)lcap), NULL, "out of memory");
    }
    for (int c = 0; c < 5; c++) {
      const char *s = col[c] >= 0 && col[c] < nf ? fl[col[c]] : "";
      char *end;
      double x = strtod(s, &end);
      v[c][log->n] = end == s ? NAN : x;
    }
    log->n++;
  }
  free(line), fclose(f);
  log->epoch = v[0], log->train_loss = v[1], log->val_loss = v[2], log->lr = v[3], log->val_dice = v[4];
  return 0;
}

void evalio_log_free(TrainLog *log) {
  free(log->epoch), free(log->train_loss), free(log->val_loss), free(log->lr), free(log->val_dice);
  memset(log, 0, sizeof *log);
}
