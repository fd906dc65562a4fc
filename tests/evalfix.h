/* tests/evalfix.h: fixtures shared by test_jobs_evaluate and test_jobs_report
 * (header-only, static): a small synthetic slice store (io/synth cord-like
 * slices, anisotropic spacing), its folds file, and a run directory as
 * `cordseg train` writes it (config.ini, run.json, log.csv, DONE), and a model
 * file exported from such a run (fix_model).
 * defines: fix_store, fix_workdir, fix_cleanup, fix_run_dir, fix_model */
#ifndef CORDSEG_TESTS_EVALFIX_H
#define CORDSEG_TESTS_EVALFIX_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"
#include "core/common.h"
#include "io/ckpt.h"
#include "io/model.h"
#include "sim/synth.h"
#include "io/config.h"
#include "io/folds.h"
#include "io/h5store.h"
#include "io/rundir.h"
#include "io/runinfo.h"
#include "io/textio.h"
#include "io/path.h"

/* nsub subjects x nsl slices of size x size at `path`, folds (k) at
 * `folds_path`; returns the store checksum and folds hash */
static inline void fix_store(const char *path, const char *folds_path, int32_t nsub, int32_t nsl, int32_t size, int32_t k,
                      char checksum[64], char folds_hash[32]) {
  const int32_t n = nsub * nsl, hw = size * size;
  float *x = mallocCheck(sizeof(float) * 2 * (size_t)n * hw), *b0 = mallocCheck(sizeof(float) * (size_t)n * hw),
        *fa = mallocCheck(sizeof(float) * (size_t)n * hw);
  uint8_t *y = mallocCheck((size_t)n * hw);
  synth_batch(x, y, n, 2, size, size, 9, 77);
  SliceMeta *meta = callocCheck((size_t)n, sizeof(SliceMeta));
  for (int32_t i = 0; i < n; i++) {
    for (int32_t p = 0; p < hw; p++) {
      float f = x[((size_t)i * 2 + 1) * hw + p];
      b0[(size_t)i * hw + p] = 100.f * x[(size_t)i * 2 * hw + p] + 50.f;
      fa[(size_t)i * hw + p] = f < 0 ? 0 : f > 1 ? 1 : f;
    }
    meta[i] = (SliceMeta){.subject = 100 + i / nsl, .slice = i % nsl, .level = 3, .spacing = {0.625f, 0.5f}};
  }
  H5Store s;
  h5store_create(&s, path, size, size, 0, "test fixture");
  h5store_append(&s, n, b0, fa, NULL, NULL, NULL, y, meta);
  h5store_commit(&s);
  h5store_open(&s, path);
  h5store_attr_string(&s, "checksum", checksum, 64);
  Folds f;
  folds_make(&f, s.meta, s.n, k, 42);
  snprintf(f.store, sizeof f.store, "%s", path);
  snprintf(f.store_checksum, sizeof f.store_checksum, "%s", checksum);
  folds_write(&f, folds_path);
  snprintf(folds_hash, 32, "%s", f.hash);
  folds_free(&f);
  h5store_close(&s);
  free(x), free(b0), free(fa), free(y), free(meta);
}

/* BINARY_DIR/<name>.<pid>/ with store.h5 (nsub x nsl slices, 32x32) and
 * folds.txt (3 folds) in it; fills the paths, checksum and folds hash */
static inline void fix_workdir(const char *name, int32_t nsub, int32_t nsl, char dir[512], char store[700], char folds[700],
                        char checksum[64], char folds_hash[32]) {
  snprintf(dir, 512, "%s/%s.%d", CORDSEG_BINARY_DIR, name, (int)getpid());
  rundir_prepare(dir);
  snprintf(store, 700, "%s/store.h5", dir);
  snprintf(folds, 700, "%s/folds.txt", dir);
  fix_store(store, folds, nsub, nsl, 32, 3, checksum, folds_hash);
}

/* removes the work directory unless a check failed (kept for inspection) */
static inline void fix_cleanup(const char *dir, int failures) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (!failures && system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
}

/* a run directory: config.ini from cfg, run.json with the given provenance,
 * a 3-epoch log.csv, and DONE when done */
static inline void fix_run_dir(const char *dir, const TrainConfig *cfg, const char *arm, const char *folds_hash,
                        const char *checksum, int done) {
  char p[PATH_CAP];
  rundir_prepare(dir);
  rundir_path(p, sizeof p, dir, "config.ini");
  char *text = config_format(cfg);
  textio_write(p, text);
  char ch[32], ah[32];
  config_hash(cfg, ch);
  config_arm_hash(cfg, ah);
  const RunProvenance rp = {.config_text = text, .arm_hash = ah, .arm = arm, .fold = cfg->fold, .seed = (int64_t)cfg->seed, .config_hash = ch,
                            .folds_hash = folds_hash, .data_checksum = checksum, .store = "", .folds = "",
                            .git = "test", .version = "", .world_size = 1, .hosts = "", .backend = "",
                            .backend_version = "", .precision = "", .mpi = "", .hdf5 = "", .started = "",
                            .resumed_at_epoch = -1, .command = ""};
  runinfo_write(dir, &rp);
  free(text);
  rundir_path(p, sizeof p, dir, "log.csv");
  textio_write(p,
                    "epoch,global_step,train_loss,val_loss,lr,img_per_s,elapsed_s,eta_s,val_dice_mean,dice_LDC\n"
                    "1,3,0.9,0.95,1e-4,10,1,2,0.2,0.1\n2,6,0.7,0.8,8e-5,10,2,1,,\n3,9,0.6,0.7,5e-5,10,3,0,0.4,0.3\n");
  if (done) rundir_path(p, sizeof p, dir, "DONE"), textio_write(p, "done\n");
}
/* run/ckpt/best.h5: the checkpoint of a seeded (5) untrained network of cfg on backend be, size x size slices,
 * config hash and model key as train writes them */
static inline void fix_run_ckpt(const char *run, const TrainConfig *cfg, Backend *be, int32_t size) {
  UnetConfig u;
  config_unet(cfg, &u);
  Unet *net = unet_init(be, &u, 1, size, size);
  unet_init_weights(net, UNET_INIT_KAIMING, 5);
  CkptState st;
  memset(&st, 0, sizeof st);
  st.height = st.width = size, st.best_dice = -1;
  config_hash(cfg, st.config_hash);
  ckpt_model_key(net, &u, st.model, sizeof st.model);
  char p[PATH_CAP];
  path_fmt(p, sizeof p, "%s/ckpt/best.h5", run);
  ModelState ms;
  model_state_init(&ms, net, 0);
  unet_state_download(net, &ms);
  ckpt_write(p, &ms, 0, &st, "test fixture");
  model_state_free(&ms);
  unet_free(net);
}

/* dir/model.h5: a model exported (model_export, as `cordseg export --force`) from a run of a seeded untrained
 * VGG16 HDL B0+FA network (width_div 4) on a 3-subject 32 x 32 store made in dir; the path into model (size n) */
static inline void fix_model(const char *dir, char *model, size_t n) {
  char store[700], folds[700], sum[64], fh[32], run[700];
  snprintf(store, sizeof store, "%.600s/store.h5", dir);
  snprintf(folds, sizeof folds, "%.600s/folds.txt", dir);
  fix_store(store, folds, 3, 2, 32, 3, sum, fh);
  snprintf(run, sizeof run, "%.600s/run", dir);
  TrainConfig cfg;
  config_defaults(&cfg);
  snprintf(cfg.store, sizeof cfg.store, "%s", store);
  snprintf(cfg.folds, sizeof cfg.folds, "%s", folds);
  cfg.fold = 0, cfg.input = INPUT_B0_FA, cfg.width_div = 4, cfg.loss = LOSS_KIND_HDL, cfg.init = UNET_INIT_KAIMING;
  fix_run_dir(run, &cfg, "vgg16-hdl-b0fa", fh, sum, 1);
  fix_run_ckpt(run, &cfg, backend_cpu_init(), 32);
  path_fmt(model, n, "%s/model.h5", dir);
  const char *runs[1] = {run};
  model_export(model, runs, 1, "test fixture", "test", 1);
}
#endif
