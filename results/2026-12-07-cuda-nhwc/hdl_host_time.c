/* results/2026-12-07-cuda-nhwc/hdl_host_time.c: the host work the device HDL
 * targets removed from every CUDA step: loss_hdl_target on a batch of 16
 * blob label maps, 9 classes, sigma 2, best of 5. Build (from the worktree
 * root, after the emulation build) and run:
 *   gcc -O3 -march=native -fopenmp -I. results/2026-12-07-cuda-nhwc/hdl_host_time.c \
 *     build/libcordseg_core_emul.a -ldnnl -lstdc++ -lm -o /tmp/hdl_host_time
 *   OMP_NUM_THREADS=1 /tmp/hdl_host_time 128 */
#include <stdio.h>
#include <stdlib.h>
#include <omp.h>
#include "core/common.h"
#include "core/loss.h"
int main(int argc, char **argv) {
  const int s = atoi(argv[1]), n = 16, k = 9, reps = 5;
  uint8_t *y = malloc((size_t)n * s * s);
  float *t = malloc((size_t)n * k * s * s * sizeof(float));
  for (int b = 0; b < n; b++) /* blobs of classes 1..8 on background */
    for (int i = 0; i < s * s; i++) {
      int py = i / s, px = i % s, cy = s / 2 + b % 5, cx = s / 2 - b % 3;
      int d2 = (py - cy) * (py - cy) + (px - cx) * (px - cx);
      y[(size_t)b * s * s + i] = d2 < s * s / 64 ? 1 + (px + py) % 8 : 0;
    }
  double best = 1e9;
  for (int r = 0; r < reps; r++) {
    double t0 = cs_now();
    loss_hdl_target(y, n, k, s, s, 2.0f, t);
    double dt = cs_now() - t0;
    best = dt < best ? dt : best;
  }
  printf("loss_hdl_target %dx%d batch %d, %d classes, %d thread(s): best of %d %.1f ms; upload it replaced %.1f MB\n", s, s, n, k,
         omp_get_max_threads(), reps, best * 1e3, (double)n * k * s * s * 4 / 1e6);
  return 0;
}
