/* tests/cuda_emul/cuda_runtime.h: a host test double of the CUDA runtime API
 * that core/cuda/ uses, for running the CUDA backend's own code in CI
 * without a GPU (tests/cuda_emul/emul.cpp says what it checks). Device
 * memory is host memory (every allocation is recorded, and every copy and
 * cuDNN call checks that its bytes lie inside one); streams run work at
 * once, or with CUEMUL_DEFERRED=1 only at a synchronisation point; while a
 * stream captures a graph, kernels, copies and library calls are recorded
 * and run at each graph launch; a kernel launch is a loop over blocks and
 * threads, refused (cudaGetLastError) beyond sm_90's launch limits. What it
 * cannot show: real numerics of cuDNN, races inside a kernel, speed.
 * Counts, per kernel name, launches and the bytes each launch declares
 * (CS_LAUNCH), and the bytes of cuDNN calls and device copies.
 * defines: the CUDA runtime subset, cuemul_launch, cuemul_submit,
 *          cuemul_check_range, cuemul_count_traffic */
#ifndef CUEMUL_CUDA_RUNTIME_H
#define CUEMUL_CUDA_RUNTIME_H
#include <stddef.h>
#include <stdint.h>

#include <functional>

#define CORDSEG_CUDA_EMUL_HEADERS 1
#define __global__
#define __device__
#define __host__
/* the device's rounded, never-contracted float product and sum: a volatile
 * result keeps the host compiler (C++, which may contract into FMAs) from
 * fusing them either */
static inline float __fmul_rn(float a, float b) {
  volatile float r = a * b;
  return r;
}
static inline float __fadd_rn(float a, float b) {
  volatile float r = a + b;
  return r;
}

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
extern uint3 blockIdx, threadIdx; /* kernels run one thread at a time */
extern dim3 blockDim, gridDim;

typedef enum {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
} cudaError_t;
typedef enum { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 } cudaMemcpyKind;
typedef enum { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1, cudaStreamCaptureModeRelaxed = 2 } cudaStreamCaptureMode;
#define cudaStreamNonBlocking 0x01

struct CuemulStream;
struct CuemulGraph;
typedef CuemulStream *cudaStream_t;
typedef CuemulGraph *cudaGraph_t;
typedef CuemulGraph *cudaGraphExec_t;
struct cudaDeviceProp {
  char name[256];
  int major, minor;
  int pciDomainID, pciBusID, pciDeviceID;
  size_t totalGlobalMem;
};

const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError(void);
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d);
cudaError_t cudaDriverGetVersion(int *v);
cudaError_t cudaRuntimeGetVersion(int *v);
cudaError_t cudaMalloc(void **p, size_t bytes);
template <typename T>
static inline cudaError_t cudaMalloc(T **p, size_t bytes) {
  return cudaMalloc((void **)p, bytes);
}
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t bytes);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b);
cudaError_t cudaMemsetAsync(void *p, int v, size_t bytes, cudaStream_t s);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamQuery(cudaStream_t s);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *ex, cudaGraph_t g, unsigned long long flags);
cudaError_t cudaGraphDestroy(cudaGraph_t g);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t ex);
cudaError_t cudaGraphLaunch(cudaGraphExec_t ex, cudaStream_t s);

/* the emulation's own entry points */
/* An op in two phases: arm() runs when the op is queued for execution (an
 * eager submission, or each launch of a graph that recorded it) and returns
 * what runs when the stream executes it (at once, or with CUEMUL_DEFERRED=1
 * at the next synchronisation point). A copy from pinned host memory
 * snapshots its source in arm() and checks it when it runs. */
typedef std::function<std::function<void()>()> CuemulOp;
/* queues op on s, or records it when s is capturing; an error when the
 * capture was invalidated, or when CUEMUL_FAIL_AT_OP=N and this is the Nth
 * op of the capture (which then invalidates it, as an uncapturable op does) */
cudaError_t cuemul_submit_op(cudaStream_t s, CuemulOp op);
static inline cudaError_t cuemul_submit(cudaStream_t s, std::function<void()> fn) {
  return cuemul_submit_op(s, [fn]() { return fn; });
}
/* cudaSuccess, or cudaErrorInvalidConfiguration beyond sm_90's limits */
cudaError_t cuemul_launch_check(dim3 grid, dim3 block);
/* the error cudaGetLastError returns next (a failed launch) */
void cuemul_set_last_error(cudaError_t e);
/* fatal unless [p, p + bytes) lies inside one device allocation (what names the caller) */
void cuemul_check_range(const void *p, size_t bytes, const char *what);
/* kernels launched so far, and graph launches (for tests) */
long long cuemul_kernel_count(void);
long long cuemul_graph_launches(void);

/* counts a kernel (or, with kernel 0, a library call or copy) when it runs,
 * graph replays included: name and its declared bytes (CS_LAUNCH) */
void cuemul_count_traffic(const char *name, double bytes, int kernel);
/* CUEMUL_COUNT_ONLY=1: kernels and cuDNN calls are counted, not run */
bool cuemul_count_only(void);
template <typename F>
static inline void cuemul_launch(dim3 grid, dim3 block, cudaStream_t s, F f, const char *name = "lambda",
                                 double bytes = 0) {
  cudaError_t e = cuemul_launch_check(grid, block);
  if (e != cudaSuccess) return cuemul_set_last_error(e);
  e = cuemul_submit(s, [=]() {
    cuemul_count_traffic(name, bytes, 1);
    if (cuemul_count_only()) return;
    gridDim = grid, blockDim = block;
    for (unsigned b = 0; b < grid.x; b++)
      for (unsigned t = 0; t < block.x; t++) {
        blockIdx = uint3{b, 0, 0}, threadIdx = uint3{t, 0, 0};
        f();
      }
  });
  if (e != cudaSuccess) cuemul_set_last_error(e);
}
#endif
