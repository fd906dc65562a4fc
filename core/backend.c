/* core/backend.c: picking and creating a backend (see core/backend.h). The
 * CUDA constructor lives in core/cuda/ when the build has it; without it the
 * stubs here say so before any work is done. */
#include "core/backend.h"

#include <stdlib.h>
#include <strings.h>

#include "core/common.h"

static const char *const KIND_NAMES[] = {"cpu", "cuda", "auto"}, *const PRECISION_NAMES[] = {"fp32", "bf16"};
const CsEnum BACKEND_KIND_ENUM = {KIND_NAMES, 3}, BACKEND_PRECISION_ENUM = {PRECISION_NAMES, 2};

int backend_parse(const char *name) { return cs_enum_parse(&BACKEND_KIND_ENUM, name); }

int backend_compiled(BackendKind kind) {
#ifdef CORDSEG_WITH_CUDA
  if (kind == BACKEND_KIND_CUDA) return 1;
#endif
  return kind == BACKEND_KIND_CPU || kind == BACKEND_KIND_AUTO;
}

#ifndef CORDSEG_WITH_CUDA
int backend_cuda_device_count(void) { return 0; }
Backend *backend_cuda_init(BackendPrecision precision, int deterministic, int device_index) {
  (void)precision, (void)deterministic, (void)device_index;
  cs_fatal("rebuild with -DCORDSEG_WITH_CUDA=ON (needs nvcc, cuDNN and NCCL), or use device = cpu",
           "device = cuda, but this cordseg was built without the CUDA backend");
}
#endif

Backend *backend_init(BackendKind kind, BackendPrecision precision, int deterministic, int device_index) {
  if (kind == BACKEND_KIND_AUTO)
    kind = backend_compiled(BACKEND_KIND_CUDA) && backend_cuda_device_count() > 0 ? BACKEND_KIND_CUDA : BACKEND_KIND_CPU;
  if (kind == BACKEND_KIND_CUDA) return backend_cuda_init(precision, deterministic, device_index);
  if (precision != BACKEND_PRECISION_FP32)
    cs_fatal("use precision = fp32 with device = cpu (bf16 is a CUDA backend option)",
             "precision bf16 is not supported by the CPU backend");
  return backend_cpu_init();
}

void backend_free(Backend *be) {
  if (be) be->destroy(be);
}
