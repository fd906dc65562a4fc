/* jobs/segment_extract.c: segment's table in sct_extract_metric's shape (see jobs/segment_extract.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/segment_extract.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/path.h"
#include "io/labels.h"

#include "cordseg_git.h" /* CORDSEG_GIT, generated at build time (cmake/git_version.cmake) */

/* the 8 ROIs, then the unions SCT users read most (bit c = label id c) */
#define EXTRACT_LABELS (LABEL_COUNT - 1 + 3)
static unsigned extract_set(int i) {
  if (i < LABEL_COUNT - 1) return 1u << (i + 1);
  if (i == LABEL_COUNT - 1) return 0xEEu; /* white matter: 1-3, 5-7 */
  if (i == LABEL_COUNT) return 0x110u;    /* gray matter: 4, 8 */
  return 0x1FEu;                          /* spinal cord: 1-8 */
}
static const char *extract_name(int i) {
  static const char *const unions[3] = {"white matter", "gray matter", "spinal cord"};
  return i < LABEL_COUNT - 1 ? LABEL_NAMES[i + 1] : unions[i - (LABEL_COUNT - 1)];
}

/* sorted integers as SCT writes a group (its parse_num_list_inv): runs "a:b" or "a", joined with ';' */
static void extract_runs(const int64_t *v, int64_t n, char *buf, size_t nb) {
  size_t w = 0;
  buf[0] = 0;
  for (int64_t i = 0; i < n && w < nb;) {
    int64_t j = i;
    while (j + 1 < n && v[j + 1] == v[j] + 1) j++;
    if (j > i) w += (size_t)snprintf(buf + w, nb - w, "%s%lld:%lld", i ? ";" : "", (long long)v[i], (long long)v[j]);
    else w += (size_t)snprintf(buf + w, nb - w, "%s%lld", i ? ";" : "", (long long)v[i]);
    i = j + 1;
  }
}

/* the weight of voxel v of slice s for label set `set`: 0/1 (bin) or the probability of the set, at most 1 (wa) */
static double extract_weight(const SegExtract *e, int wa, unsigned set, int64_t s, int64_t v) {
  if (!wa) return (set >> e->labels[s * e->nhw + v]) & 1u ? 1.0 : 0.0;
  double p = 0;
  for (int c = 1; c < LABEL_COUNT; c++)
    if ((set >> c) & 1u) p += e->probs[((size_t)s * LABEL_COUNT + (size_t)c) * (size_t)e->nhw + (size_t)v];
  return p > 1 ? 1 : p < 0 ? 0 : p;
}

/* the rows of one group of slices (in[nsl] marks them) for every label, map and method */
static void extract_group(FILE *f, const SegExtract *e, const char *prefix, const uint8_t *in, const char *slices,
                          const char *level) {
  static const char *const metric[4] = {"FA", "MD", "AD", "RD"};
  for (int li = 0; li < EXTRACT_LABELS; li++)
    for (int m = 0; m < 4; m++) {
      if (!e->maps[m]) continue;
      for (int wa = 0; wa <= (e->probs != NULL); wa++) {
        double sw = 0, swx = 0, vox = 0;
        for (int64_t s = 0; s < e->nsl; s++)
          if (in[s])
            for (int64_t v = 0; v < e->nhw; v++) {
              const double w = extract_weight(e, wa, extract_set(li), s, v), x = e->maps[m][s * e->nhw + v];
              if (w <= 0 || !isfinite(x)) continue;
              sw += w, swx += w * x, vox += w;
            }
        double mean = sw > 0 ? swx / sw : NAN, ss = 0;
        if (sw > 0)
          for (int64_t s = 0; s < e->nsl; s++)
            if (in[s])
              for (int64_t v = 0; v < e->nhw; v++) {
                const double w = extract_weight(e, wa, extract_set(li), s, v), x = e->maps[m][s * e->nhw + v];
                if (w > 0 && isfinite(x)) ss += w * (x - mean) * (x - mean);
              }
        fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.6g\t%.6g\t", prefix, e->files[m] ? e->files[m] : "n/a", slices, level,
                extract_name(li), metric[m], wa ? "wa" : "bin", vox, vox * e->voxel_mm3);
        if (sw > 0) fprintf(f, "%.8g\t%.8g\n", mean, sqrt(ss / sw));
        else fprintf(f, "n/a\tn/a\n");
      }
    }
}

void segment_extract_write(const char *path, const SegExtract *e) {
  char tmp[PATH_CAP], prefix[1024], stamp[32], slices[4096];
  atomic_begin(path, tmp, sizeof tmp);
  FILE *f = fopen(tmp, "w");
  if (!f) cs_fatal("choose a writable -o directory", "cannot create '%s': %s", tmp, strerror(errno));
  const time_t now = time(NULL);
  struct tm tmv;
  localtime_r(&now, &tmv);
  strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tmv);
  snprintf(prefix, sizeof prefix, "%.400s\t%.400s\t%s\tcordseg %s (%s)", e->subject ? e->subject : "n/a",
           e->session ? e->session : "n/a", stamp, CORDSEG_VERSION, CORDSEG_GIT);
  fprintf(f, "%s\n", SEGMENT_EXTRACT_HEADER);
  const int64_t nsl = e->nsl;
  uint8_t *in = callocCheck((size_t)nsl + 1, 1);
  int64_t *ids = mallocCheck(sizeof(int64_t) * (size_t)(nsl + 1));
  char one[32];
  for (int64_t is = 0; is < nsl; is++) { /* per slice, I->S order: store slice s = nsl - 1 - is */
    const int64_t s = nsl - 1 - is;
    memset(in, 0, (size_t)nsl), in[s] = 1;
    snprintf(one, sizeof one, "%lld", (long long)is);
    char lv[16] = "None";
    if (e->level && e->level[s] > 0) snprintf(lv, sizeof lv, "%d", e->level[s]);
    extract_group(f, e, prefix, in, one, lv);
  }
  int64_t levels[64], nlev = 0;
  for (int l = 1; l < 64 && e->level; l++) { /* per level, ascending */
    int64_t n = 0;
    for (int64_t is = 0; is < nsl; is++)
      if ((in[nsl - 1 - is] = e->level[nsl - 1 - is] == l)) ids[n++] = is;
    if (!n) continue;
    levels[nlev++] = l;
    extract_runs(ids, n, slices, sizeof slices);
    snprintf(one, sizeof one, "%d", l);
    extract_group(f, e, prefix, in, slices, one);
  }
  for (int64_t is = 0; is < nsl; is++) in[is] = 1, ids[is] = is; /* all slices */
  extract_runs(ids, nsl, slices, sizeof slices);
  char lvs[1024] = "None";
  if (nlev) extract_runs(levels, nlev, lvs, sizeof lvs);
  extract_group(f, e, prefix, in, slices, lvs);
  free(in), free(ids);
  if (fclose(f) != 0) cs_fatal("check free disk space", "writing '%s' failed", tmp);
  atomic_commit(tmp, path);
}
