/* io/model.h: the self-describing model file `cordseg export` writes and
 * `cordseg segment` / `cordseg info` read: one or several trained runs (e.g.
 * the folds of an arm) as an ensemble.
 * Layout ("cordseg-model" version 1, written atomically):
 *   root attributes: schema, schema_version, members, input (b0|fa|b0+fa),
 *     normalisation, loss, mode (sigmoid|argmax), height, width, spacing_row,
 *     spacing_col (training pixel size, mm), class_names, label_ids, arm,
 *     created_by, git (the exporting program); what it was trained on (model_describe_training; absent in
 *     files exported before 2026-12-07): training_store (path), training_store_checksum, training_source
 *     (phantom | imported | phantom+imported | unknown, from the store's created_by), training_store_created_by,
 *     training_subjects, training_slices
 *   /member_NN group per run: /params, /buffers float32; attributes config
 *     (canonical config text), config_hash, folds_hash, data_checksum, git,
 *     run, arm, fold, seed, ckpt, epoch, thresholds_origin
 *     ("eval/thresholds.txt", "default 0.5 (...)" or "none (softmax, argmax)"), tensor_checksum
 *     (fnv1a64x4 of params, buffers and thresholds; files exported before 2026-12-07 have none);
 *     dataset /thresholds float64 [9] (the run's validation thresholds, 0.5 where none)
 * defines: ModelMember, ModelFile, model_export, model_open, model_verify, model_load_member,
 *          model_close, model_describe */
#ifndef CORDSEG_IO_MODEL_H
#define CORDSEG_IO_MODEL_H
#include <stdint.h>
#include <stdio.h>

#include "core/unet.h"
#include "io/config.h"
#include "io/labels.h"

#define MODEL_SCHEMA "cordseg-model"
#define MODEL_VERSION 1
#define MODEL_MAX_MEMBERS 64

typedef struct {
  char run[256], arm[256], config_hash[64], folds_hash[64], data_checksum[64], git[64], ckpt[1024];
  int64_t fold, seed, epoch;
  double thr[LABEL_COUNT];
  TrainConfig cfg; /* parsed from the member's config text */
} ModelMember;

/* what the model was trained on (the first member's store, read at export); source "" = not recorded */
typedef struct {
  char store[1024], checksum[64], source[32], created_by[1024];
  int64_t subjects, slices;
} ModelTraining;

typedef struct {
  char path[4096];
  int64_t file; /* hid_t, open read-only */
  int32_t n;
  InputKind input;
  int sigmoid;
  int32_t height, width;
  double spacing[2]; /* row, column mm */
  char arm[256], git[64], created_by[1024];
  ModelTraining train;
  ModelMember m[MODEL_MAX_MEMBERS];
} ModelFile;

/* runs[n] run directories (each with run.json, config.ini, ckpt/); every
 * run is read and checked before anything is written. Always refuses runs of
 * different input kinds, output kinds (sigmoid/softmax) or slice sizes.
 * Unless force (then it warns on stderr and goes on), also refuses runs that
 * differ in data_checksum, in any config key but fold, seed and the paths
 * (io/config.h config_key_arm), or in their thresholds' origin, naming each
 * field, both values and both runs; and a sigmoid run without
 * eval/thresholds.txt (run `cordseg evaluate` first; forced: 0.5) */
void model_export(const char *out, const char *const *runs, int32_t n, const char *created_by, const char *git,
                  int force);
/* fatal naming the file and the field on anything missing or inconsistent */
void model_open(ModelFile *mf, const char *path);
/* every member's weights read (sized by the file) and checked: the count its config implies, the content
 * checksum recorded at export (params, buffers, thresholds), finite values in the sane range; fatal naming the
 * file and member. `info` runs it; model_load_member checks the same per member */
void model_verify(const ModelFile *mf);
/* loads member i's weights into net (built from its config); fatal on a size mismatch or a checksum that does
 * not match */
void model_load_member(const ModelFile *mf, int32_t i, Unet *net);
void model_close(ModelFile *mf);
void model_describe(const ModelFile *mf, FILE *f);
/* one line: "phantom cohort of 12 subjects (96 slices), store X, checksum C" or "not recorded (...)" */
void model_describe_training(const ModelFile *mf, char *buf, size_t n);
/* 1 when path is an HDF5 file with the model schema */
int model_is_model_file(const char *path);
#endif
