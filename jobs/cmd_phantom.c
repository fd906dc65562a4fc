/* jobs/cmd_phantom.c: `cordseg phantom`: build the PAM50-based CSM-like
 * labelled DTI cohort into an HDF5 slice store (model: io/phantom.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/phantom.h"
#include "jobs/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: cordseg phantom [options] -o OUT.h5\n\n"
          "Build N subjects x S axial slices (C2 to C7/T1) of a CSM-like DTI phantom from the PAM50\n"
          "atlas: per-subject cord compression, flattening, asymmetry, rotation, translation, size;\n"
          "acquisition as in Fei et al. 2023 (FOV 80 mm, 128x128 at 0.625 mm, acquired 1.0 x 1.26 mm,\n"
          "7 mm slices, b=0 + 15 directions at b=600 s/mm^2, Rician noise); tensors fitted with the\n"
          "same code as `cordseg import --dwi`. Same seed -> byte-identical content.\n\n"
          "options:\n"
          "  -o, --out FILE       output HDF5 store (required)\n"
          "      --pam50 DIR      PAM50 directory (default: <source>/../shared/data/PAM50)\n"
          "      --subjects N     subjects (default 89)\n"
          "      --slices S       slices per subject (default 12)\n"
          "      --size PX        slice size (default 128; FOV stays 80 mm)\n"
          "      --snr X          b=0 white-matter SNR (default 20)\n"
          "      --seed N         random seed (default 42)\n"
          "      --nifti DIR      also write sub-NNN_{b0,fa,labels}.nii.gz into DIR\n"
          "      --png FILE       PNG montage of a few slices with label outlines\n"
          "  -h, --help           this help\n");
}

int cmd_phantom(int argc, char **argv) {
  static const struct option opts[] = {
      {"out", required_argument, 0, 'o'},      {"pam50", required_argument, 0, 'p'}, {"subjects", required_argument, 0, 'n'},
      {"slices", required_argument, 0, 's'},   {"size", required_argument, 0, 'z'},  {"snr", required_argument, 0, 'r'},
      {"seed", required_argument, 0, 'e'},     {"nifti", required_argument, 0, 'N'}, {"png", required_argument, 0, 'P'},
      {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
  PhantomConfig c;
  phantom_config_default(&c);
  const char *out = NULL, *nifti = NULL, *png = NULL;
  char pam50[4200];
  snprintf(pam50, sizeof pam50, "%s/../shared/data/PAM50", CORDSEG_SOURCE_DIR);
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (ch) {
      case 'o': out = optarg; break;
      case 'p': snprintf(pam50, sizeof pam50, "%s", optarg); break;
      case 'n': c.subjects = (int32_t)cli_parse_int("--subjects", optarg, 1, 100000); break;
      case 's': c.slices = (int32_t)cli_parse_int("--slices", optarg, 1, 64); break;
      case 'z': c.size = (int32_t)cli_parse_int("--size", optarg, 16, 1024); break;
      case 'r': c.snr = cli_parse_float("--snr", optarg, 1, 1e6); break;
      case 'e': c.seed = (uint64_t)cli_parse_int("--seed", optarg, 0, INT64_MAX); break;
      case 'N': nifti = optarg; break;
      case 'P': png = optarg; break;
      case 'h': usage(stdout); return 0;
      default: cli_usage_error("phantom", "unknown option");
    }
  }
  if (!out) cli_usage_error("phantom", "missing -o OUT.h5");
  if (optind != argc) cli_usage_error("phantom", "unexpected argument '%s'", argv[optind]);
  char cmdline[1024];
  cli_command_line(argc, argv, cmdline, sizeof cmdline);
  phantom_build(&c, pam50, out, cmdline, nifti, png);
  return 0;
}
