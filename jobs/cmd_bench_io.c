/* jobs/cmd_bench_io.c: `cordseg bench-io STORE`: loader throughput (slices/s)
 * with augmentation on, the figure `cordseg bench --io` reports (the merger
 * wires it there). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/h5store.h"
#include "io/loader.h"
#include "jobs/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: cordseg bench-io STORE.h5 [--batch 8] [--seconds 3] [--input b0|fa|b0+fa] [--no-augment]\n\n"
          "Measure the batch loader (HDF5 read, normalisation, augmentation, prefetch thread) in\n"
          "slices/s over all slices of STORE, as the trainer would consume it (one rank).\n");
}

int cmd_bench_io(int argc, char **argv) {
  static const struct option opts[] = {{"batch", required_argument, 0, 'b'}, {"seconds", required_argument, 0, 's'},
                                       {"input", required_argument, 0, 'i'}, {"no-augment", no_argument, 0, 'n'},
                                       {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
  int32_t batch = 8;
  double secs = 3;
  InputKind kind = INPUT_B0_FA;
  int augment = 1, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'b') batch = (int32_t)cli_parse_int("--batch", optarg, 1, 4096);
    else if (c == 's') secs = cli_parse_float("--seconds", optarg, 0.1, 3600);
    else if (c == 'i') {
      int k = input_kind_parse(optarg);
      if (k < 0) cli_usage_error("bench-io", "--input must be b0, fa or b0+fa, not '%s'", optarg);
      kind = (InputKind)k;
    } else if (c == 'n') augment = 0;
    else if (c == 'h') return usage(stdout), 0;
    else cli_usage_error("bench-io", "unknown option");
  }
  if (optind != argc - 1) cli_usage_error("bench-io", "expected exactly one STORE argument");
  H5Store s;
  h5store_open(&s, argv[optind]);
  int32_t *idx = mallocCheck(sizeof(int32_t) * (size_t)s.n);
  for (int32_t i = 0; i < s.n; i++) idx[i] = i;
  AugmentConfig aug;
  augment_config_default(&aug);
  aug.enabled = augment;
  Loader *l = loader_init(&s, idx, s.n, batch, 0, 1, 1, &aug, kind);
  const size_t hw = (size_t)s.h * s.w;
  float *x = mallocCheck(sizeof(float) * (size_t)batch * input_channels(kind) * hw);
  uint8_t *y = mallocCheck((size_t)batch * hw);
  loader_next(l, x, y); /* warm-up */
  double t0 = cs_now();
  int64_t n = 0;
  while (cs_now() - t0 < secs) loader_next(l, x, y), n++;
  double dt = cs_now() - t0;
  printf("bench-io: %s, %dx%d, batch %d, input %s, augmentation %s: %.0f slices/s (%lld batches in %.2f s)\n", s.path,
         s.h, s.w, batch, input_kind_name(kind), augment ? "on" : "off",
         (double)n * batch / dt, (long long)n, dt);
  loader_free(l);
  free(idx), free(x), free(y);
  h5store_close(&s);
  return 0;
}
