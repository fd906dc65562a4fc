/* io/model.c: the exported model file (see io/model.h). */
#define _POSIX_C_SOURCE 200809L
#include "io/model.h"

#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/ckpt.h"
#include "io/hash.h"
#include "io/evalio.h"
#include "io/h5store.h"
#include "io/h5util.h"
#include "io/rundir.h"
#include "io/path.h"

#define HINT_W "check free disk space and write permission of the output directory"
#define HINT_R "the model file is truncated or not written by `cordseg export`; export it again"


static void write_f32(hid_t g, const char *path, const char *name, const float *v, size_t n) {
  hsize_t d = n;
  hid_t sp = H5Screate_simple(1, &d, NULL);
  hid_t ds = H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(ds, path, name, HINT_W);
  if (n) H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), path, name, HINT_W);
  H5Dclose(ds), H5Sclose(sp);
}

static void write_f64(hid_t g, const char *path, const char *name, const double *v, size_t n) {
  hsize_t d = n;
  hid_t sp = H5Screate_simple(1, &d, NULL);
  hid_t ds = H5Dcreate2(g, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(ds, path, name, HINT_W);
  H5_CHECK(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), path, name, HINT_W);
  H5Dclose(ds), H5Sclose(sp);
}

/* reads exactly n values of dataset name (float or double memory type) */
static void read_exact(hid_t g, const char *path, const char *grp, const char *name, hid_t mt, void *v, size_t n) {
  hid_t ds = H5Lexists(g, name, H5P_DEFAULT) > 0 ? H5Dopen2(g, name, H5P_DEFAULT) : -1;
  if (ds < 0) cs_fatal(HINT_R, "model '%s': %s/%s is missing", path, grp, name);
  hid_t sp = H5Dget_space(ds);
  hssize_t got = H5Sget_simple_extent_npoints(sp);
  if (got != (hssize_t)n)
    cs_fatal(HINT_R, "model '%s': %s/%s has %lld values, the member's network needs %zu", path, grp, name,
             (long long)got, n);
  if (n && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
    cs_fatal(HINT_R, "model '%s': cannot read %s/%s", path, grp, name);
  H5Sclose(sp), H5Dclose(ds);
}

/* a member's content checksum: its params and buffers (ckpt_tensor_hash, as checkpoints have) and its thresholds */
static void member_checksum(const float *params, size_t np, const float *buffers, size_t nb, const double *thr,
                            char out[40]) {
  const ModelState ms = {.params = (float *)params, .np = np, .buffers = (float *)buffers, .nb = nb};
  uint64_t h = ckpt_tensor_hash(&ms, 0);
  h = hash_fnv1a(h, thr, sizeof(double) * LABEL_COUNT);
  snprintf(out, 40, "fnv1a64x4:%016llx", (unsigned long long)h);
}

/* a member's content as read, checked: the stored checksum of group g (a file without one, exported before
 * 2026-12-07, is accepted with a note), then finite values in the sane ranges of a trained network */
static void member_check_content(hid_t g, const char *path, const char *gname, const float *params, size_t np,
                                 const float *buffers, size_t nb, const double *thr) {
  char want[64], got[40];
  const int has = h5_attr_read_string(g, "tensor_checksum", want, sizeof want);
  if (!has)
    fprintf(stderr, "cordseg: note: model '%s' /%s has no content checksum (exported before 2026-12-07); export it "
                    "again to protect it\n", path, gname);
  if (HASH_CHECKED && has) member_checksum(params, np, buffers, nb, thr, got);
  if (HASH_CHECKED && has && strcmp(want, got))
    cs_fatal("the model file was changed or damaged after export; export it again from the run directories",
             "model '%s': /%s content checksum %s does not match the recorded %s (weights or thresholds altered)", path,
             gname, got, want);
  char where[64];
  snprintf(where, sizeof where, "%s/params", gname);
  ckpt_check_values(path, where, params, np, -CKPT_MAX_WEIGHT, CKPT_MAX_WEIGHT);
  snprintf(where, sizeof where, "%s/buffers", gname);
  ckpt_check_values(path, where, buffers, nb, -CKPT_MAX_BUFFER, CKPT_MAX_BUFFER);
}

/* the training pixel spacing: median over the store's slices */
static void store_spacing(const char *store, double sp[2]) {
  H5Store s;
  h5store_open(&s, store);
  float *v = mallocCheck(sizeof(float) * (size_t)(s.n + 1));
  for (int d = 0; d < 2; d++) {
    for (int32_t i = 0; i < s.n; i++) v[i] = s.meta[i].spacing[d];
    for (int32_t i = 1; i < s.n; i++) /* insertion sort: stores are small */
      for (int32_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
        float t = v[j];
        v[j] = v[j - 1], v[j - 1] = t;
      }
    sp[d] = s.n ? v[s.n / 2] : NAN;
  }
  free(v);
  h5store_close(&s);
}

/* one run to export: its provenance, config, validation thresholds and checkpoint */
typedef struct {
  RunInfo ri;
  TrainConfig cfg;
  int sigmoid;
  double thr[LABEL_COUNT];
  char thr_origin[64]; /* EXPORT_THR_* */
  char ckpt[PATH_CAP];
  CkptState st;
} ExportRun;

#define EXPORT_THR_EVAL "eval/thresholds.txt"
#define EXPORT_THR_DEFAULT "default 0.5 (no eval/thresholds.txt)"
#define EXPORT_THR_ARGMAX "none (softmax, argmax)"
#define HINT_FORCE "export runs trained alike (the folds or seeds of one arm), or pass --force to join them anyway"

static void export_read_run(const char *run, ExportRun *r) {
  char p[PATH_CAP], err[PATH_MSG_CAP];
  if (runinfo_read(run, &r->ri, err, sizeof err))
    cs_fatal("give run directories written by `cordseg train` (each holds run.json)", "%s", err);
  config_defaults_stored(&r->cfg);
  rundir_path(p, sizeof p, run, "config.ini");
  config_load(&r->cfg, p);
  CS_CHECK(r->cfg.classes == LABEL_COUNT, "export knows the 9 labels of io/labels.h", "'%s': classes = %d", p,
           r->cfg.classes);
  r->sigmoid = r->cfg.loss == LOSS_KIND_HDL;
  for (int c = 0; c < LABEL_COUNT; c++) r->thr[c] = 0.5;
  snprintf(r->thr_origin, sizeof r->thr_origin, "%s", r->sigmoid ? EXPORT_THR_EVAL : EXPORT_THR_ARGMAX);
  rundir_path(p, sizeof p, run, "eval/thresholds.txt");
  int sg = 0;
  if (r->sigmoid && access(p, F_OK) != 0) {
    for (int c = 0; c < LABEL_COUNT; c++) r->thr[c] = 0.5;
    snprintf(r->thr_origin, sizeof r->thr_origin, "%s", EXPORT_THR_DEFAULT);
  } else if (r->sigmoid && evalio_thresholds_read(p, &sg, r->thr, LABEL_COUNT, err, sizeof err))
    cs_fatal("run `cordseg evaluate RUN_DIR` again: a sigmoid (HDL) model needs its validation thresholds", "%s", err);
  rundir_path(r->ckpt, sizeof r->ckpt, run, "ckpt/best.h5");
  if (access(r->ckpt, R_OK) != 0) rundir_path(r->ckpt, sizeof r->ckpt, run, "ckpt/last.h5");
  CS_CHECK(access(r->ckpt, R_OK) == 0, "train the run first", "run '%s' has no checkpoint (%s)", run, r->ckpt);
  ckpt_peek(r->ckpt, &r->st, NULL);
}

/* what no ensemble can join: input kind, output kind and slice size (never forced) */
static void export_check_shape(const char *run0, const ExportRun *a, const char *run, const ExportRun *b) {
  CS_CHECK(b->cfg.input == a->cfg.input, "export runs of one input kind per file", "run '%s' takes %s, run '%s' takes %s",
           run0, input_kind_name(a->cfg.input), run, input_kind_name(b->cfg.input));
  CS_CHECK(b->sigmoid == a->sigmoid, "export runs with one output kind (sigmoid or softmax) per file",
           "runs '%s' and '%s' differ in their loss", run0, run);
  CS_CHECK(b->st.height == a->st.height && b->st.width == a->st.width, "export runs trained on one slice size per file",
           "run '%s' was trained on %dx%d slices, run '%s' on %dx%d", run0, a->st.height, a->st.width, run,
           b->st.height, b->st.width);
}

/* printf to the end of msg (capacity n), cut where it is full */
static void msg_append(char *msg, size_t n, const char *fmt, ...) {
  size_t o = strlen(msg);
  if (o + 1 >= n) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + o, n - o, fmt, ap);
  va_end(ap);
}

/* what an ensemble should not join unless forced: other data, another
 * config (fold, seed and paths aside: io/config.h config_key_arm), other
 * thresholds' origin; one line per difference appended to msg */
static void export_check_alike(const char *run0, const ExportRun *a, const char *run, const ExportRun *b, char *msg,
                               size_t n) {
  if (strcmp(a->ri.data_checksum, b->ri.data_checksum))
    msg_append(msg, n, "\n  data_checksum: run '%s' has %s, run '%s' has %s (other training data)", run0,
               a->ri.data_checksum, run, b->ri.data_checksum);
  char va[1100], vb[1100];
  const char *key;
  for (size_t i = 0; (key = config_key_at(&a->cfg, i, va, sizeof va)); i++) {
    config_key_at(&b->cfg, i, vb, sizeof vb);
    if (config_arm_key_differs(&a->cfg, &b->cfg, i))
      msg_append(msg, n, "\n  config key '%s': run '%s' has %s, run '%s' has %s", key, run0, va, run, vb);
  }
  if (strcmp(a->thr_origin, b->thr_origin))
    msg_append(msg, n, "\n  thresholds origin: run '%s' has %s, run '%s' has %s", run0, a->thr_origin, run,
               b->thr_origin);
}

/* the root attributes (io/model.h), from the first run */
static void export_write_header(hid_t f, const char *tmp, int32_t n, const ExportRun *r, const char *created_by,
                                const char *git) {
  double spacing[2] = {NAN, NAN};
  store_spacing(r->cfg.store, spacing);
  h5_attr_write_string(f, tmp, "schema", MODEL_SCHEMA);
  h5_attr_write_i64(f, tmp, "schema_version", MODEL_VERSION);
  h5_attr_write_i64(f, tmp, "members", n);
  h5_attr_write_string(f, tmp, "input", input_kind_name(r->cfg.input));
  h5_attr_write_string(f, tmp, "normalisation",
                       "per slice on the model grid: b0 / its 99.5th percentile; fa clamped to [0, 1]; channel "
                       "order b0, fa");
  h5_attr_write_string(f, tmp, "loss", loss_kind_name(r->cfg.loss));
  h5_attr_write_string(f, tmp, "mode", r->sigmoid ? "sigmoid" : "argmax");
  h5_attr_write_i64(f, tmp, "height", r->st.height);
  h5_attr_write_i64(f, tmp, "width", r->st.width);
  h5_attr_write_f64(f, tmp, "spacing_row", spacing[0]);
  h5_attr_write_f64(f, tmp, "spacing_col", spacing[1]);
  char names[1024] = "", ids[64] = "";
  for (int c = 0; c < LABEL_COUNT; c++) {
    size_t l = strlen(names), li = strlen(ids);
    snprintf(names + l, sizeof names - l, "%s%s", c ? ";" : "", LABEL_NAMES[c]);
    snprintf(ids + li, sizeof ids - li, "%s%d", c ? " " : "", c);
  }
  h5_attr_write_string(f, tmp, "class_names", names);
  h5_attr_write_string(f, tmp, "label_ids", ids);
  h5_attr_write_string(f, tmp, "arm", r->ri.arm);
  h5_attr_write_string(f, tmp, "created_by", created_by ? created_by : "");
  h5_attr_write_string(f, tmp, "git", git ? git : "");
}

/* what the training store is made of, from its created_by (the commands that wrote it) */
static const char *training_source(const char *created_by) {
  const int ph = strstr(created_by, "cordseg phantom") != NULL, im = strstr(created_by, "cordseg import") != NULL;
  return ph && im ? "phantom+imported" : ph ? "phantom" : im ? "imported" : "unknown";
}

/* root attributes training_*: what the first member was trained on (members share the store's checksum unless
 * forced), so `info` and segment's sidecar can say it without the store */
static void export_write_training(hid_t f, const char *tmp, const ExportRun *r) {
  H5Store s;
  h5store_open(&s, r->cfg.store);
  char sum[64];
  h5store_attr_string(&s, "checksum", sum, sizeof sum);
  h5_attr_write_string(f, tmp, "training_store", r->cfg.store);
  h5_attr_write_string(f, tmp, "training_store_checksum", sum);
  h5_attr_write_string(f, tmp, "training_source", training_source(s.created_by));
  h5_attr_write_string(f, tmp, "training_store_created_by", s.created_by);
  h5_attr_write_i64(f, tmp, "training_subjects", h5store_subject_count(&s));
  h5_attr_write_i64(f, tmp, "training_slices", s.n);
  h5store_close(&s);
}

/* group member_NN: the checkpoint's weights (sized by the file, checked
 * against the run's config), thresholds and provenance */
static void export_write_member(hid_t f, const char *tmp, int32_t i, ExportRun *r) {
  UnetConfig u;
  config_unet(&r->cfg, &u);
  size_t want = 0;
  double macs = 0;
  unet_count(&u, r->st.height, r->st.width, &want, &macs);
  ModelState ms;
  ckpt_read_weights(r->ckpt, &ms, &r->st);
  CS_CHECK(ms.np == want, "export the checkpoint of this run's own config",
           "checkpoint '%s' holds %zu parameters, its run's config makes %zu", r->ckpt, ms.np, want);
  char gname[32];
  snprintf(gname, sizeof gname, "member_%02d", i);
  hid_t g = H5Gcreate2(f, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(g, tmp, gname, HINT_W);
  write_f32(g, tmp, "params", ms.params, ms.np);
  write_f32(g, tmp, "buffers", ms.buffers, ms.nb);
  write_f64(g, tmp, "thresholds", r->thr, LABEL_COUNT);
  char sum[40];
  member_checksum(ms.params, ms.np, ms.buffers, ms.nb, r->thr, sum);
  h5_attr_write_string(g, tmp, "tensor_checksum", sum);
  char *text = config_format(&r->cfg);
  h5_attr_write_string(g, tmp, "config", text);
  free(text);
  const RunInfo *ri = &r->ri;
  h5_attr_write_string(g, tmp, "config_hash", ri->config_hash);
  h5_attr_write_string(g, tmp, "folds_hash", ri->folds_hash);
  h5_attr_write_string(g, tmp, "data_checksum", ri->data_checksum);
  h5_attr_write_string(g, tmp, "git", ri->git);
  h5_attr_write_string(g, tmp, "run", ri->name);
  h5_attr_write_string(g, tmp, "arm", ri->arm);
  h5_attr_write_string(g, tmp, "ckpt", r->ckpt);
  h5_attr_write_string(g, tmp, "thresholds_origin", r->thr_origin);
  h5_attr_write_i64(g, tmp, "fold", ri->fold);
  h5_attr_write_i64(g, tmp, "seed", ri->seed);
  h5_attr_write_i64(g, tmp, "epoch", r->st.epoch);
  h5_attr_write_i64(g, tmp, "height", r->st.height);
  h5_attr_write_i64(g, tmp, "width", r->st.width);
  H5Gclose(g);
  model_state_free(&ms);
}

void model_export(const char *out, const char *const *runs, int32_t n, const char *created_by, const char *git,
                  int force) {
  CS_CHECK(n >= 1 && n <= MODEL_MAX_MEMBERS, "give 1 to 64 run directories", "export: %d runs", n);
  h5_quiet();
  /* every run read and checked before anything is written */
  ExportRun *r = callocCheck((size_t)n, sizeof *r);
  size_t cap = 16384;
  char *diff = callocCheck(cap, 1);
  for (int32_t i = 0; i < n; i++) {
    export_read_run(runs[i], &r[i]);
    if (!i) continue;
    export_check_shape(runs[0], &r[0], runs[i], &r[i]);
    export_check_alike(runs[0], &r[0], runs[i], &r[i], diff, cap);
  }
  for (int32_t i = 0; i < n; i++)
    if (!strcmp(r[i].thr_origin, EXPORT_THR_DEFAULT) && !force)
      cs_fatal("run `cordseg evaluate RUN_DIR` first (a sigmoid (HDL) model needs its validation thresholds), or pass "
               "--force to export it at 0.5",
               "run '%s' has no eval/thresholds.txt", runs[i]);
  if (diff[0] && !force) cs_fatal(HINT_FORCE, "export: nothing written: the runs differ in%s", diff);
  if (diff[0]) fprintf(stderr, "export: --force: joining runs that differ in%s\n", diff);
  free(diff);
  char tmp[PATH_CAP], dir[PATH_CAP];
  path_fmt(dir, sizeof dir, "%s", out);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  atomic_remove_stale(slash ? (dir[0] ? dir : "/") : "."); /* temp files of killed exports (issue 31) */
  atomic_begin(out, tmp, sizeof tmp);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(f, tmp, "create", HINT_W);
  export_write_header(f, tmp, n, &r[0], created_by, git);
  export_write_training(f, tmp, &r[0]);
  for (int32_t i = 0; i < n; i++) export_write_member(f, tmp, i, &r[i]);
  free(r);
  H5_CHECK(H5Fclose(f), tmp, "close", HINT_W);
  ModelFile back; /* read back as segment and info will, before it takes the name (a failure removes the temp) */
  model_open(&back, tmp);
  model_verify(&back);
  model_close(&back);
  atomic_commit(tmp, out);
}

static void need_str(hid_t loc, const char *path, const char *grp, const char *name, char *buf, int n) {
  if (!h5_attr_read_string(loc, name, buf, n)) cs_fatal(HINT_R, "model '%s': attribute %s/%s is missing", path, grp, name);
}
static int64_t need_i64(hid_t loc, const char *path, const char *grp, const char *name) {
  int64_t v;
  if (!h5_attr_read_i64(loc, name, &v)) cs_fatal(HINT_R, "model '%s': attribute %s/%s is missing", path, grp, name);
  return v;
}

int model_is_model_file(const char *path) {
  h5_quiet();
  if (H5Fis_hdf5(path) <= 0) return 0;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, 0, 1);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0) return 0;
  char schema[64];
  int ok = h5_attr_read_string(f, "schema", schema, sizeof schema) && !strcmp(schema, MODEL_SCHEMA);
  H5Fclose(f);
  return ok;
}

/* the optional training_* attributes (files of an older export have none: source "") */
static void model_read_training(hid_t f, ModelTraining *t) {
  memset(t, 0, sizeof *t);
  h5_attr_read_string(f, "training_store", t->store, sizeof t->store);
  h5_attr_read_string(f, "training_store_checksum", t->checksum, sizeof t->checksum);
  h5_attr_read_string(f, "training_source", t->source, sizeof t->source);
  h5_attr_read_string(f, "training_store_created_by", t->created_by, sizeof t->created_by);
  t->subjects = t->slices = -1;
  h5_attr_read_i64(f, "training_subjects", &t->subjects);
  h5_attr_read_i64(f, "training_slices", &t->slices);
}

void model_open(ModelFile *mf, const char *path) {
  memset(mf, 0, sizeof *mf);
  snprintf(mf->path, sizeof mf->path, "%s", path);
  h5_quiet();
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, 0, 1);
  hid_t f = access(path, R_OK) == 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
  H5Pclose(fapl);
  if (f < 0) cs_fatal("give a model file written by `cordseg export`", "cannot open model '%s' as HDF5", path);
  mf->file = f;
  char buf[1024];
  need_str(f, path, "", "schema", buf, sizeof buf);
  if (strcmp(buf, MODEL_SCHEMA))
    cs_fatal("give a model file written by `cordseg export` (a checkpoint or store is not a model)",
             "'%s' has schema '%s', expected '%s'", path, buf, MODEL_SCHEMA);
  int64_t ver = need_i64(f, path, "", "schema_version");
  CS_CHECK(ver == MODEL_VERSION, "export the model again with this cordseg", "model '%s': schema_version %lld, expected %d",
           path, (long long)ver, MODEL_VERSION);
  int64_t n = need_i64(f, path, "", "members");
  CS_CHECK(n >= 1 && n <= MODEL_MAX_MEMBERS, HINT_R, "model '%s': attribute members = %lld", path, (long long)n);
  mf->n = (int32_t)n;
  need_str(f, path, "", "input", buf, sizeof buf);
  int in = input_kind_parse(buf);
  CS_CHECK(in > 0, HINT_R, "model '%s': attribute input = '%s' (b0, fa or b0+fa)", path, buf);
  mf->input = (InputKind)in;
  need_str(f, path, "", "mode", buf, sizeof buf);
  CS_CHECK(!strcmp(buf, "sigmoid") || !strcmp(buf, "argmax"), HINT_R, "model '%s': attribute mode = '%s'", path, buf);
  mf->sigmoid = !strcmp(buf, "sigmoid");
  const int64_t mh = need_i64(f, path, "", "height"), mw = need_i64(f, path, "", "width");
  /* a model grid is a training slice size: import and phantom make at most 1024 (segment's buffers grow with it:
   * probabilities alone are slices x 9 x height x width floats) */
  CS_CHECK(mh >= 16 && mh <= 1024 && mw >= 16 && mw <= 1024, HINT_R,
           "model '%s': attributes height x width = %lld x %lld (a training slice size is 16..1024; at 4096 x 4096 the "
           "probabilities of one slice alone take 604 MB)",
           path, (long long)mh, (long long)mw);
  mf->height = (int32_t)mh, mf->width = (int32_t)mw;
  if (!h5_attr_read_f64(f, "spacing_row", &mf->spacing[0]) || !h5_attr_read_f64(f, "spacing_col", &mf->spacing[1]) ||
      !(mf->spacing[0] >= 0.05 && mf->spacing[0] <= 10) || !(mf->spacing[1] >= 0.05 && mf->spacing[1] <= 10))
    cs_fatal(HINT_R, "model '%s': attributes spacing_row/spacing_col (%g, %g mm) are missing or outside 0.05..10 mm", path,
             mf->spacing[0], mf->spacing[1]);
  need_str(f, path, "", "arm", mf->arm, sizeof mf->arm);
  h5_attr_read_string(f, "git", mf->git, sizeof mf->git);
  h5_attr_read_string(f, "created_by", mf->created_by, sizeof mf->created_by);
  model_read_training(f, &mf->train);
  for (int32_t i = 0; i < mf->n; i++) {
    char gname[32];
    snprintf(gname, sizeof gname, "member_%02d", i);
    hid_t g = H5Lexists(f, gname, H5P_DEFAULT) > 0 ? H5Gopen2(f, gname, H5P_DEFAULT) : -1;
    if (g < 0) cs_fatal(HINT_R, "model '%s': group /%s is missing (members = %d)", path, gname, mf->n);
    ModelMember *m = &mf->m[i];
    char *text = h5_attr_read_string_alloc(g, "config");
    if (!text) cs_fatal(HINT_R, "model '%s': attribute /%s/config is missing", path, gname);
    char origin[PATH_CAP];
    snprintf(origin, sizeof origin, "%s:/%s/config", path, gname);
    config_defaults_stored(&m->cfg);
    config_load_text(&m->cfg, text, origin);
    free(text);
    need_str(g, path, gname, "run", m->run, sizeof m->run);
    need_str(g, path, gname, "arm", m->arm, sizeof m->arm);
    need_str(g, path, gname, "config_hash", m->config_hash, sizeof m->config_hash);
    need_str(g, path, gname, "folds_hash", m->folds_hash, sizeof m->folds_hash);
    need_str(g, path, gname, "data_checksum", m->data_checksum, sizeof m->data_checksum);
    h5_attr_read_string(g, "git", m->git, sizeof m->git);
    h5_attr_read_string(g, "ckpt", m->ckpt, sizeof m->ckpt);
    m->fold = need_i64(g, path, gname, "fold"), m->seed = need_i64(g, path, gname, "seed");
    m->epoch = need_i64(g, path, gname, "epoch");
    read_exact(g, path, gname, "thresholds", H5T_NATIVE_DOUBLE, m->thr, LABEL_COUNT);
    for (int c = 0; c < LABEL_COUNT; c++)
      CS_CHECK(isfinite(m->thr[c]) && m->thr[c] >= 0 && m->thr[c] <= 1, HINT_R,
               "model '%s': /%s/thresholds[%d] = %g (thresholds are probabilities in [0, 1])", path, gname, c, m->thr[c]);
    CS_CHECK(m->epoch >= 0 && m->fold >= -1, HINT_R, "model '%s': /%s has epoch %lld, fold %lld", path, gname,
             (long long)m->epoch, (long long)m->fold);
    CS_CHECK(m->cfg.input == mf->input, HINT_R, "model '%s': /%s takes input %s, the file says %s", path, gname,
             input_kind_name(m->cfg.input), input_kind_name(mf->input));
    CS_CHECK(m->cfg.classes == LABEL_COUNT, HINT_R, "model '%s': /%s has %d classes", path, gname, m->cfg.classes);
    const int hdl = m->cfg.loss == LOSS_KIND_HDL; /* HDL heads are sigmoid maps; hybrid and CE heads a softmax */
    CS_CHECK(hdl == mf->sigmoid, HINT_R, "model '%s': attribute mode = %s, but /%s was trained with loss %s (%s)", path,
             mf->sigmoid ? "sigmoid" : "argmax", gname, loss_kind_name(m->cfg.loss), hdl ? "sigmoid" : "argmax");
    int64_t gh = 0, gw = 0;
    if (h5_attr_read_i64(g, "height", &gh) && h5_attr_read_i64(g, "width", &gw))
      CS_CHECK(gh == mf->height && gw == mf->width, HINT_R,
               "model '%s': the file's grid is %d x %d, but /%s was trained at %lld x %lld", path, mf->height, mf->width,
               gname, (long long)gh, (long long)gw);
    H5Gclose(g);
  }
}

void model_load_member(const ModelFile *mf, int32_t i, Unet *net) {
  char gname[32];
  snprintf(gname, sizeof gname, "member_%02d", i);
  hid_t g = H5Gopen2(mf->file, gname, H5P_DEFAULT);
  if (g < 0) cs_fatal(HINT_R, "model '%s': group /%s is missing", mf->path, gname);
  ModelState ms;
  model_state_init(&ms, net, 0);
  read_exact(g, mf->path, gname, "params", H5T_NATIVE_FLOAT, ms.params, ms.np);
  read_exact(g, mf->path, gname, "buffers", H5T_NATIVE_FLOAT, ms.buffers, ms.nb);
  member_check_content(g, mf->path, gname, ms.params, ms.np, ms.buffers, ms.nb, mf->m[i].thr);
  H5Gclose(g);
  unet_state_upload(net, &ms);
  model_state_free(&ms);
}

/* one float dataset of a member, sized by the file (model_verify has no network to size it) */
static float *read_all_f32(hid_t g, const char *path, const char *gname, const char *name, size_t *n) {
  hid_t ds = H5Lexists(g, name, H5P_DEFAULT) > 0 ? H5Dopen2(g, name, H5P_DEFAULT) : -1;
  if (ds < 0) cs_fatal(HINT_R, "model '%s': /%s/%s is missing", path, gname, name);
  hid_t sp = H5Dget_space(ds);
  const hssize_t k = H5Sget_simple_extent_npoints(sp);
  CS_CHECK(k >= 0 && k <= ((hssize_t)1 << 31), HINT_R, "model '%s': /%s/%s has %lld values", path, gname, name,
           (long long)k);
  float *v = mallocCheck(sizeof(float) * (size_t)(k ? k : 1));
  if (k && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
    cs_fatal(HINT_R, "model '%s': cannot read /%s/%s", path, gname, name);
  H5Sclose(sp), H5Dclose(ds);
  *n = (size_t)k;
  return v;
}

void model_verify(const ModelFile *mf) {
  for (int32_t i = 0; i < mf->n; i++) {
    char gname[32];
    snprintf(gname, sizeof gname, "member_%02d", i);
    hid_t g = H5Gopen2(mf->file, gname, H5P_DEFAULT);
    if (g < 0) cs_fatal(HINT_R, "model '%s': group /%s is missing", mf->path, gname);
    size_t np, nb;
    float *p = read_all_f32(g, mf->path, gname, "params", &np), *b = read_all_f32(g, mf->path, gname, "buffers", &nb);
    UnetConfig u;
    config_unet(&mf->m[i].cfg, &u);
    size_t want = 0;
    double macs = 0;
    unet_count(&u, mf->height, mf->width, &want, &macs);
    CS_CHECK(np == want, HINT_R, "model '%s': /%s/params holds %zu values, its config (%s/%d) makes %zu", mf->path,
             gname, np, unet_backbone_name(u.backbone), u.width_div, want);
    member_check_content(g, mf->path, gname, p, np, b, nb, mf->m[i].thr);
    free(p), free(b);
    H5Gclose(g);
  }
}

void model_close(ModelFile *mf) {
  if (mf->file > 0) H5Fclose(mf->file);
  mf->file = -1;
}

void model_describe(const ModelFile *mf, FILE *f) {
  fprintf(f, "file        %s\n", mf->path);
  fprintf(f, "schema      %s version %d\n", MODEL_SCHEMA, MODEL_VERSION);
  fprintf(f, "arm         %s\n", mf->arm);
  fprintf(f, "input       %s (per slice: b0 / 99.5th percentile, fa clamped to [0, 1])\n", input_kind_name(mf->input));
  fprintf(f, "output      %d classes (%s), %s\n", LABEL_COUNT, "io/labels.h ids 0..8",
          mf->sigmoid ? "sigmoid + per-class thresholds" : "softmax argmax");
  fprintf(f, "grid        %d x %d at %.4g x %.4g mm (row x column)\n", mf->height, mf->width, mf->spacing[0],
          mf->spacing[1]);
  char trained[2048];
  model_describe_training(mf, trained, sizeof trained);
  fprintf(f, "trained on  %s\n", trained);
  fprintf(f, "created_by  %s\n", mf->created_by);
  fprintf(f, "git         %s\n", mf->git);
  fprintf(f, "members     %d\n", mf->n);
  for (int32_t i = 0; i < mf->n; i++) {
    const ModelMember *m = &mf->m[i];
    UnetConfig u;
    config_unet(&m->cfg, &u);
    fprintf(f, "  [%d] run %s: %s/%d, fold %lld, seed %lld, epoch %lld, config %s, folds %s, data %s, git %s\n", i,
            m->run, unet_backbone_name(u.backbone), u.width_div, (long long)m->fold, (long long)m->seed,
            (long long)m->epoch, m->config_hash, m->folds_hash, m->data_checksum, m->git);
    if (mf->sigmoid) {
      fprintf(f, "      thresholds");
      for (int c = 1; c < LABEL_COUNT; c++) fprintf(f, " %s=%.3f", LABEL_KEYS[c], m->thr[c]);
      fprintf(f, "\n");
    }
  }
}

void model_describe_training(const ModelFile *mf, char *buf, size_t n) {
  const ModelTraining *t = &mf->train;
  if (!t->source[0]) {
    snprintf(buf, n, "not recorded (exported by a cordseg that wrote no training_* attributes; the members' data checksum is %s)", mf->m[0].data_checksum);
    return;
  }
  snprintf(buf, n, "%s store of %lld subjects (%lld slices), input %s at %.4g x %.4g mm; store %.900s, checksum %s",
           !strcmp(t->source, "phantom")    ? "a phantom"
           : !strcmp(t->source, "imported") ? "an imported"
           : !strcmp(t->source, "unknown")  ? "an unknown"
                                            : "a phantom+imported",
           (long long)t->subjects, (long long)t->slices, input_kind_name(mf->input), mf->spacing[0], mf->spacing[1],
           t->store, t->checksum);
}
