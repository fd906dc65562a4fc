/* cmd/bench_io.c: `cordseg bench-io STORE`: loader throughput (slices/s)
 * with augmentation on, the figure `cordseg bench --io` reports (the merger
 * wires it there). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/h5store.h"
#include "io/loader.h"
#include "cmd/cli.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "bench-io");
  fprintf(f,
          "Measure the batch loader (the fold read and normalised once into memory, then\n"
          "augmentation on --threads threads in the prefetch thread) in slices/s over all slices\n"
          "of STORE, as the trainer would consume it (one rank). The trainer uses 1 thread on the\n"
          "CPU backend and the rank's share of the host's cores on the CUDA backend.\n\n");
}

int cmd_bench_io(int argc, char **argv) {
  int32_t batch = 8;
  double secs = 3;
  int input = INPUT_B0_FA, augment = 1;
  int32_t threads = 1;
  const CliOption opts[] = {
      CLI_INT32("batch", 0, &batch, 1, 4096, .help = "slices per batch (default 8)"),
      CLI_DOUBLE("seconds", 0, &secs, 0.1, 3600, .arg = "S", .help = "how long to measure (default 3)"),
      CLI_CHOICE("input", 0, &input, input_kind_parse, "--input must be b0, fa or b0+fa, not '%s'", .arg = "KIND",
                 .help = "b0, fa or b0+fa (default b0+fa)"),
      CLI_FLAG_OFF("no-augment", 0, &augment, .help = "augmentation off"),
      CLI_INT32("threads", 0, &threads, 1, 256, .help = "augmentation threads (default 1)"),
      CLI_END};
  int pos = cli_parse("bench-io", argc, argv, opts, usage);
  if (pos != argc - 1) cli_usage_error("bench-io", "expected exactly one STORE argument");
  const InputKind kind = (InputKind)input;
  H5Store s;
  h5store_open(&s, argv[pos]);
  int32_t *idx = mallocCheck(sizeof(int32_t) * (size_t)s.n);
  for (int32_t i = 0; i < s.n; i++) idx[i] = i;
  AugmentConfig aug;
  augment_config_default(&aug);
  aug.enabled = augment;
  Loader *l = loader_init(&s, idx, s.n, batch, 0, 1, 1, &aug, kind);
  loader_set_threads(l, threads);
  const size_t hw = (size_t)s.h * s.w;
  float *x = mallocCheck(sizeof(float) * (size_t)batch * input_channels(kind) * hw);
  uint8_t *y = mallocCheck((size_t)batch * hw);
  loader_next(l, x, y); /* warm-up */
  double t0 = cs_now();
  int64_t n = 0;
  while (cs_now() - t0 < secs) loader_next(l, x, y), n++;
  double dt = cs_now() - t0;
  printf("bench-io: %s, %dx%d, batch %d, input %s, augmentation %s, %d thread(s): %.0f slices/s (%lld batches in %.2f s)\n",
         s.path, s.h, s.w, batch, input_kind_name(kind), augment ? "on" : "off", threads,
         (double)n * batch / dt, (long long)n, dt);
  loader_free(l);
  free(idx), free(x), free(y);
  h5store_close(&s);
  return 0;
}
