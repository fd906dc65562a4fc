#!/usr/bin/env bash
# scripts/make-model.sh: train and export the recommended model for real
# subjects, in one command (issue 29). The recipe is the one measured to
# transfer to the real series (results/2026-12-01-phantom-coverage,
# results/2026-12-07-real-model): a phantom cohort with the anatomy around the
# cord (`phantom --anatomy full`, the paper's size: 89 subjects x 12 slices),
# B0 and FA as input (B0 alone under-covers real cords), the Dice+Focal
# (hybrid) loss with its defaults (prior head, gradient clip: no lost ROI), the
# demo network (UNet-VGG16, width_div 4, 30 epochs), several seeds on fold 0
# joined into one model file by `cordseg export` (segment averages them).
#
#   bash scripts/make-model.sh [-o MODEL.h5] [--work DIR] [--seeds "11 12 13"]
#                              [--jobs N] [--subjects 89] [--slices 12]
#                              [--epochs 30] [--pam50 DIR|synthetic] [--no-check]
#
# Each seed trains on one thread, --jobs of them at a time (default: the
# cores). The expected time is printed once every seed has run an epoch
# (about 10-15 min per seed per core on a 2-core AMD EPYC VM). Run it again
# and it picks up where it stopped (the cohort is kept, trainings resume from
# their checkpoints, finished ones are left alone). At the end, when the real
# series is there ($CORDSEG_DATA/sct_dmri or ../shared/data/sct_dmri), the
# model segments it with --tta and the script prints segment's QC lines: the
# check that the model does what it is for. Every step's output is in
# WORK/*.log.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
OUT= WORK=runs/model SEEDS="11 12 13" JOBS=$(nproc) SUBJ=89 SLICES=12 EPOCHS=30 CHECK=1 ATLAS=
while [ $# -gt 0 ]; do
  case "$1" in
    -o | --out) OUT=${2:?-o needs a file}; shift 2 ;;
    --work) WORK=${2:?--work needs a folder}; shift 2 ;;
    --seeds) SEEDS=${2:?--seeds needs a list}; shift 2 ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
    --subjects) SUBJ=${2:?}; shift 2 ;;
    --slices) SLICES=${2:?}; shift 2 ;;
    --epochs) EPOCHS=${2:?}; shift 2 ;;
    --pam50) ATLAS=${2:?--pam50 needs the PAM50 folder or synthetic}; shift 2 ;;
    --no-check) CHECK=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "make-model: unknown argument '$1' (bash scripts/make-model.sh --help)" >&2; exit 2 ;;
  esac
done
for v in JOBS SUBJ SLICES EPOCHS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "make-model: --${v,,} '${!v}' is not a positive whole number" >&2; exit 2; }
done
for s in $SEEDS; do [[ $s =~ ^[0-9]+$ ]] || { echo "make-model: seed '$s' is not a number (--seeds \"11 12 13\")" >&2; exit 2; }; done
[ -n "$SEEDS" ] || { echo "make-model: --seeds is empty" >&2; exit 2; }
OUT=${OUT:-$WORK/cordseg-b0fa-hybrid.h5}
t0=$SECONDS
say() { echo "make-model [$((SECONDS - t0)) s]: $*"; }
C=${CORDSEG:-build/cordseg}
if [ -z "${CORDSEG:-}" ]; then
  bash scripts/install-deps.sh
  bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release >"${TMPDIR:-/tmp}/make-model-build.$$.log" 2>&1 ||
    { cat "${TMPDIR:-/tmp}/make-model-build.$$.log" >&2; exit 1; }
  rm -f "${TMPDIR:-/tmp}/make-model-build.$$.log"
fi
[ -x "$C" ] || { echo "make-model: no cordseg binary at '$C'" >&2; exit 1; }
mkdir -p "$WORK"
params="anatomy=full subjects=$SUBJ slices=$SLICES seed=42${ATLAS:+ pam50=$ATLAS}"
if [ -f "$WORK/cohort.h5" ] && [ "$(cat "$WORK/cohort.txt" 2>/dev/null)" != "$params" ]; then
  echo "make-model: $WORK/cohort.h5 was made with '$(cat "$WORK/cohort.txt" 2>/dev/null || echo unknown settings)'," \
    "this run asks for '$params': use another --work folder or remove $WORK" >&2
  exit 1
fi
if [ ! -f "$WORK/cohort.h5" ]; then
  say "phantom cohort: $SUBJ subjects x $SLICES slices with the anatomy around the cord (about 1 min)"
  "$C" phantom ${ATLAS:+--pam50 "$ATLAS"} --anatomy full --subjects "$SUBJ" --slices "$SLICES" --seed 42 -o "$WORK/cohort.h5" >"$WORK/phantom.log" 2>&1 ||
    { cat "$WORK/phantom.log" >&2; exit 1; }
  echo "$params" >"$WORK/cohort.txt"
fi
[ -f "$WORK/folds.txt" ] || "$C" folds "$WORK/cohort.h5" --k 3 -o "$WORK/folds.txt" >"$WORK/folds.log" 2>&1 ||
  { cat "$WORK/folds.log" >&2; exit 1; }

# the trainings: one thread each, $JOBS at a time
export OMP_NUM_THREADS=1
train_one() {
  "$C" train --config configs/demo.ini --set store="$WORK/cohort.h5" --set folds="$WORK/folds.txt" \
    --set loss=hybrid --set input=b0+fa --set epochs="$EPOCHS" --set seed="$1" --fold 0 \
    --run-dir "$WORK/run-seed$1" >"$WORK/train-seed$1.log" 2>&1
}
epochs_of() { [ -f "$WORK/run-seed$1/log.csv" ] && echo $(($(wc -l <"$WORK/run-seed$1/log.csv") - 1)) || echo 0; }
nseed=$(wc -w <<<"$SEEDS")
todo=()
for s in $SEEDS; do [ -f "$WORK/run-seed$s/DONE" ] || todo+=("$s"); done
if [ ${#todo[@]} -gt 0 ]; then
  say "training ${#todo[@]} of $nseed seeds ($SEEDS), $JOBS at a time, $EPOCHS epochs each; logs: $WORK/train-seed*.log"
  declare -A pid_seed=()
  next=0 told=0 last=""
  failed=()
  while :; do
    while [ ${#pid_seed[@]} -lt "$JOBS" ] && [ $next -lt ${#todo[@]} ]; do
      train_one "${todo[$next]}" &
      pid_seed[$!]=${todo[$next]}
      next=$((next + 1))
    done
    [ ${#pid_seed[@]} -gt 0 ] || break
    sleep 5
    for p in "${!pid_seed[@]}"; do
      kill -0 "$p" 2>/dev/null && continue
      s=${pid_seed[$p]}
      if wait "$p"; then say "seed $s: done"; else failed+=("$s"); say "seed $s: FAILED (its log: $WORK/train-seed$s.log)"; fi
      unset "pid_seed[$p]"
    done
    if [ $told = 0 ]; then # the expected time, from the slowest first epoch among the running seeds
      first=0
      for s in "${todo[@]:0:$next}"; do
        e=$(epochs_of "$s")
        [ "$e" -ge 1 ] || { first=0; break; }
        t=$(awk -F, 'NR == 2 { print int($7 + 0.5) }' "$WORK/run-seed$s/log.csv")
        [ "$t" -gt "$first" ] && first=$t
      done
      if [ "$first" -gt 0 ]; then
        waves=$(((${#todo[@]} + JOBS - 1) / JOBS))
        say "expected on this machine: about $((first * EPOCHS * waves / 60 + 1)) min for the trainings" \
          "(an epoch takes ${first} s with $JOBS at a time; $waves round(s) of $EPOCHS epochs)"
        told=1
      fi
    fi
    line=""
    for s in "${todo[@]:0:$next}"; do [ -f "$WORK/run-seed$s/DONE" ] || line+=" seed $s: epoch $(epochs_of "$s")/$EPOCHS;"; done
    if [ -n "$line" ] && [ "$line" != "$last" ] && [ $((SECONDS % 60)) -lt 5 ]; then say "${line# }"; last=$line; fi
  done
  [ ${#failed[@]} -eq 0 ] || { echo "make-model: seed(s) ${failed[*]} failed: their logs are named above; run again to resume the others" >&2; exit 1; }
fi
runs=()
for s in $SEEDS; do
  r="$WORK/run-seed$s"
  runs+=("$r")
  if [ ! -f "$r/eval/summary.json" ]; then
    "$C" evaluate -q "$r" >"$WORK/evaluate-seed$s.log" 2>&1 || { cat "$WORK/evaluate-seed$s.log" >&2; exit 1; }
  fi
  d=$(awk '{ while (match($0, /"dice_mean":[ \t]*[-0-9.e+]+/)) { v = substr($0, RSTART, RLENGTH); sub(/.*:[ \t]*/, "", v)
    s += v; n++; $0 = substr($0, RSTART + RLENGTH) } } END { if (n) printf "%.3f", s / n }' "$r/eval/summary.json")
  say "seed $s: phantom test Dice ${d:-n/a} (mean of the 8 ROIs; $r/eval/summary.json)"
done
"$C" export --force -o "$OUT" "${runs[@]}" >"$WORK/export.log" 2>&1 || { cat "$WORK/export.log" >&2; exit 1; }
say "model: $OUT ($nseed seeds as one model); \`$C info $OUT\` says what it was trained on"

if [ $CHECK = 1 ]; then
  R=${CORDSEG_DATA:-../shared/data}/sct_dmri
  if [ -f "$R/dmri.nii.gz" ]; then
    say "check: segmenting the real series $R with --tta"
    rm -rf "$WORK/check-real"
    "$C" segment -m "$OUT" --dwi "$R/dmri.nii.gz" --bvals "$R/bvals.txt" --bvecs "$R/bvecs.txt" --tta \
      -o "$WORK/check-real" >"$WORK/check-real.log" 2>&1 || { cat "$WORK/check-real.log" >&2; exit 1; }
    grep -E '^segment: (QC|warning)' "$WORK/check-real.log" || true
    # white- and gray-matter FA over all slices (metrics.csv's "all" rows, voxel-weighted): WM above GM in a cord
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
      $c["scope"] == "all" && $c["fa_mean"] != "nan" { g = ($c["roi_id"] == 4 || $c["roi_id"] == 8)
        s[g] += $c["voxels"] * $c["fa_mean"]; n[g] += $c["voxels"] }
      END { if (n[0] && n[1]) printf "make-model: check: white-matter FA %.3f, gray-matter FA %.3f (%s)\n", s[0] / n[0],
            s[1] / n[1], (s[0] / n[0] > s[1] / n[1]) ? "WM above GM, as in a cord" : "GM above WM: not a cord'"'"'s order" }' \
      "$WORK/check-real/metrics.csv"
    say "check: $WORK/check-real (qc.png, cord_qc.csv, metrics.csv)"
  else
    say "check skipped: no real series at $R"
  fi
fi
say "done. Segment a subject: $C segment -m $OUT --dwi DWI.nii.gz --bvals F --bvecs F --tta -o OUTDIR (docs/segment.md)"
