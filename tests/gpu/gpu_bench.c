/* tests/gpu/gpu_bench.c: training and forward images/s of one UNet on one
 * backend, linked against core only (no HDF5/MPI/Cairo), so that the GPU
 * check can carry it to a machine without Debian's libraries. The same
 * numbers as `cordseg bench --device cuda`, plus achieved TFLOP/s (6 x the
 * forward MACs per training image: forward, backward data, backward weights;
 * 2 x for forward) and one JSON line per config for the check's summary.
 * The steps cycle through 4 different batches (a replay that trained on a
 * stale batch would not show in the timing, but a real loader's batches
 * differ, and the upload is part of the step). --describe prints every
 * convolution's shape and the algorithm and math type chosen per pass.
 * Without a GPU it exits 77 with the reason (prepare.sh runs it once here);
 * gpu_bench_emul is the same code against the host emulation.
 * --loss hdl trains with HDL (its targets made by the backend from the
 * labels, on the GPU with CUDA) instead of hybrid.
 * usage: gpu_bench [--device cuda|cpu] [--backbone vgg16|resnet50] [--size S]
 *                  [--batch N] [--steps N] [--precision fp32|bf16]
 *                  [--loss hybrid|hdl] [--no-graph] [--describe] [--width-div 1|2|4] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/common.h"
#include "core/step.h"
#include "core/unet.h"

#define NBATCH 4

#ifdef CORDSEG_TEST_EMUL
long long cordseg_emul_kernels(void);
long long cordseg_emul_cudnn_calls(void);
double cordseg_emul_bytes(void);
void cordseg_emul_traffic_mark(void);
void cordseg_emul_traffic_top(char *buf, size_t len, int top);
#endif

static double median(double *v, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
      double t = v[j];
      v[j] = v[j - 1], v[j - 1] = t;
    }
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void usage(FILE *f) {
  fprintf(f, "usage: gpu_bench [--device cuda|cpu] [--backbone vgg16|resnet50] [--size S] [--batch N] [--steps N]\n"
             "                 [--precision fp32|bf16] [--loss hybrid|hdl] [--no-graph] [--describe] [--width-div 1|2|4]\n"
             "Training and forward images/s of one UNet (hybrid loss unless --loss hdl, 9 classes), one JSON line for the "
             "GPU check.\n");
}

static void describe(const Unet *net) {
  for (int i = 0; i < unet_num_convs(net); i++) {
    const ConvSpec *c = unet_conv_spec(net, i);
    printf("conv %3d %dx%d/s%d %4d->%-4d %4dx%-4d n%d | %s | %s | %s\n", i, c->k, c->k, c->stride, c->cin, c->cout, c->hin,
           c->win, c->n, unet_conv_describe(net, i, 0), unet_conv_describe(net, i, 1), unet_conv_describe(net, i, 2));
  }
}

int main(int argc, char **argv) {
  const char *dev = "cuda", *bb = "vgg16", *prec = "fp32", *lossname = "hybrid";
  int32_t size = 128, batch = 16, steps = 20, wdiv = 1;
  int no_graph = 0, desc = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--no-graph")) no_graph = 1;
    else if (!strcmp(a, "--describe")) desc = 1;
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout), 0;
    else if (!v) return usage(stderr), 2;
    else if (!strcmp(a, "--device")) dev = v, i++;
    else if (!strcmp(a, "--backbone")) bb = v, i++;
    else if (!strcmp(a, "--size")) size = atoi(v), i++;
    else if (!strcmp(a, "--batch")) batch = atoi(v), i++;
    else if (!strcmp(a, "--steps")) steps = atoi(v), i++;
    else if (!strcmp(a, "--precision")) prec = v, i++;
    else if (!strcmp(a, "--loss")) lossname = v, i++;
    else if (!strcmp(a, "--width-div")) wdiv = atoi(v), i++;
    else return usage(stderr), 2;
  }
  const int kind = backend_parse(dev), b = unet_backbone_parse(bb), lk = loss_kind_parse(lossname);
  if (kind < 0 || b < 0 || (lk != LOSS_KIND_HYBRID && lk != LOSS_KIND_HDL) || size < 32 || batch < 1 || steps < 1 ||
      (strcmp(prec, "fp32") && strcmp(prec, "bf16")) ||
      (wdiv != 1 && wdiv != 2 && wdiv != 4)) {
    fprintf(stderr, "gpu_bench: bad argument\n");
    return usage(stderr), 2;
  }
#ifndef CORDSEG_TEST_EMUL
  if (kind == BACKEND_KIND_CUDA && (!backend_compiled(BACKEND_KIND_CUDA) || backend_cuda_device_count() == 0)) {
    printf("gpu_bench: SKIP: no CUDA GPU visible here (this binary is for tests/gpu/device-check.sh on a GPU machine)\n");
    return 77;
  }
#endif
  Backend *be = backend_init((BackendKind)kind, strcmp(prec, "bf16") ? BACKEND_PRECISION_FP32 : BACKEND_PRECISION_BF16, 0, -1);
  const int32_t K = 9;
  UnetConfig cfg = {(UnetBackbone)b, 1, K, wdiv, UNET_CONV_AUTO};
  const char *bad = unet_config_check(&cfg, size, size);
  if (bad) cs_fatal(NULL, "%s", bad);
  Unet *net = unet_init(be, &cfg, batch, size, size);
  LossConfig lc;
  loss_config_default(&lc, (LossKind)lk);
  Stepper st;
  stepper_init(&st, net, &lc, batch, size, size);
  if (no_graph) st.use_graph = 0;
  const size_t nx = (size_t)batch * size * size;
  float *x = mallocCheck(NBATCH * nx * sizeof(float));
  uint8_t *y = mallocCheck(NBATCH * nx);
  Rng r;
  rng_init(&r, 1);
  for (size_t i = 0; i < NBATCH * nx; i++) x[i] = (float)rng_uniform(&r), y[i] = (uint8_t)rng_below(&r, K);
  double *ts = mallocCheck(sizeof(double) * (size_t)steps), res[2], loss = 0;
  const double mac = unet_forward_macs(net);
  for (int mode = 0; mode < 2; mode++) {
    for (int i = -3; i < steps; i++) { /* 3 warm-up steps: eager, capture, first replay */
      const size_t k = (size_t)(i + 3) % NBATCH;
      double t = cs_now();
#ifdef CORDSEG_TEST_EMUL
      const long long k0 = cordseg_emul_kernels(), d0 = cordseg_emul_cudnn_calls();
      const double b0 = cordseg_emul_bytes();
      cordseg_emul_traffic_mark();
#endif
      if (mode == 0) loss = stepper_train(&st, x + k * nx, y + k * nx, 1e-4f);
      else unet_forward(net, x + k * nx, 0);
      if (i >= 0) ts[i] = cs_now() - t;
#ifdef CORDSEG_TEST_EMUL
      if (mode == 0 && i == steps - 1) { /* the emulation's count of the last training step (CUEMUL_COUNT_ONLY=1: fast) */
        char top[1024];
        cordseg_emul_traffic_top(top, sizeof top, 8);
        printf("gpu_bench: emulation, one training step: %lld kernels + %lld cuDNN calls, %.3f GB declared traffic; most: "
               "%s\n",
               cordseg_emul_kernels() - k0, cordseg_emul_cudnn_calls() - d0, (cordseg_emul_bytes() - b0) / 1e9, top);
      }
#endif
    }
    res[mode] = batch / median(ts, steps);
  }
  if (desc) describe(net);
  const double tf_train = res[0] * 6 * mac / 1e12, tf_fwd = res[1] * 2 * mac / 1e12;
  printf("gpu_bench: %s %s %dx%d batch %d %s %s: train %.1f img/s (%.1f TFLOP/s), fwd %.1f img/s (%.1f TFLOP/s)%s, "
         "last loss %.4f | %s\n",
         be->name, bb, size, size, batch, prec, lossname, res[0], tf_train, res[1], tf_fwd, st.graph ? ", graph" : ", eager", loss,
         be->version);
  printf("{\"impl\":\"cordseg%s\",\"device\":\"%s\",\"model\":\"%s\",\"size\":%d,\"batch\":%d,\"precision\":\"%s\","
         "\"train_img_s\":%.3f,\"fwd_img_s\":%.3f,\"train_tflops\":%.3f,\"graph\":%d}\n",
         lk == LOSS_KIND_HDL ? "-hdl" : "", be->name, bb, size, batch, prec, res[0], res[1], tf_train, st.graph != NULL);
  stepper_free(&st);
  unet_free(net);
  backend_free(be);
  free(x), free(y), free(ts);
  return 0;
}
