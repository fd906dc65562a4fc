/* jobs/segment_cohort.c: `cordseg segment --bids DIR`: every subject of a
 * BIDS-style folder (io/bids.h: a DWI series with its b-table, else B0 and FA
 * maps) segmented with one model; a subject with sessions (sub-X/ses-Y/dwi/, io/bids.h bids_units) is one
 * unit per session, into OUT/sub-X/ses-Y/dwi/ with names sub-X_ses-Y_desc-cordseg_* and metrics.tsv's Session
 * set (below, "subject" is such a unit). Each subject runs segment_run in a child
 * process into OUT/sub-X/dwi/ (its output set, atomic as always), with its
 * output in OUT/sub-X/dwi/segment.log; a subject that fails is listed and the
 * rest go on; a subject whose set is there (metrics.csv written last, so the
 * set is complete) is skipped, so a killed run started again does only the
 * rest. Each subject's BIDS derivative names beside its set (cohort_derivatives):
 * sub-X_desc-cordseg_dseg.nii.gz (labels.nii.gz, the subject's own grid),
 * sub-X_desc-cordseg_dseg.tsv (index, name, abbreviation), with --probs
 * sub-X_desc-cordseg_probseg.nii.gz (9 volumes in that order), and last the
 * sidecar sub-X_desc-cordseg_dseg.json (the sources, the model: file
 * checksum, members, folds, what it was trained on, thresholds; the options,
 * cordseg's version and commit, the command). Then OUT/metrics.tsv: every
 * subject's extract_metric.tsv (jobs/segment_extract.h, sct_extract_metric's
 * shape) under one header, and OUT/dataset_description.json (a BIDS derivative).
 * defines: segment_cohort_run */
#define _XOPEN_SOURCE 700
#include "jobs/segment.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "core/loss.h"
#include "io/atomic.h"
#include "io/bids.h"
#include "io/hash.h"
#include "io/labels.h"
#include "io/model.h"
#include "io/textio.h"
#include "io/path.h"
#include "jobs/segment_extract.h"
#include "cordseg_git.h" /* CORDSEG_GIT, generated at build time (cmake/git_version.cmake) */

#define COHORT_HINT "choose a writable -o directory"

/* a subject's set is complete: metrics.csv is written last (segment_run's staged set moves in whole) */
static int cohort_done(const char *dir) {
  char done[PATH_CAP];
  path_fmt(done, sizeof done, "%s/metrics.csv", dir);
  return access(done, F_OK) == 0;
}

/* 0 done now, 1 done before, 2 failed (why[] has the log's last error line) */
static int cohort_subject(const SegmentOptions *o, const BidsSubject *s, const char *dir, char *why, size_t nwhy) {
  char logp[PATH_CAP];
  path_fmt(logp, sizeof logp, "%s/segment.log", dir);
  if (cohort_done(dir)) return 1;
  textio_mkdir_p(dir, COHORT_HINT);
  fflush(stdout), fflush(stderr);
  const pid_t pid = fork();
  CS_CHECK(pid >= 0, "the system is out of processes", "segment --bids: fork failed: %s", strerror(errno));
  if (pid == 0) { /* the subject, alone: a fatal error ends only this child */
    const int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 1), dup2(fd, 2), close(fd);
    SegmentOptions so = *o;
    so.bids = NULL, so.out = dir, so.quiet = 0, so.subject = s->name, so.session = s->session[0] ? s->session : NULL;
    so.dwi = s->dwi[0] ? s->dwi : NULL, so.bvals = s->dwi[0] ? s->bval : NULL, so.bvecs = s->dwi[0] ? s->bvec : NULL;
    so.b0 = s->dwi[0] || !s->b0[0] ? NULL : s->b0, so.fa = s->dwi[0] || !s->fa[0] ? NULL : s->fa; /* one may lack */
    segment_run(&so);
    fflush(stdout), fflush(stderr);
    _exit(0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  snprintf(why, nwhy, "exit %d (see %.400s)", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), logp);
  char *log = textio_read(logp);
  const char *e = log ? strstr(log, "error: ") : NULL;
  if (e) snprintf(why, nwhy, "%.*s (%.200s)", (int)(strcspn(e + 7, "\n") < 300 ? strcspn(e + 7, "\n") : 300), e + 7, logp);
  free(log);
  return 2;
}

/* OUT/metrics.tsv: every segmented subject's extract_metric.tsv rows under one header */
static void cohort_table(const char *out, const BidsSubject *s, int n) {
  char p[PATH_CAP], tmp[PATH_CAP];
  path_fmt(p, sizeof p, "%s/metrics.tsv", out);
  atomic_begin(p, tmp, sizeof tmp);
  FILE *f = fopen(tmp, "w");
  if (!f) cs_fatal(COHORT_HINT, "cannot create '%s': %s", tmp, strerror(errno));
  fprintf(f, "%s\n", SEGMENT_EXTRACT_HEADER);
  for (int i = 0; i < n; i++) {
    char m[PATH_CAP], rel[PATH_CAP];
    bids_unit_rel(&s[i], rel, sizeof rel);
    path_fmt(m, sizeof m, "%s/%s/dwi/extract_metric.tsv", out, rel);
    char *t = s[i].ok ? textio_read(m) : NULL;
    if (!t && s[i].ok)
      printf("segment: %s has no extract_metric.tsv (segmented by an older cordseg): not in metrics.tsv; remove "
             "its folder and run again to redo it\n", rel);
    const char *body = t ? strchr(t, '\n') : NULL;
    if (body && strncmp(t, SEGMENT_EXTRACT_HEADER "\n", strlen(SEGMENT_EXTRACT_HEADER) + 1))
      cs_fatal("remove the subject's folder and run again (its table is of another shape)",
               "'%s': the header is not segment's extract_metric.tsv header", m);
    if (body) fputs(body + 1, f);
    free(t);
  }
  if (fclose(f) != 0) cs_fatal("check free disk space", "writing '%s' failed", tmp);
  atomic_commit(tmp, p);
}

/* fnv1a64 of the model file's bytes, "fnv1a64:<hex>" (the sidecars name the exact file) */
static void cohort_file_checksum(const char *path, char *out, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) cs_fatal("give a readable -m MODEL.h5", "cannot read '%s': %s", path, strerror(errno));
  uint64_t h = HASH_FNV_INIT;
  static unsigned char buf[1 << 16];
  for (size_t r; (r = fread(buf, 1, sizeof buf, f)) > 0;) h = hash_fnv1a(h, buf, r);
  fclose(f);
  snprintf(out, n, "fnv1a64:%016llx", (unsigned long long)h);
}

/* dst: a hard link to src (the same bytes), else a copy; atomic either way */
static void cohort_link(const char *src, const char *dst) {
  char tmp[PATH_CAP];
  atomic_begin(dst, tmp, sizeof tmp);
  if (link(src, tmp) != 0) {
    FILE *in = fopen(src, "rb"), *out = fopen(tmp, "wb");
    if (!in || !out) cs_fatal(COHORT_HINT, "cannot copy '%s' to '%s': %s", src, tmp, strerror(errno));
    char buf[1 << 16];
    for (size_t r; (r = fread(buf, 1, sizeof buf, in)) > 0;)
      if (fwrite(buf, 1, r, out) != r) cs_fatal("check free disk space", "writing '%s' failed", tmp);
    fclose(in);
    if (fclose(out) != 0) cs_fatal("check free disk space", "writing '%s' failed", tmp);
  }
  atomic_commit(tmp, dst);
}

/* the sidecar's "Model": the file, its checksum, members and folds, what it was trained on, the thresholds */
static cJSON *cohort_model_json(const SegmentOptions *o, const ModelFile *mf, const char *checksum) {
  cJSON *m = cJSON_CreateObject(), *t = cJSON_CreateObject(), *folds = cJSON_CreateArray(), *data = cJSON_CreateArray();
  char abs[4096], desc[2048];
  cJSON_AddStringToObject(m, "File", realpath(o->model, abs) ? abs : o->model);
  cJSON_AddStringToObject(m, "Checksum", checksum);
  cJSON_AddStringToObject(m, "Arm", mf->arm);
  cJSON_AddNumberToObject(m, "Members", mf->n);
  cJSON_AddStringToObject(m, "Input", input_kind_name(mf->input));
  cJSON_AddStringToObject(m, "Loss", loss_kind_name(mf->m[0].cfg.loss));
  cJSON_AddStringToObject(m, "Output", mf->sigmoid ? "sigmoid, per-class thresholds" : "softmax argmax");
  cJSON_AddItemToObject(m, "SpacingMM", cJSON_CreateDoubleArray(mf->spacing, 2));
  for (int32_t i = 0; i < mf->n; i++) {
    cJSON_AddItemToArray(folds, cJSON_CreateNumber((double)mf->m[i].fold));
    cJSON_AddItemToArray(data, cJSON_CreateString(mf->m[i].data_checksum));
  }
  cJSON_AddItemToObject(m, "Folds", folds);
  model_describe_training(mf, desc, sizeof desc);
  cJSON_AddStringToObject(t, "Description", desc);
  if (mf->train.source[0]) { /* io/model.h: the training_* attributes (not in files of an older export) */
    cJSON_AddStringToObject(t, "Source", mf->train.source);
    cJSON_AddStringToObject(t, "Store", mf->train.store);
    cJSON_AddStringToObject(t, "StoreChecksum", mf->train.checksum);
    cJSON_AddStringToObject(t, "StoreCreatedBy", mf->train.created_by);
    cJSON_AddNumberToObject(t, "Subjects", (double)mf->train.subjects);
    cJSON_AddNumberToObject(t, "Slices", (double)mf->train.slices);
  }
  cJSON_AddItemToObject(t, "MemberDataChecksums", data);
  cJSON_AddItemToObject(m, "TrainedOn", t);
  if (mf->sigmoid) { /* segment thresholds at the members' mean */
    cJSON *th = cJSON_CreateObject();
    for (int c = 1; c < LABEL_COUNT; c++) {
      double v = 0;
      for (int32_t i = 0; i < mf->n; i++) v += mf->m[i].thr[c] / mf->n;
      cJSON_AddNumberToObject(th, LABEL_KEYS[c], v);
    }
    cJSON_AddItemToObject(m, "Thresholds", th);
  }
  cJSON_AddStringToObject(m, "CreatedBy", mf->created_by);
  char mw[SEGMENT_MODEL_WARN_MAX][SEGMENT_MODEL_WARN_LEN];
  cJSON *warn = cJSON_CreateArray();
  for (int i = 0, n = segment_model_warnings(mf, mw); i < n; i++) cJSON_AddItemToArray(warn, cJSON_CreateString(mw[i]));
  cJSON_AddItemToObject(m, "Warnings", warn); /* what segment printed as "model warning" */
  return m;
}

static void cohort_write_json(const char *path, cJSON *j) {
  char *text = cJSON_Print(j);
  textio_write(path, text);
  free(text);
  cJSON_Delete(j);
}

/* the subject's BIDS derivative names and sidecar beside its set in dir (see the file's header); the sidecar is
 * written last, so its presence says the rest is there */
static void cohort_derivatives(const SegmentOptions *o, const ModelFile *mf, const char *checksum,
                               const BidsSubject *s, const char *dir) {
  char stem[PATH_CAP], src[PATH_CAP], dst[PATH_CAP], pre[PATH_CAP];
  bids_unit_prefix(s, pre, sizeof pre);
  path_fmt(stem, sizeof stem, "%s/%s_desc-cordseg", dir, pre);
  path_fmt(src, sizeof src, "%s/labels.nii.gz", dir);
  path_fmt(dst, sizeof dst, "%s_dseg.nii.gz", stem);
  cohort_link(src, dst);
  path_fmt(src, sizeof src, "%s/probs.nii.gz", dir);
  path_fmt(dst, sizeof dst, "%s_probseg.nii.gz", stem);
  if (access(src, R_OK) == 0) cohort_link(src, dst);
  char tsv[1024] = "index\tname\tabbreviation\n";
  for (int c = 0; c < LABEL_COUNT; c++) {
    size_t l = strlen(tsv);
    snprintf(tsv + l, sizeof tsv - l, "%d\t%s\t%s\n", c, LABEL_NAMES[c], LABEL_ABBREV[c]);
  }
  path_fmt(dst, sizeof dst, "%s_dseg.tsv", stem);
  textio_write(dst, tsv);
  cJSON *j = cJSON_CreateObject(), *src_list = cJSON_CreateArray(), *opt = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "Description", "the 8 ROIs of the cervical cord (ids in the _dseg.tsv), segmented by "
                                            "cordseg on the subject's own grid");
  const char *const files[] = {s->dwi, s->bval, s->bvec, s->b0, s->fa};
  const size_t nb = strlen(o->bids);
  for (int i = s->dwi[0] ? 0 : 3; i < (s->dwi[0] ? 3 : 5); i++) { /* BIDS URIs relative to the raw dataset */
    char uri[PATH_CAP];
    if (!files[i][0]) continue; /* a B0-only or FA-only subject */
    const char *rel = !strncmp(files[i], o->bids, nb) && files[i][nb] == '/' ? files[i] + nb + 1 : files[i];
    path_fmt(uri, sizeof uri, "bids:raw:%s", rel);
    cJSON_AddItemToArray(src_list, cJSON_CreateString(uri));
  }
  cJSON_AddItemToObject(j, "Sources", src_list);
  cJSON_AddItemToObject(j, "Model", cohort_model_json(o, mf, checksum));
  cJSON_AddBoolToObject(opt, "TTA", o->tta);
  cJSON_AddBoolToObject(opt, "LargestComponent", o->largest);
  cJSON_AddItemToObject(j, "Options", opt);
  cJSON_AddStringToObject(j, "Version", CORDSEG_VERSION);
  cJSON_AddStringToObject(j, "Commit", CORDSEG_GIT);
  cJSON_AddStringToObject(j, "Command", o->command ? o->command : "");
  char cwd[4096];
  cJSON_AddStringToObject(j, "WorkingDirectory", getcwd(cwd, sizeof cwd) ? cwd : "");
  path_fmt(dst, sizeof dst, "%s_dseg.json", stem);
  cohort_write_json(dst, j);
}

static void cohort_description(const char *out, const char *model) {
  cJSON *d = cJSON_CreateObject(), *gen = cJSON_CreateArray(), *g = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "Name", "cordseg segmentation of the cervical cord's 8 ROIs");
  cJSON_AddStringToObject(d, "BIDSVersion", "1.9.0");
  cJSON_AddStringToObject(d, "DatasetType", "derivative");
  cJSON_AddStringToObject(g, "Name", "cordseg");
  cJSON_AddStringToObject(g, "Version", CORDSEG_VERSION);
  cJSON_AddStringToObject(g, "Description", model);
  cJSON_AddItemToArray(gen, g);
  cJSON_AddItemToObject(d, "GeneratedBy", gen);
  char p[PATH_CAP];
  path_fmt(p, sizeof p, "%s/dataset_description.json", out);
  cohort_write_json(p, d);
}

int segment_cohort_run(const SegmentOptions *o) {
  BidsSubject *s;
  const int n = bids_units(o->bids, &s);
  textio_mkdir_p(o->out, COHORT_HINT);
  ModelFile mf; /* read once for the sidecars (each child reads and checks it again) */
  model_open(&mf, o->model);
  segment_print_model_warnings(&mf); /* once here; every subject's log has them */
  char checksum[64];
  cohort_file_checksum(o->model, checksum, sizeof checksum);
  int failed = 0, fresh = 0;
  double t0 = cs_now();
  char *why = mallocCheck((size_t)n * 600);
  CS_CHECK(o->subject_index < n, "give an index of OUT/slurm/subjects.tsv",
           "--subject-index %d: %s has %d subjects (0..%d)", o->subject_index, o->bids, n, n - 1);
  char (*rel)[PATH_CAP] = mallocCheck(sizeof *rel * (size_t)n);
  for (int i = 0; i < n; i++) {
    char dir[PATH_CAP], pre[PATH_CAP];
    bids_unit_rel(&s[i], rel[i], sizeof rel[i]), bids_unit_prefix(&s[i], pre, sizeof pre);
    path_fmt(dir, sizeof dir, "%s/%s/dwi", o->out, rel[i]);
    why[(size_t)i * 600] = 0;
    int r = 2;
    if (o->subject_index >= 0 && i != o->subject_index) {
      s[i].ok = 1;
      continue;
    }
    if (s[i].problem[0]) snprintf(why + (size_t)i * 600, 600, "%.590s", s[i].problem);
    else if (o->collect) r = cohort_done(dir) ? 1 : (snprintf(why + (size_t)i * 600, 600, "not segmented (its log: "
                                                              "%.250s/slurm/logs/; %.250s/segment.log)", o->out, dir), 2);
    else r = cohort_subject(o, &s[i], dir, why + (size_t)i * 600, 600);
    char side[PATH_CAP];
    path_fmt(side, sizeof side, "%s/%s_desc-cordseg_dseg.json", dir, pre);
    if (r != 2 && access(side, F_OK) != 0) cohort_derivatives(o, &mf, checksum, &s[i], dir);
    s[i].ok = r != 2, failed += r == 2, fresh += r == 0;
    const double el = cs_now() - t0;
    printf("segment [%d/%d] %s: %s", i + 1, n, rel[i],
           r == 0 ? "done" : r == 1 ? "done before (remove its folder to redo)" : "FAILED: ");
    if (r == 2) printf("%s", why + (size_t)i * 600);
    if (fresh) printf("  (%.1f s, ETA %.0f s)", el, el / (double)(i + 1) * (double)(n - i - 1));
    printf("\n");
    fflush(stdout);
  }
  if (o->subject_index >= 0) { /* one array task: the collect job writes the table */
    free(why), free(s), free(rel);
    model_close(&mf);
    return failed;
  }
  cohort_table(o->out, s, n);
  cohort_description(o->out, o->model);
  const char **names = mallocCheck(sizeof(char *) * (size_t)(n + 1)), **whys = mallocCheck(sizeof(char *) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) names[i] = rel[i], whys[i] = s[i].ok ? "" : why + (size_t)i * 600;
  segment_qc_page(o->out, names, whys, n);
  free(names), free(whys);
  printf("segment: %d of %d subjects/sessions segmented into %s/sub-*/[ses-*/]dwi/ (BIDS: sub-*_desc-cordseg_dseg.nii.gz with its "
         ".json and .tsv); every subject's rows (per slice, level and all slices; bin and wa) in %s/metrics.tsv; QC worst first in "
         "%s/qc.html\n",
         n - failed, n, o->out, o->out, o->out);
  if (failed) {
    printf("segment: %d failed:", failed);
    for (int i = 0; i < n; i++)
      if (!s[i].ok) printf(" %s", rel[i]);
    printf(" (each has its reason above; run the same command again to retry only those)\n");
  }
  free(why), free(s), free(rel);
  model_close(&mf);
  return failed;
}

int segment_cohort_plan(const SegmentOptions *o, char *pending, size_t np) {
  BidsSubject *s;
  const int n = bids_units(o->bids, &s);
  char dir[PATH_CAP], p[PATH_CAP];
  path_fmt(dir, sizeof dir, "%s/slurm", o->out);
  textio_mkdir_p(dir, COHORT_HINT);
  size_t cap = (size_t)n * 800 + 64, w = 0;
  char *tsv = mallocCheck(cap);
  w += (size_t)snprintf(tsv, cap, "index\tsubject\tsession\tstate\n");
  pending[0] = 0;
  size_t pw = 0;
  int run_start = -1;
  for (int i = 0; i <= n; i++) {
    int todo = 0;
    if (i < n) {
      char rel[PATH_CAP];
      bids_unit_rel(&s[i], rel, sizeof rel);
      path_fmt(p, sizeof p, "%s/%s/dwi", o->out, rel);
      const int done = cohort_done(p);
      todo = !done && !s[i].problem[0];
      w += (size_t)snprintf(tsv + w, cap - w, "%d\t%s\t%s\t%s%.600s\n", i, s[i].name, s[i].session[0] ? s[i].session : "n/a",
                            done ? "done" : s[i].problem[0] ? "bad: " : "pending", done ? "" : s[i].problem);
    }
    if (todo && run_start < 0) run_start = i;
    if (!todo && run_start >= 0 && pw < np) { /* the run run_start..i-1 */
      pw += run_start == i - 1 ? (size_t)snprintf(pending + pw, np - pw, "%s%d", pw ? "," : "", run_start)
                               : (size_t)snprintf(pending + pw, np - pw, "%s%d-%d", pw ? "," : "", run_start, i - 1);
      run_start = -1;
    }
  }
  CS_CHECK(pw < np, "segment fewer subjects per submission (--list)", "--slurm: the list of pending subjects is too long");
  path_fmt(p, sizeof p, "%s/subjects.tsv", dir);
  textio_write(p, tsv);
  free(tsv), free(s);
  return n;
}
