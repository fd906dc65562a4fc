/* core/unet.c: builds and runs UNet-VGG16 and UNet-ResNet50 (model.md 1-2) on
 * any backend (core/backend.h): every buffer is the backend's, every layer a
 * backend op; nothing here knows the device. One builder walks the network in PyTorch registration order, once
 * to count (parameters, MACs) and once to allocate and bind; forward and
 * backward are explicit per-backbone call sequences, no graph engine.
 * Gradient bookkeeping: an activation read by two layers (UNet skips, ResNet
 * block inputs) gets its gradient from the first writer in backward order and
 * accumulated (via the scratch buffer) by the next: Act.gvalid tracks this. */
#include "core/unet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/common.h"
#include "core/backend.h"

#define UNET_MAX_UNITS 96
#define UNET_MAX_ACTS 256
#define UNET_MAX_TENSORS 400

typedef struct {
  float *x, *g;      /* backend layout, channel planes contiguous (core/backend.h) */
  int32_t c, h, w;
  int gvalid;        /* gradient written during the current backward pass */
  int g_alias;       /* g borrowed from another Act */
} Act;

typedef struct {
  BackendConv *conv;
  ConvSpec spec;
  Act *in, *z, *out; /* z = conv output (== out when there is no BN) */
  int bn, relu;
  size_t w_off, b_off, gamma_off, beta_off, rm_off, rv_off; /* into params / buffers */
  float *save_mean, *save_istd;                             /* [cout] */
  const float *res;                                         /* residual added inside BN (bottleneck conv3) */
} Unit;

typedef struct {
  Act *skip, *deep, *cat;
  Unit *c1, *c2;
} UpBlock;

typedef struct {
  Unit *c1, *c2, *c3, *down;
  Act *in, *out;
} Block;

struct Unet {
  Backend *be;               /* not owned */
  const BackendSync *bn_sync; /* synchronized BN (NULL: local batch); not owned */
  UnetConfig cfg;
  int32_t n, h, w;
  int building;
  size_t act_bytes;        /* activations and their gradients (count pass) */
  size_t np, nb;           /* parameter / buffer element counts */
  double macs;             /* forward MACs for the whole batch */
  float *params, *grads, *buffers;
  UnetTensorInfo tensors[UNET_MAX_TENSORS], btensors[UNET_MAX_TENSORS];
  size_t ntensors, nbtensors;
  Unit units[UNET_MAX_UNITS];
  int nunits;
  Act acts[UNET_MAX_ACTS];
  int nacts;
  float *input;            /* [N][Cin][H][W] plain (device) */
  float *logits, *dlogits; /* [N][K][H][W] plain (device) */
  float *logits_host;      /* unet_forward's host copy */
  float *scratch;          /* the largest activation */
  size_t scratch_len;
  /* VGG */
  Unit *enc[13];
  Act *pool[4];
  /* ResNet */
  Unit *stem;
  Act *mp;
  Block blocks[16];
  int nblocks;
  Act *upc;
  Unit *uc1, *uc2;
  /* both */
  Act *feat[5];
  UpBlock up[4]; /* up[0] = up4 (deepest) ... up[3] = up1 */
  Unit *final;
};

/* ---------------------------------------------------------------- config -- */
static const char *const BACKBONE_NAMES[] = {"vgg16", "resnet50"}, *const INIT_NAMES[] = {"normal", "kaiming"},
                         *const CONV_ALGO_NAMES[] = {"auto", "direct"};
const CsEnum UNET_BACKBONE_ENUM = {BACKBONE_NAMES, 2}, UNET_INIT_ENUM = {INIT_NAMES, 2},
             UNET_CONV_ALGO_ENUM = {CONV_ALGO_NAMES, 2};

int unet_backbone_parse(const char *name) { return cs_enum_parse(&UNET_BACKBONE_ENUM, name); }
const char *unet_backbone_name(UnetBackbone b) { return cs_enum_name(&UNET_BACKBONE_ENUM, (int)b); }

const char *unet_config_check(const UnetConfig *cfg, int32_t height, int32_t width) {
  static char msg[256];
  const int32_t mult = cfg->backbone == UNET_BACKBONE_VGG16 ? 16 : 32;
  if (cfg->backbone != UNET_BACKBONE_VGG16 && cfg->backbone != UNET_BACKBONE_RESNET50)
    snprintf(msg, sizeof msg, "unknown backbone %d: use vgg16 or resnet50", (int)cfg->backbone);
  else if (cfg->in_channels < 1 || cfg->in_channels > 2)
    snprintf(msg, sizeof msg, "in_channels %d: use 1 (b0 or fa) or 2 (b0+fa)", cfg->in_channels);
  else if (cfg->classes < 2 || cfg->classes > 255)
    snprintf(msg, sizeof msg, "classes %d: need 2..255 (9 = 8 ROIs + background in the paper)", cfg->classes);
  else if (cfg->width_div != 1 && cfg->width_div != 2 && cfg->width_div != 4)
    snprintf(msg, sizeof msg, "width_div %d: use 1 (paper), 2 or 4", cfg->width_div);
  else if (cfg->conv_algo != UNET_CONV_AUTO && cfg->conv_algo != UNET_CONV_DIRECT)
    snprintf(msg, sizeof msg, "conv_algo %d: use auto or direct", cfg->conv_algo);
  else if (height <= 0 || width <= 0 || height % mult || width % mult)
    snprintf(msg, sizeof msg, "image size %dx%d: the %s UNet needs a positive multiple of %d (e.g. %d); crop or pad the slices",
             height, width, unet_backbone_name(cfg->backbone), mult, (height / mult + 1) * mult);
  else
    return NULL;
  return msg;
}

/* --------------------------------------------------------------- builder -- */
static size_t reg(Unet *net, UnetTensorInfo *tab, size_t *ntab, size_t *count, const char *name, int ndim, int32_t d0,
                  int32_t d1, int32_t d2, int32_t d3) {
  CS_CHECK(*ntab < UNET_MAX_TENSORS, NULL, "internal: too many tensors");
  UnetTensorInfo *t = &tab[(*ntab)++];
  size_t len = strlen(name);
  if (len >= sizeof t->name) len = sizeof t->name - 1;
  memcpy(t->name, name, len);
  t->name[len] = 0;
  t->ndim = ndim;
  t->shape[0] = d0, t->shape[1] = d1, t->shape[2] = d2, t->shape[3] = d3;
  t->numel = (size_t)d0 * (ndim > 1 ? d1 : 1) * (ndim > 2 ? d2 : 1) * (ndim > 3 ? d3 : 1);
  t->offset = *count;
  *count += t->numel;
  (void)net;
  return t->offset;
}
#define REG_P(net, name, ...) reg(net, (net)->tensors, &(net)->ntensors, &(net)->np, name, __VA_ARGS__)
#define REG_B(net, name, ...) reg(net, (net)->btensors, &(net)->nbtensors, &(net)->nb, name, __VA_ARGS__)

static size_t act_len(const Unet *net, const Act *a) { return (size_t)net->n * a->c * a->h * a->w; }

static Act *act_new(Unet *net, int32_t c, int32_t h, int32_t w) {
  CS_CHECK(net->nacts < UNET_MAX_ACTS, NULL, "internal: too many activations");
  Act *a = &net->acts[net->nacts++];
  memset(a, 0, sizeof *a);
  a->c = c, a->h = h, a->w = w;
  /* in the backend's layout (bf16 NHWC: 2 bytes an element); unet_count has no backend */
  const size_t bytes = net->be ? backend_act_bytes(net->be, act_len(net, a)) : act_len(net, a) * sizeof(float);
  if (net->building) {
    a->x = net->be->alloc(net->be, bytes);
    a->g = net->be->alloc(net->be, bytes);
  }
  if (act_len(net, a) > net->scratch_len) net->scratch_len = act_len(net, a);
  net->act_bytes += 2 * bytes;
  return a;
}

/* conv (+BN) (+ReLU) unit. `in` NULL = the plain network input. */
static Unit *unit_new(Unet *net, const char *conv_name, const char *bn_name, Act *in, int32_t cout, int32_t k, int32_t stride,
                      int32_t pad, int bias, int relu, int plain_dst) {
  CS_CHECK(net->nunits < UNET_MAX_UNITS, NULL, "internal: too many units");
  Unit *u = &net->units[net->nunits++];
  memset(u, 0, sizeof *u);
  const int32_t cin = in ? in->c : net->cfg.in_channels, hin = in ? in->h : net->h, win = in ? in->w : net->w;
  const int32_t ho = layer_conv_out(hin, k, stride, pad), wo = layer_conv_out(win, k, stride, pad);
  char nm[96];
  snprintf(nm, sizeof nm, "%s.weight", conv_name);
  u->w_off = REG_P(net, nm, 4, cout, cin, k, k);
  if (bias) {
    snprintf(nm, sizeof nm, "%s.bias", conv_name);
    u->b_off = REG_P(net, nm, 1, cout, 0, 0, 0);
  }
  u->bn = bn_name != NULL;
  u->relu = relu;
  if (u->bn) {
    snprintf(nm, sizeof nm, "%s.weight", bn_name);
    u->gamma_off = REG_P(net, nm, 1, cout, 0, 0, 0);
    snprintf(nm, sizeof nm, "%s.bias", bn_name);
    u->beta_off = REG_P(net, nm, 1, cout, 0, 0, 0);
    snprintf(nm, sizeof nm, "%s.running_mean", bn_name);
    u->rm_off = REG_B(net, nm, 1, cout, 0, 0, 0);
    snprintf(nm, sizeof nm, "%s.running_var", bn_name);
    u->rv_off = REG_B(net, nm, 1, cout, 0, 0, 0);
  }
  u->spec = (ConvSpec){.n = net->n, .cin = cin, .cout = cout, .k = k, .stride = stride, .pad = pad, .hin = hin, .win = win,
                       .bias = bias, .relu = relu && !u->bn, .plain_src = in == NULL, .plain_dst = plain_dst,
                       .need_dsrc = in != NULL,
                       .winograd = net->cfg.conv_algo == UNET_CONV_AUTO && k == 3 && stride == 1 && cin % 16 == 0 &&
                                   cout % 16 == 0 && hin >= 16 && win >= 16};
  net->macs += (double)net->n * ho * wo * cout * cin * k * k;
  u->in = in;
  if (!plain_dst) {
    u->out = act_new(net, cout, ho, wo);
    u->z = u->bn ? act_new(net, cout, ho, wo) : u->out;
  }
  return u;
}

/* second pass: plan the backend's convolutions on the allocated buffers */
static void unit_bind(Unet *net, Unit *u) {
  Backend *be = net->be;
  float *P = net->params, *G = net->grads;
  float *src = u->in ? u->in->x : net->input, *dsrc = u->in ? u->in->g : NULL;
  float *dst = u->spec.plain_dst ? net->logits : u->z->x, *ddst = u->spec.plain_dst ? net->dlogits : u->z->g;
  u->conv = be->conv_plan(be, &u->spec, src, dst, P + u->w_off, u->spec.bias ? P + u->b_off : NULL, dsrc, ddst,
                          G + u->w_off, u->spec.bias ? G + u->b_off : NULL);
  if (u->bn) {
    u->save_mean = be->alloc(be, u->spec.cout * sizeof(float));
    u->save_istd = be->alloc(be, u->spec.cout * sizeof(float));
  }
}

static UpBlock upblock_new(Unet *net, const char *name, Act *skip, Act *deep, int32_t cout) {
  UpBlock b = {.skip = skip, .deep = deep};
  b.cat = act_new(net, skip->c + deep->c, skip->h, skip->w);
  char n1[32], n2[32];
  snprintf(n1, sizeof n1, "%s.conv1", name);
  snprintf(n2, sizeof n2, "%s.conv2", name);
  b.c1 = unit_new(net, n1, NULL, b.cat, cout, 3, 1, 1, 1, 1, 0);
  b.c2 = unit_new(net, n2, NULL, b.c1->out, cout, 3, 1, 1, 1, 1, 0);
  return b;
}

/* up4..up1: bilinear x2 of the deeper map, concat [skip, up], two 3x3 convs. */
static Act *build_decoder(Unet *net) {
  static const int32_t outf[4] = {512, 256, 128, 64};
  static const char *names[4] = {"up4", "up3", "up2", "up1"};
  Act *deep = net->feat[4];
  for (int i = 0; i < 4; i++) {
    net->up[i] = upblock_new(net, names[i], net->feat[3 - i], deep, outf[i] / net->cfg.width_div);
    deep = net->up[i].c2->out;
  }
  return deep;
}

static void build_vgg(Unet *net) {
  const int32_t d = net->cfg.width_div;
  static const int32_t cfg[13] = {64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512};
  static const int32_t idx[13] = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28}; /* torchvision features indices */
  static const int32_t tap[5] = {1, 3, 6, 9, 12};                                 /* feat1..feat5 */
  Act *cur = NULL;
  int p = 0, t = 0;
  for (int i = 0; i < 13; i++) {
    char nm[32];
    snprintf(nm, sizeof nm, "features.%d", idx[i]);
    net->enc[i] = unit_new(net, nm, NULL, cur, cfg[i] / d, 3, 1, 1, 1, 1, 0);
    cur = net->enc[i]->out;
    if (i == tap[t]) {
      net->feat[t++] = cur;
      if (t < 5) {
        net->pool[p] = act_new(net, cur->c, cur->h / 2, cur->w / 2);
        cur = net->pool[p++];
      }
    }
  }
  Act *deep = build_decoder(net);
  net->final = unit_new(net, "final", NULL, deep, net->cfg.classes, 1, 1, 0, 1, 0, 1);
}

static void build_resnet(Unet *net) {
  const int32_t d = net->cfg.width_div;
  net->stem = unit_new(net, "enc.conv1", "enc.bn1", NULL, 64 / d, 7, 2, 3, 0, 1, 0);
  net->feat[0] = net->stem->out;
  net->mp = act_new(net, 64 / d, layer_pool3s2_out(net->feat[0]->h), layer_pool3s2_out(net->feat[0]->w));
  static const int32_t planes[4] = {64, 128, 256, 512}, nblk[4] = {3, 4, 6, 3}, strides[4] = {1, 2, 2, 2};
  Act *cur = net->mp;
  for (int s = 0; s < 4; s++)
    for (int i = 0; i < nblk[s]; i++) {
      Block *b = &net->blocks[net->nblocks++];
      const int32_t pl = planes[s] / d, st = i == 0 ? strides[s] : 1;
      char a[48], bn[48];
#define NM(buf, fmt) snprintf(buf, sizeof buf, "enc.layer%d.%d." fmt, s + 1, i)
      b->in = cur;
      NM(a, "conv1"), NM(bn, "bn1");
      b->c1 = unit_new(net, a, bn, cur, pl, 1, 1, 0, 0, 1, 0);
      NM(a, "conv2"), NM(bn, "bn2");
      b->c2 = unit_new(net, a, bn, b->c1->out, pl, 3, st, 1, 0, 1, 0);
      NM(a, "conv3"), NM(bn, "bn3");
      b->c3 = unit_new(net, a, bn, b->c2->out, 4 * pl, 1, 1, 0, 0, 1, 0);
      if (i == 0) { /* block 0 of every stage: 1x1/s conv + BN on the identity path */
        NM(a, "down.0"), NM(bn, "down.1");
        b->down = unit_new(net, a, bn, cur, 4 * pl, 1, st, 0, 0, 0, 0);
      }
#undef NM
      b->out = b->c3->out;
      cur = b->out;
    }
    /* layer outputs: feat2..feat5 */
  net->feat[1] = net->blocks[2].out;
  net->feat[2] = net->blocks[6].out;
  net->feat[3] = net->blocks[12].out;
  net->feat[4] = net->blocks[15].out;
  Act *deep = build_decoder(net);
  net->upc = act_new(net, deep->c, deep->h * 2, deep->w * 2);
  net->uc1 = unit_new(net, "up_conv1", NULL, net->upc, 64 / d, 3, 1, 1, 1, 1, 0);
  net->uc2 = unit_new(net, "up_conv2", NULL, net->uc1->out, 64 / d, 3, 1, 1, 1, 1, 0);
  net->final = unit_new(net, "final", NULL, net->uc2->out, net->cfg.classes, 1, 1, 0, 1, 0, 1);
}

static void build(Unet *net) {
  net->np = net->nb = net->ntensors = net->nbtensors = 0;
  net->act_bytes = 0;
  net->nunits = net->nacts = net->nblocks = 0;
  net->macs = 0;
  if (net->cfg.backbone == UNET_BACKBONE_VGG16) build_vgg(net);
  else build_resnet(net);
}

void unet_count(const UnetConfig *cfg, int32_t height, int32_t width, size_t *params, double *macs) {
  Unet *net = callocCheck(1, sizeof(Unet));
  net->cfg = *cfg, net->n = 1, net->h = height, net->w = width;
  build(net);
  if (params) *params = net->np;
  if (macs) *macs = net->macs;
  free(net);
}

Unet *unet_init(Backend *be, const UnetConfig *cfg, int32_t batch, int32_t height, int32_t width) {
  const char *bad = unet_config_check(cfg, height, width);
  if (bad) cs_fatal("fix the model settings", "%s", bad);
  CS_CHECK(batch >= 1, "use a batch size of at least 1", "batch size %d", batch);
  Unet *net = callocCheck(1, sizeof(Unet));
  net->be = be;
  net->cfg = *cfg, net->n = batch, net->h = height, net->w = width;
  build(net); /* count pass */
  const size_t np = net->np, nb = net->nb, nl = (size_t)batch * cfg->classes * height * width;
  net->params = be->alloc(be, np * sizeof(float));
  net->grads = be->alloc(be, np * sizeof(float));
  net->buffers = be->alloc(be, (nb ? nb : 1) * sizeof(float));
  net->input = be->alloc(be, (size_t)batch * cfg->in_channels * height * width * sizeof(float));
  net->logits = be->alloc(be, nl * sizeof(float));
  net->dlogits = be->alloc(be, nl * sizeof(float));
  net->logits_host = alignedAllocCheck(nl * sizeof(float));
  { /* device memory: fail before allocating, naming the model and what it needs (Adam adds 2 P) */
    size_t fr = 0, tot = 0;
    const double need = (double)net->act_bytes * 1.5 /* scratch, cuDNN workspace */ + 16.0 * np + 12.0 * nl;
    if (be->mem_info(be, &fr, &tot) && need > (double)fr)
      cs_fatal("lower batch (the global batch is split over the ranks), the image size or the width (width_div)",
               "UNet-%s at batch %d, %dx%d needs about %.1f GiB of device memory; %.1f of %.1f GiB are free",
               unet_backbone_name(cfg->backbone), batch, height, width, need / 1073741824.0, fr / 1073741824.0,
               tot / 1073741824.0);
  }
  net->building = 1;
  build(net); /* allocate */
  CS_CHECK(net->np == np && net->nb == nb, NULL, "internal: builder passes disagree");
  net->scratch = be->alloc(be, backend_act_bytes(be, net->scratch_len)); /* a parked activation gradient */
  for (int i = 0; i < net->nunits; i++) unit_bind(net, &net->units[i]);
  /* down units' output gradient is the block output's (masked) gradient */
  for (int i = 0; i < net->nblocks; i++)
    if (net->blocks[i].down) {
      Act *o = net->blocks[i].down->out;
      be->free(be, o->g);
      o->g = net->blocks[i].out->g;
      o->g_alias = 1;
    }
  unet_init_weights(net, UNET_INIT_NORMAL, 0);
  return net;
}

void unet_free(Unet *net) {
  if (!net) return;
  Backend *be = net->be;
  for (int i = 0; i < net->nunits; i++) {
    be->conv_free(be, net->units[i].conv);
    if (net->units[i].bn) be->free(be, net->units[i].save_mean), be->free(be, net->units[i].save_istd);
  }
  for (int i = 0; i < net->nacts; i++) {
    be->free(be, net->acts[i].x);
    if (!net->acts[i].g_alias) be->free(be, net->acts[i].g);
  }
  void *bufs[] = {net->params, net->grads, net->buffers, net->input, net->logits, net->dlogits, net->scratch};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) be->free(be, bufs[i]);
  free(net->logits_host);
  free(net);
}

size_t unet_num_params(const Unet *net) { return net->np; }
size_t unet_num_tensors(const Unet *net) { return net->ntensors; }
const UnetTensorInfo *unet_tensor(const Unet *net, size_t i) { return &net->tensors[i]; }
size_t unet_num_buffers(const Unet *net) { return net->nb; }
Backend *unet_backend(const Unet *net) { return net->be; }
void unet_set_bn_sync(Unet *net, const BackendSync *sync) { net->bn_sync = sync; }
int unet_has_bn_sync(const Unet *net) { return net->bn_sync != NULL; }
int32_t unet_in_channels(const Unet *net) { return net->cfg.in_channels; }
void unet_params_download(Unet *net, float *host) { net->be->download(net->be, host, net->params, net->np * 4); }
void unet_params_upload(Unet *net, const float *host) { net->be->upload(net->be, net->params, host, net->np * 4); }
void unet_grads_download(Unet *net, float *host) { net->be->download(net->be, host, net->grads, net->np * 4); }
void unet_buffers_download(Unet *net, float *host) { net->be->download(net->be, host, net->buffers, net->nb * 4); }
void unet_buffers_upload(Unet *net, const float *host) { net->be->upload(net->be, net->buffers, host, net->nb * 4); }
void unet_buffers_average(Unet *net) {
  if (net->nb) net->be->allreduce_avg(net->be, net->buffers, net->nb);
}
float *unet_dev_input(Unet *net) { return net->input; }
float *unet_dev_logits(Unet *net) { return net->logits; }
float *unet_dev_dlogits(Unet *net) { return net->dlogits; }
float *unet_dev_params(Unet *net) { return net->params; }
float *unet_dev_grads(Unet *net) { return net->grads; }
size_t unet_num_buffer_tensors(const Unet *net) { return net->nbtensors; }
const UnetTensorInfo *unet_buffer_tensor(const Unet *net, size_t i) { return &net->btensors[i]; }
double unet_forward_macs(const Unet *net) { return net->macs / net->n; }
void unet_conv_algo_count(const Unet *net, int *winograd, int *total) {
  *winograd = 0, *total = net->nunits;
  for (int i = 0; i < net->nunits; i++) *winograd += net->be->conv_winograd(net->units[i].conv);
}
int unet_num_convs(const Unet *net) { return net->nunits; }
const ConvSpec *unet_conv_spec(const Unet *net, int i) { return &net->units[i].spec; }
const char *unet_conv_describe(const Unet *net, int i, int which) {
  return net->be->conv_describe(net->be, net->units[i].conv, which);
}
int unet_conv_algo_parse(const char *name) { return cs_enum_parse(&UNET_CONV_ALGO_ENUM, name); }
const char *unet_conv_algo_name(UnetConvAlgo a) { return cs_enum_name(&UNET_CONV_ALGO_ENUM, (int)a); }

/* ------------------------------------------------------------------ init -- */
static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

void unet_init_weights(Unet *net, UnetInit init, uint64_t seed) {
  Rng r;
  rng_init(&r, seed);
  float *hp = alignedAllocCheck(net->np * sizeof(float)), *hb = alignedAllocCheck((net->nb ? net->nb : 1) * sizeof(float));
  for (size_t i = 0; i < net->ntensors; i++) {
    const UnetTensorInfo *t = &net->tensors[i];
    float *p = hp + t->offset;
    if (t->ndim == 4) { /* conv weight OIHW */
      const double fan_in = (double)t->shape[1] * t->shape[2] * t->shape[3];
      const double sd = init == UNET_INIT_NORMAL ? 0.02 : sqrt(2.0 / fan_in);
      for (size_t j = 0; j < t->numel; j++) p[j] = (float)(sd * rng_normal(&r));
    } else if (strstr(t->name, "bn") || strstr(t->name, "down.1")) { /* BN affine */
      const int gamma = ends_with(t->name, ".weight");
      for (size_t j = 0; j < t->numel; j++)
        p[j] = gamma ? (init == UNET_INIT_NORMAL ? (float)(1.0 + 0.02 * rng_normal(&r)) : 1.0f) : 0.0f;
    } else { /* conv bias: VGG encoder 0; decoder/up_conv/final PyTorch default U(+-1/sqrt(fan_in)) */
      const UnetTensorInfo *wt = &net->tensors[i - 1];
      const double bound = 1.0 / sqrt((double)wt->shape[1] * wt->shape[2] * wt->shape[3]);
      const int zero = init == UNET_INIT_KAIMING || !strncmp(t->name, "features.", 9);
      for (size_t j = 0; j < t->numel; j++) p[j] = zero ? 0.0f : (float)(bound * (2 * rng_uniform(&r) - 1));
    }
  }
  for (size_t i = 0; i < net->nbtensors; i++) { /* running mean 0, running var 1 */
    const UnetTensorInfo *t = &net->btensors[i];
    const float v = ends_with(t->name, "running_var") ? 1.0f : 0.0f;
    for (size_t j = 0; j < t->numel; j++) hb[t->offset + j] = v;
  }
  unet_params_upload(net, hp);
  unet_buffers_upload(net, hb);
  free(hp), free(hb);
}

/* --------------------------------------------------------------- forward -- */
static void unit_forward(Unet *net, Unit *u, int train) {
  Backend *be = net->be;
  be->conv_forward(be, u->conv);
  if (u->bn) {
    const ConvSpec *s = &u->spec;
    float *P = net->params, *B = net->buffers;
    be->bn_forward(be, u->z->x, u->out->x, u->res, P + u->gamma_off, P + u->beta_off, B + u->rm_off, B + u->rv_off,
                   u->save_mean, u->save_istd, s->n, s->cout, u->out->h, u->out->w, train, u->relu, 0.1, 1e-5,
                   train ? net->bn_sync : NULL);
  }
}

static void upblock_forward(Unet *net, UpBlock *b, int train) {
  Backend *be = net->be;
  const int32_t cc = b->cat->c, sc = b->skip->c; /* the concatenation: skip channels, then the upsampled deep ones */
  be->copy_channels(be, backend_view(b->skip->x, 0, sc), backend_view(b->cat->x, 0, cc), net->n, sc, b->skip->h,
                    b->skip->w, 0);
  be->upsample2_forward(be, backend_view(b->deep->x, 0, b->deep->c), backend_view(b->cat->x, sc, cc), net->n, b->deep->c,
                        b->deep->h, b->deep->w);
  unit_forward(net, b->c1, train);
  unit_forward(net, b->c2, train);
}

static void block_forward(Unet *net, Block *b, int train) {
  unit_forward(net, b->c1, train);
  unit_forward(net, b->c2, train);
  if (b->down) unit_forward(net, b->down, train);
  b->c3->res = b->down ? b->down->out->x : b->in->x;
  unit_forward(net, b->c3, train);
}

void unet_check_input(const Unet *net, const float *x) {
  const size_t nin = (size_t)net->n * net->cfg.in_channels * net->h * net->w;
  for (size_t i = 0; i < nin; i++)
    if (!isfinite(x[i]))
      cs_fatal("check the input slices for NaN/Inf voxels (cordseg info FILE reports value ranges)",
               "non-finite input value %g at element %zu of the batch", (double)x[i], i);
}

void unet_upload_input(Unet *net, const float *x) {
  const size_t nin = (size_t)net->n * net->cfg.in_channels * net->h * net->w;
  unet_check_input(net, x);
  net->be->upload(net->be, net->input, x, nin * sizeof(float));
}

void unet_run_forward(Unet *net, int train) {
  Backend *be = net->be;
  if (net->cfg.backbone == UNET_BACKBONE_VGG16) {
    int p = 0;
    for (int i = 0; i < 13; i++) {
      unit_forward(net, net->enc[i], train);
      if (i == 1 || i == 3 || i == 6 || i == 9) {
        const Act *a = net->enc[i]->out;
        be->maxpool2_forward(be, a->x, net->pool[p]->x, net->n, a->c, a->h, a->w);
        p++;
      }
    }
  } else {
    unit_forward(net, net->stem, train);
    const Act *f1 = net->feat[0];
    be->maxpool3s2_forward(be, f1->x, net->mp->x, net->n, f1->c, f1->h, f1->w);
    for (int i = 0; i < net->nblocks; i++) block_forward(net, &net->blocks[i], train);
  }
  for (int i = 0; i < 4; i++) upblock_forward(net, &net->up[i], train);
  if (net->cfg.backbone == UNET_BACKBONE_RESNET50) {
    const Act *u = net->up[3].c2->out;
    be->upsample2_forward(be, backend_view(u->x, 0, u->c), backend_view(net->upc->x, 0, u->c), net->n, u->c, u->h, u->w);
    unit_forward(net, net->uc1, train);
    unit_forward(net, net->uc2, train);
  }
  unit_forward(net, net->final, train);
}

const float *unet_forward(Unet *net, const float *x, int train) {
  unet_upload_input(net, x);
  unet_run_forward(net, train);
  net->be->download(net->be, net->logits_host, net->logits,
                    (size_t)net->n * net->cfg.classes * net->h * net->w * sizeof(float));
  return net->logits_host;
}

void unet_predict_probs(Unet *net, const LossConfig *lc, const float *x, float *probs) {
  Backend *be = net->be;
  const size_t nl = (size_t)net->n * net->cfg.classes * net->h * net->w;
  unet_upload_input(net, x);
  unet_run_forward(net, 0);
  be->probs(be, lc, net->logits, net->n, net->cfg.classes, net->h, net->w, net->dlogits); /* dlogits as scratch */
  be->download(be, probs, net->dlogits, nl * sizeof(float));
}

/* -------------------------------------------------------------- backward -- */
/* Before a layer overwrites a's gradient: if a already holds one, park it in
 * scratch; after: add it back. */
static int grad_park(Unet *net, Act *a) {
  if (!a || !a->gvalid) return 0;
  net->be->copy(net->be, net->scratch, a->g, backend_act_bytes(net->be, act_len(net, a)));
  return 1;
}
static void grad_unpark(Unet *net, Act *a, int parked) {
  if (!a) return;
  if (parked) net->be->add(net->be, a->g, net->scratch, act_len(net, a));
  a->gvalid = 1;
}

static void unit_backward(Unet *net, Unit *u) {
  Backend *be = net->be;
  const ConvSpec *s = &u->spec;
  if (u->bn) {
    float *P = net->params, *G = net->grads;
    be->bn_backward(be, u->z->x, u->out->x, u->out->g, u->z->g, P + u->gamma_off, G + u->gamma_off, G + u->beta_off,
                    u->save_mean, u->save_istd, s->n, s->cout, u->out->h, u->out->w, u->relu, net->bn_sync);
  } /* without BN the ReLU is the convolution's (spec.relu): conv_backward masks the gradient itself */
  const int parked = grad_park(net, u->in);
  be->conv_backward(be, u->conv);
  grad_unpark(net, u->in, parked);
}

static void upblock_backward(Unet *net, UpBlock *b) {
  Backend *be = net->be;
  unit_backward(net, b->c2);
  unit_backward(net, b->c1);
  const int32_t cc = b->cat->c, sc = b->skip->c;
  be->copy_channels(be, backend_view(b->cat->g, 0, cc), backend_view(b->skip->g, 0, sc), net->n, sc, b->skip->h,
                    b->skip->w, b->skip->gvalid);
  b->skip->gvalid = 1;
  const int parked = grad_park(net, b->deep);
  be->upsample2_backward(be, backend_view(b->cat->g, sc, cc), backend_view(b->deep->g, 0, b->deep->c), net->n, b->deep->c,
                         b->deep->h, b->deep->w);
  grad_unpark(net, b->deep, parked);
}

static void block_backward(Unet *net, Block *b) {
  unit_backward(net, b->c3); /* leaves d(bn3 + residual) in b->out->g */
  unit_backward(net, b->c2);
  unit_backward(net, b->c1);
  if (b->down) {
    unit_backward(net, b->down); /* reads b->out->g through its aliased output gradient */
  } else {
    net->be->add(net->be, b->in->g, b->out->g, act_len(net, b->in)); /* c1 has written b->in->g already */
  }
}

void unet_backward(Unet *net, const float *dlogits) {
  const size_t nl = (size_t)net->n * net->cfg.classes * net->h * net->w;
  net->be->upload(net->be, net->dlogits, dlogits, nl * sizeof(float));
  unet_run_backward(net);
}

void unet_run_backward(Unet *net) {
  Backend *be = net->be;
  for (int i = 0; i < net->nacts; i++) net->acts[i].gvalid = 0;
  unit_backward(net, net->final);
  if (net->cfg.backbone == UNET_BACKBONE_RESNET50) {
    unit_backward(net, net->uc2);
    unit_backward(net, net->uc1);
    Act *u = net->up[3].c2->out;
    be->upsample2_backward(be, backend_view(net->upc->g, 0, u->c), backend_view(u->g, 0, u->c), net->n, u->c, u->h, u->w);
    u->gvalid = 1;
  }
  for (int i = 3; i >= 0; i--) upblock_backward(net, &net->up[i]);
  if (net->cfg.backbone == UNET_BACKBONE_VGG16) {
    int p = 3;
    for (int i = 12; i >= 0; i--) {
      if (i == 1 || i == 3 || i == 6 || i == 9) {
        Act *a = net->enc[i]->out;
        const int parked = grad_park(net, a);
        be->maxpool2_backward(be, a->x, net->pool[p]->x, net->pool[p]->g, a->g, net->n, a->c, a->h, a->w);
        grad_unpark(net, a, parked);
        p--;
      }
      unit_backward(net, net->enc[i]);
    }
  } else {
    for (int i = net->nblocks - 1; i >= 0; i--) block_backward(net, &net->blocks[i]);
    Act *f1 = net->feat[0];
    const int parked = grad_park(net, f1);
    be->maxpool3s2_backward(be, f1->x, net->mp->x, net->mp->g, f1->g, net->n, f1->c, f1->h, f1->w);
    grad_unpark(net, f1, parked);
    unit_backward(net, net->stem);
  }
}
