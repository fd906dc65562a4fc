/* io/ckpt.c: checkpoint files (see io/ckpt.h). */
#define _POSIX_C_SOURCE 200809L
#include "io/ckpt.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/config.h"
#include "io/h5util.h"
#include "io/path.h"

#define CKPT_SCHEMA "cordseg-ckpt"
#define CKPT_VERSION 1
#define HINT_W "check free disk space, quota and write permission of the run directory"
#define HINT_R "the checkpoint is truncated or not a cordseg checkpoint; delete it to fall back to the previous one"

void ckpt_model_key(const Unet *net, const UnetConfig *cfg, char *out, size_t n) {
  snprintf(out, n, "%s in=%d K=%d div=%d P=%zu", unet_backbone_name(cfg->backbone), cfg->in_channels, cfg->classes,
           cfg->width_div, unet_num_params(net));
}

/* 4-lane word-wise FNV-1a over the tensors' bytes: one multiply per 8 bytes
 * per lane, so a 25M-parameter checkpoint hashes in well under a second */
static void lanes_add(uint64_t h[4], const float *v, size_t n) {
  const uint64_t P = 0x100000001b3ull;
  size_t nw = n / 2, i = 0;
  for (; i + 4 <= nw; i += 4)
    for (int l = 0; l < 4; l++) {
      uint64_t w;
      memcpy(&w, v + 2 * (i + l), 8);
      h[l] = (h[l] ^ w) * P;
    }
  for (; i < nw; i++) {
    uint64_t w;
    memcpy(&w, v + 2 * i, 8);
    h[0] = (h[0] ^ w) * P;
  }
  if (n % 2) {
    uint32_t w;
    memcpy(&w, v + n - 1, 4);
    h[1] = (h[1] ^ w) * P;
  }
  h[2] = (h[2] ^ (uint64_t)n) * P; /* the length separates the tensors */
}

uint64_t ckpt_tensor_hash(const ModelState *ms, int with_adam) {
  uint64_t h[4] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full};
  lanes_add(h, ms->params, ms->np);
  lanes_add(h, ms->buffers, ms->nb);
  if (with_adam) {
    lanes_add(h, ms->adam_m, ms->np);
    lanes_add(h, ms->adam_v, ms->np);
  }
  uint64_t r = 0xcbf29ce484222325ull;
  for (int l = 0; l < 4; l++) r = (r ^ h[l]) * 0x100000001b3ull, r ^= r >> 29;
  return r;
}

void ckpt_check_values(const char *path, const char *name, const float *v, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i]) || v[i] < lo || v[i] > hi)
      cs_fatal("the weights are damaged or come from a diverged run; use an earlier checkpoint (ckpt/epoch-N.h5) or "
               "train again with a lower lr_max",
               "'%s': /%s[%zu] = %g is %s", path, name, i, (double)v[i],
               !isfinite(v[i]) ? "not finite" : "outside the sane range of a trained network");
}

static void write_vec(hid_t f, const char *path, const char *name, const float *v, size_t n) {
  hsize_t d = n;
  hid_t sp = H5Screate_simple(1, &d, NULL);
  hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(ds, path, name, HINT_W);
  if (n) H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), path, name, HINT_W);
  H5Dclose(ds), H5Sclose(sp);
}

static void read_vec(hid_t f, const char *path, const char *name, float *v, size_t n) {
  hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  if (ds < 0) cs_fatal(HINT_R, "checkpoint '%s' has no dataset /%s", path, name);
  hid_t sp = H5Dget_space(ds);
  hssize_t got = H5Sget_simple_extent_npoints(sp);
  if (got != (hssize_t)n)
    cs_fatal("the checkpoint belongs to another model; use a run directory of this config",
             "checkpoint '%s': /%s has %lld values, this network needs %zu", path, name, (long long)got, n);
  if (n) H5_CHECK(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), path, name, HINT_R);
  H5Sclose(sp), H5Dclose(ds);
}

void ckpt_write(const char *path, const ModelState *ms, int with_adam, const CkptState *st, const char *config_text) {
  h5_quiet();
  char tmp[PATH_CAP];
  atomic_begin(path, tmp, sizeof tmp);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(f, tmp, "create", HINT_W);
  const size_t P = ms->np;
  write_vec(f, tmp, "params", ms->params, P);    /* [P] */
  write_vec(f, tmp, "buffers", ms->buffers, ms->nb); /* [B] */
  if (with_adam) {
    CS_CHECK(ms->adam_m && ms->adam_v, NULL, "internal: checkpoint with Adam moments from a weights-only state");
    write_vec(f, tmp, "adam_m", ms->adam_m, P); /* [P] */
    write_vec(f, tmp, "adam_v", ms->adam_v, P); /* [P] */
    h5_attr_write_i64(f, tmp, "adam_t", ms->adam_t);
  }
  char sum[64];
  snprintf(sum, sizeof sum, "fnv1a64x4:%016llx", (unsigned long long)ckpt_tensor_hash(ms, with_adam));
  h5_attr_write_string(f, tmp, "tensor_checksum", sum);
  h5_attr_write_string(f, tmp, "tensor_checksum_covers", with_adam ? "params, buffers, adam_m, adam_v" : "params, buffers");
  h5_attr_write_string(f, tmp, "schema", CKPT_SCHEMA);
  h5_attr_write_i64(f, tmp, "schema_version", CKPT_VERSION);
  h5_attr_write_string(f, tmp, "model", st->model);
  h5_attr_write_string(f, tmp, "config", config_text ? config_text : "");
  h5_attr_write_string(f, tmp, "config_hash", st->config_hash);
  h5_attr_write_i64(f, tmp, "epoch", st->epoch);
  h5_attr_write_i64(f, tmp, "step_in_epoch", st->step_in_epoch);
  h5_attr_write_f64(f, tmp, "epoch_loss_sum", st->epoch_loss_sum);
  h5_attr_write_i64(f, tmp, "global_step", st->global_step);
  h5_attr_write_f64(f, tmp, "best_dice", st->best_dice);
  h5_attr_write_i64(f, tmp, "best_epoch", st->best_epoch);
  h5_attr_write_i64(f, tmp, "stale_validations", st->stale_validations);
  h5_attr_write_f64(f, tmp, "best_fa_err", st->best_fa_err);
  h5_attr_write_f64(f, tmp, "elapsed_s", st->elapsed_s);
  h5_attr_write_i64(f, tmp, "height", st->height);
  h5_attr_write_i64(f, tmp, "width", st->width);
  H5_CHECK(H5Fclose(f), tmp, "close", HINT_W);
  atomic_commit(tmp, path);
}

static hid_t open_ckpt(const char *path) {
  h5_quiet();
  hid_t f = h5_open_read(path);
  if (f < 0) cs_fatal(HINT_R, "cannot open checkpoint '%s' as HDF5", path);
  char schema[64];
  int64_t ver = 0;
  if (!h5_attr_read_string(f, "schema", schema, sizeof schema) || strcmp(schema, CKPT_SCHEMA) ||
      !h5_attr_read_i64(f, "schema_version", &ver) || ver != CKPT_VERSION)
    cs_fatal(HINT_R, "'%s' is not a cordseg checkpoint of version %d (schema '%s', version %lld)", path, CKPT_VERSION,
             schema, (long long)ver);
  return f;
}

static void read_state(hid_t f, const char *path, CkptState *st) {
  memset(st, 0, sizeof *st);
  int64_t h = 0, w = 0;
  int ok = h5_attr_read_string(f, "model", st->model, sizeof st->model) &&
           h5_attr_read_string(f, "config_hash", st->config_hash, sizeof st->config_hash) &&
           h5_attr_read_i64(f, "epoch", &st->epoch) && h5_attr_read_i64(f, "step_in_epoch", &st->step_in_epoch) &&
           h5_attr_read_i64(f, "global_step", &st->global_step) &&
           h5_attr_read_f64(f, "epoch_loss_sum", &st->epoch_loss_sum) && h5_attr_read_f64(f, "best_dice", &st->best_dice) &&
           h5_attr_read_i64(f, "best_epoch", &st->best_epoch) &&
           h5_attr_read_i64(f, "stale_validations", &st->stale_validations) &&
           h5_attr_read_f64(f, "elapsed_s", &st->elapsed_s) && h5_attr_read_i64(f, "height", &h) &&
           h5_attr_read_i64(f, "width", &w);
  if (!ok) cs_fatal(HINT_R, "checkpoint '%s' lacks one of its state attributes", path);
  if (!h5_attr_read_f64(f, "best_fa_err", &st->best_fa_err)) st->best_fa_err = -1; /* written since issue 30 */
  st->height = (int32_t)h, st->width = (int32_t)w;
  /* counters: each one alone, then against each other */
#define CK_RANGE(cond, field, fmt, val)                                                                     \
  do {                                                                                                      \
    if (!(cond)) cs_fatal(HINT_R, "checkpoint '%s': attribute %s = " fmt " is impossible", path, field, val); \
  } while (0)
  CK_RANGE(st->epoch >= 0 && st->epoch <= 100000, "epoch", "%lld", (long long)st->epoch);
  CK_RANGE(st->step_in_epoch >= 0 && st->step_in_epoch <= 100000000, "step_in_epoch", "%lld", (long long)st->step_in_epoch);
  if (st->global_step < st->step_in_epoch || st->global_step < st->epoch)
    cs_fatal(HINT_R, "checkpoint '%s': global_step %lld is below step_in_epoch %lld or epoch %lld: one of the three "
             "counters is corrupt", path, (long long)st->global_step, (long long)st->step_in_epoch,
             (long long)st->epoch);
  CK_RANGE(st->best_epoch >= 0 && st->best_epoch <= st->epoch + 1, "best_epoch", "%lld", (long long)st->best_epoch);
  CK_RANGE(st->stale_validations >= 0 && st->stale_validations <= st->epoch + 1, "stale_validations", "%lld",
           (long long)st->stale_validations);
  CK_RANGE(isfinite(st->elapsed_s) && st->elapsed_s >= 0, "elapsed_s", "%g", st->elapsed_s);
  CK_RANGE(isfinite(st->epoch_loss_sum) && st->epoch_loss_sum >= 0, "epoch_loss_sum", "%g", st->epoch_loss_sum);
  CK_RANGE(st->best_dice == -1 || (st->best_dice >= 0 && st->best_dice <= 1), "best_dice", "%g", st->best_dice);
  CK_RANGE(st->best_fa_err == -1 || (isfinite(st->best_fa_err) && st->best_fa_err >= 0), "best_fa_err", "%g",
           st->best_fa_err);
  CK_RANGE(h >= 1 && h <= 4096, "height", "%lld", (long long)h);
  CK_RANGE(w >= 1 && w <= 4096, "width", "%lld", (long long)w);
  /* every epoch has the same number of steps: global_step = epoch * spe + step_in_epoch */
  if (st->epoch > 0 && (st->global_step - st->step_in_epoch) % st->epoch != 0)
    cs_fatal(HINT_R, "checkpoint '%s': global_step %lld does not equal epoch %lld x steps per epoch + step_in_epoch %lld",
             path, (long long)st->global_step, (long long)st->epoch, (long long)st->step_in_epoch);
  /* and against the config the checkpoint carries */
  char *text = h5_attr_read_string_alloc(f, "config");
  if (text && !strncmp(text, "# cordseg resolved config", 25)) { /* the canonical text train stores */
    char origin[PATH_CAP];
    snprintf(origin, sizeof origin, "checkpoint '%s' attribute config", path);
    TrainConfig c;
    config_defaults_stored(&c);
    config_load_text(&c, text, origin);
    char hash[32];
    config_hash(&c, hash);
    if (strcmp(hash, st->config_hash))
      cs_fatal(HINT_R, "checkpoint '%s': attribute config_hash %s is not the hash %s of its config", path,
               st->config_hash, hash);
    CK_RANGE(st->epoch <= c.epochs, "epoch", "%lld (more than the config's epochs)", (long long)st->epoch);
    if (c.steps_per_epoch > 0) {
      CK_RANGE(st->step_in_epoch < c.steps_per_epoch, "step_in_epoch", "%lld (not below the config's steps_per_epoch)",
               (long long)st->step_in_epoch);
      CK_RANGE(st->global_step == st->epoch * c.steps_per_epoch + st->step_in_epoch, "global_step",
               "%lld (not epoch x steps_per_epoch + step_in_epoch)", (long long)st->global_step);
    }
  }
  free(text);
#undef CK_RANGE
}

/* the stored tensor checksum (when the file has one: checkpoints of older
 * cordseg builds do not) must match what was read */
static void verify_tensors(hid_t f, const char *path, const ModelState *ms, int with_adam) {
  char want[64];
  if (!h5_attr_read_string(f, "tensor_checksum", want, sizeof want)) return;
  char got[64];
  snprintf(got, sizeof got, "fnv1a64x4:%016llx", (unsigned long long)ckpt_tensor_hash(ms, with_adam));
  char covers[128] = "";
  h5_attr_read_string(f, "tensor_checksum_covers", covers, sizeof covers);
  const int file_adam = strstr(covers, "adam_m") != NULL;
  if (file_adam != with_adam) return; /* weights read from a full checkpoint: checked through ckpt_read below */
  if (strcmp(got, want))
    cs_fatal("the checkpoint was damaged after it was written (bit flip, partial copy); delete it to fall back to "
             "ckpt/epoch-N.h5, or train again",
             "checkpoint '%s': tensor checksum %s does not match the recorded %s", path, got, want);
}

void ckpt_peek(const char *path, CkptState *st, char **config_text) {
  hid_t f = open_ckpt(path);
  read_state(f, path, st);
  if (config_text) {
    *config_text = h5_attr_read_string_alloc(f, "config");
    H5_CHECK(*config_text ? 0 : -1, path, "config attribute", HINT_R);
  }
  H5Fclose(f);
}

void ckpt_read(const char *path, ModelState *ms, CkptState *st) {
  hid_t f = open_ckpt(path);
  read_state(f, path, st);
  /* the caller's network decides the expected key: rebuild it from the state's
   * model string is the caller's job; here both must agree */
  const size_t P = ms->np;
  char want[128];
  snprintf(want, sizeof want, "P=%zu", P);
  const char *p = strstr(st->model, "P=");
  if (!p || strcmp(p, want))
    cs_fatal("the checkpoint belongs to another model or config; point --run-dir at this config's run directory",
             "checkpoint '%s' holds model '%s', this network has %zu parameters", path, st->model, P);
  read_vec(f, path, "params", ms->params, P);
  read_vec(f, path, "buffers", ms->buffers, ms->nb);
  if (ms->adam_m) {
    if (H5Lexists(f, "adam_m", H5P_DEFAULT) <= 0)
      cs_fatal("resume needs a full checkpoint (last.h5 or epoch-N.h5), not a weights-only file",
               "checkpoint '%s' has no Adam moments", path);
    read_vec(f, path, "adam_m", ms->adam_m, P);
    read_vec(f, path, "adam_v", ms->adam_v, P);
    int64_t t = 0;
    if (!h5_attr_read_i64(f, "adam_t", &t)) cs_fatal(HINT_R, "checkpoint '%s' lacks adam_t", path);
    if (t < 0 || t > 10000000000ll || (st->global_step > 0 && t == 0))
      cs_fatal(HINT_R, "checkpoint '%s': attribute adam_t = %lld is impossible (global_step %lld)", path, (long long)t,
               (long long)st->global_step);
    ms->adam_t = t;
  }
  /* a full checkpoint read weights-only (export, evaluate) is checked with its moments */
  const int file_adam = H5Lexists(f, "adam_m", H5P_DEFAULT) > 0 && H5Lexists(f, "adam_v", H5P_DEFAULT) > 0;
  if (!ms->adam_m && file_adam) {
    ModelState full = *ms;
    full.adam_m = mallocCheck(sizeof(float) * (P ? P : 1));
    full.adam_v = mallocCheck(sizeof(float) * (P ? P : 1));
    read_vec(f, path, "adam_m", full.adam_m, P);
    read_vec(f, path, "adam_v", full.adam_v, P);
    verify_tensors(f, path, &full, 1);
    free(full.adam_m), free(full.adam_v);
  } else {
    verify_tensors(f, path, ms, ms->adam_m != NULL);
  }
  H5Fclose(f);
  ckpt_check_values(path, "params", ms->params, P, -CKPT_MAX_WEIGHT, CKPT_MAX_WEIGHT);
  ckpt_check_values(path, "buffers", ms->buffers, ms->nb, -CKPT_MAX_BUFFER, CKPT_MAX_BUFFER);
  if (ms->adam_m) {
    ckpt_check_values(path, "adam_m", ms->adam_m, P, -CKPT_MAX_WEIGHT, CKPT_MAX_WEIGHT);
    ckpt_check_values(path, "adam_v", ms->adam_v, P, 0, CKPT_MAX_BUFFER);
  }
}

static size_t dataset_len(hid_t f, const char *path, const char *name) {
  hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  if (ds < 0) cs_fatal(HINT_R, "checkpoint '%s' has no dataset /%s", path, name);
  hid_t sp = H5Dget_space(ds);
  const hssize_t n = H5Sget_simple_extent_npoints(sp);
  H5Sclose(sp), H5Dclose(ds);
  if (n < 0) cs_fatal(HINT_R, "checkpoint '%s': cannot read the size of /%s", path, name);
  return (size_t)n;
}

void ckpt_read_weights(const char *path, ModelState *ms, CkptState *st) {
  hid_t f = open_ckpt(path);
  const size_t np = dataset_len(f, path, "params"), nb = dataset_len(f, path, "buffers");
  H5Fclose(f);
  *ms = (ModelState){.np = np, .nb = nb};
  ms->params = alignedAllocCheck((np ? np : 1) * sizeof(float));
  ms->buffers = alignedAllocCheck((nb ? nb : 1) * sizeof(float));
  ckpt_read(path, ms, st);
}
