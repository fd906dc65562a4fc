/* sim/synth.h: a generated batch of cord-like slices for the smoke job and
 * the benchmark: an elliptic cord split into the 8 ROIs (left/right x dorsal,
 * lateral, ventral column, gray matter) with class-dependent intensity and
 * noise. Not anatomy: a fixed, seeded input that exercises every class.
 * defines: synth_batch */
#ifndef CORDSEG_SIM_SYNTH_H
#define CORDSEG_SIM_SYNTH_H
#include <stdint.h>
/* x [n][cin][h][w] (channel 0 "b0", channel 1 "fa"), y [n][h][w] in 0..k-1 */
void synth_batch(float *x, uint8_t *y, int32_t n, int32_t cin, int32_t h, int32_t w, int32_t k, uint64_t seed);
#endif
