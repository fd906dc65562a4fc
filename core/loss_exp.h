/* core/loss_exp.h: loss_expf, the float exp of the losses, shared by core/loss.c
 * (the float instantiation of core/loss_impl.h) and the CUDA kernels
 * (core/cuda/kernels.cu: the HDL targets made on the device), so that both
 * compute the same bits from the same squared distance.
 * defines: loss_expf */
#ifndef CORDSEG_LOSS_EXP_H
#define CORDSEG_LOSS_EXP_H
#include <stdint.h>
#include <string.h>

#ifndef CS_HD
#if defined(__CUDACC__)
#define CS_HD __host__ __device__
#else
#define CS_HD
#endif
#endif

/* products and sums the GPU must not contract into FMAs (nvcc's default), so
 * that a device and the host round alike: the device's __fmul_rn/__fadd_rn
 * (the host emulation's C++ has its own, which C++'s contraction cannot fuse
 * either); plain operators in C, where ISO C11 does not contract */
#if defined(__CUDA_ARCH__) || defined(CORDSEG_CUDA_EMUL_HEADERS)
#define LX_MUL(a, b) __fmul_rn((a), (b))
#define LX_ADD(a, b) __fadd_rn((a), (b))
#else
#define LX_MUL(a, b) ((a) * (b))
#define LX_ADD(a, b) ((a) + (b))
#endif

/* exp for the float path: range reduction x = n ln2 + r (Cody-Waite split of
 * ln2) and a degree-6 polynomial in r, relative error ~1e-7. Unlike libm's
 * expf it inlines, so the per-pixel loops that call it vectorise. Results
 * below FLT_MIN are flushed to 0; the loss only calls it with x <= 0. */
static CS_HD inline float loss_expf(float x) {
  const float lo = -87.3f, hi = 88.0f, shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  /* NaN compares false both ways: map it to lo (no shift of a negative or huge
   * value below), and give NaN back at the end so the step's finite check fires */
  const float xc = x < lo || x != x ? lo : (x > hi ? hi : x);
  const float fn = LX_ADD(LX_ADD(LX_MUL(xc, 1.44269504088896341f), shifter), -shifter);
  float r = LX_ADD(xc, -LX_MUL(fn, 0.693359375f));
  r = LX_ADD(r, -LX_MUL(fn, -2.12194440e-4f));
  float y = 1.9875691500e-4f;
  y = LX_ADD(LX_MUL(y, r), 1.3981999507e-3f);
  y = LX_ADD(LX_MUL(y, r), 8.3334519073e-3f);
  y = LX_ADD(LX_MUL(y, r), 4.1665795894e-2f);
  y = LX_ADD(LX_MUL(y, r), 1.6666665459e-1f);
  y = LX_ADD(LX_MUL(y, r), 5.0000001201e-1f);
  y = LX_ADD(LX_ADD(LX_MUL(y, LX_MUL(r, r)), r), 1.0f);
  const int32_t bits = ((int32_t)fn + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  y = LX_MUL(y, scale);
  return x != x ? x : x < lo ? 0.0f : y;
}

#endif
