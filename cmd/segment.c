/* cmd/segment.c: `cordseg segment`: a new subject's DTI -> ROI masks and
 * ROI-wise FA/MD/AD/RD (the work is jobs/segment.c). */
#define _XOPEN_SOURCE 700
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/common.h"
#include "io/textio.h"
#include "jobs/paths.h"
#include "jobs/segment.h"
#include "slurm/segment_submit.h"
#include "slurm/slurmctl.h"
#include "cmd/cli.h"

static void usage(FILE *f) {
  cli_print_synopsis(f, "segment");
  fprintf(f,
          "\nSegments one subject's cervical cord into the 8 ROIs of io/labels.h with an exported model\n"
          "(`cordseg export`: one run or a fold ensemble) and measures FA/MD/AD/RD per ROI.\n"
          "  input     a 4-D DWI series + FSL bvals/bvecs, fitted with the DTI code of `cordseg import`\n"
          "            (B0, FA, MD, AD, RD), or maps as given (the model's input kind decides which are\n"
          "            needed: b0, fa or both). Any near-axial orientation (qform/sform honoured: LAS, RAS,\n"
          "            LPI, ...); strongly oblique, sagittal or coronal volumes are refused.\n"
          "  grid      each axial slice is resampled (bilinear) from its pixel size to the model's training\n"
          "            spacing and cropped/padded to the model's size around the field-of-view centre (as\n"
          "            `import` does), or around the centroid of --cord-mask in that slice; then normalised\n"
          "            as in training (b0 / 99.5th percentile, FA clamped to [0, 1]).\n"
          "  ensemble  the probabilities of every model in MODEL.h5 are averaged; --tta adds the\n"
          "            horizontally flipped slice (L/R channels swapped back). Sigmoid (HDL) models\n"
          "            threshold at the mean of the members' validation thresholds; softmax models take\n"
          "            the argmax. The averaged probabilities are resampled back onto the native slice.\n"
          "  --largest keep the largest 4-connected component of each ROI per slice.\n\n"
          "writes OUTDIR/ (each file atomically, after every input check passed):\n"
          "  labels.nii.gz  uint8 ids 0..8 on the input's grid (same qform/sform)\n"
          "  probs.nii.gz   with --probs: 9 float volumes, one per class\n"
          "  b0|fa|md|ad|rd.nii.gz  the fitted maps (DWI input)\n"
          "  metrics.csv    rows per (slice, ROI), per (vertebral level, ROI) with --levels/--level, and\n"
          "                 over all slices: voxels, area_mm2, empty, mean/SD (n-1)/median of FA, MD, AD, RD\n"
          "                 (mm^2/s; nan where a map is absent or the ROI is empty). slice = 0 most\n"
          "                 superior; k = the voxel index along the file's slice axis\n"
          "  qc.png         every slice: b0, FA, labels outlined on b0\n\n");
}

/* --bids --slurm: the pending subjects as a job array and the collect job (slurm/segment_submit.h); the jobs
 * run this command with absolute paths and the same options */
static int segment_submit_slurm(const SegmentOptions *o, const char *time_s, int32_t cpus, int32_t throttle,
                                const char *partition, int dry) {
  char model[PATH_MAX], bids[PATH_MAX], out[PATH_MAX], q[3][PATH_MAX + 64], args[4 * PATH_MAX], pending[8192];
  textio_mkdir_p(o->out, "choose a writable -o directory");
  if (!realpath(o->model, model) || !realpath(o->bids, bids) || !realpath(o->out, out))
    cs_fatal("check the paths", "segment --slurm: cannot resolve -m, --bids or -o (%s, %s, %s)", o->model, o->bids,
             o->out);
  slurm_quote(model, q[0], sizeof q[0]), slurm_quote(bids, q[1], sizeof q[1]), slurm_quote(out, q[2], sizeof q[2]);
  snprintf(args, sizeof args, "-q -m %s --bids %s -o %s --device %s --batch %d%s%s%s", q[0], q[1], q[2],
           cs_enum_name(&BACKEND_KIND_ENUM, o->device), o->batch, o->tta ? " --tta" : "", o->largest ? " --largest" : "",
           o->write_probs ? " --probs" : "");
  SegmentOptions so = *o;
  so.out = out;
  const int n = segment_cohort_plan(&so, pending, sizeof pending);
  if (!pending[0]) {
    printf("segment --slurm: all %d subjects of %s are done (%s/slurm/subjects.tsv); nothing submitted\n", n, bids, out);
    return 0;
  }
  const int64_t t = slurm_parse_time(time_s);
  if (t <= 0) cli_usage_error("segment", "--time '%s' is not a Slurm time (M, M:S, H:M:S, D-H:M:S)", time_s);
  SegmentSlurm ss = {.out = out, .slurm_dir = paths_slurm_dir(), .args = args, .pending = pending, .cpus = cpus,
                     .throttle = throttle, .gpus = o->device == BACKEND_KIND_CUDA, .time_s = t, .partition = partition,
                     .dry = dry};
  segment_slurm_submit(&ss);
  return 0;
}

int cmd_segment(int argc, char **argv) {
  SegmentOptions o;
  segment_options_default(&o);
  const char *slurm_time = "00:30:00", *partition = NULL;
  int slurm = 0, dry = 0;
  int32_t cpus = 2, throttle = 0;
  const CliOption opts[] = {
      CLI_STRING("model", 'm', &o.model, .arg = "FILE", .help = "exported model (cordseg export)", .required = 1),
      CLI_STRING("out", 'o', &o.out, .arg = "DIR", .help = "output directory", .required = 1),
      CLI_STRING("bids", 0, &o.bids, .arg = "DIR",
                 .help = "every sub-X of a BIDS-style folder (DWI or B0/FA maps) into OUTDIR/sub-X/dwi/ (each "
                         "session sub-X/ses-Y into OUTDIR/sub-X/ses-Y/dwi/), resumable, then OUTDIR/metrics.tsv"),
      CLI_FLAG_ON("slurm", 0, &slurm,
                  .help = "with --bids: submit the subjects not done as a Slurm job array, and a job after it that "
                          "writes the sidecars and OUTDIR/metrics.tsv (scripts, logs in OUTDIR/slurm/)"),
      CLI_STRING("time", 0, &slurm_time, .arg = "T", .help = "--slurm: wall time per subject (default 00:30:00)"),
      CLI_INT32("cpus", 0, &cpus, 1, 1024, .arg = "N", .help = "--slurm: cores per subject (default 2)"),
      CLI_INT32("throttle", 0, &throttle, 0, 100000, .arg = "N", .help = "--slurm: subjects running at once (0: no limit)"),
      CLI_STRING("partition", 0, &partition, .arg = "P", .help = "--slurm: the partition (default: the cluster's)"),
      CLI_FLAG_ON("dry-run", 0, &dry, .help = "--slurm: write the job scripts, submit nothing"),
      CLI_INT32("subject-index", 0, &o.subject_index, 0, 1000000, .arg = "I",
                .help = "with --bids: only subject (or session) I (a row of OUTDIR/slurm/subjects.tsv; what each "
                        "array task runs)"),
      CLI_FLAG_ON("collect", 0, &o.collect,
                  .help = "with --bids: segment nothing; the done subjects' sidecars, OUTDIR/metrics.tsv, the "
                          "subjects not done (what the job after the array runs)"),
      CLI_STRING("dwi", 0, &o.dwi, .arg = "FILE", .help = "4-D DWI series (with --bvals, --bvecs)"),
      CLI_STRING("bvals", 0, &o.bvals, .arg = "FILE", .help = "FSL b-values of --dwi"),
      CLI_STRING("bvecs", 0, &o.bvecs, .arg = "FILE", .help = "FSL b-vectors of --dwi"),
      CLI_STRING("b0", 0, &o.b0, .arg = "FILE", .help = "B0 map (maps input)"),
      CLI_STRING("fa", 0, &o.fa, .arg = "FILE", .help = "FA map (maps input)"),
      CLI_STRING("md", 0, &o.md, .arg = "FILE", .help = "MD map, for metrics.csv only"),
      CLI_STRING("ad", 0, &o.ad, .arg = "FILE", .help = "AD map, for metrics.csv only"),
      CLI_STRING("rd", 0, &o.rd, .arg = "FILE", .help = "RD map, for metrics.csv only"),
      CLI_STRING("cord-mask", 0, &o.cord_mask, .arg = "FILE", .help = "centre each slice's crop on this mask's centroid"),
      CLI_STRING("levels", 0, &o.levels, .arg = "FILE", .help = "vertebral levels (PAM50 coding), per slice the mode",
                 .group = 1),
      CLI_INT32("level", 0, &o.level, 0, 24, .arg = "L", .help = "one vertebral level for every slice", .group = 1),
      CLI_STRING("assume-orientation", 0, &o.assume_orientation, .arg = "CODE",
                 .help = "axes of volumes without qform/sform, e.g. LAS (refused without it)"),
      CLI_STRING("test-fail-before", 0, &o.fail_before, .hidden = 1),
      CLI_INT32("batch", 0, &o.batch, 1, 256, .help = "slices per forward pass (default 8)"),
      CLI_FLAG_ON("tta", 0, &o.tta, .help = "add the horizontally flipped slice (L/R swapped back)"),
      CLI_FLAG_ON("largest", 0, &o.largest, .help = "keep the largest 4-connected component per ROI and slice"),
      CLI_FLAG_ON("probs", 0, &o.write_probs, .help = "also write probs.nii.gz"),
      CLI_FLAG_ON("quiet", 'q', &o.quiet, .help = "no progress or summary"),
      CLI_CHOICE("device", 0, &o.device, backend_parse, "unknown --device '%s': use cpu, cuda or auto",
                 .arg = "KIND", .help = "cpu, cuda or auto: where the network runs (default auto: a GPU if any)"),
      CLI_END};
  const int pos = cli_parse("segment", argc, argv, opts, usage);
  if (pos < argc) cli_usage_error("segment", "unexpected argument '%s'", argv[pos]);
  char cmdline[4096];
  cli_command_line(argc, argv, cmdline, sizeof cmdline);
  o.command = cmdline;
  if (o.bids) {
    if (o.dwi || o.b0 || o.fa || o.md || o.ad || o.rd || o.cord_mask || o.levels)
      cli_usage_error("segment", "--bids finds every subject's files: give no --dwi/--b0/--fa/--md/--ad/--rd/"
                                 "--cord-mask/--levels with it");
    if (slurm && (o.collect || o.subject_index >= 0))
      cli_usage_error("segment", "--slurm submits the jobs that run --subject-index and --collect: give neither");
    if (slurm) return segment_submit_slurm(&o, slurm_time, cpus, throttle, partition, dry);
    return segment_cohort_run(&o) ? 1 : 0;
  }
  if (slurm || o.collect || o.subject_index >= 0)
    cli_usage_error("segment", "--slurm, --collect and --subject-index go with --bids");
  if (!o.dwi && !o.b0 && !o.fa) cli_usage_error("segment", "give --dwi with --bvals/--bvecs, or --b0 and/or --fa");
  if (o.dwi && (o.b0 || o.fa || o.md || o.ad || o.rd)) cli_usage_error("segment", "give either --dwi or maps, not both");
  if (o.dwi && !(o.bvals && o.bvecs)) cli_usage_error("segment", "--dwi needs --bvals and --bvecs");
  segment_run(&o);
  return 0;
}
