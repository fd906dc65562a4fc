/* tests/test_io_loader.c: the batch loader shards exactly (world=1 batch=4
 * equals world=2 batch=2 concatenated, augmentation on, across epochs),
 * covers each slice once per epoch, is deterministic per seed, puts b0 then
 * FA in the channels, and a horizontal flip mirrors the image AND swaps the
 * left/right label ids. Prints loader slices/s with augmentation. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/h5store.h"
#include "io/labels.h"
#include "io/loader.h"
#include "tests/testutil.h"

enum { H = 24, W = 20, NS = 12, HW = H * W };

static void make_store(const char *path) {
  static float b0[NS * HW], fa[NS * HW];
  static uint8_t lab[NS * HW];
  SliceMeta meta[NS];
  for (int s = 0; s < NS; s++) {
    meta[s] = (SliceMeta){.subject = s / 4, .slice = s % 4, .level = 3, .spacing = {0.625f, 0.625f}};
    for (int r = 0; r < H; r++)
      for (int c = 0; c < W; c++) {
        size_t i = (size_t)s * HW + r * W + c;
        b0[i] = (float)(100 + 10 * s + r + 0.5 * c);
        fa[i] = (float)(s + 1) / 100.0f; /* encodes the slice index */
        /* left half of the image = patient right -> R labels; a few rows of each class */
        int cls = 1 + (r / 6) % 4;
        lab[i] = r < 2 ? 0 : (uint8_t)(c < W / 2 ? cls + 4 : cls);
      }
  }
  H5Store st;
  h5store_create(&st, path, H, W, 0, "test_io_loader");
  h5store_append(&st, NS, b0, fa, NULL, NULL, NULL, lab, meta);
  h5store_commit(&st);
}

int main(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/test_io_loader.%d.h5", CORDSEG_BINARY_DIR, (int)getpid());
  make_store(path);
  H5Store s;
  h5store_open(&s, path);
  int32_t idx[NS];
  for (int i = 0; i < NS; i++) idx[i] = i;
  AugmentConfig aug;
  augment_config_default(&aug);

  /* sharding: world 1 x batch 4 == world 2 x batch 2, 7 steps (over 2 epochs) */
  Loader *one = loader_init(&s, idx, NS, 4, 0, 1, 11, &aug, INPUT_B0_FA);
  Loader *r0 = loader_init(&s, idx, NS, 2, 0, 2, 11, &aug, INPUT_B0_FA);
  Loader *r1 = loader_init(&s, idx, NS, 2, 1, 2, 11, &aug, INPUT_B0_FA);
  T_CHECK(loader_steps_per_epoch(one) == 3 && loader_steps_per_epoch(r0) == 3, "3 steps per epoch");
  static float x1[4 * 2 * HW], xa[2 * 2 * HW], xb[2 * 2 * HW];
  static uint8_t y1[4 * HW], ya[2 * HW], yb[2 * HW];
  int same = 1, epochs_ok = 1;
  for (int step = 0; step < 7; step++) {
    int64_t e1 = loader_next(one, x1, y1), ea = loader_next(r0, xa, ya), eb = loader_next(r1, xb, yb);
    epochs_ok &= e1 == step / 3 && ea == e1 && eb == e1;
    same &= !memcmp(x1, xa, sizeof xa) && !memcmp(x1 + 2 * 2 * HW, xb, sizeof xb);
    same &= !memcmp(y1, ya, sizeof ya) && !memcmp(y1 + 2 * HW, yb, sizeof yb);
  }
  T_CHECK(epochs_ok, "epoch numbers follow steps/epoch");
  T_CHECK(same, "rank shards concatenate to the world=1 batch, bit for bit, with augmentation");
  loader_free(one), loader_free(r0), loader_free(r1);

  /* determinism and seed sensitivity */
  Loader *a1 = loader_init(&s, idx, NS, 4, 0, 1, 5, &aug, INPUT_B0_FA), *a2 = loader_init(&s, idx, NS, 4, 0, 1, 5, &aug, INPUT_B0_FA),
         *a3 = loader_init(&s, idx, NS, 4, 0, 1, 6, &aug, INPUT_B0_FA);
  static float x2[4 * 2 * HW], x3[4 * 2 * HW];
  static uint8_t y2[4 * HW], y3[4 * HW];
  loader_set_threads(a2, 3); /* the augmentation threads change the speed, not the batch */
  for (int k = 0; k < 2; k++) loader_next(a1, x1, y1), loader_next(a2, x2, y2), loader_next(a3, x3, y3);
  T_CHECK(!memcmp(x1, x2, sizeof x2) && !memcmp(y1, y2, sizeof y2), "same seed, same second batch (1 and 3 threads)");
  T_CHECK(memcmp(x1, x3, sizeof x3) != 0, "another seed, another batch");
  loader_free(a1), loader_free(a2), loader_free(a3);

  /* coverage and channel order, no augmentation */
  Loader *p = loader_init(&s, idx, NS, 4, 0, 1, 9, NULL, INPUT_B0_FA);
  int seen[NS] = {0}, chan_ok = 1;
  for (int step = 0; step < 3; step++) {
    loader_next(p, x1, y1);
    for (int j = 0; j < 4; j++) {
      int sl = (int)lrintf(x1[(j * 2 + 1) * HW] * 100) - 1; /* FA channel encodes the slice */
      if (sl >= 0 && sl < NS) seen[sl]++;
      float b0max = 0;
      for (int i = 0; i < HW; i++) b0max = fmaxf(b0max, x1[(j * 2) * HW + i]);
      chan_ok &= b0max > 0.9f && b0max < 1.1f; /* channel 0 = normalised b0 */
    }
  }
  int once = 1;
  for (int i = 0; i < NS; i++) once &= seen[i] == 1;
  T_CHECK(once, "each slice exactly once per epoch");
  T_CHECK(chan_ok, "channel 0 is b0 normalised to ~1, channel 1 is FA");
  loader_free(p);

  /* flip: mirror image and swap L/R labels */
  static float in[HW], out[HW];
  static uint8_t lin[HW], lout[HW];
  int32_t i0 = 0;
  h5store_read_slices(&s, &i0, 1, in, NULL, lin);
  AugmentConfig fl = {.enabled = 1, .flip_prob = 1, .scale_min = 1, .scale_max = 1};
  Rng r;
  rng_init(&r, 1);
  augment_apply(&fl, &r, 1, H, W, in, lin, out, lout);
  int mirror = 1, swapped = 1;
  for (int rr = 0; rr < H; rr++)
    for (int c = 0; c < W; c++) {
      mirror &= out[rr * W + c] == in[rr * W + (W - 1 - c)];
      swapped &= lout[rr * W + c] == LABEL_LR_SWAP[lin[rr * W + (W - 1 - c)]];
    }
  /* the convention survives the flip: image-left (patient right) still holds R
   * labels (a flip without the swap would put L ids there) */
  int right_on_left = 1;
  for (int rr = 2; rr < H; rr++) right_on_left &= lout[rr * W + 0] >= 5 && lout[rr * W + 0] <= 8;
  T_CHECK(mirror, "flip mirrors the image columns");
  T_CHECK(swapped && right_on_left, "flip swaps left/right label ids (1<->5, 2<->6, 3<->7, 4<->8)");

  /* augmented labels stay in 0..8 and keep both sides */
  Loader *q = loader_init(&s, idx, NS, 4, 0, 1, 3, &aug, INPUT_B0);
  int valid = 1;
  double t0 = cs_now();
  int nb = 0;
  while (cs_now() - t0 < 0.5) {
    loader_next(q, x1, y1);
    nb++;
    for (int i = 0; i < 4 * HW; i++) valid &= y1[i] <= LABEL_MAX;
  }
  printf("loader (%dx%d, augmented, b0): %.0f slices/s\n", H, W, nb * 4 / (cs_now() - t0));
  T_CHECK(valid, "augmented labels in 0..8");
  loader_free(q);
  h5store_close(&s);
  unlink(path);
  return t_finish("test_io_loader");
}
