/* core/cuda/cuda_common.h: what every file of the CUDA backend shares: the
 * CUDA/cuDNN/NCCL headers, one check macro per library (file:line, the
 * failing call, the library's message and a hint the user can act on), the
 * __host__ __device__ marker and the kernel-launch macro.
 *
 * Graph capture: while backend_cuda.cu captures a training step, the check
 * macros do not stop the process on a failing call: cuda_capture_note
 * records the first failure (file:line, call, message) in the capture log
 * that cuda_capture_log points to on this thread, and the capture is then
 * discarded and the step run eagerly (cu_graph_end). That thread-local
 * pointer is the one piece of state here; it is non-NULL only between
 * cudaStreamBeginCapture and cudaStreamEndCapture.
 *
 * Host emulation (CI without a GPU): built with -DCORDSEG_CUDA_EMUL and the
 * include path tests/cuda_emul first, <cuda_runtime.h>, <cudnn.h> and
 * <nccl.h> are that folder's test doubles; CS_LAUNCH then queues the grid as
 * loops over blocks and threads (kernels here never synchronise inside a
 * block, so any order is valid), and the cuDNN double checks every
 * descriptor and computes with the CPU reference convolution (see
 * tests/cuda_emul/emul.cpp).
 * defines: CS_HD, CS_LAUNCH, CUDA_CHECK, CUDNN_CHECK, NCCL_CHECK, cs_grid,
 *          CudaCaptureLog, cuda_capture_log, cuda_capture_note */
#ifndef CORDSEG_CUDA_COMMON_H
#define CORDSEG_CUDA_COMMON_H
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define CS_HD __host__ __device__

/* the first failing call of a graph capture (cu_graph_begin .. cu_graph_end) */
typedef struct {
  int failed;
  const char *file;
  int line;
  char what[384];
} CudaCaptureLog;
extern thread_local CudaCaptureLog *cuda_capture_log;
/* 1 when a capture is under way on this thread (the failure is recorded, the
 * first one kept, and the caller goes on), 0 when the caller must stop */
int cuda_capture_note(const char *file, int line, const char *call, const char *msg);

/* bytes: the launch's compulsory memory traffic, every element it reads or
 * writes counted once at its size (re-reads a cache may absorb are not);
 * the host emulation sums it per kernel name (cordseg_emul_bytes), a GPU
 * build ignores it */
#ifdef CORDSEG_CUDA_EMUL
#define CS_LAUNCH(kernel, bytes, grid, block, stream, ...)                                         \
  do {                                                                                             \
    cuemul_launch((grid), (block), (stream), [=]() { kernel(__VA_ARGS__); }, #kernel, (double)(bytes)); \
    CUDA_CHECK(cudaGetLastError()); /* a bad launch configuration, at its line */                  \
  } while (0)
#else
#define CS_LAUNCH(kernel, bytes, grid, block, stream, ...)      \
  do {                                                          \
    (void)(bytes);                                              \
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
    if (e_ != cudaSuccess && !cuda_capture_note(__FILE__, __LINE__, #call, cudaGetErrorString(e_)))                  \
      cs_fatal_at(__FILE__, __LINE__,                                                                                \
                  e_ == cudaErrorMemoryAllocation ? "lower batch or image size, or use a GPU with more memory"     \
                  : e_ == cudaErrorNoDevice || e_ == cudaErrorInsufficientDriver                                     \
                      ? "check nvidia-smi, CUDA_VISIBLE_DEVICES and the driver, or use device = cpu"                 \
                      : "rerun with CUDA_LAUNCH_BLOCKING=1 CORDSEG_NO_GRAPH=1 (and compute-sanitizer) to locate the failing kernel", \
                  "CUDA call failed: %s: %s", #call, cudaGetErrorString(e_));                                        \
  } while (0)

#define CUDNN_CHECK(call)                                                                                            \
  do {                                                                                                               \
    cudnnStatus_t s_ = (call);                                                                                       \
    if (s_ != CUDNN_STATUS_SUCCESS && !cuda_capture_note(__FILE__, __LINE__, #call, cudnnGetErrorString(s_)))        \
      cs_fatal_at(__FILE__, __LINE__,                                                                                \
                  "set CUDNN_LOGERR_DBG=1 CUDNN_LOGDEST_DBG=stderr for cuDNN's reason; try precision = fp32",       \
                  "cuDNN call failed: %s: %s", #call, cudnnGetErrorString(s_));                                      \
  } while (0)

#define NCCL_CHECK(call)                                                                                             \
  do {                                                                                                               \
    ncclResult_t r_ = (call);                                                                                        \
    if (r_ != ncclSuccess && !cuda_capture_note(__FILE__, __LINE__, #call, ncclGetErrorString(r_)))                  \
      cs_fatal_at(__FILE__, __LINE__,                                                                                \
                  "rerun with NCCL_DEBUG=INFO; check that every rank sees its own GPU and the network between hosts", \
                  "NCCL call failed: %s: %s", #call, ncclGetErrorString(r_));                                        \
  } while (0)
#endif
