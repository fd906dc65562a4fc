/* core/layers.c: instantiates core/layers_impl.h for float and double. */
#include "core/layers.h"

#include <math.h>
#include <string.h>

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
