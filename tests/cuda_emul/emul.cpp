/* tests/cuda_emul/emul.cpp: the CUDA runtime, cuDNN and NCCL test doubles
 * declared in tests/cuda_emul/{cuda_runtime,cudnn,nccl}.h. Misuse is fatal
 * (cs_fatal with what was wrong), so a test that runs through it has had
 * every descriptor, size and buffer range checked.
 * What it checks, besides: inside a capture, no device-to-host copy, no
 * upload from pageable memory and no stream wait; kernel launches within
 * sm_90's limits (else cudaGetLastError fails, as a real launch does).
 * Knobs (environment, read when used):
 *   CUEMUL_DEFERRED=1     submitted work runs only at a synchronisation point
 *                         (stream or device sync, a stream query, cudaFree,
 *                         cudaFreeHost, a copy into pageable host memory), as
 *                         on a GPU: a host read of results before a sync sees
 *                         0xFF garbage, and a host write into pinned memory
 *                         that a queued upload still reads is fatal;
 *   CUEMUL_FAIL_AT_OP=N   the Nth op submitted into every capture fails and
 *                         invalidates it (every later op of the capture fails
 *                         too), as an uncapturable op does on a GPU;
 *   CUEMUL_FAIL_CAPTURE=1 every capture fails at cudaStreamEndCapture;
 *   CUEMUL_COUNT_ONLY=1   kernels and cuDNN calls are counted (launches and
 *                         declared bytes) but not run: the traffic of a
 *                         step at full size in seconds (results are garbage);
 *   CUEMUL_NCCL_HANG=1    a stream with an all-reduce never finishes (a lost
 *                         peer): cudaStreamQuery answers not-ready for ever,
 *                         and cudaStreamSynchronize on it is fatal (it would
 *                         hang). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/common.h"
#include "core/cpu/layers.h"
#include "core/cuda/cuda_math.h"
#include "cuda_runtime.h"
#include "cudnn.h"
#include "nccl.h"

#define EMUL_FAIL(...) cs_fatal_at(__FILE__, __LINE__, "a CUDA-backend bug the emulation caught", __VA_ARGS__)

uint3 blockIdx, threadIdx;
dim3 blockDim, gridDim;

struct CuemulStream {
  bool capturing = false, invalidated = false, hung = false;
  long cap_ops = 0;
  std::vector<CuemulOp> rec;                 /* the capture's ops */
  std::deque<std::function<void()>> queue;   /* CUEMUL_DEFERRED: armed, not yet run */
};
struct CuemulGraph {
  std::vector<CuemulOp> ops;
};

static std::map<const char *, size_t> g_allocs; /* device allocations: start -> bytes */
static std::map<const char *, size_t> g_pinned; /* cudaMallocHost: start -> bytes */
struct PendingRead {
  const char *p;
  size_t n;
};
static std::vector<std::shared_ptr<PendingRead>> g_reads; /* queued uploads from pinned memory */
static std::vector<CuemulStream *> g_streams;
static long long g_kernels, g_graph_launches, g_dnn_calls, g_captures;
static size_t g_held;
static cudaError_t g_last_error = cudaSuccess;

static bool env_on(const char *name) {
  const char *e = getenv(name);
  return e && *e && strcmp(e, "0");
}
static bool deferred(void) { return env_on("CUEMUL_DEFERRED"); }
bool cuemul_count_only(void) {
  static const bool on = env_on("CUEMUL_COUNT_ONLY");
  return on;
}

/* per name: launches (or calls) and declared bytes, since the start */
struct CuemulTraffic {
  long long n = 0;
  double bytes = 0;
};
static std::map<std::string, CuemulTraffic> g_traffic, g_traffic_mark;
static double g_bytes;
void cuemul_count_traffic(const char *name, double bytes, int kernel) {
  if (kernel) g_kernels++;
  CuemulTraffic &t = g_traffic[name];
  t.n++, t.bytes += bytes;
  g_bytes += bytes;
}
long long cuemul_kernel_count(void) { return g_kernels; }
long long cuemul_graph_launches(void) { return g_graph_launches; }
long long cuemul_cudnn_calls(void) { return g_dnn_calls; }
void cuemul_set_last_error(cudaError_t e) {
  if (g_last_error == cudaSuccess) g_last_error = e;
}

void cuemul_check_range(const void *p, size_t bytes, const char *what) {
  if (bytes == 0) return;
  const char *c = (const char *)p;
  auto it = g_allocs.upper_bound(c);
  if (it == g_allocs.begin()) EMUL_FAIL("%s: %p (%zu bytes) is not device memory", what, p, bytes);
  --it;
  if (c < it->first || c + bytes > it->first + it->second)
    EMUL_FAIL("%s: %zu bytes at %p run past the device allocation of %zu bytes at %p (offset %td)", what, bytes, p,
              it->second, (const void *)it->first, c - it->first);
}
static bool in_map(const std::map<const char *, size_t> &m, const void *p) {
  const char *c = (const char *)p;
  auto it = m.upper_bound(c);
  if (it == m.begin()) return false;
  --it;
  return c >= it->first && c < it->first + it->second;
}
static bool is_device(const void *p) { return in_map(g_allocs, p); }
static bool is_pinned(const void *p) { return in_map(g_pinned, p); }

/* runs what the stream has queued, in order */
static void flush(cudaStream_t s) {
  while (s && !s->queue.empty()) {
    std::function<void()> fn = std::move(s->queue.front());
    s->queue.pop_front();
    fn();
  }
}
static void flush_all(void) {
  for (CuemulStream *s : g_streams) flush(s);
}
static void enqueue(cudaStream_t s, const CuemulOp &op) {
  std::function<void()> fn = op();
  if (s && deferred()) s->queue.push_back(std::move(fn));
  else fn();
}
static bool capture_dead(cudaStream_t s) { return s && s->capturing && s->invalidated; }

cudaError_t cuemul_submit_op(cudaStream_t s, CuemulOp op) {
  if (s && s->capturing) {
    if (s->invalidated) return cudaErrorStreamCaptureInvalidated;
    const char *f = getenv("CUEMUL_FAIL_AT_OP");
    if (f && ++s->cap_ops == atol(f)) {
      s->invalidated = true;
      fprintf(stderr, "cuda_emul: CUEMUL_FAIL_AT_OP=%s: op %ld of this capture fails (as an uncapturable op)\n", f,
              s->cap_ops);
      return cudaErrorStreamCaptureUnsupported;
    }
    s->rec.push_back(std::move(op));
    return cudaSuccess;
  }
  enqueue(s, op);
  return cudaSuccess;
}

cudaError_t cuemul_launch_check(dim3 g, dim3 b) {
  const unsigned long long threads = (unsigned long long)b.x * b.y * b.z;
  if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z) return cudaErrorInvalidConfiguration;
  if (b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024) return cudaErrorInvalidConfiguration;
  if (g.x > 2147483647u || g.y > 65535 || g.z > 65535) return cudaErrorInvalidConfiguration;
  return cudaSuccess;
}

/* ----------------------------------------------------------------- cudart -- */
const char *cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument (emulated)";
    case cudaErrorNotReady: return "device not ready (emulated)";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing (emulated)";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture (emulated)";
    default: return "emulated CUDA error";
  }
}
cudaError_t cudaGetLastError(void) {
  const cudaError_t e = g_last_error;
  g_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaGetDeviceCount(int *n) {
  *n = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
  (void)d;
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "host emulation");
  p->major = 9, p->minor = 0, p->totalGlobalMem = (size_t)1 << 34;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int *v) { return *v = 13000, cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int *v) { return *v = 13000, cudaSuccess; }
cudaError_t cudaMalloc(void **p, size_t bytes) {
  *p = aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!*p) return cudaErrorMemoryAllocation;
  memset(*p, 0xA5, bytes); /* garbage, as fresh device memory may be */
  g_allocs[(const char *)*p] = bytes;
  g_held += bytes;
  return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
  if (!p) return cudaSuccess;
  auto it = g_allocs.find((const char *)p);
  if (it == g_allocs.end()) EMUL_FAIL("cudaFree of %p, which cudaMalloc did not return", p);
  flush_all(); /* cudaFree waits for the device */
  g_held -= it->second;
  g_allocs.erase(it);
  free(p);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void **p, size_t bytes) {
  *p = malloc(bytes ? bytes : 1);
  if (!*p) return cudaErrorMemoryAllocation;
  g_pinned[(const char *)*p] = bytes ? bytes : 1;
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void *p) {
  if (!p) return cudaSuccess;
  auto it = g_pinned.find((const char *)p);
  if (it == g_pinned.end()) EMUL_FAIL("cudaFreeHost of %p, which cudaMallocHost did not return", p);
  flush_all(); /* cudaFreeHost waits for the device */
  g_pinned.erase(it);
  free(p);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *f, size_t *t) {
  *t = (size_t)1 << 34, *f = *t - g_held;
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int v, size_t bytes, cudaStream_t s) {
  if (capture_dead(s)) return cudaErrorStreamCaptureInvalidated;
  cuemul_check_range(p, bytes, "cudaMemsetAsync");
  return cuemul_submit(s, [=]() {
    cuemul_count_traffic("cudaMemsetAsync", (double)bytes, 0);
    memset(p, v, bytes);
  });
}
/* an upload from pinned memory reads it when the copy runs: the host must not
 * rewrite it before then (the snapshot taken when it was queued must hold) */
static CuemulOp upload_pinned(void *dst, const void *src, size_t bytes) {
  return [=]() -> std::function<void()> {
    auto snap = std::make_shared<std::vector<char>>((const char *)src, (const char *)src + bytes);
    auto rd = std::make_shared<PendingRead>(PendingRead{(const char *)src, bytes});
    g_reads.push_back(rd);
    return [=]() {
      g_reads.erase(std::remove(g_reads.begin(), g_reads.end(), rd), g_reads.end());
      if (memcmp(snap->data(), src, bytes))
        EMUL_FAIL("the host rewrote pinned memory at %p (%zu bytes) while an upload from it was still queued: a "
                  "missing synchronisation before the staging buffer was reused",
                  src, bytes);
      memcpy(dst, src, bytes);
    };
  };
}
/* a download into pinned memory lands when the copy runs; until then the
 * host sees garbage (unless a queued upload still reads those bytes) */
static CuemulOp download_pinned(void *dst, const void *src, size_t bytes) {
  return [=]() -> std::function<void()> {
    bool read = false;
    for (auto &r : g_reads) read |= (const char *)dst < r->p + r->n && r->p < (const char *)dst + bytes;
    if (!read) memset(dst, 0xFF, bytes);
    return [=]() { memcpy(dst, src, bytes); };
  };
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
  if (capture_dead(s)) return cudaErrorStreamCaptureInvalidated;
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice) cuemul_check_range(dst, bytes, "cudaMemcpyAsync dst");
  if (kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice) cuemul_check_range(src, bytes, "cudaMemcpyAsync src");
  if (kind == cudaMemcpyHostToDevice && is_device(src)) EMUL_FAIL("cudaMemcpyAsync HostToDevice from device memory %p", src);
  if (kind == cudaMemcpyDeviceToHost && is_device(dst)) EMUL_FAIL("cudaMemcpyAsync DeviceToHost into device memory %p", dst);
  const bool cap = s && s->capturing;
  if (cap && kind == cudaMemcpyDeviceToHost)
    EMUL_FAIL("a device-to-host copy inside a graph capture (the host would read it before the replay)");
  if (kind == cudaMemcpyHostToDevice && !is_pinned(src)) {
    if (cap) EMUL_FAIL("an upload from pageable host memory %p inside a graph capture (stage it in pinned memory)", src);
    /* pageable: CUDA stages the bytes before the call returns */
    auto snap = std::make_shared<std::vector<char>>((const char *)src, (const char *)src + bytes);
    return cuemul_submit(s, [=]() { memcpy(dst, snap->data(), bytes); });
  }
  if (kind == cudaMemcpyHostToDevice) return cuemul_submit_op(s, upload_pinned(dst, src, bytes));
  if (kind == cudaMemcpyDeviceToHost && is_pinned(dst)) return cuemul_submit_op(s, download_pinned(dst, src, bytes));
  cudaError_t e = cuemul_submit(s, [=]() {
    if (kind == cudaMemcpyDeviceToDevice) cuemul_count_traffic("cudaMemcpyAsync D2D", 2.0 * bytes, 0);
    memmove(dst, src, bytes);
  });
  if (kind == cudaMemcpyDeviceToHost) flush(s); /* into pageable memory: returns when the copy is done */
  return e;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
  (void)flags;
  *s = new CuemulStream();
  g_streams.push_back(*s);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  flush(s);
  g_streams.erase(std::remove(g_streams.begin(), g_streams.end(), s), g_streams.end());
  return delete s, cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (s && s->capturing) EMUL_FAIL("cudaStreamSynchronize on a capturing stream (a host wait inside a graph)");
  if (s && s->hung)
    EMUL_FAIL("cudaStreamSynchronize on a stream whose all-reduce never finishes (CUEMUL_NCCL_HANG): on a GPU this "
              "wait would hang for ever; waits on NCCL work must go through the backend's watchdog");
  flush(s);
  return cudaSuccess;
}
cudaError_t cudaStreamQuery(cudaStream_t s) {
  if (s && s->capturing) EMUL_FAIL("cudaStreamQuery on a capturing stream");
  if (s && s->hung) return cudaErrorNotReady;
  flush(s);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) {
  flush_all();
  return cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  (void)mode;
  if (s->capturing) EMUL_FAIL("cudaStreamBeginCapture on a stream that is capturing already");
  s->capturing = true, s->invalidated = false, s->cap_ops = 0;
  s->rec.clear();
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g) {
  if (!s->capturing) EMUL_FAIL("cudaStreamEndCapture without a capture");
  s->capturing = false;
  *g = NULL;
  if (s->invalidated) { /* an op inside failed: the capture is gone, nothing of it ran */
    s->invalidated = false;
    s->rec.clear();
    return cudaErrorStreamCaptureInvalidated;
  }
  if (env_on("CUEMUL_FAIL_CAPTURE")) { /* as a capture with an uncapturable op ends: nothing recorded ran */
    s->rec.clear();
    return cudaErrorStreamCaptureUnsupported;
  }
  *g = new CuemulGraph();
  (*g)->ops.swap(s->rec);
  g_captures++;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *ex, cudaGraph_t g, unsigned long long flags) {
  (void)flags;
  *ex = new CuemulGraph(*g);
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g) { return delete g, cudaSuccess; }
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t ex) { return delete ex, cudaSuccess; }
cudaError_t cudaGraphLaunch(cudaGraphExec_t ex, cudaStream_t s) {
  if (s->capturing) EMUL_FAIL("cudaGraphLaunch into a capturing stream");
  g_graph_launches++;
  for (auto &op : ex->ops) enqueue(s, op);
  return cudaSuccess;
}

/* ------------------------------------------------------------------ cuDNN -- */
struct CuemulDnn {
  cudaStream_t stream = nullptr;
};
/* a tensor or filter: dims and element strides (packed NCHW, packed NHWC
 * (filters: KRSC), or any non-overlapping strides from
 * cudnnSetTensor4dDescriptorEx, e.g. a channel slice of an NHWC
 * concatenation: channel stride 1, pixel stride the buffer's channels) */
struct CuemulTensor {
  bool set = false, filter = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int n = 0, c = 0, h = 0, w = 0;
  int64_t sn = 0, sc = 0, sh = 0, sw = 0;
  size_t count() const { return (size_t)n * c * h * w; }
  size_t esize() const { return type == CUDNN_DATA_BFLOAT16 ? 2 : 4; }
  /* the elements' own bytes (traffic) */
  size_t data_bytes() const { return count() * esize(); }
  /* from the first element to one past the last (range checks) */
  size_t bytes() const { return (size_t)(1 + (n - 1) * sn + (c - 1) * sc + (h - 1) * sh + (w - 1) * sw) * esize(); }
  /* element (in, ic, iy, ix) */
  int64_t at(int in, int ic, int iy, int ix) const { return in * sn + ic * sc + iy * sh + ix * sw; }
};
struct CuemulConv {
  bool set = false;
  int pad_h = 0, pad_w = 0, u = 1, v = 1;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};
/* the algorithms the double offers: (algo, workspace bytes, deterministic) */
static const struct {
  int algo;
  size_t ws;
  cudnnDeterminism_t det;
} ALGOS[] = {{1, 4096, CUDNN_NON_DETERMINISTIC}, {0, 1024, CUDNN_DETERMINISTIC}, {6, 0, CUDNN_DETERMINISTIC}};
static size_t algo_ws(int a) {
  for (auto &x : ALGOS)
    if (x.algo == a) return x.ws;
  EMUL_FAIL("cuDNN algorithm %d was not among those the heuristics returned", a);
}

const char *cudnnGetErrorString(cudnnStatus_t s) {
  return s == CUDNN_STATUS_SUCCESS ? "success" : s == CUDNN_STATUS_EXECUTION_FAILED ? "CUDNN_STATUS_EXECUTION_FAILED (emulated)" : "emulated cuDNN error";
}
size_t cudnnGetVersion(void) { return 91900; }
cudnnStatus_t cudnnCreate(cudnnHandle_t *h) { return *h = new CuemulDnn(), CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroy(cudnnHandle_t h) { return delete h, CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s) { return h->stream = s, CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d) { return *d = new CuemulTensor(), CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { return delete d, CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d) { return *d = new CuemulTensor(), CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { return delete d, CUDNN_STATUS_SUCCESS; }
/* strides must map the n*c*h*w elements to distinct addresses: ordered by
 * stride, each dimension's stride at least the extent of those below it
 * (what packed layouts and channel-slice views of them satisfy) */
static void check_strides(const CuemulTensor *d) {
  struct Dim {
    int64_t len, stride;
  } v[4] = {{d->n, d->sn}, {d->c, d->sc}, {d->h, d->sh}, {d->w, d->sw}};
  std::sort(v, v + 4, [](const Dim &a, const Dim &b) { return a.stride < b.stride || (a.stride == b.stride && a.len < b.len); });
  int64_t extent = 1;
  for (auto &x : v) {
    if (x.stride < 1) EMUL_FAIL("descriptor stride %lld: strides must be positive", (long long)x.stride);
    if (x.len > 1 && x.stride < extent)
      EMUL_FAIL("descriptor strides n %lld c %lld h %lld w %lld (dims %d %d %d %d) overlap: two elements share an address",
                (long long)d->sn, (long long)d->sc, (long long)d->sh, (long long)d->sw, d->n, d->c, d->h, d->w);
    if (x.len > 1) extent = x.stride * x.len;
  }
}
static cudnnStatus_t set4d(CuemulTensor *d, bool filter, cudnnTensorFormat_t f, cudnnDataType_t t, int n, int c, int h,
                           int w) {
  if (f != CUDNN_TENSOR_NCHW && f != CUDNN_TENSOR_NHWC) EMUL_FAIL("descriptor format %d: NCHW or NHWC", (int)f);
  if (t != CUDNN_DATA_FLOAT && t != CUDNN_DATA_BFLOAT16) EMUL_FAIL("descriptor data type %d", (int)t);
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0) EMUL_FAIL("descriptor dims %d %d %d %d", n, c, h, w);
  d->set = true, d->filter = filter, d->type = t, d->n = n, d->c = c, d->h = h, d->w = w;
  if (f == CUDNN_TENSOR_NCHW) d->sw = 1, d->sh = w, d->sc = (int64_t)h * w, d->sn = (int64_t)c * h * w;
  else d->sc = 1, d->sw = c, d->sh = (int64_t)w * c, d->sn = (int64_t)h * w * c;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t d, cudnnDataType_t t, int n, int c, int h, int w,
                                           int ns, int cs, int hs, int ws) {
  set4d(d, false, CUDNN_TENSOR_NCHW, t, n, c, h, w);
  d->sn = ns, d->sc = cs, d->sh = hs, d->sw = ws;
  check_strides(d);
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t f, cudnnDataType_t t, int n, int c,
                                         int h, int w) {
  return set4d(d, false, f, t, n, c, h, w);
}
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t t, cudnnTensorFormat_t f, int k, int c,
                                         int h, int w) {
  return set4d(d, true, f, t, k, c, h, w);
}
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d) { return *d = new CuemulConv(), CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) { return delete d, CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int ph, int pw, int u, int v, int dh, int dw,
                                              cudnnConvolutionMode_t mode, cudnnDataType_t compute) {
  if (dh != 1 || dw != 1) EMUL_FAIL("dilation %dx%d: cordseg's convolutions are undilated", dh, dw);
  if (mode != CUDNN_CROSS_CORRELATION) EMUL_FAIL("convolution mode %d: PyTorch convolutions are cross-correlations", (int)mode);
  if (compute != CUDNN_DATA_FLOAT) EMUL_FAIL("compute type %d: accumulate in fp32", (int)compute);
  if (ph < 0 || pw < 0 || u < 1 || v < 1) EMUL_FAIL("pad %d,%d stride %d,%d", ph, pw, u, v);
  d->set = true, d->pad_h = ph, d->pad_w = pw, d->u = u, d->v = v;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m) {
  return d->math = m, CUDNN_STATUS_SUCCESS;
}
/* x, w, y of one convolution must agree */
static void check_conv(const CuemulTensor *x, const CuemulTensor *w, const CuemulConv *c, const CuemulTensor *y,
                       const char *what) {
  if (!x->set || !w->set || !y->set || !c->set) EMUL_FAIL("%s: a descriptor was never set", what);
  if (x->filter || y->filter || !w->filter) EMUL_FAIL("%s: tensor and filter descriptors swapped", what);
  if (x->type != w->type || x->type != y->type) EMUL_FAIL("%s: data types differ (x %d, w %d, y %d)", what, x->type, w->type, y->type);
  const int ho = (x->h + 2 * c->pad_h - w->h) / c->u + 1, wo = (x->w + 2 * c->pad_w - w->w) / c->v + 1;
  if (w->c != x->c) EMUL_FAIL("%s: filter has %d input channels, x has %d", what, w->c, x->c);
  if (y->n != x->n || y->c != w->n || y->h != ho || y->w != wo)
    EMUL_FAIL("%s: y is %dx%dx%dx%d, the convolution gives %dx%dx%dx%d", what, y->n, y->c, y->h, y->w, x->n, w->n, ho, wo);
  if (w->h != w->w || c->pad_h != c->pad_w || c->u != c->v) EMUL_FAIL("%s: non-square kernel, pad or stride", what);
}
template <typename P, typename A>
static void perf(P *r, int req, int *got) {
  int n = 0;
  for (auto &a : ALGOS)
    if (n < req) r[n] = P{(A)a.algo, CUDNN_STATUS_SUCCESS, 1.0f, a.ws, a.det, CUDNN_TENSOR_OP_MATH, {0, 0, 0}}, n++;
  *got = n;
}
cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                                     cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, int req,
                                                     int *got, cudnnConvolutionFwdAlgoPerf_t *r) {
  (void)h;
  check_conv(x, w, c, y, "forward heuristics");
  perf<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(r, req, got);
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                          cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                          cudnnTensorDescriptor_t dx, int req, int *got,
                                                          cudnnConvolutionBwdDataAlgoPerf_t *r) {
  (void)h;
  check_conv(dx, w, c, dy, "backward-data heuristics");
  perf<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(r, req, got);
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                            cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                            cudnnFilterDescriptor_t dw, int req, int *got,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t *r) {
  (void)h;
  check_conv(x, dw, c, dy, "backward-filter heuristics");
  perf<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(r, req, got);
  return CUDNN_STATUS_SUCCESS;
}

/* the timed search: the double's algorithms sorted by made-up times that
 * differ from the heuristics' order, after checking every buffer */
static long long g_finds;
static const struct {
  int algo;
  float ms;
} FIND_ORDER[] = {{6, 0.5f}, {1, 0.7f}, {0, 1.0f}};
template <typename P, typename A>
static void found(P *r, int req, int *got) {
  int n = 0;
  for (auto &f : FIND_ORDER)
    for (auto &a : ALGOS)
      if (a.algo == f.algo && n < req) r[n++] = P{(A)a.algo, CUDNN_STATUS_SUCCESS, f.ms, a.ws, a.det, CUDNN_TENSOR_OP_MATH, {0, 0, 0}};
  *got = n;
  g_finds++;
}
static void find_check(const CuemulTensor *a, const void *pa, const CuemulTensor *b, const void *pb, const CuemulTensor *c,
                       const void *pc, void *ws, size_t ws_bytes, const char *what) {
  cuemul_check_range(pa, a->bytes(), what), cuemul_check_range(pb, b->bytes(), what), cuemul_check_range(pc, c->bytes(), what);
  if (ws_bytes) cuemul_check_range(ws, ws_bytes, what);
  for (cudaStream_t s : g_streams)
    if (s->capturing) EMUL_FAIL("%s during a graph capture (it synchronises and allocates)", what);
}
cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t h, cudnnTensorDescriptor_t xd, const void *x,
                                                     cudnnFilterDescriptor_t wd, const void *w,
                                                     cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, void *y,
                                                     int req, int *got, cudnnConvolutionFwdAlgoPerf_t *r, void *ws,
                                                     size_t ws_bytes) {
  (void)h;
  check_conv(xd, wd, cd, yd, "cudnnFindConvolutionForwardAlgorithmEx");
  find_check(xd, x, wd, w, yd, y, ws, ws_bytes, "cudnnFindConvolutionForwardAlgorithmEx");
  found<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(r, req, got);
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t h, cudnnFilterDescriptor_t wd, const void *w,
                                                          cudnnTensorDescriptor_t dyd, const void *dy,
                                                          cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t dxd,
                                                          void *dx, int req, int *got,
                                                          cudnnConvolutionBwdDataAlgoPerf_t *r, void *ws, size_t ws_bytes) {
  (void)h;
  check_conv(dxd, wd, cd, dyd, "cudnnFindConvolutionBackwardDataAlgorithmEx");
  find_check(wd, w, dyd, dy, dxd, dx, ws, ws_bytes, "cudnnFindConvolutionBackwardDataAlgorithmEx");
  found<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(r, req, got);
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t h, cudnnTensorDescriptor_t xd, const void *x,
                                                            cudnnTensorDescriptor_t dyd, const void *dy,
                                                            cudnnConvolutionDescriptor_t cd, cudnnFilterDescriptor_t dwd,
                                                            void *dw, int req, int *got,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t *r, void *ws,
                                                            size_t ws_bytes) {
  (void)h;
  check_conv(xd, dwd, cd, dyd, "cudnnFindConvolutionBackwardFilterAlgorithmEx");
  find_check(xd, x, dyd, dy, dwd, dw, ws, ws_bytes, "cudnnFindConvolutionBackwardFilterAlgorithmEx");
  found<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(r, req, got);
  return CUDNN_STATUS_SUCCESS;
}
extern "C" long long cordseg_emul_finds(void) { return g_finds; }

/* tensor contents as fp32 (bf16 widened), and back (bf16 rounded) */
/* gathered into packed NCHW (the reference's layout) through the
 * descriptor's strides, and scattered back: a view writes only its own
 * elements (a channel slice leaves the buffer's other channels alone) */
static std::vector<float> load(const CuemulTensor *d, const void *p) {
  std::vector<float> v(d->count());
  size_t i = 0;
  for (int in = 0; in < d->n; in++)
    for (int ic = 0; ic < d->c; ic++)
      for (int iy = 0; iy < d->h; iy++)
        for (int ix = 0; ix < d->w; ix++, i++) {
          const int64_t o = d->at(in, ic, iy, ix);
          v[i] = d->type == CUDNN_DATA_BFLOAT16 ? cm_bf16_to_f32(((const uint16_t *)p)[o]) : ((const float *)p)[o];
        }
  return v;
}
static void store(const CuemulTensor *d, void *p, const std::vector<float> &v) {
  size_t i = 0;
  for (int in = 0; in < d->n; in++)
    for (int ic = 0; ic < d->c; ic++)
      for (int iy = 0; iy < d->h; iy++)
        for (int ix = 0; ix < d->w; ix++, i++) {
          const int64_t o = d->at(in, ic, iy, ix);
          if (d->type == CUDNN_DATA_BFLOAT16) ((uint16_t *)p)[o] = cm_f32_to_bf16(v[i]);
          else ((float *)p)[o] = v[i];
        }
}
static void check_call(const void *alpha, const void *beta, int algo, void *ws, size_t ws_bytes, const char *what) {
  if (*(const float *)alpha != 1.0f || *(const float *)beta != 0.0f) EMUL_FAIL("%s: alpha/beta other than 1/0", what);
  const size_t need = algo_ws(algo);
  if (ws_bytes < need) EMUL_FAIL("%s: algorithm %d needs %zu workspace bytes, got %zu", what, algo, need, ws_bytes);
  if (need) cuemul_check_range(ws, need, what);
}
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd, const void *x,
                                      cudnnFilterDescriptor_t wd, const void *w, cudnnConvolutionDescriptor_t cd,
                                      cudnnConvolutionFwdAlgo_t algo, void *ws, size_t ws_bytes, const void *beta,
                                      cudnnTensorDescriptor_t yd, void *y) {
  if (capture_dead(h->stream)) return CUDNN_STATUS_EXECUTION_FAILED;
  check_conv(xd, wd, cd, yd, "cudnnConvolutionForward");
  check_call(alpha, beta, algo, ws, ws_bytes, "cudnnConvolutionForward");
  cuemul_check_range(x, xd->bytes(), "forward x"), cuemul_check_range(w, wd->bytes(), "forward w");
  cuemul_check_range(y, yd->bytes(), "forward y");
  const CuemulTensor X = *xd, W = *wd, Y = *yd;
  const int pad = cd->pad_h, stride = cd->u;
  const cudaError_t e = cuemul_submit(h->stream, [=]() {
    g_dnn_calls++; /* counted when it runs: every graph replay too */
    cuemul_count_traffic("cudnnConvolutionForward", (double)X.data_bytes() + W.data_bytes() + Y.data_bytes(), 0);
    if (cuemul_count_only()) return;
    std::vector<float> xv = load(&X, x), wv = load(&W, w), yv(Y.count());
    layer_conv_ref_forward(xv.data(), wv.data(), NULL, yv.data(), X.n, X.c, X.h, X.w, W.n, W.h, stride, pad);
    store(&Y, y, yv);
  });
  return e == cudaSuccess ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_EXECUTION_FAILED;
}
cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void *alpha, cudnnFilterDescriptor_t wd, const void *w,
                                           cudnnTensorDescriptor_t dyd, const void *dy, cudnnConvolutionDescriptor_t cd,
                                           cudnnConvolutionBwdDataAlgo_t algo, void *ws, size_t ws_bytes,
                                           const void *beta, cudnnTensorDescriptor_t dxd, void *dx) {
  if (capture_dead(h->stream)) return CUDNN_STATUS_EXECUTION_FAILED;
  check_conv(dxd, wd, cd, dyd, "cudnnConvolutionBackwardData");
  check_call(alpha, beta, algo, ws, ws_bytes, "cudnnConvolutionBackwardData");
  cuemul_check_range(w, wd->bytes(), "backward-data w"), cuemul_check_range(dy, dyd->bytes(), "backward-data dy");
  cuemul_check_range(dx, dxd->bytes(), "backward-data dx");
  const CuemulTensor X = *dxd, W = *wd, Y = *dyd;
  const int pad = cd->pad_h, stride = cd->u;
  const cudaError_t e = cuemul_submit(h->stream, [=]() {
    g_dnn_calls++; /* counted when it runs: every graph replay too */
    cuemul_count_traffic("cudnnConvolutionBackwardData", (double)X.data_bytes() + W.data_bytes() + Y.data_bytes(), 0);
    if (cuemul_count_only()) return;
    std::vector<float> wv = load(&W, w), gv = load(&Y, dy), xv(X.count()), zero(X.count(), 0.0f);
    layer_conv_ref_backward(zero.data(), wv.data(), gv.data(), xv.data(), NULL, NULL, X.n, X.c, X.h, X.w, W.n, W.h, stride,
                            pad);
    store(&X, dx, xv);
  });
  return e == cudaSuccess ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_EXECUTION_FAILED;
}
cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd, const void *x,
                                             cudnnTensorDescriptor_t dyd, const void *dy, cudnnConvolutionDescriptor_t cd,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void *ws, size_t ws_bytes,
                                             const void *beta, cudnnFilterDescriptor_t dwd, void *dw) {
  if (capture_dead(h->stream)) return CUDNN_STATUS_EXECUTION_FAILED;
  check_conv(xd, dwd, cd, dyd, "cudnnConvolutionBackwardFilter");
  check_call(alpha, beta, algo, ws, ws_bytes, "cudnnConvolutionBackwardFilter");
  cuemul_check_range(x, xd->bytes(), "backward-filter x"), cuemul_check_range(dy, dyd->bytes(), "backward-filter dy");
  cuemul_check_range(dw, dwd->bytes(), "backward-filter dw");
  const CuemulTensor X = *xd, W = *dwd, Y = *dyd;
  const int pad = cd->pad_h, stride = cd->u;
  const cudaError_t e = cuemul_submit(h->stream, [=]() {
    g_dnn_calls++; /* counted when it runs: every graph replay too */
    cuemul_count_traffic("cudnnConvolutionBackwardFilter", (double)X.data_bytes() + W.data_bytes() + Y.data_bytes(), 0);
    if (cuemul_count_only()) return;
    std::vector<float> xv = load(&X, x), gv = load(&Y, dy), wv(W.count()), zw(W.count(), 0.0f);
    layer_conv_ref_backward(xv.data(), zw.data(), gv.data(), NULL, wv.data(), NULL, X.n, X.c, X.h, X.w, W.n, W.h, stride,
                            pad);
    store(&W, dw, wv);
  });
  return e == cudaSuccess ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_EXECUTION_FAILED;
}

/* ------------------------------------------------------------------- NCCL -- */
struct CuemulNccl {
  int world = 1;
};
const char *ncclGetErrorString(ncclResult_t r) { return r == ncclSuccess ? "success" : "emulated NCCL error"; }
ncclResult_t ncclGetVersion(int *v) { return *v = 22800, ncclSuccess; }
ncclResult_t ncclGetUniqueId(ncclUniqueId *id) { return memset(id, 0, sizeof *id), ncclSuccess; }
ncclResult_t ncclCommInitRank(ncclComm_t *c, int world, ncclUniqueId id, int rank) {
  (void)id;
  if (world != 1 || rank != 0) EMUL_FAIL("the NCCL double runs one rank (asked for rank %d of %d)", rank, world);
  return *c = new CuemulNccl(), ncclSuccess;
}
ncclResult_t ncclCommDestroy(ncclComm_t c) { return delete c, ncclSuccess; }
ncclResult_t ncclCommFinalize(ncclComm_t c) { return c ? ncclSuccess : ncclInvalidArgument; }
ncclResult_t ncclCommAbort(ncclComm_t c) { return delete c, ncclSuccess; }
ncclResult_t ncclCommGetAsyncError(ncclComm_t c, ncclResult_t *e) {
  if (!c) return ncclInvalidArgument;
  *e = ncclSuccess; /* a lost peer shows as no progress, not as an error */
  return ncclSuccess;
}
ncclResult_t ncclGroupStart(void) { return ncclSuccess; }
ncclResult_t ncclGroupEnd(void) { return ncclSuccess; }
ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t t, ncclRedOp_t op, ncclComm_t c,
                           cudaStream_t s) {
  (void)op, (void)c;
  const size_t bytes = count * (t == ncclDouble ? 8 : 4);
  cuemul_check_range(send, bytes, "ncclAllReduce send"), cuemul_check_range(recv, bytes, "ncclAllReduce recv");
  if (cuemul_submit(s, [=]() { memmove(recv, send, bytes); }) != cudaSuccess) return ncclInvalidArgument;
  if (env_on("CUEMUL_NCCL_HANG")) s->hung = true;
  return ncclSuccess;
}

/* for C tests */
extern "C" long long cordseg_emul_graph_launches(void) { return g_graph_launches; }
extern "C" long long cordseg_emul_cudnn_calls(void) { return g_dnn_calls; }
extern "C" long long cordseg_emul_captures(void) { return g_captures; }
extern "C" long long cordseg_emul_kernels(void) { return g_kernels; }
/* declared bytes of every kernel, cuDNN call, device copy and memset run so far */
extern "C" double cordseg_emul_bytes(void) { return g_bytes; }
/* the per-name table from here on (cordseg_emul_traffic_top reports what ran since) */
extern "C" void cordseg_emul_traffic_mark(void) { g_traffic_mark = g_traffic; }
/* the top names by bytes since the mark, "name calls x MB; ..." into buf */
extern "C" void cordseg_emul_traffic_top(char *buf, size_t len, int top) {
  std::vector<std::pair<std::string, CuemulTraffic>> d;
  for (auto &kv : g_traffic) {
    CuemulTraffic t = kv.second, m = g_traffic_mark.count(kv.first) ? g_traffic_mark[kv.first] : CuemulTraffic();
    t.n -= m.n, t.bytes -= m.bytes;
    if (t.n > 0) d.push_back({kv.first, t});
  }
  std::sort(d.begin(), d.end(), [](const auto &a, const auto &b) { return a.second.bytes > b.second.bytes; });
  size_t at = 0;
  buf[0] = 0;
  for (int i = 0; i < top && i < (int)d.size() && at < len; i++)
    at += (size_t)snprintf(buf + at, len - at, "%s%s %lldx %.2f MB", i ? "; " : "", d[i].first.c_str(), d[i].second.n,
                           d[i].second.bytes / 1e6);
}
/* a launch beyond sm_90's limits (2048 threads per block) must be refused and
 * reported by the next cudaGetLastError, and only once: 1 when so */
extern "C" int cordseg_emul_bad_launch_reported(void) {
  int bad = 0, good = 0;
  int *pb = &bad, *pg = &good;
  cuemul_launch(dim3(1), dim3(2048), nullptr, [=]() { *pb = 1; });
  const cudaError_t e1 = cudaGetLastError(), e2 = cudaGetLastError();
  cuemul_launch(dim3(70000), dim3(32), nullptr, [=]() { *pg = 1; }); /* grid.x may exceed 65535 */
  const cudaError_t e3 = cudaGetLastError();
  return e1 == cudaErrorInvalidConfiguration && !bad && e2 == cudaSuccess && e3 == cudaSuccess && good;
}
