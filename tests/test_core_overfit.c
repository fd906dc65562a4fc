/* tests/test_core_overfit.c: each backbone with each loss must drive the loss on
 * one fixed small batch down by a clear factor within a bounded number of Adam
 * steps (reduced widths, 32x32, batch 2). Also checks that the same seed gives
 * a bit-identical loss trajectory (determinism at a fixed thread count). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/step.h"
#include "sim/synth.h"
#include "tests/testutil.h"

enum { N = 2, S = 32, K = 9, STEPS = 150 };

static double run(UnetBackbone b, LossKind lk, double *traj) {
  float x[N * S * S];
  uint8_t y[N * S * S];
  synth_batch(x, y, N, 1, S, S, K, 3);
  UnetConfig cfg = {b, 1, K, 4, UNET_CONV_AUTO};
  Unet *net = unet_init(t_cpu(), &cfg, N, S, S);
  unet_init_weights(net, UNET_INIT_KAIMING, 5);
  LossConfig lc;
  loss_config_default(&lc, lk);
  lc.hdl_sigma = 1.0f; /* 32x32 slices: one pixel (the numbers of this test stay the same whatever the default) */
  Stepper st;
  stepper_init(&st, net, &lc, N, S, S);
  double first = 0, last = 0;
  for (int i = 0; i < STEPS; i++) {
    /* VGG has no BN: gentler steps (its HDL run stalls on saturated sigmoids above ~3e-4) */
    const float lr = b == UNET_BACKBONE_RESNET50 ? 1e-3f : lk == LOSS_KIND_HDL ? 2e-4f : 5e-4f;
    last = stepper_train(&st, x, y, lr);
    if (i == 0) first = last;
    if (traj) traj[i] = last;
  }
  last = stepper_eval(&st, x, y) * 0 + last; /* eval path must run too */
  stepper_free(&st);
  unet_free(net);
  printf("  %-8s %-6s loss %.5f -> %.5f (x%.3f) in %d steps\n", unet_backbone_name(b), loss_kind_name(lk), first, last,
         last / first, STEPS);
  T_CHECK(isfinite(last) && last < 0.4 * first, "%s/%s did not overfit: %.5f -> %.5f", unet_backbone_name(b),
          loss_kind_name(lk), first, last);
  return last;
}

int main(void) {
  const LossKind kinds[3] = {LOSS_KIND_HYBRID, LOSS_KIND_HDL, LOSS_KIND_CE};
  double t1[STEPS], t2[STEPS];
  for (int b = 0; b < 2; b++)
    for (int k = 0; k < 3; k++) run((UnetBackbone)b, kinds[k], b == 1 && k == 0 ? t1 : NULL);
  run(UNET_BACKBONE_RESNET50, LOSS_KIND_HYBRID, t2);
  T_CHECK(!memcmp(t1, t2, sizeof t1), "same seed, same loss trajectory (bit-identical)");
  return t_finish("test_core_overfit");
}
