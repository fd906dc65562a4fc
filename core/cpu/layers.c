/* core/layers.c: instantiates core/layers_impl.h for float and double. */
#include "core/cpu/layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#define REAL float
#define SFX

#include "core/cpu/layers_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX _f64
#include "core/cpu/layers_impl.h"
#undef REAL
#undef SFX
