/* jobs/fmapeak.h: the machine's measured FP32 FMA peak (see fmapeak.c). */
#ifndef CORDSEG_FMAPEAK_H
#define CORDSEG_FMAPEAK_H
/* GFLOP/s on all OpenMP threads; 0 when the CPU has neither AVX-512 nor AVX2.
 * *isa (if given) names the vector width used. */
double fmapeak_measure(const char **isa);
#endif
