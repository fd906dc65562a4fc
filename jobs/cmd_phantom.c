/* jobs/cmd_phantom.c: `cordseg phantom`: build the PAM50-based CSM-like
 * labelled DTI cohort into an HDF5 slice store (model: io/phantom.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/phantom.h"
#include "jobs/cli.h"
#include "jobs/paths.h"

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
          "      --pam50 DIR      PAM50 directory (default: $PAM50, $CORDSEG_DATA/PAM50, ../shared/data/PAM50)\n"
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
  PhantomConfig c;
  phantom_config_default(&c);
  const char *out = NULL, *nifti = NULL, *png = NULL;
  char pam50[4200];
  const int pam50_found = paths_pam50(pam50, sizeof pam50) == 0; /* $PAM50, $CORDSEG_DATA/PAM50, ../shared/data */
  char pam50_default[sizeof pam50];
  snprintf(pam50_default, sizeof pam50_default, "%s", pam50);
  const CliOption opts[] = {CLI_STRING("out", 'o', &out),
                            CLI_BUFFER("pam50", 0, pam50),
                            CLI_INT32("subjects", 0, &c.subjects, 1, 100000),
                            CLI_INT32("slices", 0, &c.slices, 1, 64),
                            CLI_INT32("size", 0, &c.size, 16, 1024),
                            CLI_DOUBLE("snr", 0, &c.snr, 1, 1e6),
                            CLI_UINT64("seed", 0, &c.seed, 0, INT64_MAX),
                            CLI_STRING("nifti", 0, &nifti),
                            CLI_STRING("png", 0, &png),
                            CLI_END};
  int pos = cli_parse("phantom", argc, argv, opts, usage);
  if (!out) cli_usage_error("phantom", "missing -o OUT.h5");
  if (pos != argc) cli_usage_error("phantom", "unexpected argument '%s'", argv[pos]);
  char cmdline[1024];
  cli_command_line(argc, argv, cmdline, sizeof cmdline);
  const int pam50_given = strcmp(pam50, pam50_default) != 0;
  if (!pam50_given && !pam50_found) cs_fatal("give --pam50 DIR, or set PAM50=DIR or CORDSEG_DATA=DIR", "%s", pam50);
  phantom_build(&c, pam50, out, cmdline, nifti, png);
  return 0;
}
