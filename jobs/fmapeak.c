/* jobs/fmapeak.c: measures this CPU's FP32 FMA peak on all OpenMP threads
 * (12 independent FMA chains per thread, registers only), so `cordseg bench`
 * can give %peak for the machine it runs on rather than a number measured on
 * another host. AVX-512 where the CPU has it, else AVX2+FMA; ~0.3 s. */
#include "jobs/fmapeak.h"

#include <immintrin.h>
#include <omp.h>

#include "core/common.h"

#define FMA_CHAINS 12
#define FMA_ITERS 4000000L

static volatile float g_sink;

__attribute__((target("avx512f"))) static float chains512(long iters) {
  __m512 acc[FMA_CHAINS];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < FMA_CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < FMA_CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < FMA_CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float chains256(long iters) {
  __m256 acc[FMA_CHAINS];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < FMA_CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < FMA_CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < FMA_CHAINS; i++) s = _mm256_add_ps(s, acc[i]);
  float v[8];
  _mm256_storeu_ps(v, s);
  return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

double fmapeak_measure(const char **isa) {
  __builtin_cpu_init();
  const int w512 = __builtin_cpu_supports("avx512f"), w256 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa) *isa = w512 ? "AVX-512" : w256 ? "AVX2" : "none";
  if (!w512 && !w256) return 0;
  const int lanes = w512 ? 16 : 8;
  const long iters = w512 ? FMA_ITERS : 2 * FMA_ITERS;
  double best = 0;
  float sink = 0;
  for (int rep = 0; rep < 3; rep++) {
    const double t = cs_now();
    int nthr = 1;
#pragma omp parallel reduction(+ : sink)
    {
#pragma omp single
      nthr = omp_get_num_threads();
      sink += w512 ? chains512(iters) : chains256(iters);
    }
    const double dt = cs_now() - t;
    const double gflops = 2.0 * lanes * FMA_CHAINS * (double)iters * nthr / dt / 1e9;
    if (gflops > best) best = gflops;
  }
  g_sink = sink; /* keeps the chains alive */
  return best;
}
