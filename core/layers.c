/* core/layers.c: instantiates core/layers_impl.h for float and double. */
#include "core/layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

/* synchronized BatchNorm hook (layers.h); NULL = local batch statistics */
static void (*g_bn_allreduce)(double *v, int32_t n) = NULL;
static int32_t g_bn_world = 1;
void layers_set_bn_allreduce(void (*fn)(double *v, int32_t n), int32_t world) {
  g_bn_allreduce = fn;
  g_bn_world = fn ? world : 1;
}

#define REAL float
#define SFX

#include "core/layers_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX _f64
#include "core/layers_impl.h"
#undef REAL
#undef SFX
