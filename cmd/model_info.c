/* cmd/model_info.c: `cordseg model-info`: parameters and forward MACs. */
#include <stdio.h>
#include <string.h>

#include "core/unet.h"
#include "cmd/cli.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "model-info");
  fprintf(f, "Prints the parameter count and forward multiply-accumulates (convolutions) per image.\n\n");
}

int cmd_model_info(int argc, char **argv) {
  int backbone = -1, tensors = 0;
  int32_t in = 1, k = 9, size = 128;
  const CliOption opts[] = {
      CLI_CHOICE("backbone", 0, &backbone, unet_backbone_parse, "unknown backbone '%s': use vgg16 or resnet50",
                 .arg = "B", .help = "vgg16 or resnet50 (default: both)"),
      CLI_INT32("in-channels", 0, &in, 1, 2, .help = "1 (b0 or fa) or 2 (b0+fa); default 1"),
      CLI_INT32("classes", 0, &k, 2, 255, .arg = "K", .help = "output classes incl. background; default 9"),
      CLI_INT32("size", 0, &size, 16, 4096, .arg = "S",
                .help = "square input size; multiple of 16 (vgg16) or 32 (resnet50); default 128"),
      CLI_FLAG_ON("tensors", 0, &tensors, .help = "also list every parameter tensor (PyTorch names, shapes)"),
      CLI_END};
  int pos = cli_parse("model-info", argc, argv, opts, usage);
  if (pos < argc) cli_usage_error("model-info", "unexpected argument '%s'", argv[pos]);
  printf("%-9s %3s %3s %5s %12s %10s\n", "backbone", "in", "K", "size", "params", "GMAC/img");
  for (int b = 0; b < 2; b++) {
    if (backbone >= 0 && b != backbone) continue;
    UnetConfig cfg = {(UnetBackbone)b, in, k, 1, UNET_CONV_AUTO};
    const char *bad = unet_config_check(&cfg, size, size);
    if (bad) {
      fprintf(stderr, "cordseg model-info: error: %s\n", bad);
      return 2;
    }
    size_t np;
    double macs;
    unet_count(&cfg, size, size, &np, &macs);
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", np);
    /* thousands separators */
    char out[40];
    int len = (int)strlen(buf), o = 0;
    for (int i = 0; i < len; i++) {
      out[o++] = buf[i];
      if ((len - i - 1) % 3 == 0 && i < len - 1) out[o++] = ',';
    }
    out[o] = 0;
    printf("%-9s %3d %3d %5d %12s %10.3f\n", unet_backbone_name(cfg.backbone), in, k, size, out, macs / 1e9);
    if (tensors) {
      Backend *be = backend_cpu_init();
      Unet *net = unet_init(be, &cfg, 1, size, size);
      for (size_t i = 0; i < unet_num_tensors(net); i++) {
        const UnetTensorInfo *t = unet_tensor(net, i);
        printf("  %-40s", t->name);
        for (int d = 0; d < t->ndim; d++) printf("%s%d", d ? "x" : "", t->shape[d]);
        printf("\n");
      }
      unet_free(net);
      backend_free(be);
    }
  }
  return 0;
}
