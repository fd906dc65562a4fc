/* tests/test_io_config.c: the experiment config and the checkpoint files.
 * Config: every paper-arm file in configs/ loads; the canonical text
 * round-trips to the same hash; --set overrides; unknown keys, bad types,
 * out-of-range values and [sections] are fatal; a changed key changes the
 * hash; arm and input-kind names agree everywhere. Checkpoints: parameters, BN buffers, Adam moments and state survive
 * a write/read bit for bit; a weights-only file cannot be resumed from; a
 * network of another size is refused; nothing is left half written. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/ckpt.h"
#include "io/config.h"
#include "tests/testutil.h"

static char g_dir[256];

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static void load_bad(void *arg) {
  TrainConfig c;
  config_defaults(&c);
  config_load(&c, (const char *)arg);
}
static void set_bad(void *arg) {
  TrainConfig c;
  config_defaults(&c);
  config_set(&c, (const char *)arg, "--set");
}

/* the input-kind names: the config key, the options and the logs spell them alike */
static void test_input_names(void) {
  for (int v = INPUT_B0; v <= INPUT_B0_FA; v++) {
    char set[64];
    snprintf(set, sizeof set, "input=%s", input_kind_name((InputKind)v));
    TrainConfig c;
    config_defaults(&c);
    config_set(&c, set, "test");
    T_CHECK((int)c.input == v && input_kind_parse(input_kind_name((InputKind)v)) == v, "input kind %d: '%s'", v, set);
  }
  TrainConfig c;
  config_defaults(&c);
  config_set(&c, "input=b0+fa", "test");
  char arm[64];
  config_arm_name(&c, arm, sizeof arm);
  T_CHECK(!strcmp(arm, "vgg16-hdl-b0fa"), "arm of b0+fa is file-safe: '%s'", arm);
  T_CHECK(input_kind_parse("b0fa") == -1, "'b0fa' is an arm token, not an input name");
}

/* config c's canonical text with one line removed (a stored config of a cordseg before that key), read back
 * into *old (defaults as for a stored config when stored); 1 when the line was there and the config and arm
 * hashes of c and *old agree */
static int config_without_line(const TrainConfig *c, const char *line, int stored, TrainConfig *old) {
  char *text = config_format(c), *at = strstr(text, line);
  if (at) memmove(at, at + strlen(line), strlen(at + strlen(line)) + 1);
  if (stored) config_defaults_stored(old);
  else config_defaults(old);
  config_load_text(old, text, "a config of older cordseg");
  free(text);
  char h0[32], h1[32], a0[32], a1[32];
  config_hash(c, h0), config_hash(old, h1), config_arm_hash(c, a0), config_arm_hash(old, a1);
  return at && !strcmp(h0, h1) && !strcmp(a0, a1);
}

static void test_config(void) {
  /* every shipped config loads and names its arm in its values */
  const char *arms[] = {"paper-vgg16-hdl-b0", "paper-vgg16-hybrid-fa", "paper-resnet50-hdl-fa",
                        "paper-resnet50-hybrid-b0", "demo"};
  for (size_t i = 0; i < sizeof arms / sizeof arms[0]; i++) {
    char p[1024];
    snprintf(p, sizeof p, "%s/configs/%s.ini", CORDSEG_SOURCE_DIR, arms[i]);
    TrainConfig c;
    config_defaults(&c);
    config_load(&c, p);
    if (i < 4) {
      char arm[64];
      config_arm_name(&c, arm, sizeof arm);
      T_CHECK(!strcmp(arm, arms[i] + 6), "%s: arm name '%s'", arms[i], arm);
      T_CHECK(c.epochs == 500 && c.batch == 16 && c.lr_max == 1e-4 && c.lr_min == 1e-6, "%s: paper schedule", arms[i]);
      T_CHECK(c.backbone == (strstr(arms[i], "vgg") ? UNET_BACKBONE_VGG16 : UNET_BACKBONE_RESNET50), "%s backbone",
              arms[i]);
      T_CHECK(c.loss == (strstr(arms[i], "hdl") ? LOSS_KIND_HDL : LOSS_KIND_HYBRID), "%s loss", arms[i]);
      T_CHECK(c.input == (strstr(arms[i], "-b0") ? INPUT_B0 : INPUT_FA), "%s input", arms[i]);
    }
    /* canonical text round-trips */
    char *text = config_format(&c), h0[32], h1[32];
    TrainConfig d;
    config_defaults(&d);
    d.epochs = 7; /* must be overwritten */
    config_load_text(&d, text, "canonical");
    config_hash(&c, h0), config_hash(&d, h1);
    T_CHECK(!strcmp(h0, h1), "%s: canonical text round-trips (%s vs %s)", arms[i], h0, h1);
    T_CHECK(!memcmp(&c, &d, sizeof c) || !strcmp(h0, h1), "%s: same struct", arms[i]);
    free(text);
  }
  TrainConfig c;
  config_defaults(&c);
  char h0[32], h1[32];
  config_hash(&c, h0);
  config_set(&c, "loss=hybrid", "--set");
  config_set(&c, "input = b0+fa", "--set");
  config_set(&c, "lr_max=3e-4", "--set");
  config_set(&c, "augment=false", "--set");
  config_hash(&c, h1);
  T_CHECK(c.loss == LOSS_KIND_HYBRID && c.input == INPUT_B0_FA && c.lr_max == 3e-4 && !c.augment, "--set applies");
  T_CHECK(strcmp(h0, h1) != 0, "a changed key changes the hash");
  { /* select_by (issue 30): hashed only when not dice, so the config and arm
     * hashes of runs written before the key existed (no select_by line) stay */
    TrainConfig e, old;
    config_defaults(&e);
    T_CHECK(config_without_line(&e, "select_by = dice\n", 0, &old) && old.select_by == SELECT_BY_DICE,
            "a config without select_by = dice: same config and arm hash");
    char a0[32], x0[32], x1[32];
    config_hash(&e, h0), config_arm_hash(&e, a0);
    config_set(&e, "select_by=fa_error", "--set");
    config_hash(&e, x0), config_arm_hash(&e, x1);
    T_CHECK(e.select_by == SELECT_BY_FA_ERROR && strcmp(x0, h0) && strcmp(x1, a0) && config_key_arm("select_by"),
            "select_by = fa_error changes the config hash and the arm");
  }
  { /* revive_dead (issue 30): on by default, checked at W+1, W+4, ... up to half the run; a stored config of a
     * run from before the key (no revive_dead line) reads as 0 and keeps its config and arm hash */
    TrainConfig e, old;
    config_defaults(&e);
    T_CHECK(e.revive_dead == 1, "revive_dead is on by default");
    config_set(&e, "loss=hybrid", "--set"), config_set(&e, "epochs=30", "--set"), config_set(&e, "warmup_epochs=3", "--set");
    T_CHECK(!config_revive_epoch(&e, 4), "a softmax loss: no check epoch");
    {
      char s0[32], s1[32];
      config_hash(&e, s0);
      config_set(&e, "revive_dead=false", "--set");
      config_hash(&e, s1);
      T_CHECK(!strcmp(s0, s1), "a softmax loss: revive_dead is not in the hash");
      config_set(&e, "revive_dead=true", "--set");
    }
    { /* export's "trained alike" check: revive_dead differs only where it acts */
      TrainConfig off = e;
      config_set(&off, "revive_dead=false", "--set");
      size_t ki = 0;
      char v[1100];
      for (const char *name; (name = config_key_at(&e, ki, v, sizeof v)) && strcmp(name, "revive_dead"); ki++) {}
      T_CHECK(!config_arm_key_differs(&e, &off, ki), "hybrid: revive_dead on and off are alike for export");
      config_set(&off, "loss=hdl", "--set");
      TrainConfig on = off;
      config_set(&on, "revive_dead=true", "--set");
      T_CHECK(config_arm_key_differs(&on, &off, ki), "hdl: revive_dead on and off differ for export");
    }
    config_set(&e, "loss=hdl", "--set");
    config_set(&e, "epochs=30", "--set"), config_set(&e, "warmup_epochs=3", "--set");
    char got[128] = "";
    for (int64_t ep = 1; ep <= 30; ep++)
      if (config_revive_epoch(&e, ep)) snprintf(got + strlen(got), sizeof got - strlen(got), " %lld", (long long)ep);
    T_CHECK(!strcmp(got, " 4 7 10 13"), "30 epochs, warm-up 3: revive checks at 4 7 10 13 (got%s)", got);
    config_set(&e, "val_every=2", "--set");
    got[0] = 0;
    for (int64_t ep = 1; ep <= 30; ep++)
      if (config_revive_epoch(&e, ep)) snprintf(got + strlen(got), sizeof got - strlen(got), " %lld", (long long)ep);
    T_CHECK(!strcmp(got, " 4 10"), "val_every 2: checks at validation epochs 4 10 (got%s)", got);
    config_set(&e, "revive_dead=false", "--set");
    T_CHECK(!config_revive_epoch(&e, 4), "revive_dead = false: no check epoch");
    /* a stored text without the line */
    T_CHECK(config_without_line(&e, "revive_dead = false\n", 1, &old) && old.revive_dead == 0,
            "a stored config without revive_dead reads as 0 with the same config and arm hash");
    char r0[32], r1[32];
    config_hash(&e, r0);
    config_set(&e, "revive_dead=true", "--set");
    config_hash(&e, r1);
    T_CHECK(strcmp(r0, r1) != 0, "revive_dead = true changes the config hash");
  }
  /* errors */
  const char *bad_files[] = {"lerning_rate = 1\n", "epochs = many\n", "epochs = 0\n", "[train]\nepochs = 3\n",
                             "backbone = vgg19\n", "lr_max = nan\n", "augment = maybe\n", "requeue_signal = SIGFOO\n", "select_by = hd95\n",
                             "epochs = 3\nbatch = 4\nepochs = 5\n" /* a key given twice (the last won before) */};
  for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
    char p[512];
    snprintf(p, sizeof p, "%s/bad%zu.ini", g_dir, i);
    write_file(p, bad_files[i]);
    T_CHECK(t_child_exit(load_bad, p) == 1, "config '%s' is rejected", bad_files[i]);
  }
  char missing[512];
  snprintf(missing, sizeof missing, "%s/absent.ini", g_dir);
  T_CHECK(t_child_exit(load_bad, missing) == 1, "a missing config file is an error");
  T_CHECK(t_child_exit(set_bad, "epochs") == 1, "--set without '=' is rejected");
  T_CHECK(t_child_exit(set_bad, "fold=100") == 1, "--set fold out of range is rejected");
  T_CHECK(t_child_exit(set_bad, "nokey=1") == 1, "--set unknown key is rejected");
  /* the schedule's phases against epochs: a phase set by hand is checked with the other at its formula */
  static const struct {
    int32_t epochs, warmup, flat, ok;
  } PH[] = {{1, 50, -1, 0}, {1, -1, 50, 0}, {3, 3, 1, 0}, {1, 0, -1, 1}, {30, 3, 1, 1}, {1, -1, -1, 1}, {2, 1, -1, 1}};
  for (size_t i = 0; i < sizeof PH / sizeof PH[0]; i++) {
    TrainConfig q;
    config_defaults(&q);
    q.epochs = PH[i].epochs, q.warmup_epochs = PH[i].warmup, q.no_aug_epochs = PH[i].flat;
    char msg[256];
    const char *hint = NULL;
    const int ok = config_check_values(&q, msg, sizeof msg, &hint) == NULL;
    T_CHECK(ok == PH[i].ok, "epochs %d, warmup_epochs %d, no_aug_epochs %d: %s", PH[i].epochs, PH[i].warmup,
            PH[i].flat, PH[i].ok ? "accepted" : "refused");
  }
}

typedef struct {
  const char *path;
  Unet *net;
} ReadArgs;
static void read_full(void *arg) {
  ReadArgs *a = arg;
  ModelState ms;
  model_state_init(&ms, a->net, 1);
  CkptState st;
  ckpt_read(a->path, &ms, &st);
}

static void test_ckpt(void) {
  UnetConfig u = {UNET_BACKBONE_RESNET50, 1, 9, 4, UNET_CONV_AUTO};
  Unet *net = unet_init(t_cpu(), &u, 2, 64, 64);
  unet_init_weights(net, UNET_INIT_NORMAL, 5);
  const size_t P = unet_num_params(net), B = unet_num_buffers(net);
  Rng r;
  rng_init(&r, 9);
  ModelState a;
  model_state_init(&a, net, 1);
  unet_state_download(net, &a);
  for (size_t i = 0; i < B; i++) a.buffers[i] = (float)rng_uniform(&r);
  for (size_t i = 0; i < P; i++) a.adam_m[i] = (float)rng_normal(&r), a.adam_v[i] = (float)rng_uniform(&r);
  a.adam_t = 1234;
  CkptState st = {.epoch = 7, .step_in_epoch = 3, .epoch_loss_sum = 1.25, .global_step = 101, .best_dice = 0.5,
                  .best_epoch = 6, .stale_validations = 1, .elapsed_s = 12.5, .height = 64, .width = 64};
  snprintf(st.config_hash, sizeof st.config_hash, "fnv1a64:0123456789abcdef");
  ckpt_model_key(net, &u, st.model, sizeof st.model);
  char full[512], weights[512];
  snprintf(full, sizeof full, "%s/full.h5", g_dir);
  snprintf(weights, sizeof weights, "%s/weights.h5", g_dir);
  ckpt_write(full, &a, 1, &st, "epochs = 3\n");
  ckpt_write(weights, &a, 0, &st, "epochs = 3\n");
  /* read into a fresh network of the same shape */
  Unet *n2 = unet_init(t_cpu(), &u, 2, 64, 64);
  ModelState a2;
  model_state_init(&a2, n2, 1);
  CkptState s2;
  ckpt_read(full, &a2, &s2);
  T_CHECK(!memcmp(a.params, a2.params, P * sizeof(float)), "params bit-identical");
  T_CHECK(!memcmp(a.buffers, a2.buffers, B * sizeof(float)), "BN buffers bit-identical");
  T_CHECK(!memcmp(a.adam_m, a2.adam_m, P * sizeof(float)) && !memcmp(a.adam_v, a2.adam_v, P * sizeof(float)) &&
              a2.adam_t == 1234,
          "Adam moments and step bit-identical");
  T_CHECK(s2.epoch == 7 && s2.step_in_epoch == 3 && s2.epoch_loss_sum == 1.25 && s2.global_step == 101 &&
              s2.best_dice == 0.5 && s2.best_epoch == 6 && s2.stale_validations == 1 && s2.elapsed_s == 12.5 &&
              !strcmp(s2.config_hash, st.config_hash) && !strcmp(s2.model, st.model),
          "state round-trips");
  char *cfg = NULL;
  CkptState s3;
  ckpt_peek(weights, &s3, &cfg);
  T_CHECK(cfg && !strcmp(cfg, "epochs = 3\n"), "config text stored verbatim");
  free(cfg);
  ReadArgs ra = {weights, n2};
  T_CHECK(t_child_exit(read_full, &ra) == 1, "a weights-only file cannot be resumed from");
  UnetConfig u2 = {UNET_BACKBONE_VGG16, 1, 9, 4, UNET_CONV_AUTO};
  Unet *other = unet_init(t_cpu(), &u2, 2, 64, 64);
  ReadArgs rb = {full, other};
  T_CHECK(t_child_exit(read_full, &rb) == 1, "a checkpoint of another model is refused");
  /* no temp files left behind */
  DIR *d = opendir(g_dir);
  struct dirent *e;
  int tmp = 0;
  while ((e = readdir(d))) tmp += strstr(e->d_name, ".tmp.") != NULL;
  closedir(d);
  T_CHECK(tmp == 0, "no temporary files left (%d)", tmp);
  unet_free(other), unet_free(n2), unet_free(net);
  model_state_free(&a), model_state_free(&a2);
}

int main(void) {
  test_input_names();
  const char *tmpdir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
  snprintf(g_dir, sizeof g_dir, "%s/cordseg-test-config.XXXXXX", tmpdir);
  CS_CHECK(mkdtemp(g_dir), NULL, "mkdtemp in %s", tmpdir);
  test_config();
  test_ckpt();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", g_dir);
  return t_finish("test_io_config");
}
