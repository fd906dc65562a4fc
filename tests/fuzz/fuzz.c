/* tests/fuzz/fuzz.c: libFuzzer harnesses for cordseg's text and NIfTI readers,
 * one binary per reader (compiled with -DFUZZ_<NAME>; tests/fuzz/fuzz.cmake,
 * run by tests/fuzz/run.sh). Every input is written to a file and handed to
 * the reader exactly as a user's file would be. A reader refusing the input
 * (cs_fatal: one message, exit 1) is the expected outcome for garbage: the
 * exit hook jumps back here instead, so the fuzzer goes on. A crash, a
 * sanitizer report or a hang is a finding.
 *   FUZZ_CONFIG  config_load (train INI)   FUZZ_FOLDS  folds_read
 *   FUZZ_SWEEP   sweep_load                FUZZ_NIFTI  niftivol_read
 *   FUZZ_BTABLE  dti_read_bvals_bvecs (input split at the first 0x00 byte) */
#include <dirent.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/config.h"
#include "io/dti.h"
#include "io/folds.h"
#include "io/niftivol.h"
#include "slurm/sweep.h"

static jmp_buf g_back;
static void back(int code) { longjmp(g_back, code ? code : 1); }

/* a refused input leaves the reader's open files behind (exit would have
 * closed them): the fds open before the call are marked, the others closed after */
#define FUZZ_MAX_FD 4096
static void fds_mark(unsigned char *open_) {
  memset(open_, 0, FUZZ_MAX_FD);
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    const int fd = atoi(e->d_name);
    if (fd >= 0 && fd < FUZZ_MAX_FD && e->d_name[0] != '.') open_[fd] = 1;
  }
  closedir(d);
}
static void fds_close_new(const unsigned char *before) {
  unsigned char now[FUZZ_MAX_FD];
  fds_mark(now);
  for (int fd = 3; fd < FUZZ_MAX_FD; fd++)
    if (now[fd] && !before[fd]) close(fd);
}

static void put(const char *path, const uint8_t *d, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (n && fwrite(d, 1, n, f) != n) abort();
  fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char a[256], b[256];
  if (!a[0]) {
    const char *t = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
#ifdef FUZZ_NIFTI
    snprintf(a, sizeof a, "%s/cordseg-fuzz-%d-a.nii", t, (int)getpid());
#else
    snprintf(a, sizeof a, "%s/cordseg-fuzz-%d-a.txt", t, (int)getpid());
#endif
    snprintf(b, sizeof b, "%s/cordseg-fuzz-%d-b.txt", t, (int)getpid());
    cs_set_exit_hook(back);
  }
#ifdef FUZZ_BTABLE
  const uint8_t *z = memchr(data, 0, size);
  const size_t na = z ? (size_t)(z - data) : size;
  put(a, data, na);
  put(b, z ? z + 1 : data, z ? size - na - 1 : 0);
#else
  put(a, data, size);
#endif
  static unsigned char before[FUZZ_MAX_FD];
  fds_mark(before);
  if (setjmp(g_back) == 0) {
#if defined(FUZZ_CONFIG)
    TrainConfig c;
    config_defaults(&c);
    config_load(&c, a);
#elif defined(FUZZ_FOLDS)
    Folds f;
    folds_read(&f, a);
    folds_free(&f);
#elif defined(FUZZ_SWEEP)
    Sweep s;
    sweep_load(&s, a);
    sweep_free(&s);
#elif defined(FUZZ_NIFTI)
    NiftiVol v;
    niftivol_read(&v, a);
    niftivol_free(&v);
#elif defined(FUZZ_BTABLE)
    double *bv = NULL, *bg = NULL;
    int32_t n = dti_read_bvals_bvecs(a, b, -1, &bv, &bg);
    (void)n;
    free(bv), free(bg);
#else
#error "define one FUZZ_<READER>"
#endif
  }
  fds_close_new(before);
  return 0;
}
