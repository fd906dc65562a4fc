/* core/cuda/cuda_common.h: what every file of the CUDA backend shares: the
 * CUDA/cuDNN/NCCL headers, one check macro per library (file:line, the
 * failing call, the library's message and a hint the user can act on), the
 * __host__ __device__ marker and the kernel-launch macro.
 *
 * Host emulation (CI without a GPU): built with -DCORDSEG_CUDA_EMUL and the
 * include path tests/cuda_emul first, <cuda_runtime.h>, <cudnn.h> and
 * <nccl.h> are that folder's test doubles; CS_LAUNCH then runs the grid as
 * loops over blocks and threads (kernels here never synchronise inside a
 * block, so any order is valid), and the cuDNN double checks every
 * descriptor and computes with the CPU reference convolution.
 * defines: CS_HD, CS_LAUNCH, CUDA_CHECK, CUDNN_CHECK, NCCL_CHECK, cs_grid */
#ifndef CORDSEG_CUDA_COMMON_H
#define CORDSEG_CUDA_COMMON_H
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define CS_HD __host__ __device__

#ifdef CORDSEG_CUDA_EMUL
#define CS_LAUNCH(kernel, grid, block, stream, ...) \
  cuemul_launch((grid), (block), (stream), [=]() { kernel(__VA_ARGS__); })
#else
#define CS_LAUNCH(kernel, grid, block, stream, ...)            \
  do {                                                          \
    kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__);      \
    CUDA_CHECK(cudaGetLastError()); /* a bad launch, at its line */ \
  } while (0)
#endif

/* threads per block of the element-wise kernels, and a grid that covers n
 * elements with grid-stride loops (capped: the loops do the rest) */
#define CS_BLOCK 256
static inline unsigned cs_grid(size_t n) {
  size_t b = (n + CS_BLOCK - 1) / CS_BLOCK;
  return (unsigned)(b < 1 ? 1 : b > 65535 ? 65535 : b);
}

#define CUDA_CHECK(call)                                                                                             \
  do {                                                                                                               \
    cudaError_t e_ = (call);                                                                                         \
    if (e_ != cudaSuccess)                                                                                           \
      cs_fatal_at(__FILE__, __LINE__,                                                                                \
                  e_ == cudaErrorMemoryAllocation ? "lower batch or image size, or use a GPU with more memory"     \
                  : e_ == cudaErrorNoDevice || e_ == cudaErrorInsufficientDriver                                     \
                      ? "check nvidia-smi, CUDA_VISIBLE_DEVICES and the driver, or use device = cpu"                 \
                      : "rerun with CUDA_LAUNCH_BLOCKING=1 (and compute-sanitizer) to locate the failing kernel",    \
                  "CUDA call failed: %s: %s", #call, cudaGetErrorString(e_));                                        \
  } while (0)

#define CUDNN_CHECK(call)                                                                                            \
  do {                                                                                                               \
    cudnnStatus_t s_ = (call);                                                                                       \
    if (s_ != CUDNN_STATUS_SUCCESS)                                                                                  \
      cs_fatal_at(__FILE__, __LINE__,                                                                                \
                  "set CUDNN_LOGERR_DBG=1 CUDNN_LOGDEST_DBG=stderr for cuDNN's reason; try precision = fp32",       \
                  "cuDNN call failed: %s: %s", #call, cudnnGetErrorString(s_));                                      \
  } while (0)

#define NCCL_CHECK(call)                                                                                             \
  do {                                                                                                               \
    ncclResult_t r_ = (call);                                                                                        \
    if (r_ != ncclSuccess)                                                                                           \
      cs_fatal_at(__FILE__, __LINE__,                                                                                \
                  "rerun with NCCL_DEBUG=INFO; check that every rank sees its own GPU and the network between hosts", \
                  "NCCL call failed: %s: %s", #call, ncclGetErrorString(r_));                                        \
  } while (0)
#endif
