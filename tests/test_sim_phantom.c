/* tests/test_sim_phantom.c: the PAM50 phantom is anatomically oriented (left
 * labels on the patient's left = high columns, dorsal columns posterior),
 * has all 9 classes, physiological FA (white matter > gray matter), levels
 * in C2..T1 ordered cranial->caudal, and is reproducible: the same seed gives
 * byte-identical stores (equal checksums) with 1 or 2 threads, another seed
 * differs. Run on the built-in synthetic atlas (sim/atlas_synth.c) always,
 * and on PAM50 when ../shared/data/PAM50 (or $CORDSEG_DATA/PAM50) is there. */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "io/h5store.h"
#include "sim/phantom.h"
#include "tests/testutil.h"

static uint64_t stored_checksum(const char *path) {
  H5Store s;
  h5store_open(&s, path);
  uint64_t got, want;
  int ok = h5store_verify(&s, &got, &want);
  T_CHECK(ok, "'%s' verifies", path);
  h5store_close(&s);
  return want;
}

static void check_phantom(const char *pam) {
  printf("== atlas %s\n", pam);
  double t0 = cs_now();
  PhantomAtlas a;
  phantom_atlas_load(&a, pam, 7.0);
  printf("atlas: %d slab centres, C2 at %d, C7 at %d, %.2f s\n", a.n, a.first_c2, a.last_c7, cs_now() - t0);
  T_CHECK(a.n > 50 && a.first_c2 < a.last_c7, "atlas covers C2..C7");

  PhantomConfig c;
  phantom_config_default(&c);
  c.slices = 6;
  const size_t n2 = (size_t)c.size * c.size, per = n2 * c.slices;
  float *b0 = mallocCheck(per * 4), *fa = mallocCheck(per * 4);
  uint8_t *lab = mallocCheck(per);
  SliceMeta meta[6];
  double colL = 0, colR = 0, nL = 0, nR = 0, rowD = 0, rowV = 0, nD = 0, nV = 0, faW = 0, faG = 0, nW = 0, nG = 0;
  int present[9] = {0}, levels_ok = 1;
  for (int32_t subj = 1; subj <= 3; subj++) {
    phantom_subject(&a, &c, subj, b0, fa, NULL, NULL, NULL, lab, meta);
    for (int k = 0; k < c.slices; k++) {
      levels_ok &= meta[k].level >= 2 && meta[k].level <= 8 && (k == 0 || meta[k].level >= meta[k - 1].level);
      levels_ok &= meta[k].subject == subj && meta[k].slice == k && meta[k].spacing[0] == 0.625f;
    }
    for (size_t i = 0; i < per; i++) {
      int l = lab[i];
      present[l <= 8 ? l : 0] = 1;
      double col = (double)(i % c.size), row = (double)((i / c.size) % c.size);
      if (l >= 1 && l <= 4) colL += col, nL++;
      if (l >= 5) colR += col, nR++;
      if (l == 1 || l == 5) rowD += row, nD++;
      if (l == 3 || l == 7) rowV += row, nV++;
      if (l == 4 || l == 8) faG += fa[i], nG++;
      else if (l) faW += fa[i], nW++;
    }
  }
  int all = 1;
  for (int l = 0; l < 9; l++) all &= present[l];
  T_CHECK(all, "all 9 classes present");
  T_CHECK(levels_ok, "levels in C2..T1, non-decreasing cranial->caudal; meta filled");
  printf("mean column L %.1f R %.1f; mean row dorsal %.1f ventral %.1f; FA WM %.3f GM %.3f\n", colL / nL, colR / nR,
         rowD / nD, rowV / nV, faW / nW, faG / nG);
  T_CHECK(colL / nL > colR / nR + 2, "left labels on the patient's left (higher columns)");
  T_CHECK(rowD / nD > rowV / nV + 2, "dorsal columns posterior (higher rows) to ventral columns");
  T_CHECK(faW / nW > 0.45 && faW / nW < 0.85, "white-matter FA %.3f physiological", faW / nW);
  T_CHECK(faW / nW > faG / nG + 0.05, "white matter more anisotropic than gray matter");

  /* reproducibility across thread counts; seed sensitivity */
  char dir[300], p1[400], p2[400], p3[400], png[400];
  snprintf(dir, sizeof dir, "%s/test_sim_phantom.%d", CORDSEG_BINARY_DIR, (int)getpid());
  mkdir(dir, 0755);
  snprintf(p1, sizeof p1, "%s/a.h5", dir);
  snprintf(p2, sizeof p2, "%s/b.h5", dir);
  snprintf(p3, sizeof p3, "%s/c.h5", dir);
  snprintf(png, sizeof png, "%s/m.png", dir);
  c.subjects = 4, c.slices = 3;
  omp_set_num_threads(1);
  double t1 = cs_now();
  phantom_build_atlas(&a, &c, p1, "test run 1", NULL, png);
  double t2 = cs_now();
  omp_set_num_threads(2);
  phantom_build_atlas(&a, &c, p2, "test run 2", NULL, NULL);
  c.seed = 43;
  phantom_build_atlas(&a, &c, p3, "test run 3", NULL, NULL);
  printf("4x3 build %.2f s (1 thread)\n", t2 - t1);
  uint64_t h1 = stored_checksum(p1), h2 = stored_checksum(p2), h3 = stored_checksum(p3);
  printf("checksums %016llx %016llx %016llx\n", (unsigned long long)h1, (unsigned long long)h2, (unsigned long long)h3);
  T_CHECK(h1 == h2, "same seed -> same checksum with 1 and 2 threads");
  T_CHECK(h1 != h3, "another seed -> another checksum");
  FILE *f = fopen(png, "rb");
  unsigned char sig[8] = {0};
  T_CHECK(f && fread(sig, 1, 8, f) == 8 && sig[1] == 'P' && sig[2] == 'N' && sig[3] == 'G', "PNG montage written");
  if (f) fclose(f);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) {}
  free(b0), free(fa), free(lab);
  phantom_atlas_free(&a);
}

int main(void) {
  check_phantom(PHANTOM_ATLAS_SYNTHETIC);
  char pam[1024], probe[1100];
  snprintf(pam, sizeof pam, "%s/PAM50", t_data_dir());
  snprintf(probe, sizeof probe, "%s/atlas/info_label.txt", pam);
  struct stat st;
  if (stat(probe, &st) == 0) check_phantom(pam);
  else printf("PAM50 part skipped: not found at $CORDSEG_DATA/PAM50 or <source>/../shared/data/PAM50\n");
  return t_finish("test_sim_phantom");
}
