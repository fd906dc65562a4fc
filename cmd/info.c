/* cmd/info.c: `cordseg info FILE`: what an HDF5 slice store holds:
 * subjects, slices, levels, per-class pixel fractions (the paper's Figure 3),
 * value ranges, and whether the content checksum verifies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/h5store.h"
#include "io/labels.h"
#include "io/model.h"
#include "cmd/cli.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "info");
  fprintf(f,
          "\nSummarise a cordseg HDF5 slice store: subjects (names and slices each), slices, vertebral levels, per-class\n"
          "pixel fractions (all pixels, and within the cord = labels 1..8), b0/FA value ranges,\n"
          "and the content checksum (recomputed and compared unless --no-verify).\n"
          "Given a model file (`cordseg export`), describes it instead: arm, input, grid, members and\n"
          "their provenance and thresholds.\n"
          "Exit status: 0 ok, 1 checksum mismatch or unreadable file.\n\n");
}

/* "names" line: each subject's name (the id when it has none) and slice count, in store order */
static void info_subjects(const H5Store *s) {
  printf("names      ");
  for (int32_t i = 0; i < s->n; i++) {
    if (i > 0 && s->meta[i].subject == s->meta[i - 1].subject) continue;
    int seen = 0, c = 0;
    for (int32_t j = 0; j < i && !seen; j++) seen = s->meta[j].subject == s->meta[i].subject;
    if (seen) continue;
    for (int32_t j = i; j < s->n; j++) c += s->meta[j].subject == s->meta[i].subject;
    char nb[H5STORE_NAME_MAX];
    printf(" %s:%d", h5store_subject_name(s, s->meta[i].subject, nb), c);
  }
  printf("  (name:slices)\n");
}

/* "sites" line, when the store records sites: each site and its subjects' count (folds --group-by site) */
static void info_sites(const H5Store *s) {
  if (!s->n_sites) return;
  printf("sites      ");
  for (int32_t i = 0; i < s->n_sites; i++) {
    int seen = 0, c = 0;
    for (int32_t j = 0; j < i && !seen; j++) seen = !strcmp(s->sites[j].name, s->sites[i].name);
    if (seen) continue;
    for (int32_t j = i; j < s->n_sites; j++) c += !strcmp(s->sites[j].name, s->sites[i].name);
    printf(" %s:%d", s->sites[i].name, c);
  }
  const int32_t none = h5store_subject_count(s) - s->n_sites;
  printf("  (site:subjects)%s\n", none > 0 ? "; some subjects have no site" : "");
}

int cmd_info(int argc, char **argv) {
  int verify = 1;
  const CliOption opts[] = {
      CLI_FLAG_OFF("no-verify", 0, &verify, .help = "skip recomputing the content checksum (a store, a model's members)"), CLI_END};
  int pos = cli_parse("info", argc, argv, opts, usage);
  if (pos != argc - 1) cli_usage_error("info", "expected exactly one FILE argument");
  if (model_is_model_file(argv[pos])) { /* a `cordseg export` model file */
    ModelFile mf;
    model_open(&mf, argv[pos]);
    model_describe(&mf, stdout);
    if (verify) { /* weights: count, content checksum, finite and sane (io/model.h) */
      model_verify(&mf);
      printf("verified    every member's weights and thresholds match their checksum\n");
    }
    model_close(&mf);
    return 0;
  }
  H5Store s;
  h5store_open(&s, argv[pos]);
  size_t hw = (size_t)s.h * (size_t)s.w;
  printf("file        %s\n", s.path);
  printf("created_by  %s\n", s.created_by);
  printf("slices      %d of %d x %d pixels%s\n", s.n, s.h, s.w, s.has_dti ? " (with md/ad/rd)" : "");
  printf("maps        %s%s\n", h5store_maps_name(s.has_b0, s.has_fa),
         s.has_b0 && s.has_fa ? "" : s.has_b0 ? " only (train with input = b0)" : " only (train with input = fa)");
  printf("subjects    %d%s\n", h5store_subject_count(&s), s.n_names ? " (named)" : " (named by their ids)");
  info_subjects(&s);
  info_sites(&s);
  if (s.n > 0) {
    double smin = 1e30, smax = 0;
    int lev[32] = {0};
    for (int32_t i = 0; i < s.n; i++) {
      smin = fmin(smin, s.meta[i].spacing[0]), smin = fmin(smin, s.meta[i].spacing[1]);
      smax = fmax(smax, s.meta[i].spacing[0]), smax = fmax(smax, s.meta[i].spacing[1]);
      int l = s.meta[i].level;
      lev[l >= 0 && l < 32 ? l : 0]++;
    }
    printf("spacing     %.4g .. %.4g mm\n", smin, smax);
    printf("levels     ");
    char nb[8];
    for (int l = 0; l < 32; l++)
      if (lev[l]) printf(" %s:%d", label_level_name(l, nb), lev[l]);
    printf("\n");
  }
  float *b0 = mallocCheck(hw * 4), *fa = mallocCheck(hw * 4);
  uint8_t *lab = mallocCheck(hw);
  double cnt[LABEL_COUNT] = {0};
  double b0min = 1e30, b0max = -1e30, famin = 1e30, famax = -1e30, fa_wm = 0, fa_gm = 0, n_wm = 0, n_gm = 0;
  for (int32_t i = 0; i < s.n; i++) {
    h5store_read_slices(&s, &i, 1, s.has_b0 ? b0 : NULL, s.has_fa ? fa : NULL, lab);
    if (!s.has_b0) memset(b0, 0, hw * 4);
    if (!s.has_fa) memset(fa, 0, hw * 4);
    for (size_t k = 0; k < hw; k++) {
      cnt[lab[k] <= LABEL_MAX ? lab[k] : 0]++;
      b0min = fmin(b0min, b0[k]), b0max = fmax(b0max, b0[k]);
      famin = fmin(famin, fa[k]), famax = fmax(famax, fa[k]);
      if (lab[k] == 4 || lab[k] == 8) fa_gm += fa[k], n_gm++;
      else if (lab[k]) fa_wm += fa[k], n_wm++;
    }
  }
  double total = (double)s.n * (double)hw, cord = total - cnt[0];
  if (s.has_b0) printf("b0 range    %.4g .. %.4g\n", b0min, b0max);
  if (s.has_fa) printf("fa range    %.4g .. %.4g\n", famin, famax);
  if (n_wm > 0 && s.has_fa) printf("mean FA     white-matter ROIs %.3f, gray matter %.3f\n", fa_wm / n_wm, n_gm ? fa_gm / n_gm : 0);
  printf("class pixel fractions (%% of all pixels, %% of cord pixels):\n");
  for (int l = 0; l < LABEL_COUNT; l++)
    printf("  %d %-18s %8.4f%%  %7.2f%%\n", l, LABEL_NAMES[l], total ? 100 * cnt[l] / total : 0,
           l && cord > 0 ? 100 * cnt[l] / cord : 0);
  free(b0), free(fa), free(lab);
  int rc = 0;
  if (verify) {
    char msg[4800], sum[64];
    const int ok = h5store_verify_explain(&s, msg, sizeof msg);
    h5store_attr_string(&s, "checksum", sum, sizeof sum);
    printf("checksum    %.40s %s\n", sum[0] ? sum : "(none)", ok ? "verified" : "NOT VERIFIED");
    if (!ok) {
      fprintf(stderr, "cordseg: error: %s\n  hint: %s\n", msg, H5STORE_HINT_REBUILD);
      rc = 1;
    }
  }
  h5store_close(&s);
  return rc;
}
