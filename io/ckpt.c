/* io/ckpt.c: checkpoint files (see io/ckpt.h). */
#define _POSIX_C_SOURCE 200809L
#include "io/ckpt.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/h5util.h"

#define CKPT_SCHEMA "cordseg-ckpt"
#define CKPT_VERSION 1
#define HINT_W "check free disk space, quota and write permission of the run directory"
#define HINT_R "the checkpoint is truncated or not a cordseg checkpoint; delete it to fall back to the previous one"

void ckpt_model_key(const Unet *net, const UnetConfig *cfg, char *out, size_t n) {
  snprintf(out, n, "%s in=%d K=%d div=%d P=%zu", unet_backbone_name(cfg->backbone), cfg->in_channels, cfg->classes,
           cfg->width_div, unet_num_params(net));
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
  char tmp[4200];
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
  st->height = (int32_t)h, st->width = (int32_t)w;
}

void ckpt_peek(const char *path, CkptState *st, char **config_text) {
  hid_t f = open_ckpt(path);
  read_state(f, path, st);
  if (config_text) {
    hid_t a = H5Aopen(f, "config", H5P_DEFAULT);
    H5_CHECK(a, path, "config attribute", HINT_R);
    hid_t t = H5Aget_type(a);
    size_t n = H5Tget_size(t);
    H5Tclose(t), H5Aclose(a);
    *config_text = mallocCheck(n + 1);
    h5_attr_read_string(f, "config", *config_text, (int)n + 1);
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
    ms->adam_t = t;
  }
  H5Fclose(f);
}
