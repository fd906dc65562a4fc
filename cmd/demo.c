/* cmd/demo.c: `cordseg demo`: the smoke job. Trains each backbone a few
 * Adam steps on one generated batch and prints the loss per step. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/common.h"
#include "core/step.h"
#include "cmd/cli.h"
#include "sim/synth.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "demo");
  fprintf(f,
          "Trains UNet-VGG16 and UNet-ResNet50 (full paper widths) for a few Adam steps on one\n"
          "generated batch of cord-like slices and prints the loss per step: a check that the\n"
          "build works end to end on this machine.\n\n");
}

int cmd_demo(int argc, char **argv) {
  int backbone = -1, loss = LOSS_KIND_HYBRID;
  int32_t steps = 8, batch = 2, size = 64, in = 1;
  double lr = 1e-4;
  uint64_t seed = 11;
  const CliOption opts[] = {
      CLI_CHOICE("backbone", 0, &backbone, unet_backbone_parse, "unknown backbone '%s': use vgg16 or resnet50",
                 .arg = "B", .help = "vgg16 or resnet50 (default: both)"),
      CLI_CHOICE("loss", 0, &loss, loss_kind_parse, "unknown loss '%s': use hybrid, hdl or ce",
                 .help = "hybrid (default: focal + dice), hdl or ce"),
      CLI_INT32("steps", 0, &steps, 1, 100000, .help = "Adam steps per backbone (default 8)"),
      CLI_INT32("batch", 0, &batch, 1, 1024, .help = "images per batch (default 2)"),
      CLI_INT32("size", 0, &size, 16, 4096, .arg = "S", .help = "square image size (default 64)"),
      CLI_INT32("in-channels", 0, &in, 1, 2, .help = "input channels, 1 or 2 (default 1)"),
      CLI_DOUBLE("lr", 0, &lr, 1e-12, 1.0, .arg = "LR", .help = "learning rate (default 1e-4, the paper's peak)"),
      CLI_UINT64("seed", 0, &seed, 0, INT64_MAX, .arg = "S", .help = "seed of the batch and the weights (default 11)"),
      CLI_END};
  int pos = cli_parse("demo", argc, argv, opts, usage);
  if (pos < argc) cli_usage_error("demo", "unexpected argument '%s'", argv[pos]);
  const int32_t k = 9;
  float *x = mallocCheck((size_t)batch * in * size * size * sizeof(float));
  uint8_t *y = mallocCheck((size_t)batch * size * size);
  synth_batch(x, y, batch, in, size, size, k, seed);
  LossConfig lc;
  loss_config_default(&lc, (LossKind)loss);
  printf("cordseg demo: %d steps, batch %d, %dx%d, in=%d, loss %s, lr %g, %d threads\n", steps, batch, size, size, in,
         loss_kind_name((LossKind)loss), lr, omp_get_max_threads());
  for (int b = 0; b < 2; b++) {
    if (backbone >= 0 && b != backbone) continue;
    UnetConfig cfg = {(UnetBackbone)b, in, k, 1, UNET_CONV_AUTO};
    const char *bad = unet_config_check(&cfg, size, size);
    if (bad) cli_usage_error("demo", "%s", bad);
    Backend *be = backend_cpu_init();
    Unet *net = unet_init(be, &cfg, batch, size, size);
    unet_init_weights(net, UNET_INIT_NORMAL, seed);
    Stepper st;
    stepper_init(&st, net, &lc, batch, size, size);
    double first = 0, last = 0, t0 = cs_now();
    for (int32_t i = 0; i < steps; i++) {
      double ts = cs_now();
      last = stepper_train(&st, x, y, (float)lr);
      if (i == 0) first = last;
      printf("  %-8s step %3d/%d  loss %.6f  (%.2f s)\n", unet_backbone_name(cfg.backbone), i + 1, steps, last,
             cs_now() - ts);
      fflush(stdout);
    }
    printf("  %-8s loss %.6f -> %.6f over %d steps, %.1f images/s\n", unet_backbone_name(cfg.backbone), first, last,
           steps, (double)steps * batch / (cs_now() - t0));
    stepper_free(&st);
    unet_free(net);
    backend_free(be);
  }
  free(x);
  free(y);
  return 0;
}
