/* tests/test_torch_ref.c: whole-model check against PyTorch. tests/torch_ref.py
 * (Debian python3-torch, fp64) builds both UNets at width/4, 32x32, batch 2,
 * with every loss, and writes weights, input, labels, logits, loss, every
 * parameter gradient, BN running stats and a 10-step Adam loss trajectory.
 * This test loads the same weights into cordseg (fp32) and compares.
 * Tolerances (fp32 against an fp64 reference):
 *   logits   max|d| / max|ref|              <= 1e-4
 *   loss     relative                       <= 1e-4
 *   grads    per tensor max|d| / max|ref|: VGG (no BN) <= 1e-4 (measured
 *            <= 2e-6). ResNet: BatchNorm over few values (batch 2 at 64x64:
 *            32 values per channel in layer3, 8 in layer4) is ill-conditioned in
 *            fp32; measured <= 3.3e-4 with hybrid/CE but 3.6e-2 (layer3) and
 *            0.16 (layer4) with HDL, whose gradients are largest. PyTorch's own
 *            fp32 run against the same fp64 reference shows the same (3e-2 /
 *            1.6e-1; tests/README.md). <= 5e-2 outside layer4, <= 0.25 inside
 *   BN running stats after one step, rel    <= 1e-4
 *   Adam trajectory (a new batch at every step, so a graph replay on stale
 *   inputs shows), relative per step: VGG <= 1e-5 for all 10 steps;
 *            ResNet <= 1e-4 for the first 2 steps, then <= 0.1 (Adam's
 *            normalised steps turn rounding in near-zero gradients into
 *            +-lr moves; fp32 PyTorch drifts the same way)
 * If python3-torch is missing, the test says so and is SKIPPED (exit 77). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/common.h"
#include "core/step.h"
#include "tests/testutil.h"

typedef struct {
  int32_t hdr[16];
  float sigma, lr;
  int32_t ntens;
  int32_t (*shape)[5]; /* ndim + 4 dims */
  char (*name)[64];
  float *params, *buf0, *x, *logits, loss, *grads, *buf1, adam[64];
  uint8_t *labels;
  float *adam_x;       /* [adam_steps - 1][N*C*H*W]: the batches of steps 1.. */
  uint8_t *adam_y;     /* [adam_steps - 1][N*H*W] */
} Ref;

static int ref_load(const char *path, Ref *r) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  memset(r, 0, sizeof *r);
  freadCheck(r->hdr, 4, 16, f, "header");
  CS_CHECK(r->hdr[0] == 20261124 && r->hdr[1] == 2, "regenerate with tests/torch_ref.py", "%s: bad magic/version", path);
  freadCheck(&r->sigma, 4, 1, f, "sigma");
  freadCheck(&r->lr, 4, 1, f, "lr");
  const int32_t N = r->hdr[4], C = r->hdr[5], H = r->hdr[6], W = r->hdr[7], K = r->hdr[8], P = r->hdr[10], B = r->hdr[11];
  r->ntens = r->hdr[12];
  r->shape = mallocCheck(sizeof(*r->shape) * r->ntens);
  r->name = mallocCheck(sizeof(*r->name) * r->ntens);
  for (int i = 0; i < r->ntens; i++) {
    freadCheck(r->shape[i], 4, 5, f, "shape");
    freadCheck(r->name[i], 1, 64, f, "name");
    r->name[i][63] = 0;
  }
  r->params = mallocCheck(4 * (size_t)P), r->grads = mallocCheck(4 * (size_t)P);
  r->buf0 = mallocCheck(4 * (size_t)B + 4), r->buf1 = mallocCheck(4 * (size_t)B + 4);
  r->x = mallocCheck(4 * (size_t)N * C * H * W), r->labels = mallocCheck((size_t)N * H * W);
  r->logits = mallocCheck(4 * (size_t)N * K * H * W);
  freadCheck(r->params, 4, P, f, "params");
  if (B) freadCheck(r->buf0, 4, B, f, "buffers");
  freadCheck(r->x, 4, (size_t)N * C * H * W, f, "x");
  freadCheck(r->labels, 1, (size_t)N * H * W, f, "labels");
  freadCheck(r->logits, 4, (size_t)N * K * H * W, f, "logits");
  freadCheck(&r->loss, 4, 1, f, "loss");
  freadCheck(r->grads, 4, P, f, "grads");
  if (B) freadCheck(r->buf1, 4, B, f, "buffers after");
  CS_CHECK(r->hdr[13] <= 64, NULL, "too many adam steps");
  freadCheck(r->adam, 4, r->hdr[13], f, "adam losses");
  const size_t more = (size_t)(r->hdr[13] > 1 ? r->hdr[13] - 1 : 0);
  r->adam_x = mallocCheck(4 * more * N * C * H * W + 4), r->adam_y = mallocCheck(more * N * H * W + 1);
  if (more) freadCheck(r->adam_x, 4, more * N * C * H * W, f, "adam batches");
  if (more) freadCheck(r->adam_y, 1, more * N * H * W, f, "adam labels");
  fclose(f);
  return 0;
}

static double maxrel(const float *a, const float *b, size_t n) {
  double m = 0, s = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - b[i]);
    if (!(d <= m)) m = d;
    s = fmax(s, fabs((double)b[i]));
  }
  return m / fmax(s, 1e-20);
}

/* CORDSEG_TEST_DEVICE=cuda: the CUDA backend against the same fp64 reference
 * (tests/gpu/device-check.sh); limits x10 with NVIDIA_TF32_OVERRIDE=0 (fp32
 * everywhere, other summation orders), x300 with TF32 tensor cores. */
static Backend *g_be;
static double g_tx = 1;
static double tx(double t) { return fmin(t * g_tx, 0.5); }

static void check_case(const char *path) {
  Ref r;
  if (ref_load(path, &r)) {
    T_CHECK(0, "reference file %s missing", path);
    return;
  }
  const int32_t N = r.hdr[4], C = r.hdr[5], H = r.hdr[6], W = r.hdr[7], K = r.hdr[8];
  UnetConfig cfg = {(UnetBackbone)r.hdr[2], C, K, r.hdr[9], UNET_CONV_DIRECT}; /* the fp64 comparison runs the reference kernels */
  Unet *net = unet_init(g_be, &cfg, N, H, W);
  const char *tag = strrchr(path, '/') + 1;
  int names_ok = (int)unet_num_tensors(net) == r.ntens && unet_num_params(net) == (size_t)r.hdr[10] &&
                 unet_num_buffers(net) == (size_t)r.hdr[11];
  for (int i = 0; names_ok && i < r.ntens; i++) {
    const UnetTensorInfo *t = unet_tensor(net, i);
    names_ok = !strcmp(t->name, r.name[i]) && t->ndim == r.shape[i][0];
    for (int d = 0; names_ok && d < t->ndim; d++) names_ok = t->shape[d] == r.shape[i][1 + d];
    if (!names_ok) fprintf(stderr, "  tensor %d: cordseg %s vs torch %s\n", i, t->name, r.name[i]);
  }
  T_CHECK(names_ok, "%s: parameter names/shapes/order match PyTorch", tag);
  if (!names_ok) {
    unet_free(net);
    return;
  }
  const size_t B = unet_num_buffers(net), nl = (size_t)N * K * H * W;
  unet_params_upload(net, r.params);
  unet_buffers_upload(net, r.buf0);
  LossConfig lc;
  loss_config_default(&lc, (LossKind)r.hdr[3]);
  lc.hdl_sigma = r.sigma;
  const float *logits = unet_forward(net, r.x, 1);
  float *dl = mallocCheck(4 * nl);
  double loss = loss_compute(&lc, logits, r.labels, N, K, H, W, dl);
  double el = maxrel(logits, r.logits, nl);
  T_CHECK(el <= tx(1e-4), "%s: logits differ from PyTorch: %.3g", tag, el);
  T_CHECK(fabs(loss - r.loss) <= tx(1e-4) * fabs(r.loss), "%s: loss %.8g vs PyTorch %.8g", tag, loss, (double)r.loss);
  unet_backward(net, dl);
  float *grads = t_grads(net), *bufs = t_buffers(net);
  double worst = 0, worst_small = 0;
  const char *worst_name = "";
  const int small_bn = (H / 32) * (W / 32) * N < 32; /* ResNet layer4 statistics over few values */
  for (size_t i = 0; i < unet_num_tensors(net); i++) {
    const UnetTensorInfo *t = unet_tensor(net, i);
    double e = maxrel(grads + t->offset, r.grads + t->offset, t->numel);
    if (cfg.backbone == UNET_BACKBONE_RESNET50 && small_bn && strstr(t->name, "enc.layer4.")) {
      worst_small = fmax(worst_small, e);
      continue;
    }
    if (e > worst) worst = e, worst_name = t->name;
  }
  const double gtol = tx(cfg.backbone == UNET_BACKBONE_VGG16 ? 1e-4 : 5e-2);
  T_CHECK(worst <= gtol, "%s: gradient of %s differs from PyTorch: %.3g", tag, worst_name, worst);
  T_CHECK(worst_small <= fmax(0.25, tx(0.25)), "%s: layer4 gradients differ from PyTorch: %.3g", tag, worst_small);
  double eb = B ? maxrel(bufs, r.buf1, B) : 0;
  T_CHECK(eb <= tx(1e-4), "%s: BN running stats differ: %.3g", tag, eb);
  /* 10 Adam steps from the initial state */
  unet_params_upload(net, r.params);
  unet_buffers_upload(net, r.buf0);
  Stepper st;
  stepper_init(&st, net, &lc, N, H, W);
  double ea = 0, ea2 = 0;
  for (int s = 0; s < r.hdr[13]; s++) {
    const float *xs = s ? r.adam_x + (size_t)(s - 1) * N * C * H * W : r.x;
    const uint8_t *ys = s ? r.adam_y + (size_t)(s - 1) * N * H * W : r.labels;
    double l = stepper_train(&st, xs, ys, r.lr);
    double e = fabs(l - r.adam[s]) / fabs(r.adam[s]);
    ea = fmax(ea, e);
    if (s < 2) ea2 = fmax(ea2, e);
  }
  const double atol = tx(cfg.backbone == UNET_BACKBONE_VGG16 ? 1e-5 : 0.1);
  T_CHECK(ea <= atol, "%s: Adam loss trajectory differs: %.3g (tolerance %.g)", tag, ea, atol);
  T_CHECK(ea2 <= tx(1e-4), "%s: first two Adam losses differ: %.3g", tag, ea2);
  printf("  %-24s logits %.1e loss %.1e grads %.1e (%s) layer4 %.1e bn %.1e adam10 %.1e [%.4f -> %.4f]\n", tag, el,
         fabs(loss - r.loss) / fabs(r.loss), worst, worst_name, worst_small, eb, ea, r.adam[0], r.adam[r.hdr[13] - 1]);
  stepper_free(&st);
  free(dl), free(grads), free(bufs);
  unet_free(net);
  free(r.shape), free(r.name), free(r.params), free(r.grads), free(r.buf0), free(r.buf1), free(r.x), free(r.labels),
      free(r.logits), free(r.adam_x), free(r.adam_y);
}

int main(void) {
  const char *dev = getenv("CORDSEG_TEST_DEVICE"), *tf = getenv("NVIDIA_TF32_OVERRIDE");
  g_be = t_cpu();
  if (dev && !strcmp(dev, "cuda")) {
    if (!backend_compiled(BACKEND_KIND_CUDA) || backend_cuda_device_count() == 0)
      t_skip("CORDSEG_TEST_DEVICE=cuda but no CUDA backend or GPU here");
    g_be = backend_cuda_init(BACKEND_PRECISION_FP32, 1, -1);
    g_tx = tf && !strcmp(tf, "0") ? 10 : 300;
    printf("test_torch_ref: on %s (limits x%.0f)\n", g_be->version, g_tx);
  }
  const char *dir = getenv("CORDSEG_TORCH_REF_DIR");
  char d[1024], cmd[12288];
  if (!dir) {
    snprintf(d, sizeof d, "%s/torchref", CORDSEG_BINARY_DIR);
    dir = d;
  }
  mkdir(dir, 0755);
  char why[2048];
  const char *py = t_python_torch(why, sizeof why); /* $CORDSEG_PYTHON, else a python3 on PATH with torch */
  if (!py) t_skip(why);
  printf("test_torch_ref: %s tests/torch_ref.py (fp64 reference; about 2 min on 2 cores)\n", py);
  fflush(stdout);
  /* CORDSEG_TORCH_REF_CASES=vgg16_hybrid,...: only those cases (the device check's rehearsal under emulation) */
  const char *cases = getenv("CORDSEG_TORCH_REF_CASES");
  if (cases && strspn(cases, "abcdefghijklmnopqrstuvwxyz0123456789_,") != strlen(cases))
    cs_fatal("a comma list such as vgg16_hybrid,resnet50_hdl", "CORDSEG_TORCH_REF_CASES = '%s'", cases);
  snprintf(cmd, sizeof cmd, "'%s' %s/tests/torch_ref.py --out '%s' --cases '%s'", py, CORDSEG_SOURCE_DIR, dir,
           cases ? cases : "");
  int rc = system(cmd);
  if (rc == -1 || !WIFEXITED(rc)) t_skip("could not start the python interpreter: install python3 and python3-torch");
  if (WEXITSTATUS(rc) == 77) t_skip("python3-torch is not installed (apt-get install python3-torch); whole-model check not run");
  T_CHECK(WEXITSTATUS(rc) == 0, "tests/torch_ref.py failed with exit code %d", WEXITSTATUS(rc));
  if (WEXITSTATUS(rc) != 0) return t_finish("test_torch_ref");
  const char *bb[2] = {"vgg16", "resnet50"}, *ll[3] = {"hybrid", "hdl", "ce"};
  for (int b = 0; b < 2; b++)
    for (int l = 0; l < 3; l++) {
      char path[1200];
      snprintf(path, sizeof path, "%s/ref_%s_%s.bin", dir, bb[b], ll[l]);
      char name[64];
      snprintf(name, sizeof name, "%s_%s", bb[b], ll[l]);
      if (cases && *cases && !strstr(cases, name)) continue;
      check_case(path);
    }
  return t_finish("test_torch_ref");
}
