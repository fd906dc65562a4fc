#!/usr/bin/env bash
# results/2026-12-07-dead-classes/run.sh [BIN] [OUT]: issue 30's dead-class study.
# Two cohorts: "qs" = the quickstart's (phantom 12 subjects x 8 slices, seed 42,
# folds --k 3 --val 1, fold 0), "imp" = a different phantom (seed 7) written as
# NIfTI maps and brought in subject by subject through `cordseg import`, folds
# the same way. On each: configs/demo.ini (VGG16/4, 30 epochs, batch 4, lr 5e-4),
# seeds 11-20, loss hybrid and hdl with the new default (head_init auto = prior
# for every loss), and hybrid with the old one (head_init = default), 2 ranks x
# 1 thread; then `cordseg evaluate` on each new-default run (test Dice, FA error).
# Rows go to OUT/runs.csv (one per run: per-ROI Dice at the best epoch, the
# number of ROIs whose validation Dice stayed 0 the whole run). Resumable: a run
# directory with DONE is kept. Arms by env: COHORTS="qs imp", VARIANTS="loss:head_init ...", SEEDS, BACKBONE, EXTRA + TAG.
set -euo pipefail
BIN=$(readlink -f "${1:-build/cordseg}")
OUT=${2:-runs/dead-classes}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
COHORTS=${COHORTS:-qs imp} SEEDS=${SEEDS:-$(seq 11 20)} BACKBONE=${BACKBONE:-vgg16}
VARIANTS=${VARIANTS:-hybrid:auto hdl:auto hybrid:default}
EXTRA=${EXTRA:-} TAG=${TAG:-}  # extra --set options, and a tag naming them in the run directory
mkdir -p "$OUT"
cohort() { # name -> makes $OUT/$name/{c.h5,f.txt}
  local d=$OUT/$1; mkdir -p "$d"
  [ -s "$d/f.txt" ] && return
  if [ "$1" = qs ]; then
    "$BIN" phantom --subjects 12 --slices 8 --seed 42 -o "$d/c.h5" >/dev/null
  else
    "$BIN" phantom --subjects 12 --slices 8 --seed 7 -o "$d/src.h5" --nifti "$d/nii" >/dev/null
    for b0 in "$d"/nii/sub-*_b0.nii.gz; do
      s=$(basename "$b0" _b0.nii.gz)
      "$BIN" import -o "$d/c.h5" --subject "$s" --b0 "$b0" --fa "$d/nii/${s}_fa.nii.gz" --labels "$d/nii/${s}_labels.nii.gz" >/dev/null
    done
  fi
  "$BIN" folds "$d/c.h5" -o "$d/f.txt" --k 3 --val 1 >/dev/null
}
for co in $COHORTS; do
  cohort "$co"
  for v in $VARIANTS; do
    loss=${v%%:*} hi=${v##*:}
    for s in $SEEDS; do
      r=$OUT/$co/$BACKBONE-$loss-$hi${TAG:+-$TAG}-s$s
      if [ ! -f "$r/DONE" ]; then
        echo "$(date +%T) train $r"
        mpirun -np 2 "$BIN" train --config "$SRC/configs/demo.ini" --set store="$OUT/$co/c.h5" \
          --set folds="$OUT/$co/f.txt" --set backbone=$BACKBONE --set loss=$loss --set head_init=$hi \
          --set seed=$s $EXTRA --run-dir "$r" > "$r.out" 2>&1 || echo "  exit $? (see $r.out)"
      fi
      [ "$hi" = auto ] && [ -f "$r/DONE" ] && [ ! -f "$r/eval/summary.json" ] && "$BIN" evaluate "$r" > "$r.eval.out" 2>&1
    done
  done
done
python3 "$SRC/results/2026-12-07-dead-classes/table.py" "$OUT"
