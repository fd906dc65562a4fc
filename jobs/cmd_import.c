/* jobs/cmd_import.c: `cordseg import`: one subject from NIfTI into a store
 * (the work is io/import.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "io/import.h"
#include "jobs/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: cordseg import -o STORE.h5 --subject ID --labels LABELS.nii.gz\n"
          "                      (--b0 B0.nii.gz --fa FA.nii.gz | --dwi DWI.nii.gz --bvals F --bvecs F [--nifti-out DIR])\n"
          "                      [--label-map roi|pam50] [--size 128] [--level L]\n\n"
          "Adds one subject's axial slices to STORE (created if missing, else appended to; the file\n"
          "is replaced atomically). Maps mode takes B0 and FA maps; DWI mode fits the diffusion\n"
          "tensor (weighted least squares, the same code as `cordseg phantom`) from a 4-D series and\n"
          "FSL bvals/bvecs, stores B0/FA/MD/AD/RD, and can write them as NIfTI. All volumes must share\n"
          "the label volume's grid. Slices are centre-cropped / zero-padded to SIZE x SIZE.\n\n"
          "  --label-map roi    label voxels are cordseg ROI ids 0..8 (default):\n"
          "                     0 background, 1-4 L dorsal/lateral/ventral column/gray matter, 5-8 R\n"
          "  --label-map pam50  label voxels are PAM50 tract ids + 1 (info_label.txt; 0 and 37 = background):\n"
          "                     tracts 0-3 dorsal, 4-13 lateral, 14-29 ventral, 30-35 gray matter, even = left\n"
          "  --subject ID       subject id (integer)   --level L  vertebral level of all slices (0 unknown,\n"
          "                     1-7 C1-C7, 8 T1)      --size S   default 128\n");
}

int cmd_import(int argc, char **argv) {
  static const struct option opts[] = {
      {"out", 1, 0, 'o'},    {"subject", 1, 0, 's'}, {"labels", 1, 0, 'l'},    {"b0", 1, 0, 'b'},
      {"fa", 1, 0, 'f'},     {"dwi", 1, 0, 'd'},     {"bvals", 1, 0, 'v'},     {"bvecs", 1, 0, 'g'},
      {"nifti-out", 1, 0, 'n'}, {"label-map", 1, 0, 'm'}, {"size", 1, 0, 'S'}, {"level", 1, 0, 'L'},
      {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
  ImportSpec sp = {.size = 128, .subject = -1, .label_kind = IMPORT_LABELS_ROI};
  char cmdline[4096];
  cli_command_line(argc, argv, cmdline, sizeof cmdline);
  sp.created_by = cmdline;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
      case 'o': sp.store = optarg; break;
      case 's': sp.subject = (int32_t)cli_parse_int("--subject", optarg, 0, 1000000); break;
      case 'l': sp.labels = optarg; break;
      case 'b': sp.b0 = optarg; break;
      case 'f': sp.fa = optarg; break;
      case 'd': sp.dwi = optarg; break;
      case 'v': sp.bvals = optarg; break;
      case 'g': sp.bvecs = optarg; break;
      case 'n': sp.nifti_out = optarg; break;
      case 'm':
        if (!strcmp(optarg, "roi")) sp.label_kind = IMPORT_LABELS_ROI;
        else if (!strcmp(optarg, "pam50")) sp.label_kind = IMPORT_LABELS_PAM50;
        else cli_usage_error("import", "--label-map '%s': use roi or pam50", optarg);
        break;
      case 'S': sp.size = (int32_t)cli_parse_int("--size", optarg, 16, 4096); break;
      case 'L': sp.level = (int32_t)cli_parse_int("--level", optarg, 0, 24); break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind < argc) cli_usage_error("import", "unexpected argument '%s'", argv[optind]);
  if (!sp.store) cli_usage_error("import", "-o STORE.h5 is required");
  if (sp.subject < 0) cli_usage_error("import", "--subject ID is required");
  if (!sp.labels) cli_usage_error("import", "--labels LABELS.nii.gz is required");
  if (sp.dwi && (sp.b0 || sp.fa)) cli_usage_error("import", "give either --b0/--fa or --dwi, not both");
  if (!sp.dwi && !(sp.b0 && sp.fa)) cli_usage_error("import", "give --b0 and --fa, or --dwi with --bvals and --bvecs");
  if (sp.dwi && !(sp.bvals && sp.bvecs)) cli_usage_error("import", "--dwi needs --bvals and --bvecs");
  int32_t n = import_subject(&sp);
  printf("import: subject %d: %d axial slices (%dx%d) -> %s\n", sp.subject, n, sp.size, sp.size, sp.store);
  return 0;
}
