/* cmd/commands.c: the `cordseg` command table, each command's facts written
 * once: its name, its synopsis (one form per line; the "usage:" line of its
 * --help when its usage() prints it with cli_print_synopsis, and the README's
 * command table through `cordseg help --markdown`), its one-line summary
 * (`cordseg --help` and the README) and the function that runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"

static const CliCommand COMMANDS[] = {
    {"demo",
     "cordseg demo [--backbone vgg16|resnet50] [--loss hybrid|hdl|ce] [--steps 8] [--batch 2] [--size 64]"
     " [--in-channels 1|2] [--lr 1e-4] [--seed 11]",
     "train both backbones a few steps on a generated batch (the smoke job)", cmd_demo},
    {"model-info",
     "cordseg model-info [--backbone vgg16|resnet50] [--in-channels 1|2] [--classes 9] [--size 128] [--tensors]",
     "print parameter count and forward MACs of a network", cmd_model_info},
    {"bench",
     "cordseg bench [--backbone vgg16|resnet50] [--size 128] [--batch 4] [--steps 5] [--conv-algo auto|direct]"
     " [--peak-gflops G] [--peer PATH] [--no-peer] [--device cpu|cuda|auto] [--precision fp32|bf16]\n"
     "cordseg bench --io STORE.h5 [bench-io options]",
     "measure training and forward images/s (and the PyTorch peer)", cmd_bench},
    {"bench-io",
     "cordseg bench-io STORE.h5 [--batch 8] [--seconds 3] [--input b0|fa|b0+fa] [--no-augment] [--threads 1]",
     "loader slices/s with augmentation (also `cordseg bench --io`)", cmd_bench_io},
    {"phantom",
     "cordseg phantom -o OUT.h5 [--pam50 DIR|synthetic] [--subjects 89] [--slices 12] [--size 128] [--snr 20] [--seed 42]"
     " [--png FILE] [--nifti DIR] [--anatomy none|full]\n"
     "cordseg phantom --compare DWI --bvals F --bvecs F [--compare-subjects 8] [--compare-png FILE]",
     "build a labelled CSM-like DTI cohort from PAM50, or measure a real series against it", cmd_phantom},
    {"import",
     "cordseg import -o STORE.h5 --subject NAME --labels LABELS.nii.gz"
     " (--b0 B0.nii.gz [--fa FA.nii.gz] | --fa FA.nii.gz | --dwi DWI.nii.gz --bvals F --bvecs F [--nifti-out DIR])"
     " [--replace] [--site NAME] [--label-map roi|pam50 [--atlas-min P]] [--size 128] [--spacing MM]"
     " [--level L | --levels FILE]\n"
     "cordseg import -o STORE.h5 (--bids DIR [--labels-pattern P] [--levels-pattern P] | --list SUBJECTS.tsv)"
     " [--site-column C] [--skip-bad] [--label-map roi|pam50] [--size 128] [--spacing MM] [--level L]",
     "add a named subject (sub-01) from NIfTI to a store, or every subject of a BIDS folder or a list", cmd_import},
    {"info", "cordseg info [--no-verify] STORE.h5|MODEL.h5",
     "summarise an HDF5 slice store (subjects, class fractions, checksum) or a model file", cmd_info},
    {"folds",
     "cordseg folds STORE.h5 -o FOLDS.txt [--k 5] [--val N] [--seed 42] [--group-by site]\n"
     "cordseg folds STORE.h5 -o FOLDS.txt --from SPLITS.json",
     "subject-grouped split and k-fold manifests of a store, or of an edited nnU-Net split", cmd_folds},
    {"train",
     "[mpirun -np N | srun] cordseg train [--config FILE] [--fold K] [--set key=value]... [--run-dir DIR] [--resume]\n"
     "cordseg train --help-keys",
     "train a UNet on one fold of a store (MPI data-parallel, checkpoints, resume)", cmd_train},
    {"evaluate",
     "cordseg evaluate RUN_DIR [--ckpt FILE] [-o DIR] [--batch 8] [--device cpu|cuda|auto] [-q]"
     " [--store OTHER.h5 [--subjects LIST]]",
     "per-slice/ROI metrics, thresholds and FA agreement of one trained run", cmd_evaluate},
    {"report", "cordseg report -o OUT STUDY_DIR... [--bootstrap 10000] [--seed 1] [--strict] [-q]",
     "the paper's tables, figures, statistics and QC page from a study's runs", cmd_report},
    {"export", "cordseg export -o MODEL.h5 [--force] RUN_DIR...",
     "one self-describing model file from trained runs (e.g. the folds of an arm)", cmd_export},
    {"segment",
     "cordseg segment -m MODEL.h5 -o OUTDIR (--dwi DWI.nii.gz --bvals F --bvecs F"
     " | --b0 B0.nii.gz [--fa FA.nii.gz] [--md F] [--ad F] [--rd F] | --fa FA.nii.gz)"
     " [--tta] [--largest] [--probs] [--cord-mask MASK.nii.gz] [--levels LEVELS.nii.gz | --level L] [--batch 8]"
     " [--assume-orientation CODE] [--device cpu|cuda|auto] [-q]\n"
     "cordseg segment -m MODEL.h5 -o OUTDIR --bids DIR [--tta] [--largest] [--probs] [--device cpu|cuda|auto]\n"
     "cordseg segment -m MODEL.h5 -o OUTDIR --bids DIR --slurm [--time T] [--cpus N] [--throttle N] [--partition P]"
     " [--dry-run] [--tta] [--largest] [--probs] [--device cpu|cuda|auto]",
     "segment a new subject's DTI (NIfTI) into the 8 ROIs; ROI-wise FA/MD/AD/RD", cmd_segment},
    {"sweep",
     "cordseg sweep plan FILE [--dir DIR] [--no-check] [--configs]\n"
     "cordseg sweep submit FILE [--dir DIR] [--no-check]\n"
     "cordseg sweep status DIR [--no-queue]\n"
     "cordseg sweep resubmit DIR [--tasks LIST] [--throttle N] [--dry-run] [--force]",
     "folds and ablations as a Slurm job array: plan, submit, status, resubmit", cmd_sweep},
};

const CliCommand *cli_commands(size_t *n) {
  *n = sizeof(COMMANDS) / sizeof(COMMANDS[0]);
  return COMMANDS;
}

const CliCommand *cli_command_find(const char *name) {
  for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
    if (!strcmp(COMMANDS[i].name, name)) return &COMMANDS[i];
  return NULL;
}
