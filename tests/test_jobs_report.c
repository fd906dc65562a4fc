/* tests/test_jobs_report.c: report_run on a synthetic study (tests/evalfix.h
 * store; eval results written here from corrupted copies of the reference
 * labels) of 2 arms x 3 folds x seed 11 plus one seed-12 run, with
 *   - a run without DONE (failed), a run without eval (missing eval), a run
 *     with a truncated slices.csv (unreadable eval), and the seed-12 grid
 *     cells that do not exist: all listed (runs.csv, index.html, return
 *     value), the rest aggregated;
 *   - table1/table2.csv = nan-mean / SD / outlier % recomputed here from the
 *     slices the test wrote (only the complete runs);
 *   - stats.csv: subject count and mean paired difference recomputed here,
 *     the Wilcoxon p against a 2^n sign enumeration, Holm >= raw p;
 *   - every PNG decodes (cairo) and is not blank; index.html embeds them and
 *     the QC overlays;
 *   - a run with another folds hash, or another data checksum, is refused;
 *   - arms (a second study): runs of vgg16-hdl-b0 at two lr_max values are
 *     two arms named with the key ("vgg16-hdl-b0 lr_max=0.001"), resnet50's
 *     name keeps no key, a second run of one (arm, fold, seed) is listed as
 *     a duplicate (not pooled, files _dup2), runs whose log.csv shows no
 *     learning (best Dice 0.003; an ROI at 0 throughout) are listed as
 *     "never learned", figure names are file-safe; run.json files without
 *     arm_hash (older cordseg) fall back to one arm per backbone-loss-input,
 *     which the page says. */
#define _POSIX_C_SOURCE 200809L
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/metrics.h"
#include "core/stats.h"
#include "io/evalio.h"
#include "io/textio.h"
#include "jobs/report/report.h"
#include "tests/evalfix.h"
#include "tests/testutil.h"
#include "io/path.h"

enum { SZ = 32, HW = SZ * SZ, K = 9, NSUB = 9, NSL = 3 };
static char g_dir[512], g_store[700], g_folds[700], g_sum[64], g_fh[32], g_study[700], g_out[700];

/* slices of the complete runs per arm, as written */
static EvalSlice g_kept[2][NSUB * NSL * 3];
static int64_t g_nkept[2];

/* prediction = reference with arm-dependent damage: arm 1 erases ROI 1 on
 * every other slice (outliers) and both arms erode/shift some pixels */
static void damage(const uint8_t *ref, uint8_t *pred, int arm, int32_t slice, Rng *r) {
  memcpy(pred, ref, HW);
  for (int q = 0; q < HW; q++) {
    if (ref[q] && rng_uniform(r) < (arm ? 0.25 : 0.1)) pred[q] = 0;
    if (!ref[q] && q + 1 < HW && ref[q + 1] && rng_uniform(r) < 0.3) pred[q] = ref[q + 1];
    if (arm == 1 && slice % 2 == 0 && pred[q] == 1) pred[q] = 0;
    if (arm == 0 && slice % 3 == 0 && pred[q] == 5) pred[q] = 1; /* a left/right swap */
  }
}

static void write_eval(const char *run, int arm, int keep, uint64_t seed) {
  char err[PATH_MSG_CAP], p[PATH_CAP];
  RunInfo ri;
  T_CHECK(runinfo_read(run, &ri, err, sizeof err) == 0, "fixture run.json readable (%s)", err);
  H5Store s;
  h5store_open(&s, g_store);
  Folds f;
  folds_read(&f, g_folds);
  int32_t *idx, n = folds_indices(&f, ri.fold, FOLD_TEST, s.meta, s.n, &idx);
  EvalSlice *es = callocCheck((size_t)n, sizeof(EvalSlice));
  uint8_t *pred = mallocCheck((size_t)n * HW), ref[HW];
  float fa[HW];
  Rng r;
  rng_init(&r, seed);
  for (int32_t j = 0; j < n; j++) {
    h5store_read_slices(&s, &idx[j], 1, NULL, fa, ref);
    damage(ref, pred + (size_t)j * HW, arm, idx[j], &r);
    const SliceMeta *m = &s.meta[idx[j]];
    es[j].index = idx[j], es[j].subject = m->subject, es[j].slice = m->slice, es[j].level = m->level;
    snprintf(es[j].subject_name, sizeof es[j].subject_name, "sub-%02d", m->subject - 100); /* as evaluate names them */
    metrics_slice(pred + (size_t)j * HW, ref, fa, SZ, SZ, m->spacing, K, LABEL_LR_SWAP, es[j].roi);
    if (keep) g_kept[arm][g_nkept[arm]++] = es[j];
  }
  char d[PATH_CAP];
  rundir_path(d, sizeof d, run, "eval");
  rundir_prepare(d);
  rundir_path(p, sizeof p, d, "slices.csv");
  evalio_slices_write(p, &ri, es, n);
  rundir_path(p, sizeof p, d, "pred.h5");
  evalio_pred_write(p, ri.name, n, SZ, SZ, idx, pred);
  free(es), free(pred), free(idx);
  folds_free(&f);
  h5store_close(&s);
}

static void make_run(const char *arm_name, int arm, int fold, uint64_t seed, int done, int eval, int keep,
                     const char *fh, const char *sum, const char *study) {
  TrainConfig cfg;
  config_defaults(&cfg);
  snprintf(cfg.store, sizeof cfg.store, "%s", g_store);
  snprintf(cfg.folds, sizeof cfg.folds, "%s", g_folds);
  cfg.fold = fold, cfg.seed = seed, cfg.backbone = arm ? UNET_BACKBONE_RESNET50 : UNET_BACKBONE_VGG16;
  char run[1200];
  snprintf(run, sizeof run, "%s/%s/fold%d-seed%d", study, arm_name, fold, (int)seed);
  fix_run_dir(run, &cfg, arm_name, fh, sum, done);
  if (eval) write_eval(run, arm, keep, 1000 + 10 * (uint64_t)fold + seed);
}

/* a finished, evaluated run at `run` of backbone `arm` with lr_max; log (when
 * not NULL) replaces the fixture's log.csv; legacy: run.json without
 * arm_hash and config, as cordseg wrote it before */
static void make_arm_run(const char *run, int arm, int fold, double lr_max, const char *log, int legacy) {
  TrainConfig cfg;
  config_defaults(&cfg);
  snprintf(cfg.store, sizeof cfg.store, "%s", g_store);
  snprintf(cfg.folds, sizeof cfg.folds, "%s", g_folds);
  cfg.fold = fold, cfg.seed = 11, cfg.lr_max = lr_max;
  cfg.backbone = arm ? UNET_BACKBONE_RESNET50 : UNET_BACKBONE_VGG16;
  char an[64], p[1300];
  config_arm_name(&cfg, an, sizeof an);
  fix_run_dir(run, &cfg, an, g_fh, g_sum, 1);
  if (log) path_fmt(p, sizeof p, "%s/log.csv", run), textio_write(p, log);
  if (legacy) {
    char ch[32];
    config_hash(&cfg, ch);
    const RunProvenance rp = {.arm = an, .fold = fold, .seed = 11, .config_hash = ch, .folds_hash = g_fh,
                              .data_checksum = g_sum, .store = "", .folds = "", .git = "test", .version = "",
                              .world_size = 1, .hosts = "", .backend = "", .backend_version = "", .precision = "",
                              .mpi = "", .hdf5 = "", .started = "", .resumed_at_epoch = -1, .command = ""};
    runinfo_write(run, &rp);
  }
  write_eval(run, arm, 0, 2000 + 10 * (uint64_t)fold + (uint64_t)(lr_max * 1e4));
}

/* report of one study into dir/name; returns its problem count, *csv = runs.csv, *html = index.html */
static int report_study(const char *study, const char *name, char **csv, char **html) {
  char out[800], p[900];
  snprintf(out, sizeof out, "%s/%s", g_dir, name);
  ReportOptions o;
  report_options_default(&o);
  const char *studies[1] = {study};
  o.studies = studies, o.nstudies = 1, o.out = out, o.quiet = 1, o.bootstrap = 50;
  int problems = report_run(&o);
  path_fmt(p, sizeof p, "%s/runs.csv", out), *csv = textio_read(p);
  path_fmt(p, sizeof p, "%s/index.html", out), *html = textio_read(p);
  return problems;
}

/* arms that keep settings apart, duplicates, never-learned runs, old run.json */
static void check_arms(void) {
  char study[800], run[1000];
  snprintf(study, sizeof study, "%s/arms", g_dir);
  const char *flat = "epoch,global_step,train_loss,val_loss,lr,img_per_s,elapsed_s,eta_s,val_dice_mean,dice_LDC\n"
                     "1,3,0.9,0.95,1e-3,10,1,2,0.001,0\n2,6,0.9,0.95,1e-3,10,2,1,0.003,0.01\n";
  const char *roi0 = "epoch,global_step,train_loss,val_loss,lr,img_per_s,elapsed_s,eta_s,val_dice_mean,dice_LDC,"
                     "dice_RDC\n1,3,0.9,0.95,1e-4,10,1,2,0.3,0,0.4\n2,6,0.7,0.8,1e-4,10,2,1,0.5,0,0.6\n";
  for (int fo = 0; fo < 2; fo++) {
    snprintf(run, sizeof run, "%s/vgg-lr4/fold%d", study, fo), make_arm_run(run, 0, fo, 1e-4, NULL, 0);
    snprintf(run, sizeof run, "%s/vgg-lr3/fold%d", study, fo), make_arm_run(run, 0, fo, 1e-3, fo ? flat : NULL, 0);
    snprintf(run, sizeof run, "%s/resnet/fold%d", study, fo), make_arm_run(run, 1, fo, 1e-4, fo ? roi0 : NULL, 0);
  }
  snprintf(run, sizeof run, "%s/vgg-lr3/fold0-copy", study), make_arm_run(run, 0, 0, 1e-3, NULL, 0);
  char *csv, *html;
  int problems = report_study(study, "out-arms", &csv, &html);
  printf("arms study: %d problems; runs.csv:\n%s", problems, csv ? csv : "(none)");
  /* 1 duplicate + 2 never learned + fold 2 of 3 arms missing */
  T_CHECK(problems == 1 + 2 + 3, "arms study: 3 problem runs + 3 missing cells (returned %d)", problems);
  T_CHECK(csv && strstr(csv, "vgg-lr4/fold0,vgg16-hdl-b0_lr_max_0.0001_fold0_seed11,vgg16-hdl-b0 lr_max=0.0001,0,11,test,ok") &&
              strstr(csv, "vgg-lr3/fold0,vgg16-hdl-b0_lr_max_0.001_fold0_seed11,vgg16-hdl-b0 lr_max=0.001,0,11,test,ok"),
          "two lr_max values are two arms named with the key and its value");
  T_CHECK(csv && strstr(csv, "resnet/fold0,resnet50-hdl-b0_fold0_seed11,resnet50-hdl-b0,0,11,test,ok"),
          "an arm whose runs agree keeps its backbone-loss-input name");
  T_CHECK(csv && strstr(csv, "vgg-lr3/fold0-copy,vgg16-hdl-b0_lr_max_0.001_fold0_seed11_dup2,vgg16-hdl-b0 lr_max=0.001,0,11,"
                             "test,duplicate,") && strstr(csv, "is also run '"),
          "a second run of one (arm, fold, seed) is listed as a duplicate naming the other");
  T_CHECK(csv && strstr(csv, "vgg-lr3/fold1,vgg16-hdl-b0_lr_max_0.001_fold1_seed11,vgg16-hdl-b0 lr_max=0.001,1,11,test,"
                             "never learned,9,best validation Dice 0.0030 is under 0.05"),
          "a run whose best validation Dice is 0.003 is listed as never learned");
  T_CHECK(csv && strstr(csv, "resnet/fold1,resnet50-hdl-b0_fold1_seed11,resnet50-hdl-b0,1,11,test,never learned,9,ROI LDC at "
                             "Dice 0"),
          "a run with an ROI at 0 at every validation is listed as never learned, naming the ROI");
  T_CHECK(html && !strstr(html, "predate arm hashes"), "no fallback note when every run.json has arm_hash");
  char p[1000];
  path_fmt(p, sizeof p, "%s/out-arms/fig_fa_corr_vgg16-hdl-b0_lr_max_0.001.png", g_dir);
  T_CHECK(access(p, R_OK) == 0, "figure names of key=value arms are file-safe (%s)", p);
  path_fmt(p, sizeof p, "%s/out-arms/table1.csv", g_dir);
  char *t1 = textio_read(p);
  int rows[2] = {0, 0}; /* table rows of the lr 1e-3 arm; 8 ROIs, the duplicate not pooled */
  for (const char *q = t1; q && (q = strstr(q, "\nvgg16-hdl-b0 lr_max=0.001,")); q++) rows[0]++;
  for (const char *q = t1; q && (q = strstr(q, "\nvgg16-hdl-b0 lr_max=0.0001,")); q++) rows[1]++;
  T_CHECK(rows[0] == 8 && rows[1] == 8, "table1.csv: 8 ROI rows for each lr_max arm (%d, %d)", rows[0], rows[1]);
  free(t1), free(csv), free(html);

  /* a log.csv of random bytes (issue 31: reported 'ok' before) and one without validation rows are problems */
  snprintf(study, sizeof study, "%s/badlog", g_dir);
  char junk[600];
  for (size_t i = 0; i + 1 < sizeof junk; i++) junk[i] = (char)(33 + (i * 7919) % 90);
  junk[sizeof junk - 1] = 0;
  snprintf(run, sizeof run, "%s/a/fold0", study), make_arm_run(run, 0, 0, 1e-4, junk, 0);
  snprintf(run, sizeof run, "%s/a/fold1", study),
      make_arm_run(run, 0, 1, 1e-4, "epoch,global_step,train_loss,val_loss,lr,img_per_s,elapsed_s,eta_s\n1,3,0.9,0.9,1e-4,1,1,1\n",
                   0);
  report_study(study, "out-badlog", &csv, &html);
  T_CHECK(csv && strstr(csv, "not a cordseg training log"), "a log.csv of random bytes is a listed problem");
  T_CHECK(csv && strstr(csv, "has no val_dice_mean column"), "a log.csv without validation is a listed problem");
  free(csv), free(html);

  /* older run.json files: the old grouping, said on the page */
  snprintf(study, sizeof study, "%s/legacy", g_dir);
  snprintf(run, sizeof run, "%s/a/fold0", study), make_arm_run(run, 0, 0, 1e-4, NULL, 1);
  snprintf(run, sizeof run, "%s/b/fold0", study), make_arm_run(run, 0, 0, 1e-3, NULL, 1);
  report_study(study, "out-legacy", &csv, &html);
  T_CHECK(csv && strstr(csv, "a/fold0,vgg16-hdl-b0_fold0_seed11,vgg16-hdl-b0,0,11,test,ok") &&
              strstr(csv, "b/fold0,vgg16-hdl-b0_fold0_seed11_dup2,vgg16-hdl-b0,0,11,test,duplicate"),
          "old run.json: grouped by backbone-loss-input; the same cell twice is a listed duplicate");
  T_CHECK(html && strstr(html, "predate arm hashes"), "the page says the old run.json files were grouped by arm only");
  free(csv), free(html);
}

/* column `name` of a CSV file's rows whose first columns match (arm, roi) */
static double csv_get(const char *file, const char *arm, int roi, int roi_col, const char *name) {
  char p[900], line[4096];
  path_fmt(p, sizeof p, "%s/%s", g_out, file);
  FILE *f = fopen(p, "r");
  if (!f) return NAN;
  int col = -1, armcol = 0, i = 0;
  if (!fgets(line, sizeof line, f)) return fclose(f), NAN;
  line[strcspn(line, "\n")] = 0;
  for (char *t = strtok(line, ","); t; t = strtok(NULL, ","), i++) {
    if (!strcmp(t, name)) col = i;
    if (!strcmp(t, "arm_a")) armcol = i;
  }
  double v = NAN;
  while (col >= 0 && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *fl[64];
    int n = 0;
    for (char *q = line; n < 64;) {
      fl[n++] = q;
      char *c = strchr(q, ',');
      if (!c) break;
      *c = 0, q = c + 1;
    }
    if (col < n && !strcmp(fl[armcol], arm) && atoi(fl[roi_col]) == roi) v = strtod(fl[col], NULL);
  }
  fclose(f);
  return v;
}

static void check_png(const char *name) {
  char p[900];
  path_fmt(p, sizeof p, "%s/%s", g_out, name);
  cairo_surface_t *s = cairo_image_surface_create_from_png(p);
  int ok = cairo_surface_status(s) == CAIRO_STATUS_SUCCESS && cairo_image_surface_get_width(s) > 100;
  long dark = 0;
  if (ok) {
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    int st = cairo_image_surface_get_stride(s), w = cairo_image_surface_get_width(s),
        h = cairo_image_surface_get_height(s);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) dark += (((const uint32_t *)(d + (size_t)y * st))[x] & 0xff) < 128;
  }
  T_CHECK(ok && dark > 200, "%s decodes as a PNG with a drawing (%ld dark pixels)", name, dark);
  cairo_surface_destroy(s);
}

/* two-sided exact Wilcoxon p by enumerating every sign assignment */
static double brute_wilcoxon_p(const double *d, int n) {
  int rank[64], w = 0, total = n * (n + 1) / 2;
  for (int i = 0; i < n; i++) {
    rank[i] = 1;
    for (int j = 0; j < n; j++) rank[i] += fabs(d[j]) < fabs(d[i]);
    w += d[i] > 0 ? rank[i] : 0;
  }
  int wmin = w < total - w ? w : total - w;
  long long ext = 0;
  for (long long s = 0; s < (1ll << n); s++) {
    int ws = 0;
    for (int i = 0; i < n; i++) ws += (s >> i & 1) ? rank[i] : 0;
    ext += ws <= wmin || ws >= total - wmin;
  }
  return fmin(1, (double)ext / (double)(1ll << n));
}

static void report_child(void *arg) {
  const char *const *studies = arg;
  ReportOptions o;
  report_options_default(&o);
  o.studies = studies, o.nstudies = 2, o.out = g_out, o.quiet = 1, o.bootstrap = 100;
  report_run(&o);
}

int main(void) {
  fix_workdir("test_jobs_report", NSUB, NSL, g_dir, g_store, g_folds, g_sum, g_fh);
  snprintf(g_study, sizeof g_study, "%s/study", g_dir);
  snprintf(g_out, sizeof g_out, "%s/out", g_dir);
  const char *arms[2] = {"vgg16-hdl-b0", "resnet50-hdl-b0"};
  for (int a = 0; a < 2; a++)
    for (int fo = 0; fo < 3; fo++) {
      int failed = a == 0 && fo == 2, no_eval = a == 1 && fo == 2;
      make_run(arms[a], a, fo, 11, !failed, !no_eval, !failed && !no_eval, g_fh, g_sum, g_study);
    }
  /* seed 12: one run whose slices.csv is cut in the middle of a row */
  make_run(arms[0], 0, 0, 12, 1, 1, 0, g_fh, g_sum, g_study);
  char p[1200];
  path_fmt(p, sizeof p, "%s/%s/fold0-seed12/eval/slices.csv", g_study, arms[0]);
  char *t = textio_read(p);
  t[strlen(t) / 2] = 0;
  textio_write(p, t);
  free(t);

  ReportOptions o;
  report_options_default(&o);
  const char *studies[2] = {g_study, NULL};
  o.studies = studies, o.nstudies = 1, o.out = g_out, o.quiet = 1, o.bootstrap = 500;
  int problems = report_run(&o);
  /* 3 problem runs; missing cells: seed 12 x (vgg fold 1, 2; resnet fold 0, 1, 2) */
  T_CHECK(problems == 3 + 5, "report lists 3 problem runs + 5 missing cells (returned %d)", problems);

  path_fmt(p, sizeof p, "%s/runs.csv", g_out);
  t = textio_read(p);
  T_CHECK(t && strstr(t, "fold2-seed11,vgg16-hdl-b0_fold2_seed11,vgg16-hdl-b0,2,11,test,failed (no DONE)") &&
              strstr(t, "resnet50-hdl-b0_fold2_seed11,resnet50-hdl-b0,2,11,test,missing eval") &&
              strstr(t, "vgg16-hdl-b0_fold0_seed12,vgg16-hdl-b0,0,12,test,unreadable eval"),
          "runs.csv lists the failed, missing-eval and unreadable runs");
  free(t);
  path_fmt(p, sizeof p, "%s/index.html", g_out);
  t = textio_read(p);
  int nimg = 0;
  for (const char *q = t; q && (q = strstr(q, "data:image/png;base64,")); q++) nimg++;
  T_CHECK(t && strstr(t, "failed (no DONE)") && strstr(t, "missing eval") && strstr(t, "unreadable eval") &&
              strstr(t, "arm resnet50-hdl-b0, fold 0, seed 12: no run directory found"),
          "index.html lists every problem and missing cell");
  /* dice_by_arm + compare + 2 x (fa_corr + bland_altman) + 7 curves + 2 x 3 overlays */
  T_CHECK(nimg == 1 + 1 + 4 + 7 + 6, "index.html embeds 19 PNGs (got %d)", nimg);
  free(t);
  path_fmt(p, sizeof p, "%s/tables.tex", g_out);
  t = textio_read(p);
  T_CHECK(t && strstr(t, "\\begin{tabular}") && strstr(t, "$\\pm$"), "tables.tex is LaTeX tables");
  free(t);
  path_fmt(p, sizeof p, "%s/tables.md", g_out);
  t = textio_read(p);
  T_CHECK(t && strstr(t, "## Table 3") && strstr(t, "| L dorsal column |"), "tables.md has the tables");
  free(t);

  /* tables recomputed from the slices of the complete runs */
  int ok = 1;
  for (int a = 0; a < 2; a++) {
    T_CHECK(g_nkept[a] == 6 * NSL, "arm %d: 2 complete runs of 3 test subjects", a);
    for (int c = 1; c < K; c++) {
      double d[64], dn[64];
      int64_t refs = 0, outl = 0;
      for (int64_t q = 0; q < g_nkept[a]; q++) {
        const RoiMetrics *m = &g_kept[a][q].roi[c];
        d[q] = m->dice, dn[q] = m->outlier ? NAN : m->dice;
        refs += m->ref_px > 0, outl += m->outlier;
      }
      double want[4] = {stats_nanmean(d, g_nkept[a]), stats_nansd(d, g_nkept[a]), stats_nanmean(dn, g_nkept[a]),
                        refs ? 100.0 * outl / refs : NAN};
      double got[4] = {
          csv_get("table1.csv", arms[a], c, 1, "Dice_mean"), csv_get("table1.csv", arms[a], c, 1, "Dice_sd"),
          csv_get("table2.csv", arms[a], c, 1, "Dice_mean"), csv_get("table2.csv", arms[a], c, 1, "outliers__")};
      for (int k = 0; k < 4; k++)
        if (!(fabs(got[k] - want[k]) <= 1e-5 * fmax(1, fabs(want[k])) || (isnan(got[k]) && isnan(want[k])))) {
          ok = 0;
          fprintf(stderr, "arm %s roi %d value %d: table %g, recomputed %g\n", arms[a], c, k, got[k], want[k]);
        }
    }
  }
  T_CHECK(ok, "table1/table2 = nan-mean, SD, outliers-removed mean, outlier %% of the complete runs' slices");
  /* L/R pair swap rate: both sides' swap slices over both sides' predicted slices */
  for (int a = 0; a < 2; a++)
    for (int c = 1; c <= 4; c++) {
      long sw = 0, pr = 0;
      for (int64_t q = 0; q < g_nkept[a]; q++)
        for (int side = 0; side < 2; side++) {
          const RoiMetrics *m = &g_kept[a][q].roi[side ? LABEL_LR_SWAP[c] : c];
          pr += m->pred_px > 0, sw += m->pred_px > 0 && m->lr_swap;
        }
      double want = pr ? 100.0 * sw / pr : NAN, got = csv_get("table3.csv", arms[a], c, 1, "L_R_pair_swap__"),
             got_r = csv_get("table3.csv", arms[a], LABEL_LR_SWAP[c], 1, "L_R_pair_swap__");
      T_CHECK(fabs(got - want) < 1e-4 && fabs(got_r - want) < 1e-4, "arm %d ROI pair %d: swap %% %g = recomputed %g", a,
              c, got, want);
      if (a == 0 && c == 1) T_CHECK(want > 0, "arm 0's relabelled R dorsal column shows as L/R swaps (%g %%)", want);
    }
  T_CHECK(csv_get("table2.csv", arms[1], 1, 1, "outliers__") > 30, "arm 1's erased ROI 1 shows as outliers");

  /* stats: resnet50 (A) vs vgg16 (B), subject means */
  for (int c = 1; c <= 5; c += 4) {
    double da[NSUB] = {0}, db[NSUB] = {0}, na[NSUB] = {0}, nb[NSUB] = {0}, diff[NSUB];
    for (int a = 0; a < 2; a++)
      for (int64_t q = 0; q < g_nkept[a]; q++) {
        int s = g_kept[a][q].subject - 100;
        double v = g_kept[a][q].roi[c].dice;
        if (isnan(v)) continue;
        if (a) da[s] += v, na[s]++;
        else db[s] += v, nb[s]++;
      }
    int m = 0;
    for (int s = 0; s < NSUB; s++)
      if (na[s] && nb[s]) diff[m++] = da[s] / na[s] - db[s] / nb[s];
    double p_exact = brute_wilcoxon_p(diff, m);
    double got_n = csv_get("stats.csv", arms[1], c, 3, "subjects"),
           got_d = csv_get("stats.csv", arms[1], c, 3, "mean_diff");
    double got_p = csv_get("stats.csv", arms[1], c, 3, "p_wilcoxon"),
           got_h = csv_get("stats.csv", arms[1], c, 3, "p_holm");
    double lo = csv_get("stats.csv", arms[1], c, 3, "ci95_lo"), hi = csv_get("stats.csv", arms[1], c, 3, "ci95_hi");
    printf("ROI %d: %d subjects, mean diff %.4f [%.4f, %.4f], p %.4g (enumeration %.4g), Holm %.4g\n", c, m, got_d, lo,
           hi, got_p, p_exact, got_h);
    T_CHECK(got_n == m && fabs(got_d - stats_nanmean(diff, m)) < 1e-5, "ROI %d: paired subjects and mean difference",
            c);
    T_CHECK(fabs(got_p - p_exact) < 1e-5 && got_h >= got_p - 1e-12 && lo <= got_d && got_d <= hi,
            "ROI %d: Wilcoxon p = enumeration, Holm >= p, CI holds the mean", c);
  }

  /* subjects.csv: each arm's subjects by name, mean Dice per ROI over their slices recomputed here */
  {
    snprintf(p, sizeof p, "%s/subjects.csv", g_out);
    char *st = textio_read(p), *html = NULL;
    snprintf(p, sizeof p, "%s/index.html", g_out);
    html = textio_read(p);
    int rows_ok = 1, nsub_seen = 0;
    for (int a = 0; a < 2; a++)
      for (int sj = 0; sj < NSUB; sj++) {
        double sum = 0, sl = 0;
        int cnt = 0;
        for (int64_t q = 0; q < g_nkept[a]; q++)
          if (g_kept[a][q].subject == 100 + sj) {
            sl++;
            if (!isnan(g_kept[a][q].roi[1].dice)) sum += g_kept[a][q].roi[1].dice, cnt++;
          }
        if (!sl) continue;
        nsub_seen += a == 0;
        char row[128];
        snprintf(row, sizeof row, "\n%s,sub-%02d,%d,%d,", arms[a], sj, 100 + sj, (int)sl);
        const double got = csv_get("subjects.csv", arms[a], 100 + sj, 2, "dice_L_dc"), want = cnt ? sum / cnt : NAN;
        if (!st || !strstr(st, row) || !(fabs(got - want) < 1e-5 || (isnan(got) && isnan(want)))) {
          rows_ok = 0;
          fprintf(stderr, "subjects.csv: %s sub-%02d: row '%s' %s, L_dc Dice %g, recomputed %g\n", arms[a], sj, row + 1,
                  st && strstr(st, row) ? "found" : "missing", got, want);
        }
      }
    T_CHECK(nsub_seen == 6 && rows_ok, "subjects.csv: every test subject of each arm by name, slices and mean Dice");
    T_CHECK(html && strstr(html, "<h3>Per-subject Dice</h3>") && strstr(html, "<tr><td>sub-0"),
            "index.html: the per-subject table names the subjects");
    T_CHECK(html && strstr(html, ", subject sub-0"), "index.html: QC overlay captions name the subject");
    free(st), free(html);
  }

  const char *pngs[] = {"fig_dice_by_arm.png", "fig_compare_resnet50-hdl-b0_vs_vgg16-hdl-b0.png",
                        "fig_fa_corr_vgg16-hdl-b0.png", "fig_bland_altman_resnet50-hdl-b0.png",
                        "curves_vgg16-hdl-b0_fold0_seed11.png", "curves_vgg16-hdl-b0_fold2_seed11.png"};
  for (size_t i = 0; i < sizeof pngs / sizeof pngs[0]; i++) check_png(pngs[i]);

  check_arms();

  /* refusals: another folds manifest, other data */
  char other[800];
  snprintf(other, sizeof other, "%s/other-folds", g_dir);
  make_run(arms[0], 0, 0, 11, 1, 0, 0, "fnv1a64:00000000000000ff", g_sum, other);
  studies[1] = other;
  T_CHECK(t_child_exit(report_child, (void *)studies) == 1, "a run with another folds hash is refused");
  snprintf(other, sizeof other, "%s/other-data", g_dir);
  make_run(arms[0], 0, 0, 11, 1, 0, 0, g_fh, "fnv1a64:00000000000000ee", other);
  T_CHECK(t_child_exit(report_child, (void *)studies) == 1, "a run with another data checksum is refused");

  fix_cleanup(g_dir, t_failures);
  return t_finish("test_jobs_report");
}
