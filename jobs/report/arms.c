/* jobs/report/arms.c: which arm each run belongs to, and the runs that must
 * not be pooled as if they were fine (see jobs/report/report_impl.h):
 *   - the arm: runs are grouped by run.json's arm_hash (the config without
 *     fold, seed and paths, io/config.h config_arm_hash) and named by
 *     backbone-loss-input plus " key=value" for every arm key whose value
 *     differs among the readable runs of that backbone-loss-input, e.g.
 *     "vgg16-hdl-b0 lr_max=0.001"; distinct hashes get distinct names. When
 *     any run.json predates arm_hash, every run is grouped by its "arm"
 *     alone (the old rule) and the report says so once;
 *   - duplicates: a second run of one (arm, fold, seed) is listed, not
 *     pooled, and its files are suffixed _dupK;
 *   - runs that never learned (log.csv: best val_dice_mean under
 *     REPORT_LEARN_FLOOR, or an ROI's dice_<ROI> at 0 at every validation)
 *     are listed, and still pooled (dropping them would flatter the arm). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/config.h"
#include "io/rundir.h"
#include "io/path.h"

int report_run_pooled(const ReportRun *u) { return u->status == RUN_OK || u->status == RUN_NOT_LEARNED; }

/* the value of key in "key = value\n" lines into v; 0 when absent */
static int config_value(const char *text, const char *key, char *v, size_t n) {
  size_t kl = strlen(key);
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len > kl + 3 && !strncmp(p, key, kl) && !strncmp(p + kl, " = ", 3)) {
      snprintf(v, n, "%.*s", (int)(len - kl - 3), p + kl + 3);
      return 1;
    }
    p = nl ? nl + 1 : NULL;
  }
  v[0] = 0;
  return 0;
}

/* a number as its shortest round-trip text (0.00050000000000000001 -> 0.0005); anything else as is */
static void value_short(const char *v, char *out, size_t n) {
  char *end = NULL;
  double x = strtod(v, &end);
  snprintf(out, n, "%s", v);
  if (!*v || *end || !strpbrk(v, ".eE")) return;
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(out, n, "%.*g", prec, x);
    if (strtod(out, NULL) == x) return;
  }
}

/* the arm keys whose values differ among the readable runs of u's
 * backbone-loss-input, "key\n" each, into keys */
static void differing_keys(const Report *r, const ReportRun *u, char *keys, size_t n) {
  keys[0] = 0;
  for (const char *p = u->ri.config; *p;) {
    const char *nl = strchr(p, '\n'), *eq = strstr(p, " = ");
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char key[128], mine[1200], other[1200];
    snprintf(key, sizeof key, "%.*s", eq && eq < p + len ? (int)(eq - p) : (int)len, p);
    p = nl ? nl + 1 : p + len;
    if (!config_key_arm(key)) continue;
    config_value(u->ri.config, key, mine, sizeof mine);
    int differs = 0;
    for (int32_t j = 0; j < r->nruns && !differs; j++) {
      const ReportRun *v = &r->runs[j];
      if (v->status == RUN_UNREADABLE || strcmp(v->ri.arm, u->ri.arm)) continue;
      differs = !config_value(v->ri.config, key, other, sizeof other) || strcmp(mine, other);
    }
    size_t o = strlen(keys);
    if (differs && o + strlen(key) + 2 < n) snprintf(keys + o, n - o, "%s\n", key);
  }
}

/* u's arm name: its backbone-loss-input plus " key=value" for the keys listed in keys */
static void name_run(ReportRun *u, const char *keys) {
  snprintf(u->arm, sizeof u->arm, "%s", u->ri.arm);
  for (const char *k = keys; *k;) {
    const char *nl = strchr(k, '\n');
    char key[128], mine[1200], shortv[1200];
    snprintf(key, sizeof key, "%.*s", (int)(nl - k), k);
    k = nl + 1;
    config_value(u->ri.config, key, mine, sizeof mine);
    value_short(mine, shortv, sizeof shortv);
    size_t o = strlen(u->arm);
    snprintf(u->arm + o, sizeof u->arm - o, " %s=%s", key, shortv);
  }
}

/* one (arm, fold, seed) cell with several runs: the first pooled one (else
 * the first) is kept, every other is listed, not pooled, its files _dupK */
static void mark_duplicates(Report *r) {
  for (int32_t i = 0; i < r->nruns; i++) {
    ReportRun *u = &r->runs[i];
    if (u->status == RUN_UNREADABLE) continue;
    int k = 0, pos = 0;
    const ReportRun *kept = NULL;
    for (int32_t j = 0; j < r->nruns; j++) {
      const ReportRun *v = &r->runs[j];
      if (v->status == RUN_UNREADABLE || strcmp(v->arm, u->arm) || v->ri.fold != u->ri.fold || v->ri.seed != u->ri.seed)
        continue;
      k++;
      if (j == i) pos = k;
      if (!kept || (!report_run_pooled(kept) && report_run_pooled(v))) kept = v;
    }
    if (kept == u) continue;
    size_t o = strlen(u->id);
    snprintf(u->id + o, sizeof u->id - o, "_dup%d", pos);
    if (report_run_pooled(u)) {
      free(u->s), u->s = NULL, u->n = 0;
      u->status = RUN_DUPLICATE, u->note[0] = 0;
    }
    o = strlen(u->note);
    snprintf(u->note + o, sizeof u->note - o,
             "%sarm %s, fold %d, seed %lld is also run '%s': not pooled (its files are named %s); keep one run per "
             "cell (move the other out of the study, or train it with another seed)",
             o ? "; " : "", u->arm, u->ri.fold, (long long)u->ri.seed, kept->ri.dir, u->id);
  }
}

/* one CSV field (no quoting: log.csv has none) */
static const char *csv_field(const char *line, int col, size_t *len) {
  for (int c = 0; c < col && line; c++) {
    line = strchr(line, ',');
    if (line) line++;
  }
  if (!line) return NULL;
  *len = strcspn(line, ",\n\r");
  return line;
}

/* log.csv's best val_dice_mean and the ROIs whose dice_<ROI> never left 0:
 * a note and status RUN_NOT_LEARNED when the run never learned */
static void check_learned(ReportRun *u) {
  char p[PATH_CAP];
  rundir_path(p, sizeof p, u->ri.dir, "log.csv");
  char *t = textio_read(p);
  if (!t || strncmp(t, "epoch,", 6)) { /* missing, or not a training log (its header starts with epoch) */
    u->status = RUN_NOT_LEARNED;
    snprintf(u->note, sizeof u->note,
             "'%s' is %s: whether the run learned cannot be read (pooled all the same: check the run directory)", p,
             t ? "not a cordseg training log (its first line is not the header)" : "missing");
    free(t);
    return;
  }
  enum { MAXC = 64 };
  int ncol = 0, mean_col = -1, roi_col[MAXC], nroi = 0;
  char roi_name[MAXC][32];
  double roi_max[MAXC], best = -INFINITY;
  int roi_seen[MAXC];
  const char *nl = strchr(t, '\n');
  for (const char *h = t; h && h < (nl ? nl : h + strlen(h)); ncol++) {
    size_t len = strcspn(h, ",\n\r");
    if (len == 13 && !strncmp(h, "val_dice_mean", 13)) mean_col = ncol;
    else if (len > 5 && len < 37 && !strncmp(h, "dice_", 5) && nroi < MAXC)
      snprintf(roi_name[nroi], sizeof roi_name[0], "%.*s", (int)(len - 5), h + 5), roi_col[nroi] = ncol,
          roi_max[nroi] = -INFINITY, roi_seen[nroi++] = 0;
    h = h[len] == ',' ? h + len + 1 : NULL;
  }
  for (const char *row = nl ? nl + 1 : NULL; row && *row;) {
    size_t len;
    const char *f = mean_col >= 0 ? csv_field(row, mean_col, &len) : NULL;
    char num[64], *end;
    if (f && len && len < sizeof num) {
      snprintf(num, sizeof num, "%.*s", (int)len, f);
      double v = strtod(num, &end);
      if (end != num && isfinite(v) && v > best) best = v;
    }
    for (int k = 0; k < nroi; k++)
      if ((f = csv_field(row, roi_col[k], &len)) && len && len < sizeof num) {
        snprintf(num, sizeof num, "%.*s", (int)len, f);
        double v = strtod(num, &end);
        if (end != num && isfinite(v)) roi_seen[k] = 1, roi_max[k] = fmax(roi_max[k], v);
      }
    row = strchr(row, '\n');
    if (row) row++;
  }
  free(t);
  if (mean_col < 0 || !isfinite(best)) {
    u->status = RUN_NOT_LEARNED;
    snprintf(u->note, sizeof u->note,
             "'%s' has no %s: whether the run learned cannot be read (pooled all the same: check the run directory)", p,
             mean_col < 0 ? "val_dice_mean column" : "validation row with a val_dice_mean");
    return;
  }
  char zero[1024] = "";
  for (int k = 0; k < nroi; k++)
    if (roi_seen[k] && roi_max[k] <= 0) {
      size_t o = strlen(zero);
      snprintf(zero + o, sizeof zero - o, "%s%s", o ? ", " : "", roi_name[k]);
    }
  int low = isfinite(best) && best < REPORT_LEARN_FLOOR;
  if (!low && !zero[0]) return;
  u->status = RUN_NOT_LEARNED;
  size_t o = 0;
  if (low)
    o = (size_t)snprintf(u->note, sizeof u->note, "best validation Dice %.4f is under %.2f in '%s'", best,
                         REPORT_LEARN_FLOOR, p);
  if (zero[0])
    snprintf(u->note + o, sizeof u->note - o, "%sROI %s at Dice 0 at every validation in '%s'", o ? "; " : "", zero, p);
  o = strlen(u->note);
  snprintf(u->note + o, sizeof u->note - o,
           " (pooled all the same: check its learning rate, loss and data, and retrain or remove it)");
}

void report_name_arms(Report *r) {
  int32_t legacy = 0;
  const ReportRun *old = NULL;
  for (int32_t i = 0; i < r->nruns; i++)
    if (r->runs[i].status != RUN_UNREADABLE && !r->runs[i].ri.arm_hash[0]) legacy++, old = old ? old : &r->runs[i];
  r->legacy = legacy;
  if (legacy)
    fprintf(stderr,
            "report: %d run.json file(s) (e.g. '%s/run.json') predate arm hashes: every run is grouped by its "
            "backbone-loss-input arm alone, so runs of other settings may be pooled (retrain with this cordseg to "
            "keep them apart)\n",
            legacy, old->ri.dir);
  enum { KEYS_CAP = 4096 };
  char *keys = mallocCheck((size_t)(r->nruns + 1) * KEYS_CAP); /* per run; computed once per backbone-loss-input */
  for (int32_t i = 0; i < r->nruns; i++) {
    ReportRun *u = &r->runs[i];
    if (u->status == RUN_UNREADABLE) continue;
    int32_t same = i;
    for (int32_t j = 0; j < i && same == i; j++)
      if (r->runs[j].status != RUN_UNREADABLE && !strcmp(r->runs[j].ri.arm, u->ri.arm)) same = j;
    if (legacy) keys[(size_t)i * KEYS_CAP] = 0;
    else if (same < i) snprintf(keys + (size_t)i * KEYS_CAP, KEYS_CAP, "%s", keys + (size_t)same * KEYS_CAP);
    else differing_keys(r, u, keys + (size_t)i * KEYS_CAP, KEYS_CAP);
    name_run(u, keys + (size_t)i * KEYS_CAP);
    snprintf(u->id, sizeof u->id, "%s_fold%d_seed%lld", u->arm, u->ri.fold, (long long)u->ri.seed);
    report_file_safe(u->id);
  }
  free(keys);
  mark_duplicates(r);
  for (int32_t i = 0; i < r->nruns; i++)
    if (r->runs[i].status == RUN_OK) check_learned(&r->runs[i]);
}
