/* jobs/trainer.c: the training loop of `cordseg train` (see trainer.h).
 * Per step: each rank loads its part of the global batch (io/loader.c), runs
 * forward/loss/backward, the gradients are summed over ranks in fixed buckets
 * of the flat buffer and divided by the world size, then every rank applies
 * the same Adam update, so parameters stay identical without broadcasts.
 * Loss semantics: the loss is that of the global batch: hdl and ce are means
 * over images, and hybrid's Dice statistics are summed over the ranks before
 * the Dice term (core/loss.h dice_allreduce), so for VGG16-UNet (no
 * BatchNorm) the trajectory does not depend on the split of the global batch
 * (up to float summation order). ResNet's BatchNorm uses local-batch
 * statistics (as PyTorch DDP without SyncBN), so ResNet runs do, unless
 * sync_bn = true (global-batch statistics through unet_set_bn_sync).
 * Backend: config key device (core/backend.h); the trainer sees host memory
 * only (ModelState for checkpoints, stepper_allreduce_grads for the sums).
 * BN running statistics are averaged over ranks before validation and
 * checkpoints (the average commutes with their update, so resume is exact).
 * Signals: the requeue signal or SIGTERM/SIGINT set a flag; the ranks agree on
 * it after the current step (one small all-reduce per step), write
 * ckpt/last.h5 and exit 75 (requeue) or 143. */
#define _POSIX_C_SOURCE 200809L
#include "jobs/trainer.h"

#include <hdf5.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "core/backend.h"
#include "core/step.h"
#include "io/ckpt.h"
#include "io/folds.h"
#include "io/labels.h"
#include "io/loader.h"
#include "io/rundir.h"
#include "io/textio.h"

static volatile sig_atomic_t g_requeue = 0, g_term = 0;
static void on_requeue(int s) { (void)s, g_requeue = 1; }
static void on_term(int s) { (void)s, g_term = 1; }

static void signals_install(int requeue_sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_requeue;
  sigaction(requeue_sig, &sa, NULL);
}

/* short ROI names for the log header (K = 9); dice_c<k> otherwise */
static const char *const ROI_SHORT[LABEL_COUNT] = {"BG", "LDC", "LLC", "LVC", "LGM", "RDC", "RLC", "RVC", "RGM"};

typedef struct {
  int32_t b, C, K, h, w;
  float *x;        /* [b][C][H][W] */
  uint8_t *y;      /* [b][H][W] */
  float *probs;    /* [b][K][H][W] */
  float *scratch;  /* [2][H][W] */
} Bufs;

/* validation over this rank's share (positions rank, rank+world, ...) of the
 * slices; out [2 + 3K] = loss sum, images, tp[K], fp[K], fn[K], summed over ranks */
static void validate(Unet *net, const LossConfig *lc, const H5Store *st, const int32_t *idx, int32_t nval,
                     const Dist *d, InputKind kind, Bufs *B, double *out) {
  const int32_t K = B->K, b = B->b;
  const size_t hw = (size_t)B->h * B->w;
  memset(out, 0, sizeof(double) * (size_t)(2 + 3 * K));
  double *tp = out + 2, *fp = tp + K, *fn = fp + K;
  int32_t mine = nval > d->rank ? (nval - d->rank + d->world - 1) / d->world : 0;
  for (int32_t j0 = 0; j0 < mine; j0 += b) {
    int32_t nv = mine - j0 < b ? mine - j0 : b;
    for (int32_t i = 0; i < b; i++) { /* pad the last chunk with its last slice */
      int32_t pos = d->rank + (j0 + (i < nv ? i : nv - 1)) * d->world;
      loader_load_slice(st, idx[pos], kind, B->x + (size_t)i * B->C * hw, B->y + (size_t)i * hw, B->scratch);
    }
    const float *logits = unet_forward(net, B->x, 0);
    for (int32_t i = 0; i < nv; i++)
      out[0] += loss_compute(lc, logits + (size_t)i * K * hw, B->y + (size_t)i * hw, 1, K, B->h, B->w, NULL);
    out[1] += nv;
    loss_probs(lc, logits, b, K, B->h, B->w, B->probs);
    const int sigmoid = lc->kind == LOSS_KIND_HDL;
    for (int32_t i = 0; i < nv; i++) {
      const float *pr = B->probs + (size_t)i * K * hw;
      const uint8_t *y = B->y + (size_t)i * hw;
      for (size_t p = 0; p < hw; p++) {
        int32_t arg = 0;
        if (!sigmoid)
          for (int32_t c = 1; c < K; c++)
            if (pr[c * hw + p] > pr[arg * hw + p]) arg = c;
        for (int32_t c = 1; c < K; c++) {
          int pred = sigmoid ? pr[c * hw + p] > 0.5f : arg == c, ref = y[p] == c;
          tp[c] += pred && ref, fp[c] += pred && !ref, fn[c] += !pred && ref;
        }
      }
    }
  }
  dist_allreduce_sum_f64(out, (size_t)(2 + 3 * K));
}

static void sum_allreduce(double *v, int32_t n) { dist_allreduce_sum_f64(v, (size_t)n); }

/* the host collectives the backend and sync-BN see (core/ has no MPI) */
static void hook_sum_f32(void *ctx, float *v, size_t n) { (void)ctx, dist_allreduce_sum_f32(v, n); }
static void hook_sum_f64(void *ctx, double *v, size_t n) { (void)ctx, dist_allreduce_sum_f64(v, n); }
static void hook_sync_f64(void *ctx, double *v, int32_t n) { (void)ctx, dist_allreduce_sum_f64(v, (size_t)n); }
static void hook_bcast(void *ctx, void *buf, size_t bytes, int root) { (void)ctx, dist_bcast(buf, bytes, root); }

static void write_provenance(const TrainJob *job, const Backend *be, const char *folds_hash, const char *data_checksum,
                             const char *cfg_hash, int64_t resumed_epoch) {
  char hosts[1024], mpi[256], path[4200], hdf5[32], arm[64], when[64];
  dist_hosts(&job->dist, hosts, sizeof hosts);
  if (job->dist.rank != 0) return;
  dist_library_version(mpi, sizeof mpi);
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  snprintf(hdf5, sizeof hdf5, "%u.%u.%u", maj, min, rel);
  const TrainConfig *c = &job->cfg;
  config_arm_name(c, arm, sizeof arm);
  time_t now = time(NULL);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
  JsonWriter j;
  json_begin(&j, NULL, 2);
  json_str(&j, "arm", arm);
  json_int(&j, "fold", c->fold);
  json_int(&j, "seed", (int64_t)c->seed);
  json_str(&j, "config_hash", cfg_hash);
  json_str(&j, "folds_hash", folds_hash);
  json_str(&j, "data_checksum", data_checksum);
  json_str(&j, "store", c->store);
  json_str(&j, "folds", c->folds);
  json_str(&j, "git", CORDSEG_GIT);
  json_str(&j, "version", CORDSEG_VERSION);
  json_int(&j, "world_size", job->dist.world);
  json_str(&j, "hosts", hosts);
  json_str(&j, "backend", be->name);
  json_str(&j, "backend_version", be->version);
  json_str(&j, "precision", be->precision == BACKEND_PRECISION_BF16 ? "bf16" : "fp32");
  json_int(&j, "deterministic", be->deterministic);
  json_str(&j, "mpi", mpi);
  json_str(&j, "hdf5", hdf5);
  json_int(&j, "omp_threads_per_rank", omp_get_max_threads());
  json_str(&j, "started", when);
  json_int(&j, "resumed_at_epoch", resumed_epoch);
  json_str(&j, "command", job->command);
  rundir_path(path, sizeof path, job->run, "run.json");
  json_end(&j, path);
}

/* CSV cell: empty for NaN (no validation this epoch, or no reference pixels) */
static void csv_num(char *out, size_t n, double v) {
  if (isnan(v)) out[0] = 0;
  else snprintf(out, n, "%.8g", v);
}

static void fmt_duration(double s, char *out, size_t n) {
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(out, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
}

int trainer_run(TrainJob *job) {
  const TrainConfig *c = &job->cfg;
  const Dist *d = &job->dist;
  const int root = d->rank == 0;
  if (!getenv("OMP_NUM_THREADS")) { /* share this host's cores among its ranks */
    int t = omp_get_num_procs() / (d->local_size > 0 ? d->local_size : 1);
    omp_set_num_threads(t > 0 ? t : 1);
  }
  /* ---- data (rank 0 already checked all of it) ---- */
  H5Store store;
  h5store_open(&store, c->store);
  Folds folds;
  folds_read(&folds, c->folds);
  int32_t *tr_idx = NULL, *va_idx = NULL;
  int32_t ntr = folds_indices(&folds, c->fold, FOLD_TRAIN, store.meta, store.n, &tr_idx);
  int32_t nva = folds_indices(&folds, c->fold, FOLD_VAL, store.meta, store.n, &va_idx);
  char data_checksum[64], folds_hash[32], cfg_hash[32];
  h5store_attr_string(&store, "checksum", data_checksum, sizeof data_checksum);
  snprintf(folds_hash, sizeof folds_hash, "%s", folds.hash);
  config_hash(c, cfg_hash);
  char *config_text = config_format(c);
  const int32_t b = c->batch / d->world, H = store.h, W = store.w, C = input_channels(c->input), K = c->classes;
  /* ---- model, optimizer, loader ---- */
  UnetConfig ucfg;
  config_unet(c, &ucfg);
  LossConfig lc, lc_val; /* training: hybrid's Dice over the global batch; validation: per image */
  config_loss(c, &lc);
  lc_val = lc;
  if (d->world > 1) lc.dice_allreduce = sum_allreduce, lc.dice_grad_scale = (float)d->world;
  Backend *be = backend_init(c->device, c->precision, c->deterministic, -1);
  const BackendComm comm = {.rank = d->rank, .world = d->world, .local_rank = d->local_rank, .local_size = d->local_size,
                            .host = d->host, .sum_f32 = hook_sum_f32, .sum_f64 = hook_sum_f64, .bcast = hook_bcast};
  be->comm_init(be, &comm);
  const BackendSync bn_sync = {.sum_f64 = hook_sync_f64, .world = d->world};
  Unet *net = unet_init(be, &ucfg, b, H, W);
  if (d->world > 1 && c->sync_bn) unet_set_bn_sync(net, &bn_sync);
  unet_init_weights(net, c->init, c->seed);
  Stepper sp;
  stepper_init(&sp, net, &lc, b, H, W);
  const size_t P = unet_num_params(net), NB = unet_num_buffers(net);
  ModelState ms; /* host copy for checkpoints and resume */
  model_state_init(&ms, net, 1);
  CkptState st;
  memset(&st, 0, sizeof st);
  st.best_dice = -1, st.height = H, st.width = W;
  snprintf(st.config_hash, sizeof st.config_hash, "%s", cfg_hash);
  ckpt_model_key(net, &ucfg, st.model, sizeof st.model);
  char path_last[4200], path_best[4200], path_log[4200], path_done[4200];
  rundir_path(path_last, sizeof path_last, job->run, "ckpt/last.h5");
  rundir_path(path_best, sizeof path_best, job->run, "ckpt/best.h5");
  rundir_path(path_log, sizeof path_log, job->run, "log.csv");
  rundir_path(path_done, sizeof path_done, job->run, "DONE");
  if (job->resume) { /* rank 0 reads, everyone receives */
    if (root) ckpt_read(path_last, &ms, &st);
    dist_bcast(&st, sizeof st, 0);
    dist_bcast(ms.params, P * sizeof(float), 0);
    dist_bcast(ms.buffers, NB * sizeof(float), 0);
    dist_bcast(ms.adam_m, P * sizeof(float), 0);
    dist_bcast(ms.adam_v, P * sizeof(float), 0);
    dist_bcast(&ms.adam_t, sizeof ms.adam_t, 0);
    stepper_state_upload(&sp, &ms);
  }
  AugmentConfig aug;
  augment_config_default(&aug);
  aug.enabled = c->augment;
  Loader *ld = loader_init(&store, tr_idx, ntr, b, d->rank, d->world, c->seed, &aug, c->input);
  const int64_t spe = c->steps_per_epoch ? c->steps_per_epoch : loader_steps_per_epoch(ld);
  int64_t epoch0 = st.epoch, step0 = st.step_in_epoch;
  if (epoch0 < c->epochs) loader_seek(ld, epoch0, step0, spe);
  if (root) {
    char p[4200];
    rundir_path(p, sizeof p, job->run, "config.ini");
    textio_write(p, config_text);
    if (job->resume) rundir_log_truncate(path_log, st.epoch);
  }
  write_provenance(job, be, folds_hash, data_checksum, cfg_hash, job->resume ? st.epoch : -1);
  signals_install(config_signal_number(c));
  if (root) {
    printf("cordseg train: %s, %s loss, input %s, fold %d | %d train / %d val slices %dx%d | global batch %d = %d "
           "rank(s) x %d, %lld steps/epoch, %d epochs | %s, %d thread(s)/rank | run %s\n",
           unet_backbone_name(c->backbone), loss_kind_name(c->loss),
           input_kind_name(c->input), c->fold, ntr, nva, H, W, c->batch,
           d->world, b, (long long)spe, c->epochs, be->version, omp_get_max_threads(), job->run);
    if (job->resume)
      printf("cordseg train: resuming from %s at epoch %lld step %lld (best Dice %.4f at epoch %lld)\n", path_last,
             (long long)st.epoch, (long long)st.step_in_epoch, st.best_dice, (long long)st.best_epoch);
    fflush(stdout);
  }
  /* ---- buffers ---- */
  Bufs B = {.b = b, .C = C, .K = K, .h = H, .w = W};
  const size_t hw = (size_t)H * W;
  B.x = alignedAllocCheck(sizeof(float) * (size_t)b * C * hw);
  B.y = alignedAllocCheck((size_t)b * hw);
  B.probs = alignedAllocCheck(sizeof(float) * (size_t)b * K * hw);
  B.scratch = alignedAllocCheck(sizeof(float) * 2 * hw);
  double *val = mallocCheck(sizeof(double) * (size_t)(2 + 3 * K));
  /* log header */
  char header[1024];
  int hl = snprintf(header, sizeof header,
                    "epoch,global_step,train_loss,val_loss,lr,img_per_s,elapsed_s,eta_s,val_dice_mean");
  for (int32_t k = 1; k < K && hl < 900; k++)
    hl += K == LABEL_COUNT ? snprintf(header + hl, sizeof header - hl, ",dice_%s", ROI_SHORT[k])
                           : snprintf(header + hl, sizeof header - hl, ",dice_c%d", k);
  const double t_start = cs_now(), elapsed0 = st.elapsed_s;
  double t_ckpt = t_start, epoch_time_sum = 0;
  int64_t epochs_timed = 0, steps_run = 0;
  int exit_code = TRAIN_EXIT_OK;
  const char *finish_reason = "complete";
  /* writes ckpt/last.h5 (rank 0) with BN stats averaged over ranks */
#define CHECKPOINT()                                                     \
  do {                                                                   \
    unet_buffers_average(net);                                           \
    st.elapsed_s = elapsed0 + cs_now() - t_start;                        \
    stepper_state_download(&sp, &ms);                                    \
    if (root) ckpt_write(path_last, &ms, 1, &st, config_text);           \
    t_ckpt = cs_now();                                                   \
  } while (0)
  for (int64_t epoch = epoch0; epoch < c->epochs; epoch++) {
    const float lr = (float)lr_schedule((int32_t)epoch, c->epochs, c->lr_max, c->lr_min, c->warmup_epochs,
                                        c->no_aug_epochs);
    const double te = cs_now();
    int pending = 0; /* 1 requeue, 2 term: handled after the epoch's bookkeeping */
    int64_t s0 = epoch == epoch0 ? step0 : 0;
    if (s0 == 0) st.epoch_loss_sum = 0;
    for (int64_t s = s0; s < spe; s++) {
      int64_t e = loader_next(ld, B.x, B.y);
      CS_CHECK(e == epoch, NULL, "internal: loader at epoch %lld, trainer at %lld", (long long)e, (long long)epoch);
      double loss = stepper_grad(&sp, B.x, B.y);
      stepper_allreduce_grads(&sp);
      steps_run++;
      int test_stop = job->stop_after_steps > 0 && steps_run == job->stop_after_steps;
      double red[4] = {loss, g_requeue || test_stop, g_term,
                       root && c->ckpt_every_minutes > 0 && cs_now() - t_ckpt >= 60 * c->ckpt_every_minutes};
      dist_allreduce_sum_f64(red, 4);
      stepper_update(&sp, lr);
      st.epoch_loss_sum += red[0] / d->world;
      st.global_step++;
      st.step_in_epoch = s + 1;
      int want = red[2] > 0 ? 2 : red[1] > 0 ? 1 : 0;
      if (s + 1 < spe && (want || red[3] > 0)) { /* mid-epoch checkpoint */
        CHECKPOINT();
        if (root && want)
          printf("cordseg train: %s at epoch %lld step %lld: checkpoint %s written, exiting %d\n",
                 want == 2 ? "SIGTERM" : c->requeue_signal, (long long)epoch + 1, (long long)s + 1, path_last,
                 want == 2 ? TRAIN_EXIT_TERM : TRAIN_EXIT_REQUEUE);
        if (want) {
          exit_code = want == 2 ? TRAIN_EXIT_TERM : TRAIN_EXIT_REQUEUE;
          goto done;
        }
      } else if (want || red[3] > 0) {
        pending = want ? want : -1;
      }
    }
    /* ---- end of epoch ---- */
    const double train_loss = st.epoch_loss_sum / (double)spe;
    st.epoch = epoch + 1;
    st.step_in_epoch = 0;
    const int last_epoch = st.epoch == c->epochs;
    double val_loss = NAN, mean_dice = NAN, dice[256];
    const int do_val = nva > 0 && (st.epoch % c->val_every == 0 || last_epoch);
    unet_buffers_average(net); /* BN running statistics */
    if (do_val) {
      validate(net, &lc_val, &store, va_idx, nva, d, c->input, &B, val);
      val_loss = val[0] / val[1];
      double msum = 0;
      int mn = 0;
      for (int32_t k = 1; k < K; k++) {
        double tp = val[2 + k], fp = val[2 + K + k], fn = val[2 + 2 * K + k];
        dice[k] = 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : NAN;
        if (!isnan(dice[k])) msum += dice[k], mn++;
      }
      mean_dice = mn ? msum / mn : NAN;
      if (!isnan(mean_dice) && mean_dice > st.best_dice) {
        st.best_dice = mean_dice, st.best_epoch = st.epoch, st.stale_validations = 0;
        unet_state_download(net, &ms);
        if (root) ckpt_write(path_best, &ms, 0, &st, config_text);
      } else {
        st.stale_validations++;
      }
    }
    const double dt = cs_now() - te;
    epoch_time_sum += dt, epochs_timed++;
    const double eta = epoch_time_sum / epochs_timed * (double)(c->epochs - st.epoch);
    const double ips = (double)(spe - s0) * c->batch / dt;
    const int early = c->patience > 0 && do_val && st.stale_validations >= c->patience;
    if (root) {
      char row[2048], left[32], vl[32], md[32];
      csv_num(vl, sizeof vl, val_loss), csv_num(md, sizeof md, mean_dice);
      int rl = snprintf(row, sizeof row, "%lld,%lld,%.8g,%s,%.6g,%.4g,%.1f,%.1f,%s", (long long)st.epoch,
                        (long long)st.global_step, train_loss, vl, lr, ips, elapsed0 + cs_now() - t_start, eta, md);
      for (int32_t k = 1; k < K && rl < 1900; k++) {
        char v[32];
        csv_num(v, sizeof v, do_val ? dice[k] : NAN);
        rl += snprintf(row + rl, sizeof row - rl, ",%s", v);
      }
      rundir_log_append(path_log, header, row);
      fmt_duration(eta, left, sizeof left);
      printf("epoch %4lld/%d  loss %.5f", (long long)st.epoch, c->epochs, train_loss);
      if (do_val) {
        printf("  val %.5f  dice", val_loss);
        for (int32_t k = 1; k < K; k++) printf(" %.3f", dice[k]);
        printf("  mean %.4f", mean_dice);
      }
      printf("  lr %.2e  %.1f img/s  left %s\n", lr, ips, left);
      fflush(stdout);
    }
    const int due = st.epoch % c->ckpt_every_epochs == 0 || last_epoch || pending || early;
    if (due) {
      CHECKPOINT();
      if (root && (st.epoch % c->ckpt_every_epochs == 0 || last_epoch)) rundir_keep_epoch(job->run, st.epoch, c->ckpt_keep);
    }
    if (pending > 0) {
      exit_code = pending == 2 ? TRAIN_EXIT_TERM : TRAIN_EXIT_REQUEUE;
      if (root)
        printf("cordseg train: %s after epoch %lld: checkpoint %s written, exiting %d\n",
               pending == 2 ? "SIGTERM" : c->requeue_signal, (long long)st.epoch, path_last, exit_code);
      goto done;
    }
    if (early) {
      finish_reason = "early-stop";
      if (root) printf("cordseg train: early stop: no better validation Dice in %d validations\n", c->patience);
      break;
    }
  }
  if (root) {
    char txt[512];
    snprintf(txt, sizeof txt, "reason %s\nepochs %lld of %d\nglobal_step %lld\nbest_dice %.6g\nbest_epoch %lld\n",
             finish_reason, (long long)st.epoch, c->epochs, (long long)st.global_step, st.best_dice,
             (long long)st.best_epoch);
    textio_write(path_done, txt);
    printf("cordseg train: done (%s): %lld epochs, best mean validation Dice %.4f at epoch %lld; run %s\n",
           finish_reason, (long long)st.epoch, st.best_dice, (long long)st.best_epoch, job->run);
  }
#undef CHECKPOINT
done:
  fflush(stdout);
  loader_free(ld);
  stepper_free(&sp);
  unet_free(net);
  backend_free(be);
  model_state_free(&ms);
  free(B.x), free(B.y), free(B.probs), free(B.scratch), free(val);
  free(tr_idx), free(va_idx), free(config_text);
  folds_free(&folds);
  h5store_close(&store);
  return exit_code;
}
