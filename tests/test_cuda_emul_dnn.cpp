/* tests/test_cuda_emul_dnn.cpp: the cuDNN double of tests/cuda_emul reads and
 * writes NHWC and strided tensors (step 1 of the NHWC plan in
 * docs/backends.md). Each convolution (forward, backward data, backward
 * filter; fp32 and bf16; 3x3/s1 and 3x3/s2) runs twice: on packed NCHW
 * tensors, and on channel slices of NHWC buffers (cudnnSetTensor4dDescriptorEx,
 * channel stride 1, pixel stride the buffer's channels) with an NHWC (KRSC)
 * filter. The results must be the same bits, and the channels outside the
 * written slice must keep their sentinel. A child process then describes two
 * overlapping layouts, which the double must refuse. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "cuda_runtime.h"
#include "cudnn.h"

extern "C" {
#include "core/common.h"
#include "tests/testutil.h"
}

static void dnn_ok(cudnnStatus_t st, const char *call) {
  if (st != CUDNN_STATUS_SUCCESS) cs_fatal(NULL, "%s failed", call);
}
#define DNN(call) dnn_ok((call), #call)

static cudnnHandle_t g_h;
static cudaStream_t g_s;

/* an NCHW host tensor as its bytes at type t (bf16: rounded) */
static std::vector<char> bytes_of(const std::vector<float> &v, cudnnDataType_t t) {
  std::vector<char> b(v.size() * (t == CUDNN_DATA_BFLOAT16 ? 2 : 4));
  for (size_t i = 0; i < v.size(); i++) {
    if (t == CUDNN_DATA_BFLOAT16) {
      uint32_t u;
      memcpy(&u, &v[i], 4);
      const uint16_t hbits = (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
      memcpy(&b[i * 2], &hbits, 2);
    } else {
      memcpy(&b[i * 4], &v[i], 4);
    }
  }
  return b;
}

struct Dev {
  void *p = nullptr;
  size_t n = 0;
  explicit Dev(size_t bytes) : n(bytes) {
    cudaMalloc(&p, bytes);
    cudaMemsetAsync(p, 0x5A, bytes, g_s); /* a sentinel outside every slice */
  }
  ~Dev() { cudaFree(p); }
  std::vector<char> get() const {
    std::vector<char> h(n);
    cudaMemcpyAsync(h.data(), p, n, cudaMemcpyDeviceToHost, g_s);
    cudaStreamSynchronize(g_s);
    return h;
  }
};

/* element i (NCHW order over n, c, h, w) of a packed NCHW tensor, as the element
 * of an NHWC buffer of ct channels where the tensor is channels [c0, c0 + c) */
static size_t nhwc_at(size_t i, int c, int h, int w, int ct, int c0) {
  const size_t ix = i % w, iy = i / w % h, ic = i / ((size_t)w * h) % c, in = i / ((size_t)w * h * c);
  return ((in * h + iy) * w + ix) * ct + c0 + ic;
}
static void scatter(std::vector<char> &buf, const std::vector<char> &src, size_t es, int c, int h, int w, int ct, int c0) {
  for (size_t i = 0; i < src.size() / es; i++) memcpy(&buf[nhwc_at(i, c, h, w, ct, c0) * es], &src[i * es], es);
}
/* the slice's elements in NCHW order, and how many elements outside it lost the sentinel */
static std::vector<char> gather(const std::vector<char> &buf, size_t es, int n, int c, int h, int w, int ct, int c0,
                                size_t *touched) {
  std::vector<char> out((size_t)n * c * h * w * es);
  std::vector<char> in(buf.size() / es, 0);
  for (size_t i = 0; i < out.size() / es; i++) {
    const size_t o = nhwc_at(i, c, h, w, ct, c0);
    memcpy(&out[i * es], &buf[o * es], es);
    in[o] = 1;
  }
  *touched = 0;
  for (size_t o = 0; o < in.size(); o++)
    for (size_t b = 0; b < es && !in[o]; b++) *touched += buf[o * es + b] != 0x5A;
  return out;
}
static void set_slice(cudnnTensorDescriptor_t d, cudnnDataType_t t, int n, int c, int h, int w, int ct) {
  DNN(cudnnSetTensor4dDescriptorEx(d, t, n, c, h, w, h * w * ct, 1, w * ct, ct));
}

static void one(cudnnDataType_t t, int stride) {
  const int n = 2, c = 5, h = 7, w = 6, k = 4, r = 3, pad = 1, cx = 9, cx0 = 3, cy = 7, cy0 = 2;
  const int ho = (h + 2 * pad - r) / stride + 1, wo = (w + 2 * pad - r) / stride + 1;
  const size_t es = t == CUDNN_DATA_BFLOAT16 ? 2 : 4;
  Rng g;
  rng_init(&g, 7 + stride);
  std::vector<float> x((size_t)n * c * h * w), wt((size_t)k * c * r * r), dy((size_t)n * k * ho * wo);
  for (auto *v : {&x, &wt, &dy})
    for (auto &e : *v) e = (float)(rng_uniform(&g) * 2 - 1);
  const std::vector<char> xb = bytes_of(x, t), wb = bytes_of(wt, t), gb = bytes_of(dy, t);
  /* the KRSC filter */
  std::vector<char> wk(wb.size());
  for (int ik = 0; ik < k; ik++)
    for (int ic = 0; ic < c; ic++)
      for (int ir = 0; ir < r * r; ir++)
        memcpy(&wk[(((size_t)ik * r * r + ir) * c + ic) * es], &wb[(((size_t)ik * c + ic) * r * r + ir) * es], es);

  cudnnTensorDescriptor_t xd, yd, xs, ys;
  cudnnFilterDescriptor_t wd, wn;
  cudnnConvolutionDescriptor_t cd;
  DNN(cudnnCreateTensorDescriptor(&xd)), DNN(cudnnCreateTensorDescriptor(&yd));
  DNN(cudnnCreateTensorDescriptor(&xs)), DNN(cudnnCreateTensorDescriptor(&ys));
  DNN(cudnnCreateFilterDescriptor(&wd)), DNN(cudnnCreateFilterDescriptor(&wn));
  DNN(cudnnCreateConvolutionDescriptor(&cd));
  DNN(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, t, n, c, h, w));
  DNN(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, t, n, k, ho, wo));
  DNN(cudnnSetFilter4dDescriptor(wd, t, CUDNN_TENSOR_NCHW, k, c, r, r));
  DNN(cudnnSetFilter4dDescriptor(wn, t, CUDNN_TENSOR_NHWC, k, c, r, r));
  set_slice(xs, t, n, c, h, w, cx), set_slice(ys, t, n, k, ho, wo, cy);
  DNN(cudnnSetConvolution2dDescriptor(cd, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  const float one_f = 1, zero_f = 0;
  const int algo = 6; /* the double's algorithm with no workspace */

  /* packed NCHW: the reference */
  Dev X(xb.size()), W(wb.size()), Y((size_t)n * k * ho * wo * es), G(gb.size()), DX(xb.size()), DW(wb.size());
  cudaMemcpyAsync(X.p, xb.data(), xb.size(), cudaMemcpyHostToDevice, g_s);
  cudaMemcpyAsync(W.p, wb.data(), wb.size(), cudaMemcpyHostToDevice, g_s);
  cudaMemcpyAsync(G.p, gb.data(), gb.size(), cudaMemcpyHostToDevice, g_s);
  DNN(cudnnConvolutionForward(g_h, &one_f, xd, X.p, wd, W.p, cd, algo, NULL, 0, &zero_f, yd, Y.p));
  DNN(cudnnConvolutionBackwardData(g_h, &one_f, wd, W.p, yd, G.p, cd, algo, NULL, 0, &zero_f, xd, DX.p));
  DNN(cudnnConvolutionBackwardFilter(g_h, &one_f, xd, X.p, yd, G.p, cd, algo, NULL, 0, &zero_f, wd, DW.p));

  /* channel slices of NHWC buffers, KRSC filters */
  const size_t nxs = (size_t)n * h * w * cx, nys = (size_t)n * ho * wo * cy;
  Dev XS(nxs * es), WS(wk.size()), YS(nys * es), GS(nys * es), DXS(nxs * es), DWS(wk.size());
  std::vector<char> hx = XS.get(), hg = GS.get();
  scatter(hx, xb, es, c, h, w, cx, cx0), scatter(hg, gb, es, k, ho, wo, cy, cy0);
  cudaMemcpyAsync(XS.p, hx.data(), hx.size(), cudaMemcpyHostToDevice, g_s);
  cudaMemcpyAsync(GS.p, hg.data(), hg.size(), cudaMemcpyHostToDevice, g_s);
  cudaMemcpyAsync(WS.p, wk.data(), wk.size(), cudaMemcpyHostToDevice, g_s);
  char *xp = (char *)XS.p + cx0 * es, *yp = (char *)YS.p + cy0 * es, *gp = (char *)GS.p + cy0 * es;
  char *dxp = (char *)DXS.p + cx0 * es;
  DNN(cudnnConvolutionForward(g_h, &one_f, xs, xp, wn, WS.p, cd, algo, NULL, 0, &zero_f, ys, yp));
  DNN(cudnnConvolutionBackwardData(g_h, &one_f, wn, WS.p, ys, gp, cd, algo, NULL, 0, &zero_f, xs, dxp));
  DNN(cudnnConvolutionBackwardFilter(g_h, &one_f, xs, xp, ys, gp, cd, algo, NULL, 0, &zero_f, wn, DWS.p));

  size_t ty = 0, tdx = 0, dummy = 0;
  const std::vector<char> y_ref = Y.get(), dx_ref = DX.get(), dw_ref = DW.get();
  const std::vector<char> y_got = gather(YS.get(), es, n, k, ho, wo, cy, cy0, &ty);
  const std::vector<char> dx_got = gather(DXS.get(), es, n, c, h, w, cx, cx0, &tdx);
  const std::vector<char> dwk = DWS.get();
  std::vector<char> dw_got(dwk.size());
  for (int ik = 0; ik < k; ik++)
    for (int ic = 0; ic < c; ic++)
      for (int ir = 0; ir < r * r; ir++)
        memcpy(&dw_got[(((size_t)ik * c + ic) * r * r + ir) * es], &dwk[(((size_t)ik * r * r + ir) * c + ic) * es], es);
  (void)dummy;
  const char *tn = t == CUDNN_DATA_BFLOAT16 ? "bf16" : "fp32";
  printf("  NHWC slice views %s 3x3/s%d: forward %s, backward data %s, backward filter %s; bytes outside the slices "
         "written: y %zu, dx %zu\n",
         tn, stride, y_got == y_ref ? "same bits" : "DIFFERS", dx_got == dx_ref ? "same bits" : "DIFFERS",
         dw_got == dw_ref ? "same bits" : "DIFFERS", ty, tdx);
  T_CHECK(y_got == y_ref, "%s s%d: forward through NHWC slices differs from packed NCHW", tn, stride);
  T_CHECK(dx_got == dx_ref, "%s s%d: backward data through NHWC slices differs from packed NCHW", tn, stride);
  T_CHECK(dw_got == dw_ref, "%s s%d: backward filter with a KRSC filter differs from NCHW", tn, stride);
  T_CHECK(ty == 0 && tdx == 0, "%s s%d: a slice write touched %zu / %zu bytes of other channels", tn, stride, ty, tdx);
  for (auto d : {xd, yd, xs, ys}) cudnnDestroyTensorDescriptor(d);
  cudnnDestroyFilterDescriptor(wd), cudnnDestroyFilterDescriptor(wn);
  cudnnDestroyConvolutionDescriptor(cd);
}

/* a child describes an overlapping layout; the double must stop it */
static void refused(const char *what, int ns, int cs, int hs, int ws) {
  fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stderr);
    cudnnTensorDescriptor_t d;
    cudnnCreateTensorDescriptor(&d);
    cudnnSetTensor4dDescriptorEx(d, CUDNN_DATA_FLOAT, 2, 4, 3, 3, ns, cs, hs, ws);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  const int stopped = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  printf("  overlapping strides (%s): %s\n", what, stopped ? "refused" : "ACCEPTED");
  T_CHECK(stopped, "strides %d %d %d %d (%s) must be refused", ns, cs, hs, ws, what);
}

int main(void) {
  printf("test_cuda_emul_dnn: the cuDNN double on NHWC channel slices vs packed NCHW\n");
  cudaStreamCreateWithFlags(&g_s, cudaStreamNonBlocking);
  DNN(cudnnCreate(&g_h));
  DNN(cudnnSetStream(g_h, g_s));
  for (int bf = 0; bf < 2; bf++)
    for (int stride = 1; stride <= 2; stride++) one(bf ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT, stride);
  refused("pixel stride below the channels", 3 * 3 * 4, 1, 3 * 3, 3);
  refused("image stride below an image", 4 * 3 * 2, 1, 3 * 4, 4);
  cudnnDestroy(g_h);
  cudaStreamDestroy(g_s);
  return t_finish("test_cuda_emul_dnn");
}
