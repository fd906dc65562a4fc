/* cmd/bench.c: `cordseg bench`: training and forward-only images/s of
 * both UNets on the CPU, and (when Debian's python3-torch is present) the
 * PyTorch peer ../shared/peers/torch_unet.py run in the same invocation, with
 * the ratio and the fraction of the CPU's FP32 FMA peak. A training step is
 * forward + hybrid loss + backward + Adam, as in the peer (CE + Dice there). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "jobs/paths.h"
#include "core/step.h"
#include "cmd/cli.h"
#include "sim/synth.h"
#include "jobs/fmapeak.h"
#include "io/path.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "bench");
  fprintf(f,
          "Measures training images/s (forward + loss + backward + Adam) and forward-only images/s\n"
          "at the given size and batch on all OpenMP threads (set OMP_NUM_THREADS to change), then\n"
          "runs the PyTorch peer on the same settings and prints the ratio. Also prints the recorded\n"
          "PyTorch anchor of shared/design/cpu-performance.md (4.5 / 7.6 img/s training at 128x128,\n"
          "batch 4, on a 565 GFLOP/s machine) scaled to this CPU's peak, as a host-independent check\n"
          "next to the peer run side by side. `cordseg bench --io ...` instead measures the data\n"
          "loader's slices/s with augmentation (cordseg bench-io --help).\n\n");
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, n, sizeof(double), cmp_d);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Runs the peer and extracts img_s_median for (model, mode) from its JSON lines. */
static int run_peer(const char *py, const char *peer, int threads, int32_t size, int32_t batch, double out[2][2]) {
  char json[PATH_CAP], cmd[13400];
  path_fmt(json, sizeof json, "%s/cordseg-bench-peer-%d.json", paths_tmpdir(), (int)getpid());
  unlink(json);
  snprintf(cmd, sizeof cmd,
           "'%s' '%s' --model both --threads %d --batches %d --sizes %d --modes fwd,train "
           "--min-reps 3 --max-reps 5 --budget-s 8 --json '%s' > /dev/null 2>&1",
           py, peer, threads, batch, size, json);
  int rc = system(cmd);
  FILE *f = fopen(json, "r");
  if (rc != 0 || !f) {
    if (f) fclose(f);
    unlink(json);
    return -1;
  }
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    int model = strstr(line, "\"model\": \"vgg\"") ? 0 : strstr(line, "\"model\": \"resnet50\"") ? 1 : -1;
    int mode = strstr(line, "\"mode\": \"train\"") ? 0 : strstr(line, "\"mode\": \"fwd\"") ? 1 : -1;
    const char *p = strstr(line, "\"img_s_median\": ");
    if (model >= 0 && mode >= 0 && p) out[model][mode] = atof(p + 16);
  }
  fclose(f);
  unlink(json);
  return 0;
}

/* The PyTorch 1.13 training anchors recorded in shared/design/cpu-performance.md
 * (128x128, batch 4, 2 threads, on a machine with a 565 GFLOP/s FMA peak),
 * scaled by this machine's peak: a check that does not depend on how the peer
 * happens to run here today. */
static void print_anchor(double ours[2][2], int backbone, int32_t size, int32_t batch, int threads, double peak) {
  if (size != 128 || batch != 4 || threads != 2 || peak <= 0) return;
  const double anchor[2] = {4.5, 7.6}, anchor_peak = 565;
  printf("recorded PyTorch anchor (cpu-performance.md: %.1f / %.1f img/s training on a %.0f GFLOP/s CPU), scaled to"
         " this CPU's peak:\n", anchor[0], anchor[1], anchor_peak);
  for (int b = 0; b < 2; b++) {
    if (backbone >= 0 && b != backbone) continue;
    const double scaled = anchor[b] * peak / anchor_peak;
    printf("%-9s train  anchor %.2f img/s  cordseg %.2f img/s  ratio %.2fx\n", b ? "resnet50" : "vgg16", scaled,
           ours[b][0], ours[b][0] / scaled);
  }
}

static int precision_parse(const char *v) {
  return !strcmp(v, "fp32") ? BACKEND_PRECISION_FP32 : !strcmp(v, "bf16") ? BACKEND_PRECISION_BF16 : -1;
}

/* one backbone: GFLOP per image, then train and forward img/s (the median of
 * steps timed steps after one untimed), printed as a row each */
static void bench_backbone(Backend *be, int b, int algo, int32_t size, int32_t batch, int32_t steps, const float *x,
                           const uint8_t *y, double peak, double ours[2], double gflop[2]) {
  const int32_t k = 9;
  LossConfig lc;
  loss_config_default(&lc, LOSS_KIND_HYBRID);
  UnetConfig cfg = {(UnetBackbone)b, 1, k, 1, algo};
  const char *bad = unet_config_check(&cfg, size, size);
  if (bad) cli_usage_error("bench", "%s", bad);
  Unet *net = unet_init(be, &cfg, batch, size, size);
  Stepper st;
  stepper_init(&st, net, &lc, batch, size, size);
  /* the peer's FLOP convention: fwd 2 MAC, train 2 MAC fwd + 2 MAC dW + 2 (MAC - first conv) dX */
  const double mac = unet_forward_macs(net);
  const UnetTensorInfo *t0 = unet_tensor(net, 0);
  const int32_t s0 = b == 0 ? size : size / 2;
  const double first = (double)s0 * s0 * t0->shape[0] * t0->shape[1] * t0->shape[2] * t0->shape[3];
  gflop[0] = (6 * mac - 2 * first) / 1e9;
  gflop[1] = 2 * mac / 1e9;
  int nwino, nconv;
  unet_conv_algo_count(net, &nwino, &nconv);
  double *ts = mallocCheck(sizeof(double) * steps);
  for (int mode = 0; mode < 2; mode++) {
    for (int i = -1; i < steps; i++) {
      double t = cs_now();
      if (mode == 0) stepper_train(&st, x, y, 1e-4f);
      else unet_forward(net, x, 0);
      if (i >= 0) ts[i] = cs_now() - t;
    }
    double med = median(ts, steps);
    ours[mode] = batch / med;
    printf("%-9s %-5s %9.2f %9.2f %9.1f %6.1f%% %5d/%-3d\n", unet_backbone_name(cfg.backbone), mode ? "fwd" : "train",
           gflop[mode], ours[mode], gflop[mode] * ours[mode], 100 * gflop[mode] * ours[mode] / peak, nwino, nconv);
    fflush(stdout);
  }
  free(ts);
  stepper_free(&st);
  unet_free(net);
}

/* the PyTorch peer on the same CPU threads, beside our figures */
static void bench_peer(const char *peer, int backbone, int threads, int32_t size, int32_t batch, double ours[2][2]) {
  char why[2048] = "";
  const char *py = access(peer, R_OK) == 0 ? paths_python_torch(why, sizeof why) : NULL;
  if (!py) {
    printf("PyTorch peer: not run: %s\n", access(peer, R_OK) ? "peer script missing (give --peer FILE)" : why);
    if (access(peer, R_OK)) printf("PyTorch peer: looked for %s\n", peer);
    return;
  }
  printf("PyTorch peer (%s, %d threads) ...\n", peer, threads);
  fflush(stdout);
  double theirs[2][2] = {{0}};
  if (run_peer(py, peer, threads, size, batch, theirs) != 0) {
    printf("PyTorch peer: failed to run; try it by hand: %s %s --model both\n", py, peer);
    return;
  }
  printf("%-9s %-5s %12s %12s %7s\n", "backbone", "mode", "cordseg", "pytorch", "ratio");
  for (int b = 0; b < 2; b++) {
    if (backbone >= 0 && b != backbone) continue;
    for (int mode = 0; mode < 2; mode++)
      printf("%-9s %-5s %12.2f %12.2f %6.2fx\n", b ? "resnet50" : "vgg16", mode ? "fwd" : "train", ours[b][mode],
             theirs[b][mode], theirs[b][mode] > 0 ? ours[b][mode] / theirs[b][mode] : NAN);
  }
}

int cmd_bench(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--io")) { /* `cordseg bench --io ...` = the loader benchmark */
      for (int j = i; j + 1 < argc; j++) argv[j] = argv[j + 1];
      argv[0] = "bench-io";
      return cmd_bench_io(argc - 1, argv);
    }
  int backbone = -1, use_peer = 1, algo = UNET_CONV_AUTO, device = BACKEND_KIND_CPU, precision = BACKEND_PRECISION_FP32;
  int32_t size = 128, batch = 4, steps = 5;
  double peak = 0;
  char peer_path[PATH_CAP];
  paths_beside_checkout("peers/torch_unet.py", peer_path, sizeof peer_path); /* ../shared/peers beside the checkout */
  const char *peer = peer_path;
  const CliOption opts[] = {
      CLI_CHOICE("backbone", 0, &backbone, unet_backbone_parse, "unknown backbone '%s': use vgg16 or resnet50",
                 .arg = "B", .help = "vgg16 or resnet50 (default: both)"),
      CLI_INT32("size", 0, &size, 32, 4096, .arg = "S", .help = "square image size (default 128)"),
      CLI_INT32("batch", 0, &batch, 1, 1024, .help = "images per step (default 4)"),
      CLI_INT32("steps", 0, &steps, 1, 1000, .help = "timed steps after 1 warm-up; the median is reported (default 5)"),
      CLI_DOUBLE("peak-gflops", 0, &peak, 1, 1e9, .arg = "G",
                 .help = "FP32 FMA peak for the %peak column; default: measured at start on all threads (0.3 s). "
                         "GFLOP/s counts direct-convolution FLOPs (the peer's convention), so Winograd runs can "
                         "exceed 100% of the FMA peak"),
      CLI_STRING("peer", 0, &peer, .arg = "PATH", .help = "torch_unet.py (default: ../shared/peers/ beside the checkout)"),
      CLI_FLAG_OFF("no-peer", 0, &use_peer, .help = "skip the PyTorch peer"),
      CLI_CHOICE("conv-algo", 0, &algo, unet_conv_algo_parse, "unknown --conv-algo '%s': use auto or direct",
                 .arg = "ALGO",
                 .help = "auto (default: Winograd on 3x3 layers of >= 16x16, direct elsewhere) or direct (the "
                         "reference kernels); the config key of the same name"),
      CLI_CHOICE("device", 0, &device, backend_parse, "unknown --device '%s': use cpu, cuda or auto", .arg = "KIND",
                 .help = "cpu (default), cuda or auto; on cuda the CPU anchor and peer are skipped "
                         "(tests/gpu/device-check.sh runs PyTorch on the same GPU side by side)"),
      CLI_CHOICE("precision", 0, &precision, precision_parse, "unknown --precision '%s': use fp32 or bf16",
                 .arg = "P", .help = "fp32 (default) or bf16 (CUDA only)"),
      CLI_END};
  int pos = cli_parse("bench", argc, argv, opts, usage);
  if (pos < argc) cli_usage_error("bench", "unexpected argument '%s'", argv[pos]);
  const BackendPrecision prec = (BackendPrecision)precision;
  const int threads = omp_get_max_threads();
  float *x = mallocCheck((size_t)batch * size * size * sizeof(float));
  uint8_t *y = mallocCheck((size_t)batch * size * size);
  synth_batch(x, y, batch, 1, size, size, 9, 5);
  double ours[2][2] = {{0}}; /* [model][train, fwd] img/s */
  double gflop[2][2] = {{0}};
  Backend *be = backend_init((BackendKind)device, prec, 0, -1);
  const int on_cpu = be->kind == BACKEND_KIND_CPU;
  const char *isa = "given";
  if (peak <= 0 && on_cpu) peak = fmapeak_measure(&isa);
  if (peak <= 0) peak = 1e30; /* GPU: no host FMA peak; %peak is printed against nothing */
  printf("cordseg bench: %dx%d, batch %d, %s, %d threads, conv %s, %d timed steps (median)\n", size, size, batch,
         be->version, threads, unet_conv_algo_name((UnetConvAlgo)algo), steps);
  if (on_cpu) printf("FP32 FMA peak: %.0f GFLOP/s (%s%s)\n", peak, isa, strcmp(isa, "given") ? ", measured now" : "");
  printf("%-9s %-5s %9s %9s %9s %7s %9s\n", "backbone", "mode", "GFLOP/img", "img/s", "GFLOP/s", "%peak", "winograd");
  for (int b = 0; b < 2; b++)
    if (backbone < 0 || b == backbone) bench_backbone(be, b, algo, size, batch, steps, x, y, peak, ours[b], gflop[b]);
  free(x);
  free(y);
  backend_free(be);
  if (!on_cpu) return 0; /* the GPU peers run in tests/gpu/device-check.sh (PyTorch on the same GPU) */
  print_anchor(ours, backbone, size, batch, threads, peak);
  if (!use_peer) return 0;
  bench_peer(peer, backbone, threads, size, batch, ours);
  return 0;
}
