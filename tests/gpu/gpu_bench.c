/* tests/gpu/gpu_bench.c: training and forward images/s of one UNet on one
 * backend, linked against core only (no HDF5/MPI/Cairo), so that the GPU
 * check can carry it to a machine without Debian's libraries. The same
 * numbers as `cordseg bench --device cuda`, plus achieved TFLOP/s (6 x the
 * forward MACs per training image: forward, backward data, backward weights;
 * 2 x for forward) and one JSON line per config for the check's summary.
 * usage: gpu_bench [--device cuda|cpu] [--backbone vgg16|resnet50] [--size S]
 *                  [--batch N] [--steps N] [--precision fp32|bf16] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/common.h"
#include "core/step.h"
#include "core/unet.h"

static double median(double *v, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
      double t = v[j];
      v[j] = v[j - 1], v[j - 1] = t;
    }
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
  const char *dev = "cuda", *bb = "vgg16", *prec = "fp32";
  int32_t size = 128, batch = 16, steps = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--device")) dev = argv[i + 1];
    else if (!strcmp(argv[i], "--backbone")) bb = argv[i + 1];
    else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--precision")) prec = argv[i + 1];
    else {
      fprintf(stderr, "usage: gpu_bench [--device cuda|cpu] [--backbone vgg16|resnet50] [--size S] [--batch N] "
                      "[--steps N] [--precision fp32|bf16]\n");
      return 2;
    }
  }
  const int kind = backend_parse(dev), b = unet_backbone_parse(bb);
  if (kind < 0 || b < 0 || size < 32 || batch < 1 || steps < 1) {
    fprintf(stderr, "gpu_bench: bad argument\n");
    return 2;
  }
  Backend *be = backend_init((BackendKind)kind, strcmp(prec, "bf16") ? BACKEND_PRECISION_FP32 : BACKEND_PRECISION_BF16, 0, -1);
  const int32_t K = 9;
  UnetConfig cfg = {(UnetBackbone)b, 1, K, 1, UNET_CONV_AUTO};
  const char *bad = unet_config_check(&cfg, size, size);
  if (bad) cs_fatal(NULL, "%s", bad);
  Unet *net = unet_init(be, &cfg, batch, size, size);
  LossConfig lc;
  loss_config_default(&lc, LOSS_KIND_HYBRID);
  Stepper st;
  stepper_init(&st, net, &lc, batch, size, size);
  const size_t nx = (size_t)batch * size * size;
  float *x = mallocCheck(nx * sizeof(float));
  uint8_t *y = mallocCheck(nx);
  Rng r;
  rng_init(&r, 1);
  for (size_t i = 0; i < nx; i++) x[i] = (float)rng_uniform(&r), y[i] = (uint8_t)rng_below(&r, K);
  double *ts = mallocCheck(sizeof(double) * (size_t)steps), res[2];
  const double mac = unet_forward_macs(net);
  for (int mode = 0; mode < 2; mode++) {
    for (int i = -3; i < steps; i++) { /* 3 warm-up steps: eager, capture, first replay */
      double t = cs_now();
      if (mode == 0) stepper_train(&st, x, y, 1e-4f);
      else unet_forward(net, x, 0);
      if (i >= 0) ts[i] = cs_now() - t;
    }
    res[mode] = batch / median(ts, steps);
  }
  const double tf_train = res[0] * 6 * mac / 1e12, tf_fwd = res[1] * 2 * mac / 1e12;
  printf("gpu_bench: %s %s %dx%d batch %d %s: train %.1f img/s (%.1f TFLOP/s), fwd %.1f img/s (%.1f TFLOP/s)%s | %s\n",
         be->name, bb, size, size, batch, prec, res[0], tf_train, res[1], tf_fwd, st.graph ? ", graph" : "", be->version);
  printf("{\"impl\":\"cordseg\",\"device\":\"%s\",\"model\":\"%s\",\"size\":%d,\"batch\":%d,\"precision\":\"%s\","
         "\"train_img_s\":%.3f,\"fwd_img_s\":%.3f,\"train_tflops\":%.3f,\"graph\":%d}\n",
         be->name, bb, size, batch, prec, res[0], res[1], tf_train, st.graph != NULL);
  stepper_free(&st);
  unet_free(net);
  backend_free(be);
  free(x), free(y), free(ts);
  return 0;
}
