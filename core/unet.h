/* core/unet.h: UNet-VGG16 and UNet-ResNet50 (model.md sections 1-2) on any
 * backend (core/backend.h): one flat parameter buffer and one flat gradient
 * buffer on the backend's device, laid out in
 * the PyTorch named_parameters() order of the reference modules (see
 * tests/torch_ref.py), BatchNorm running statistics in a flat buffer in
 * named_buffers() order (running_mean, running_var per BN layer).
 * Activations live in the backend's layout between layers; the input is
 * plain [N][Cin][H][W] and the logits plain [N][K][H][W]. Callers outside
 * core/ see host memory only: the *_download/_upload functions copy the flat
 * buffers (host fp32, PyTorch order, as checkpoints store them).
 * defines: UnetBackbone, UnetInit, UnetConfig, UnetTensorInfo, Unet, unet_* */
#ifndef CORDSEG_UNET_H
#define CORDSEG_UNET_H
#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/loss.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { UNET_BACKBONE_VGG16 = 0, UNET_BACKBONE_RESNET50 = 1 } UnetBackbone;
typedef enum { UNET_INIT_NORMAL = 0, UNET_INIT_KAIMING = 1 } UnetInit;
extern const CsEnum UNET_BACKBONE_ENUM, UNET_INIT_ENUM, UNET_CONV_ALGO_ENUM; /* vgg16|resnet50, normal|kaiming, auto|direct */
/* Convolution algorithm. AUTO: oneDNN's Winograd F(4x4,3x3) on the 3x3 stride-1
 * layers whose channel counts are multiples of 16 and whose maps are at least
 * 16x16 (where it measured ~2x faster than direct on AVX-512), direct elsewhere;
 * a fixed rule of the shapes, so runs stay reproducible. DIRECT: direct
 * everywhere (the reference the tests compare against PyTorch with). */
typedef enum { UNET_CONV_AUTO = 0, UNET_CONV_DIRECT = 1 } UnetConvAlgo;

typedef struct {
  UnetBackbone backbone;
  int32_t in_channels; /* 1 (B0 or FA) or 2 (B0+FA) */
  int32_t classes;     /* K >= 2 (9 in the paper) */
  int32_t width_div;   /* 1 = the paper's widths; 2 or 4 divide every width (tests) */
  int32_t conv_algo;   /* UnetConvAlgo; 0 = AUTO */
} UnetConfig;

typedef struct {
  char name[64];     /* PyTorch-style name, e.g. "up4.conv1.weight" */
  size_t offset;     /* into the flat buffer */
  size_t numel;
  int32_t shape[4];  /* OIHW for conv weights; [C] for biases and BN */
  int32_t ndim;
} UnetTensorInfo;

typedef struct Unet Unet;

/* "vgg16" -> VGG16, "resnet50" -> ResNet50 (UNET_BACKBONE_ENUM, any case); -1 otherwise */
int unet_backbone_parse(const char *name);
const char *unet_backbone_name(UnetBackbone b);
/* NULL if valid, else a message naming the bad value and the fix. size = H = W. */
const char *unet_config_check(const UnetConfig *cfg, int32_t height, int32_t width);
/* Parameter count and forward conv MACs per image without building the net. */
void unet_count(const UnetConfig *cfg, int32_t height, int32_t width, size_t *params, double *macs);

/* be: the backend every buffer and op of the net uses (not owned; it must
 * outlive the net) */
Unet *unet_init(Backend *be, const UnetConfig *cfg, int32_t batch, int32_t height, int32_t width);
void unet_free(Unet *net);
Backend *unet_backend(const Unet *net);
/* Synchronized BatchNorm in training mode: per-channel sums through sync
 * (global-batch statistics); NULL (default) = this process's batch. */
void unet_set_bn_sync(Unet *net, const BackendSync *sync);

size_t unet_num_params(const Unet *net);
size_t unet_num_tensors(const Unet *net);
const UnetTensorInfo *unet_tensor(const Unet *net, size_t i);
size_t unet_num_buffers(const Unet *net); /* BN running stats */
/* host copies of the flat buffers: params/grads [num_params], buffers [num_buffers] */
void unet_params_download(Unet *net, float *host);
void unet_params_upload(Unet *net, const float *host);
void unet_grads_download(Unet *net, float *host);
void unet_buffers_download(Unet *net, float *host);
void unet_buffers_upload(Unet *net, const float *host);
/* BN running statistics <- their mean over the ranks (the backend's comm) */
void unet_buffers_average(Unet *net);
size_t unet_num_buffer_tensors(const Unet *net);
const UnetTensorInfo *unet_buffer_tensor(const Unet *net, size_t i);

/* N(0, 0.02) conv weights, BN gamma N(1, 0.02), beta 0, VGG encoder biases 0,
 * other biases U(+-1/sqrt(fan_in)) (the reference code), or Kaiming-normal. */
void unet_init_weights(Unet *net, UnetInit init, uint64_t seed);

/* host x [N][Cin][H][W] -> host logits [N][K][H][W] (owned by net, valid until
 * the next call). train: BN uses batch statistics and updates the running ones
 * (momentum 0.1); else running stats. Non-finite input is a fatal error. */
const float *unet_forward(Unet *net, const float *x, int train);
/* eval-mode forward into the caller's host buffer: the class probabilities
 * as the loss sees them (softmax, or per-class sigmoid for hdl) */
void unet_predict_probs(Unet *net, const LossConfig *lc, const float *x, float *probs);
/* host dlogits [N][K][H][W] -> gradients, overwritten (not accumulated). Needs
 * the preceding unet_forward with train=1. */
void unet_backward(Unet *net, const float *dlogits);
double unet_forward_macs(const Unet *net); /* per image */
/* Convolutions that run Winograd kernels, and all convolutions. */
void unet_conv_algo_count(const Unet *net, int *winograd, int *total);
/* the planned convolutions in execution order: shape, and the backend's
 * algorithm for pass which (0 fwd, 1 bwd data, 2 bwd weights) */
int unet_num_convs(const Unet *net);
const ConvSpec *unet_conv_spec(const Unet *net, int i);
const char *unet_conv_describe(const Unet *net, int i, int which);
int unet_conv_algo_parse(const char *name); /* "auto" | "direct"; -1 otherwise */
const char *unet_conv_algo_name(UnetConvAlgo a);

/* ---- for core/step.c only: the device side of a step ---- */
void unet_check_input(const Unet *net, const float *x_host); /* fatal on NaN/Inf */
void unet_upload_input(Unet *net, const float *x_host); /* checks finiteness */
int unet_has_bn_sync(const Unet *net);
int32_t unet_in_channels(const Unet *net);
void unet_run_forward(Unet *net, int train);              /* device input -> device logits */
void unet_run_backward(Unet *net);                         /* device dlogits -> device grads */
float *unet_dev_input(Unet *net);
float *unet_dev_logits(Unet *net);
float *unet_dev_dlogits(Unet *net);
float *unet_dev_params(Unet *net);
float *unet_dev_grads(Unet *net);
#ifdef __cplusplus
}
#endif
#endif
