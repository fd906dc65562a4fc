/* cmd/import.c: `cordseg import`: one subject from NIfTI into a store, or
 * every subject of a BIDS-style folder or of a list (the work is io/import.c,
 * io/bids.c, io/subjlist.c). */
#include <stdio.h>
#include <string.h>

#include "io/bids.h"
#include "io/import.h"
#include "cmd/cli.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "import");
  fprintf(f,
          "\nAdds one subject's axial slices to STORE (created if missing, else appended to; the file\n"
          "is replaced atomically). Maps mode takes B0 and FA maps, or one of them (a B0-only or FA-only\n"
          "store: training refuses an input it lacks; every subject of a store has its maps); DWI mode\n"
          "fits the diffusion tensor (weighted least squares, the same code as `cordseg phantom`) from a\n"
          "4-D series and FSL bvals/bvecs, stores B0/FA/MD/AD/RD, and can write them as NIfTI. All volumes must share\n"
          "the label volume's grid. Slices are centre-cropped / zero-padded to SIZE x SIZE.\n"
          "  --subject NAME     the subject's name (sub-01; letters, digits, '-', '_', '.'), shown by info,\n"
          "                     folds and evaluate; a plain integer is kept as the subject id itself. A name\n"
          "                     the store already holds is refused (exit 1, nothing written) unless --replace\n"
          "  --replace          replace that subject's slices (the store rebuilt without them, one atomic write)\n"
          "  --bids DIR         every DIR/sub-X/ folder, named sub-X: from DIR/sub-X/dwi/ either the DWI series\n"
          "                     sub-X[_...]_dwi.nii[.gz] with its .bval/.bvec (preferred), or the maps\n"
          "                     sub-X[_...]_desc-b0.nii[.gz] and sub-X[_...]_FA.nii[.gz]; labels: --labels-pattern.\n"
          "                     Progress per subject and a summary table; stops at the first broken subject\n"
          "                     naming the file (nothing written), a subject already in STORE is refused\n"
          "  --list FILE        every subject of a tab-separated table instead (any layout): a header row\n"
          "                     naming the columns subject, labels, and dwi + bval + bvec (a DWI series) or b0 + fa\n"
          "                     (maps), optionally site; one row per subject; relative paths are relative to\n"
          "                     FILE's folder. Imported as --bids is (children, one commit, --skip-bad); a\n"
          "                     row's missing file is named by its line and column\n"
          "  --site NAME        the subject's site (centre, scanner), stored for `folds --group-by site`;\n"
          "                     --bids reads it from DIR/participants.tsv, --list from its site column\n"
          "  --site-column C    --bids/--list: the column holding the site (default: 'site' when present)\n"
          "  --labels-pattern P the label file of each subject, relative to DIR, {sub} = its folder name\n"
          "                     (default " BIDS_LABELS_DEFAULT ")\n"
          "  --skip-bad         --bids: import the good subjects and list the broken ones (exit 1 if none is good)\n"
          "  --levels FILE      each slice's vertebral level from a level image on the labels' grid: the most\n"
          "                     frequent level in the slice (SCT's sct_label_vertebrae *_labeled output; PAM50\n"
          "                     coding 1-7 C1-C7, 8-19 T1-T12, 20-24 L1-L5, 0 none), as `segment --levels`\n"
          "  --levels-pattern P --bids: each subject's level image, relative to DIR, {sub} = its folder; optional\n"
          "                     (default " BIDS_LEVELS_DEFAULT "); --list: a levels column\n"
          "  --spacing MM       first resample each slice to MM x MM pixels (maps bilinear, labels nearest,\n"
          "                     around the field-of-view centre: the rule `segment` applies); slices already at\n"
          "                     MM are only cropped/padded; the store records each slice's spacing. Default:\n"
          "                     the native spacing\n"
          "  --label-map roi    label voxels are cordseg ROI ids 0..8 (default):\n"
          "                     0 background, 1-4 L dorsal/lateral/ventral column/gray matter, 5-8 R\n"
          "  --label-map pam50  label voxels are PAM50 tract ids + 1 (info_label.txt; 0 and 37 = background):\n"
          "                     tracts 0-3 dorsal, 4-13 lateral, 14-29 ventral, 30-35 gray matter, even = left.\n"
          "                     --labels may be SCT's warped atlas folder instead (sct_warp_template's\n"
          "                     label/atlas/, PAM50_atlas_00..35): each voxel takes the ROI whose tracts' maps\n"
          "                     sum highest, where the 36 maps sum to at least --atlas-min P (default 0.5)\n"
          "\n");
}

static int label_map_parse(const char *v) {
  return !strcmp(v, "roi") ? IMPORT_LABELS_ROI : !strcmp(v, "pam50") ? IMPORT_LABELS_PAM50 : -1;
}

int cmd_import(int argc, char **argv) {
  ImportSpec sp = {.size = 128, .subject = -1, .label_kind = IMPORT_LABELS_ROI};
  const char *subject = NULL, *fail_before = NULL;
  BidsSpec bs = {0};
  char cmdline[4096];
  cli_command_line(argc, argv, cmdline, sizeof cmdline);
  sp.created_by = cmdline;
  int label_map = IMPORT_LABELS_ROI;
  const CliOption opts[] = {
      CLI_STRING("out", 'o', &sp.store, .arg = "STORE.h5", .help = "the store (created, else appended to)", .required = 1),
      CLI_STRING("subject", 0, &subject, .arg = "NAME", .help = "subject name, e.g. sub-01 (above; not with --bids)"),
      CLI_FLAG_ON("replace", 0, &sp.replace, .help = "replace the slices of a subject the store already holds"),
      CLI_STRING("labels", 0, &sp.labels, .arg = "FILE", .help = "label volume (not with --bids)"),
      CLI_STRING("bids", 0, &bs.dir, .arg = "DIR", .help = "import every subject of a BIDS-style folder (above)"),
      CLI_STRING("list", 0, &bs.list, .arg = "FILE", .help = "import every subject of a table of files (above)"),
      CLI_STRING("site", 0, &sp.site, .arg = "NAME", .help = "the subject's site (folds --group-by site)"),
      CLI_STRING("site-column", 0, &bs.site_column, .arg = "C",
                 .help = "--bids/--list: the column holding each subject's site (default site)"),
      CLI_STRING("labels-pattern", 0, &bs.labels_pattern, .arg = "P",
                 .help = "--bids: each subject's label file, relative to DIR ({sub} = the subject)"),
      CLI_FLAG_ON("skip-bad", 0, &bs.skip_bad, .help = "--bids: import the good subjects, list the broken ones"),
      CLI_STRING("b0", 0, &sp.b0, .arg = "FILE", .help = "B0 map (maps mode; alone: a B0-only store)"),
      CLI_STRING("fa", 0, &sp.fa, .arg = "FILE", .help = "FA map (maps mode; alone: an FA-only store)"),
      CLI_STRING("dwi", 0, &sp.dwi, .arg = "FILE", .help = "4-D DWI series (DWI mode, with --bvals, --bvecs)"),
      CLI_STRING("bvals", 0, &sp.bvals, .arg = "FILE", .help = "FSL b-values of --dwi"),
      CLI_STRING("bvecs", 0, &sp.bvecs, .arg = "FILE", .help = "FSL b-vectors of --dwi"),
      CLI_STRING("nifti-out", 0, &sp.nifti_out, .arg = "DIR", .help = "DWI mode: also write the fitted maps as NIfTI"),
      CLI_CHOICE("label-map", 0, &label_map, label_map_parse, "--label-map '%s': use roi or pam50", .arg = "MAP",
                 .help = "roi or pam50: what the label voxels hold (above; default roi)"),
      CLI_DOUBLE("atlas-min", 0, &sp.atlas_min, 0.01, 1, .arg = "P",
                 .help = "pam50 with an atlas folder: the cord fraction a voxel needs to be labelled (default 0.5)"),
      CLI_INT32("size", 0, &sp.size, 16, 4096, .arg = "S", .help = "slice size after the crop/pad (default 128)"),
      CLI_DOUBLE("spacing", 0, &sp.spacing, 0.05, 10, .arg = "MM", .help = "resample to MM x MM pixels first (above)"),
      CLI_INT32("level", 0, &sp.level, 0, 24, .arg = "L",
                .help = "vertebral level of all slices (0 unknown, 1-7 C1-C7, 8 T1)"),
      CLI_STRING("test-fail-before", 0, &fail_before, .hidden = 1),
      CLI_STRING("levels", 0, &sp.levels, .arg = "FILE",
                 .help = "a level image (SCT's *_labeled): each slice's level (above; not with --level)"),
      CLI_STRING("levels-pattern", 0, &bs.levels_pattern, .arg = "P",
                 .help = "--bids: each subject's optional level image, relative to DIR ({sub} = the subject)"),
      CLI_END};
  int pos = cli_parse("import", argc, argv, opts, usage);
  sp.label_kind = (ImportLabels)label_map;
  if (pos < argc) cli_usage_error("import", "unexpected argument '%s'", argv[pos]);
  if (fail_before && (strcmp(fail_before, "commit") || !(bs.dir || bs.list)))
    cli_usage_error("import", "--test-fail-before (a test hook) takes 'commit', with --bids or --list");
  bs.fail_before_commit = fail_before != NULL;
  if (bs.dir && bs.list) cli_usage_error("import", "give --bids DIR or --list FILE, not both");
  if (bs.list && bs.labels_pattern) cli_usage_error("import", "--list names each subject's labels: drop --labels-pattern");
  if (sp.atlas_min > 0 && sp.label_kind != IMPORT_LABELS_PAM50)
    cli_usage_error("import", "--atlas-min goes with --label-map pam50 and an atlas folder as --labels");
  if (sp.levels && sp.level) cli_usage_error("import", "give --level L (every slice) or --levels FILE, not both");
  if (bs.levels_pattern && !bs.dir) cli_usage_error("import", "--levels-pattern goes with --bids");
  if (bs.dir || bs.list) {
    if (subject || sp.labels || sp.b0 || sp.fa || sp.dwi || sp.bvals || sp.bvecs || sp.nifti_out || sp.replace ||
        sp.site || sp.levels)
      cli_usage_error("import", "--bids and --list find each subject's files: drop --subject, --labels, --b0, --fa, "
                                "--dwi, --bvals, --bvecs, --nifti-out, --replace, --site and --levels");
    bs.base = sp;
    return bids_import(&bs, stdout) > 0 ? 0 : 1;
  }
  if (bs.labels_pattern || bs.skip_bad || bs.site_column)
    cli_usage_error("import", "--labels-pattern, --skip-bad and --site-column go with --bids or --list");
  if (!subject || !sp.labels) cli_usage_error("import", "give --subject NAME and --labels FILE (or --bids DIR)");
  if (sp.dwi && (sp.b0 || sp.fa)) cli_usage_error("import", "give either --b0/--fa or --dwi, not both");
  if (!sp.dwi && !(sp.b0 || sp.fa)) cli_usage_error("import", "give --b0 and/or --fa, or --dwi with --bvals and --bvecs");
  if (sp.dwi && !(sp.bvals && sp.bvecs)) cli_usage_error("import", "--dwi needs --bvals and --bvecs");
  sp.name = subject;
  int32_t n = import_subject(&sp);
  char how[96] = "";
  if (sp.spacing > 0) snprintf(how, sizeof how, " at %.4g mm (resampled unless already there)", sp.spacing);
  printf("import: subject %s: %d axial slices (%dx%d%s)%s -> %s\n", subject, n, sp.size, sp.size, how,
         sp.replace ? " (replacing any it had)" : "", sp.store);
  return 0;
}
