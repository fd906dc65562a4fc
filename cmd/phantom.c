/* cmd/phantom.c: `cordseg phantom`: build the PAM50-based CSM-like
 * labelled DTI cohort into an HDF5 slice store (model: sim/phantom.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "sim/phantom.h"
#include "cmd/cli.h"
#include "jobs/paths.h"
#include "io/path.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "phantom");
  fprintf(f,
          "\nBuild N subjects x S axial slices (C2 to C7/T1) of a CSM-like DTI phantom from the PAM50\n"
          "atlas: per-subject cord compression, flattening, asymmetry, rotation, translation, size;\n"
          "acquisition as in Fei et al. 2023 (FOV 80 mm, 128x128 at 0.625 mm, acquired 1.0 x 1.26 mm,\n"
          "7 mm slices, b=0 + 15 directions at b=600 s/mm^2, Rician noise); tensors fitted with the\n"
          "same code as `cordseg import --dwi`. Same seed -> byte-identical content.\n"
          "--pam50 synthetic uses a built-in geometric stand-in for the atlas (sim/atlas_synth.c), for\n"
          "machines without the PAM50 data set: it runs the same pipeline, but it is a caricature of the\n"
          "cord and the figures measured on it are not the PAM50 phantom's.\n"
          "--anatomy full adds the canal and dural sac sized per level, nerve roots, vertebrae, disc,\n"
          "facets, epidural veins and fat, paraspinal muscles, vessels, subcutaneous fat, a bias field,\n"
          "Nyquist ghost, AP distortion, motion, CSF pulsation, the cord's position in the FOV and a\n"
          "reduced AP FOV in half the subjects (ranges: sim/anatomy.h); none (default) is the cord and\n"
          "CSF on a flat background, byte for byte the original phantom.\n"
          "--compare measures a real 4-D DWI series and the phantom (none and full) the same way and\n"
          "prints them side by side: B0 contrast ratios (CSF/cord, muscle/cord, outside/cord), FA in\n"
          "cord WM, GM, muscle, deciles of B0 outside the canal.\n\n");
}

int cmd_phantom(int argc, char **argv) {
  PhantomConfig c;
  phantom_config_default(&c);
  const char *out = NULL, *nifti = NULL, *png = NULL, *compare = NULL, *bvals = NULL, *bvecs = NULL, *cpng = NULL;
  int anatomy = PHANTOM_ANATOMY_NONE;
  int32_t csubj = 8;
  char pam50[PATH_CAP];
  const int pam50_found = paths_pam50(pam50, sizeof pam50) == 0; /* $PAM50, $CORDSEG_DATA/PAM50, ../shared/data */
  char pam50_default[sizeof pam50];
  snprintf(pam50_default, sizeof pam50_default, "%s", pam50);
  const CliOption opts[] = {
      CLI_STRING("out", 'o', &out, .arg = "FILE", .help = "output HDF5 store (required unless --compare)"),
      CLI_BUFFER("pam50", 0, pam50, .arg = "DIR",
                 .help = "PAM50 directory (default: $PAM50, $CORDSEG_DATA/PAM50, ../shared/data/PAM50), or "
                         "'synthetic' (above)"),
      CLI_INT32("subjects", 0, &c.subjects, 1, 100000, .arg = "N", .help = "subjects (default 89)"),
      CLI_INT32("slices", 0, &c.slices, 1, 64, .arg = "S", .help = "slices per subject (default 12)"),
      CLI_INT32("size", 0, &c.size, 16, 1024, .arg = "PX", .help = "slice size (default 128; FOV stays 80 mm)"),
      CLI_DOUBLE("snr", 0, &c.snr, 1, 1e6, .arg = "X", .help = "b=0 white-matter SNR (default 20)"),
      CLI_UINT64("seed", 0, &c.seed, 0, INT64_MAX, .arg = "N", .help = "random seed (default 42)"),
      CLI_STRING("nifti", 0, &nifti, .arg = "DIR", .help = "also write sub-NNN_{b0,fa,labels}.nii.gz into DIR"),
      CLI_STRING("png", 0, &png, .arg = "FILE", .help = "PNG montage of a few slices with label outlines"),
      CLI_CHOICE("anatomy", 0, &anatomy, phantom_anatomy_parse, "--anatomy '%s': choose none or full",
                 .arg = "MODE", .help = "none (default) or full (above)"),
      CLI_STRING("compare", 0, &compare, .arg = "DWI", .help = "instead of building: measure DWI against the phantom"),
      CLI_STRING("bvals", 0, &bvals, .arg = "FILE", .help = "FSL b-values of --compare DWI"),
      CLI_STRING("bvecs", 0, &bvecs, .arg = "FILE", .help = "FSL b-vectors of --compare DWI"),
      CLI_INT32("compare-subjects", 0, &csubj, 1, 1000, .arg = "N", .help = "phantom subjects measured (default 8)"),
      CLI_STRING("compare-png", 0, &cpng, .arg = "FILE", .help = "montage of the real series (b0, FA) for a look"),
      CLI_END};
  int pos = cli_parse("phantom", argc, argv, opts, usage);
  c.anatomy = anatomy;
  if (pos != argc) cli_usage_error("phantom", "unexpected argument '%s'", argv[pos]);
  if (compare) {
    if (!bvals || !bvecs) cli_usage_error("phantom", "--compare DWI needs --bvals F and --bvecs F");
    const int pam50_given = strcmp(pam50, pam50_default) != 0;
    if (!pam50_given && !pam50_found) cs_fatal("give --pam50 DIR, or set PAM50=DIR or CORDSEG_DATA=DIR; --pam50 synthetic builds on the "
                                                  "built-in stand-in (not the PAM50 phantom)", "%s", pam50);
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
  if (!pam50_given && !pam50_found) cs_fatal("give --pam50 DIR, or set PAM50=DIR or CORDSEG_DATA=DIR; --pam50 synthetic builds on the "
                                                  "built-in stand-in (not the PAM50 phantom)", "%s", pam50);
  phantom_build(&c, pam50, out, cmdline, nifti, png);
  return 0;
}
