/* tests/cuda_emul/cudnn.h: test double of the cuDNN 9 convolution API subset
 * core/cuda/conv_cudnn.cu uses. Descriptors are recorded and every
 * convolution call checks them (packed NCHW or NHWC, or non-overlapping
 * strides (cudnnSetTensor4dDescriptorEx), read and written through them;
 * one data type across x, w and y, channel and output sizes against the convolution's padding and
 * stride, the algorithm against those the heuristics returned, workspace
 * pointer and size against the algorithm's need, every buffer inside a
 * device allocation), then computes with the CPU reference convolution
 * (layer_conv_ref_*, fp64 accumulation), rounding through bf16 for
 * CUDNN_DATA_BFLOAT16 tensors. The timed search (cudnnFind*Ex) checks its
 * buffers and answers with the double's algorithms in an order of its own
 * "times" (algorithm 6 fastest), so a test can tell a timed pick from the
 * heuristics' (algorithm 0 first among the deterministic ones). See
 * tests/cuda_emul/emul.cpp. */
#ifndef CUEMUL_CUDNN_H
#define CUEMUL_CUDNN_H
#include <stddef.h>

#include "cuda_runtime.h"

#define CUDNN_MAJOR 9
typedef enum {
  CUDNN_STATUS_SUCCESS = 0,
  CUDNN_STATUS_BAD_PARAM = 2000,
  CUDNN_STATUS_NOT_SUPPORTED = 3000,
  CUDNN_STATUS_EXECUTION_FAILED = 5000,
} cudnnStatus_t;
typedef enum { CUDNN_DATA_FLOAT = 0, CUDNN_DATA_DOUBLE = 1, CUDNN_DATA_HALF = 2, CUDNN_DATA_BFLOAT16 = 9 } cudnnDataType_t;
typedef enum { CUDNN_TENSOR_NCHW = 0, CUDNN_TENSOR_NHWC = 1 } cudnnTensorFormat_t;
typedef enum { CUDNN_CONVOLUTION = 0, CUDNN_CROSS_CORRELATION = 1 } cudnnConvolutionMode_t;
typedef enum {
  CUDNN_DEFAULT_MATH = 0,
  CUDNN_TENSOR_OP_MATH = 1,
  CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2,
  CUDNN_FMA_MATH = 3
} cudnnMathType_t;
typedef enum { CUDNN_NON_DETERMINISTIC = 0, CUDNN_DETERMINISTIC = 1 } cudnnDeterminism_t;
typedef int cudnnConvolutionFwdAlgo_t;
typedef int cudnnConvolutionBwdDataAlgo_t;
typedef int cudnnConvolutionBwdFilterAlgo_t;

struct CuemulDnn;
struct CuemulTensor;
struct CuemulConv;
typedef CuemulDnn *cudnnHandle_t;
typedef CuemulTensor *cudnnTensorDescriptor_t;
typedef CuemulTensor *cudnnFilterDescriptor_t;
typedef CuemulConv *cudnnConvolutionDescriptor_t;

#define CUEMUL_PERF_STRUCT(name, algo_t) \
  typedef struct {                       \
    algo_t algo;                         \
    cudnnStatus_t status;                \
    float time;                          \
    size_t memory;                       \
    cudnnDeterminism_t determinism;      \
    cudnnMathType_t mathType;            \
    int reserved[3];                     \
  } name;
CUEMUL_PERF_STRUCT(cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t)
CUEMUL_PERF_STRUCT(cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t)
CUEMUL_PERF_STRUCT(cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t)

const char *cudnnGetErrorString(cudnnStatus_t s);
size_t cudnnGetVersion(void);
cudnnStatus_t cudnnCreate(cudnnHandle_t *h);
cudnnStatus_t cudnnDestroy(cudnnHandle_t h);
cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s);
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d);
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d);
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t f, cudnnDataType_t t, int n, int c,
                                         int h, int w);
/* any non-overlapping element strides (a channel slice of an NHWC buffer) */
cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t d, cudnnDataType_t t, int n, int c, int h, int w,
                                           int ns, int cs, int hs, int ws);
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d);
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d);
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t t, cudnnTensorFormat_t f, int k, int c,
                                         int h, int w);
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d);
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d);
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v, int dil_h,
                                              int dil_w, cudnnConvolutionMode_t mode, cudnnDataType_t compute);
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m);
cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                                     cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, int req,
                                                     int *got, cudnnConvolutionFwdAlgoPerf_t *r);
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                          cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                          cudnnTensorDescriptor_t dx, int req, int *got,
                                                          cudnnConvolutionBwdDataAlgoPerf_t *r);
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                            cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                            cudnnFilterDescriptor_t dw, int req, int *got,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t *r);
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd, const void *x,
                                      cudnnFilterDescriptor_t wd, const void *w, cudnnConvolutionDescriptor_t cd,
                                      cudnnConvolutionFwdAlgo_t algo, void *ws, size_t ws_bytes, const void *beta,
                                      cudnnTensorDescriptor_t yd, void *y);
cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void *alpha, cudnnFilterDescriptor_t wd, const void *w,
                                           cudnnTensorDescriptor_t dyd, const void *dy, cudnnConvolutionDescriptor_t cd,
                                           cudnnConvolutionBwdDataAlgo_t algo, void *ws, size_t ws_bytes,
                                           const void *beta, cudnnTensorDescriptor_t dxd, void *dx);
cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd, const void *x,
                                             cudnnTensorDescriptor_t dyd, const void *dy, cudnnConvolutionDescriptor_t cd,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void *ws, size_t ws_bytes,
                                             const void *beta, cudnnFilterDescriptor_t dwd, void *dw);
cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t h, cudnnTensorDescriptor_t xd, const void *x,
                                                     cudnnFilterDescriptor_t wd, const void *w,
                                                     cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, void *y,
                                                     int req, int *got, cudnnConvolutionFwdAlgoPerf_t *r, void *ws,
                                                     size_t ws_bytes);
cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t h, cudnnFilterDescriptor_t wd, const void *w,
                                                          cudnnTensorDescriptor_t dyd, const void *dy,
                                                          cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t dxd,
                                                          void *dx, int req, int *got,
                                                          cudnnConvolutionBwdDataAlgoPerf_t *r, void *ws, size_t ws_bytes);
cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t h, cudnnTensorDescriptor_t xd, const void *x,
                                                            cudnnTensorDescriptor_t dyd, const void *dy,
                                                            cudnnConvolutionDescriptor_t cd, cudnnFilterDescriptor_t dwd,
                                                            void *dw, int req, int *got,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t *r, void *ws,
                                                            size_t ws_bytes);
/* calls checked so far (for tests) */
long long cuemul_cudnn_calls(void);
#endif
