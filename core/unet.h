/* core/unet.h: UNet-VGG16 and UNet-ResNet50 (model.md sections 1-2) on the CPU
 * backend: one flat parameter buffer and one flat gradient buffer, laid out in
 * the PyTorch named_parameters() order of the reference modules (see
 * tests/torch_ref.py), BatchNorm running statistics in a flat buffer in
 * named_buffers() order (running_mean, running_var per BN layer).
 * Activations live in oneDNN's blocked nChw16c layout between layers; the
 * input is plain [N][Cin][H][W] and the logits plain [N][K][H][W].
 * defines: UnetBackbone, UnetInit, UnetConfig, UnetTensorInfo, Unet, unet_* */
#ifndef CORDSEG_UNET_H
#define CORDSEG_UNET_H
#include <stddef.h>
#include <stdint.h>

typedef enum { UNET_BACKBONE_VGG16 = 0, UNET_BACKBONE_RESNET50 = 1 } UnetBackbone;
typedef enum { UNET_INIT_NORMAL = 0, UNET_INIT_KAIMING = 1 } UnetInit;
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

/* "vgg16"|"vgg" -> VGG16, "resnet50"|"resnet" -> ResNet50; -1 otherwise */
int unet_backbone_parse(const char *name);
const char *unet_backbone_name(UnetBackbone b);
/* NULL if valid, else a message naming the bad value and the fix. size = H = W. */
const char *unet_config_check(const UnetConfig *cfg, int32_t height, int32_t width);
/* Parameter count and forward conv MACs per image without building the net. */
void unet_count(const UnetConfig *cfg, int32_t height, int32_t width, size_t *params, double *macs);

Unet *unet_init(const UnetConfig *cfg, int32_t batch, int32_t height, int32_t width);
void unet_free(Unet *net);

size_t unet_num_params(const Unet *net);
float *unet_params(Unet *net);  /* [num_params] */
float *unet_grads(Unet *net);   /* [num_params] */
size_t unet_num_tensors(const Unet *net);
const UnetTensorInfo *unet_tensor(const Unet *net, size_t i);
size_t unet_num_buffers(const Unet *net);
float *unet_buffers(Unet *net); /* BN running stats [num_buffers] */
size_t unet_num_buffer_tensors(const Unet *net);
const UnetTensorInfo *unet_buffer_tensor(const Unet *net, size_t i);

/* N(0, 0.02) conv weights, BN gamma N(1, 0.02), beta 0, VGG encoder biases 0,
 * other biases U(+-1/sqrt(fan_in)) (the reference code), or Kaiming-normal. */
void unet_init_weights(Unet *net, UnetInit init, uint64_t seed);

/* x [N][Cin][H][W] -> logits [N][K][H][W] (owned by net). train: BN uses batch
 * statistics and updates the running ones (momentum 0.1); else running stats. */
const float *unet_forward(Unet *net, const float *x, int train);
/* dlogits [N][K][H][W] -> gradients, overwritten (not accumulated). Needs the
 * preceding unet_forward with train=1. */
void unet_backward(Unet *net, const float *dlogits);
double unet_forward_macs(const Unet *net); /* per image */
/* Convolutions that run Winograd kernels, and all convolutions. */
void unet_conv_algo_count(const Unet *net, int *winograd, int *total);
int unet_conv_algo_parse(const char *name); /* "auto" | "direct"; -1 otherwise */
const char *unet_conv_algo_name(UnetConvAlgo a);
#endif
