/* cmd/phantom.c: `cordseg phantom`: build the PAM50-based CSM-like
 * labelled DTI cohort into an HDF5 slice store (model: sim/phantom.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "sim/phantom.h"
#include "cmd/cli.h"
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
          "      --anatomy MODE   none (default: the cord and CSF on a flat background, the original\n"
          "                       phantom, byte for byte) or full: the canal and the dural sac (CSF)\n"
          "                       sized per level (wide at C2), nerve roots, vertebrae, disc, facets,\n"
          "                       epidural veins and fat, paraspinal muscles, vessels, subcutaneous fat\n"
          "                       per vertebral level,\n"
          "                       plus bias field, Nyquist ghost, AP distortion, motion, CSF pulsation,\n"
          "                       the cord's position in the FOV and a reduced AP FOV in half the\n"
          "                       subjects (ranges: sim/anatomy.h)\n"
          "      --compare DWI    instead of building: measure a real 4-D DWI series (with --bvals,\n"
          "                       --bvecs) and the phantom (none and full, --compare-subjects of them)\n"
          "                       the same way and print them side by side: B0 contrast ratios\n"
          "                       (CSF/cord, muscle/cord, outside/cord), FA in cord WM, GM, muscle,\n"
          "                       deciles of B0 outside the canal\n"
          "      --bvals F, --bvecs F   FSL b-table of --compare DWI\n"
          "      --compare-subjects N   phantom subjects measured (default 8)\n"
          "      --compare-png FILE     montage of the real series (b0, FA) for a look\n"
          "  -h, --help           this help\n");
}

int cmd_phantom(int argc, char **argv) {
  PhantomConfig c;
  phantom_config_default(&c);
  const char *out = NULL, *nifti = NULL, *png = NULL, *compare = NULL, *bvals = NULL, *bvecs = NULL, *cpng = NULL;
  int anatomy = PHANTOM_ANATOMY_NONE;
  int32_t csubj = 8;
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
                            CLI_CHOICE("anatomy", 0, &anatomy, phantom_anatomy_parse,
                                       "--anatomy '%s': choose none or full"),
                            CLI_STRING("compare", 0, &compare),
                            CLI_STRING("bvals", 0, &bvals),
                            CLI_STRING("bvecs", 0, &bvecs),
                            CLI_INT32("compare-subjects", 0, &csubj, 1, 1000),
                            CLI_STRING("compare-png", 0, &cpng),
                            CLI_END};
  int pos = cli_parse("phantom", argc, argv, opts, usage);
  c.anatomy = anatomy;
  if (pos != argc) cli_usage_error("phantom", "unexpected argument '%s'", argv[pos]);
  if (compare) {
    if (!bvals || !bvecs) cli_usage_error("phantom", "--compare DWI needs --bvals F and --bvecs F");
    const int pam50_given = strcmp(pam50, pam50_default) != 0;
    if (!pam50_given && !pam50_found) cs_fatal("give --pam50 DIR, or set PAM50=DIR or CORDSEG_DATA=DIR", "%s", pam50);
    AnatomyStats st[3];
    anatomy_measure_dwi(compare, bvals, bvecs, cpng, &st[0]);
    PhantomAtlas a;
    phantom_atlas_load(&a, pam50, c.slab_mm);
    c.anatomy = PHANTOM_ANATOMY_NONE;
    phantom_measure(&a, &c, csubj, &st[1]);
    c.anatomy = PHANTOM_ANATOMY_FULL;
    phantom_measure(&a, &c, csubj, &st[2]);
    phantom_atlas_free(&a);
    printf("phantom vs real: '%s' and %d phantom subjects (seed %llu, SNR %g), measured alike (sim/anatomy.h)\n",
           compare, csubj, (unsigned long long)c.seed, c.snr);
    static const char *const names[3] = {"real", "phantom none", "phantom full"};
    anatomy_stats_print(3, st, names);
    return 0;
  }
  if (!out) cli_usage_error("phantom", "missing -o OUT.h5");
  char cmdline[1024];
  cli_command_line(argc, argv, cmdline, sizeof cmdline);
  const int pam50_given = strcmp(pam50, pam50_default) != 0;
  if (!pam50_given && !pam50_found) cs_fatal("give --pam50 DIR, or set PAM50=DIR or CORDSEG_DATA=DIR", "%s", pam50);
  phantom_build(&c, pam50, out, cmdline, nifti, png);
  return 0;
}
