/* tests/test_core_model.c: network bookkeeping and the optimizer:
 *  - parameter counts and forward MACs of both UNets against model.md
 *    (24,890,505 / 43,927,049 params; 14.061 / 5.697 GMAC at 128x128, in=1, K=9)
 *  - parameter naming/order (PyTorch named_parameters order, spot checks)
 *  - bad configurations are rejected with a message
 *  - the cosine schedule's check values from model.md section 4
 *  - Adam against a hand-computed double-precision Adam over 5 steps
 *  - N(0, 0.02) initialisation statistics and seeded reproducibility
 *  - forward determinism (same input twice -> identical logits)
 *  - conv_algo: auto (Winograd where the rule allows) against direct on the
 *    same weights and batch: logits and every parameter gradient agree
 *    within the stated tolerance, and the Winograd layers are the expected ones */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/adam.h"
#include "core/common.h"
#include "core/unet.h"
#include "tests/testutil.h"

static void check_counts(void) {
  UnetConfig v = {UNET_BACKBONE_VGG16, 1, 9, 1, UNET_CONV_AUTO}, r = {UNET_BACKBONE_RESNET50, 1, 9, 1, UNET_CONV_AUTO};
  size_t pv, pr;
  double mv, mr;
  unet_count(&v, 128, 128, &pv, &mv);
  unet_count(&r, 128, 128, &pr, &mr);
  T_CHECK(pv == 24890505, "vgg16 params %zu, want 24890505", pv);
  T_CHECK(pr == 43927049, "resnet50 params %zu, want 43927049", pr);
  T_CHECK(fabs(mv / 1e9 - 14.0614) < 5e-4, "vgg16 GMAC %.4f, want 14.0614", mv / 1e9);
  T_CHECK(fabs(mr / 1e9 - 5.6972) < 5e-4, "resnet50 GMAC %.4f, want 5.6972", mr / 1e9);
  UnetConfig v3 = {UNET_BACKBONE_VGG16, 2, 9, 1, UNET_CONV_AUTO};
  size_t p2;
  unet_count(&v3, 128, 128, &p2, NULL);
  T_CHECK(p2 == 24890505 + 9 * 64, "vgg16 in=2 params %zu", p2);
  printf("  vgg16 %zu params %.4f GMAC; resnet50 %zu params %.4f GMAC\n", pv, mv / 1e9, pr, mr / 1e9);
}

static void check_names(void) {
  UnetConfig r = {UNET_BACKBONE_RESNET50, 1, 9, 4, UNET_CONV_AUTO};
  Unet *net = unet_init(t_cpu(), &r, 2, 32, 32);
  const UnetTensorInfo *t0 = unet_tensor(net, 0), *t1 = unet_tensor(net, 1), *tl = unet_tensor(net, unet_num_tensors(net) - 1);
  T_CHECK(!strcmp(t0->name, "enc.conv1.weight") && t0->shape[0] == 16 && t0->shape[2] == 7, "first tensor %s", t0->name);
  T_CHECK(!strcmp(t1->name, "enc.bn1.weight"), "second tensor %s", t1->name);
  T_CHECK(!strcmp(tl->name, "final.bias") && tl->numel == 9, "last tensor %s", tl->name);
  int found_down = 0;
  for (size_t i = 0; i < unet_num_tensors(net); i++)
    if (!strcmp(unet_tensor(net, i)->name, "enc.layer1.0.down.1.bias")) {
      found_down = 1;
      T_CHECK(!strcmp(unet_tensor(net, i - 1)->name, "enc.layer1.0.down.1.weight") &&
                  !strcmp(unet_tensor(net, i - 2)->name, "enc.layer1.0.down.0.weight") &&
                  !strcmp(unet_tensor(net, i - 3)->name, "enc.layer1.0.bn3.bias"),
              "downsample order around %s", unet_tensor(net, i)->name);
    }
  T_CHECK(found_down, "enc.layer1.0.down.1.bias present");
  T_CHECK(unet_num_buffer_tensors(net) == 2 * 53, "resnet has 53 BN layers (%zu buffer tensors)", unet_num_buffer_tensors(net));
  size_t sum = 0;
  for (size_t i = 0; i < unet_num_tensors(net); i++) {
    T_CHECK(unet_tensor(net, i)->offset == sum, "tensor %zu offset contiguous", i);
    sum += unet_tensor(net, i)->numel;
  }
  T_CHECK(sum == unet_num_params(net), "tensor sizes add up to the flat buffer");
  unet_free(net);
}

static void check_bad_config(void) {
  UnetConfig c = {UNET_BACKBONE_RESNET50, 1, 9, 1, UNET_CONV_AUTO};
  T_CHECK(unet_config_check(&c, 128, 128) == NULL, "valid config accepted");
  const char *m = unet_config_check(&c, 112, 112);
  T_CHECK(m && strstr(m, "multiple of 32"), "resnet 112 rejected: %s", m ? m : "(accepted)");
  c.backbone = UNET_BACKBONE_VGG16;
  T_CHECK(unet_config_check(&c, 112, 112) == NULL, "vgg 112 accepted (multiple of 16)");
  c.classes = 1;
  m = unet_config_check(&c, 128, 128);
  T_CHECK(m && strstr(m, "classes"), "classes 1 rejected: %s", m ? m : "(accepted)");
  c.classes = 9, c.in_channels = 3;
  T_CHECK(unet_config_check(&c, 128, 128) != NULL, "in_channels 3 rejected");
  T_CHECK(unet_backbone_parse("vgg16") == 0 && unet_backbone_parse("resnet50") == 1 && unet_backbone_parse("unet") == -1,
          "backbone names");
}

static void check_schedule(void) {
  const double lr = 1e-4, mn = 1e-6;
  const struct { int e; double want, tol; } cv[] = {{0, 1e-5, 1e-12},  {1, 2e-5, 1e-12},   {2, 5e-5, 1e-12},
                                                   {3, 1e-4, 1e-12},  {100, 9.04e-5, 5e-8}, {244, 5.05e-5, 5e-8},
                                                   {400, 8.4e-6, 5e-8}, {484, 1.001e-6, 5e-10}, {485, 1e-6, 1e-15},
                                                   {499, 1e-6, 1e-15}};
  for (size_t i = 0; i < sizeof cv / sizeof cv[0]; i++) {
    double got = lr_cosine(cv[i].e, 500, lr, mn);
    T_CHECK(fabs(got - cv[i].want) <= cv[i].tol, "lr(epoch %d) = %.6g, want %.6g", cv[i].e, got, cv[i].want);
  }
}

static void check_adam(void) {
  enum { N = 1000 };
  Rng r;
  rng_init(&r, 7);
  float p[N], g[N];
  double pd[N], md[N] = {0}, vd[N] = {0};
  for (int i = 0; i < N; i++) p[i] = (float)rng_normal(&r), pd[i] = p[i];
  Adam a;
  adam_init(&a, N);
  for (int t = 1; t <= 5; t++) {
    for (int i = 0; i < N; i++) g[i] = (float)(rng_normal(&r) * (i % 7 + 1) * 1e-3);
    adam_step(&a, p, g, 1e-3f);
    for (int i = 0; i < N; i++) {
      md[i] = 0.9 * md[i] + 0.1 * g[i];
      vd[i] = 0.999 * vd[i] + 0.001 * (double)g[i] * g[i];
      double mh = md[i] / (1 - pow(0.9, t)), vh = vd[i] / (1 - pow(0.999, t));
      pd[i] -= 1e-3 * mh / (sqrt(vh) + 1e-8);
    }
  }
  double worst = 0;
  for (int i = 0; i < N; i++) worst = fmax(worst, fabs(p[i] - pd[i]));
  T_CHECK(worst < 1e-6, "adam vs double reference: max |diff| %.3g", worst);
  adam_free(&a);
}

static void check_init_and_determinism(void) {
  UnetConfig c = {UNET_BACKBONE_VGG16, 1, 9, 4, UNET_CONV_AUTO};
  Unet *a = unet_init(t_cpu(), &c, 2, 32, 32), *b = unet_init(t_cpu(), &c, 2, 32, 32);
  unet_init_weights(a, UNET_INIT_NORMAL, 11);
  unet_init_weights(b, UNET_INIT_NORMAL, 11);
  float *pa = t_params(a), *pb = t_params(b);
  T_CHECK(!memcmp(pa, pb, unet_num_params(a) * 4), "same seed, same weights");
  const UnetTensorInfo *t = unet_tensor(a, 2); /* features.2.weight */
  double s = 0, q = 0;
  for (size_t i = 0; i < t->numel; i++) s += pa[t->offset + i], q += pow(pa[t->offset + i], 2);
  double sd = sqrt(q / t->numel - pow(s / t->numel, 2));
  T_CHECK(fabs(sd - 0.02) < 0.002, "N(0,0.02) init: sd %.4f of %s", sd, t->name);
  unet_init_weights(b, UNET_INIT_NORMAL, 12);
  free(pb), pb = t_params(b);
  T_CHECK(memcmp(pa, pb, unet_num_params(a) * 4) != 0, "other seed, other weights");
  unet_init_weights(b, UNET_INIT_KAIMING, 11);
  free(pb), pb = t_params(b);
  const float *kw = pb + t->offset;
  q = 0;
  for (size_t i = 0; i < t->numel; i++) q += (double)kw[i] * kw[i];
  T_CHECK(fabs(sqrt(q / t->numel) - sqrt(2.0 / (t->shape[1] * 9))) < 0.1 * sqrt(2.0 / (t->shape[1] * 9)), "kaiming sd");
  /* forward determinism */
  float *x = malloc(2 * 32 * 32 * sizeof(float));
  Rng r;
  rng_init(&r, 3);
  for (int i = 0; i < 2 * 32 * 32; i++) x[i] = (float)rng_uniform(&r);
  size_t nl = 2 * 9 * 32 * 32;
  float *l1 = malloc(nl * 4);
  memcpy(l1, unet_forward(a, x, 1), nl * 4);
  const float *l2 = unet_forward(a, x, 1);
  T_CHECK(!memcmp(l1, l2, nl * 4), "forward is deterministic");
  int finite = 1;
  for (size_t i = 0; i < nl; i++) finite &= isfinite(l1[i]);
  T_CHECK(finite, "logits finite");
  free(x), free(l1), free(pa), free(pb);
  unet_free(a), unet_free(b);
}

static double rel_to_max(const float *a, const float *b, size_t n) {
  double d = 0, m = 0;
  for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i])), m = fmax(m, fabs((double)b[i]));
  return d / fmax(m, 1e-30);
}

/* Winograd vs direct, whole network, one forward + backward. Errors are
 * relative to the tensor's largest value; measured: VGG logits 1.9e-6, worst
 * gradient 6.1e-6; ResNet logits 3.0e-5, worst gradient 1.7e-3 (layer4's
 * train-mode BatchNorms see 8 values per channel here and amplify any fp32
 * rounding: test_torch_ref allows 5e-2 between fp32 and fp64 for the same
 * reason). */
static void check_conv_algo(UnetBackbone bb, int32_t S, int expect_wino, double tol_logits, double tol_grad) {
  const int32_t N = 2, K = 9;
  UnetConfig ca = {bb, 1, K, 4, UNET_CONV_AUTO}, cd = {bb, 1, K, 4, UNET_CONV_DIRECT};
  Unet *a = unet_init(t_cpu(), &ca, N, S, S), *d = unet_init(t_cpu(), &cd, N, S, S);
  unet_init_weights(a, UNET_INIT_KAIMING, 5);
  unet_init_weights(d, UNET_INIT_KAIMING, 5);
  int wa, wd, total;
  unet_conv_algo_count(a, &wa, &total);
  unet_conv_algo_count(d, &wd, &total);
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    T_CHECK(wa == expect_wino && wd == 0, "%s: Winograd convolutions auto %d (expected %d), direct %d of %d",
            unet_backbone_name(bb), wa, expect_wino, wd, total);
  Rng r;
  rng_init(&r, 8);
  const size_t nx = (size_t)N * S * S, nl = nx * K, np = unet_num_params(a);
  float *x = malloc(nx * 4), *dl = malloc(nl * 4), *la = malloc(nl * 4);
  for (size_t i = 0; i < nx; i++) x[i] = (float)rng_uniform(&r);
  for (size_t i = 0; i < nl; i++) dl[i] = (float)(rng_uniform(&r) - 0.5) * 1e-3f;
  memcpy(la, unet_forward(a, x, 1), nl * 4);
  const double el = rel_to_max(la, unet_forward(d, x, 1), nl);
  unet_backward(a, dl);
  unet_backward(d, dl);
  float *ga = t_grads(a), *gd = t_grads(d);
  double eg = 0;
  const char *worst = "";
  for (size_t i = 0; i < unet_num_tensors(a); i++) {
    const UnetTensorInfo *t = unet_tensor(a, i);
    const double e = rel_to_max(ga + t->offset, gd + t->offset, t->numel);
    if (e > eg) eg = e, worst = t->name;
  }
  printf("  conv_algo %s: %d of %d convolutions Winograd; logits %.1e, worst gradient %.1e (%s)\n",
         unet_backbone_name(bb), wa, total, el, eg, worst);
  T_CHECK(el < tol_logits, "%s: Winograd logits differ from direct by %.3g", unet_backbone_name(bb), el);
  T_CHECK(eg < tol_grad, "%s: Winograd gradient of %s differs from direct by %.3g", unet_backbone_name(bb), worst, eg);
  (void)np;
  free(x), free(dl), free(la);
  unet_free(a), unet_free(d);
}

int main(void) {
  check_counts();
  check_names();
  check_bad_config();
  check_schedule();
  check_adam();
  check_init_and_determinism();
  /* width/4 at 64x64, 3x3 stride-1 layers on maps >= 16x16 with 16k
   * channels: VGG 2 + 1 + 3 encoder (not the 1-channel first) + 6 decoder;
   * ResNet 3 layer1 conv2 + 4 decoder + 2 up_conv */
  check_conv_algo(UNET_BACKBONE_VGG16, 64, 12, 1e-5, 1e-4);
  check_conv_algo(UNET_BACKBONE_RESNET50, 64, 9, 1e-4, 1e-2);
  return t_finish("test_core_model");
}
