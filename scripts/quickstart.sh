#!/usr/bin/env bash
# scripts/quickstart.sh: the README's main command. Installs what is missing,
# builds cordseg in ./build and runs the main job on its embedded default:
#  1. a small CSM-like phantom cohort from the PAM50 atlas (12 subjects x 8
#     slices) -> runs/quickstart/cohort.h5 (+ PNG montage), its summary, and
#     3 subject-grouped folds (runs/quickstart/folds.txt);
#  2. `mpirun -np 2 cordseg train --config configs/demo.ini` on fold 0: a
#     narrow UNet-VGG16 with the paper's HDL loss (its defaults: head bias at
#     the data prior, gradient clipping), data-parallel over 2 CPU ranks,
#     checkpoints in runs/quickstart/train (a second call resumes or says it
#     is finished);
#  3. `cordseg evaluate` on the run's test subjects and `cordseg report`
#     -> runs/quickstart/report/index.html (tables, figures, QC overlays).
# The PAM50 atlas comes from $PAM50 (the atlas directory), else
# $CORDSEG_DATA/PAM50, else ../shared/data/PAM50 beside the checkout (README:
# "Getting the code and the data"); where none of these is there, the
# built-in synthetic atlas (`phantom --pam50 synthetic`, sim/atlas_synth.c)
# stands in, and the run says that its figures are not the README's. Extra
# arguments go to `cordseg train`.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
say() { echo "quickstart [$((SECONDS - t0)) s]: $*"; }
# the data first: no point installing and building with a PAM50= that is wrong
if [ -n "${PAM50:-}" ] && [ "$PAM50" != synthetic ] && [ ! -f "$PAM50/atlas/info_label.txt" ]; then
  echo "quickstart: no PAM50 atlas at PAM50='$PAM50' ($PAM50/atlas/info_label.txt is missing)." >&2
  echo "quickstart: set PAM50 to the PAM50 directory (holding atlas/), or unset it (README, 'Getting the code and the data')." >&2
  exit 1
fi
if [ -z "${PAM50:-}" ]; then
  if [ -n "${CORDSEG_DATA:-}" ]; then PAM50=$CORDSEG_DATA/PAM50; else PAM50=../shared/data/PAM50; fi
  if [ ! -f "$PAM50/atlas/info_label.txt" ]; then
    say "NOTE: no PAM50 atlas at '$PAM50': the built-in synthetic atlas stands in (sim/atlas_synth.c)."
    say "NOTE: the job runs end to end, but its figures are not the README's (those are measured on PAM50)."
    PAM50=synthetic
  fi
fi
say "packages (scripts/install-deps.sh; a fresh Debian 12 downloads about 200 MB, 1-3 min)"
bash scripts/install-deps.sh
say "configure and build ./build (about 30-60 s on 2 cores the first time)"
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
Q=runs/quickstart
mkdir -p $Q
# a cohort built on the other kind of atlas is not reused (atlas.txt: pam50 or synthetic; none = pam50, older runs)
kind=pam50
[ "$PAM50" != synthetic ] || kind=synthetic
if [ -f $Q/cohort.h5 ] && [ "$(cat $Q/atlas.txt 2>/dev/null || echo pam50)" != "$kind" ]; then
  say "runs/quickstart was built on the $(cat $Q/atlas.txt 2>/dev/null || echo pam50) atlas, this run would use $kind: remove runs/quickstart to start over"
  exit 1
fi
if [ ! -f $Q/cohort.h5 ]; then
  say "phantom cohort from $PAM50 (about 5 s)"
  ./build/cordseg phantom --pam50 "$PAM50" --subjects 12 --slices 8 -o $Q/cohort.h5 --png $Q/cohort.png
  echo "$kind" > $Q/atlas.txt
fi
./build/cordseg info $Q/cohort.h5
# --val 1: the folds (and so the results) of the recorded quickstart, made before --val's default of 2
[ -f $Q/folds.txt ] || ./build/cordseg folds $Q/cohort.h5 -o $Q/folds.txt --k 3 --val 1
# Open MPI refuses root unless told; 2 ranks on the 2 cores, one thread each
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
NP=${NP:-2}
say "training fold 0 of 3 on $NP MPI ranks (30 epochs, one line each; about 1-3 min on 2 cores)"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} mpirun -np "$NP" ./build/cordseg train --config configs/demo.ini --run-dir $Q/train "$@"
say "evaluating on fold 0's test subjects"
./build/cordseg evaluate $Q/train
say "report"
# The demo trains fold 0 only, so the report's grid has folds 1 and 2 without
# a run: say that once instead of listing them like failures.
set +e
./build/cordseg report -o $Q/report $Q/train 2> >(awk '
  /^report: missing: .*fold [12],/ { n++; next }
  { print > "/dev/stderr" }
  END { if (n) printf "quickstart: folds 1 and 2 were not trained (this demo trains fold 0 of 3; `cordseg sweep` runs every fold): the report lists them under \"Missing runs\"; that is expected here\n" > "/dev/stderr" }')
rc=$?
set -e
wait # for the stderr filter
[ "$rc" = 0 ] || { echo "quickstart: cordseg report failed (exit $rc)" >&2; exit 1; }
best=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "val_dice_mean") c = i; next }
  c && $c != "" && $c + 0 > b { b = $c + 0; e = $1 } END { if (c) printf "%.3f (epoch %d)", b, e }' $Q/train/log.csv)
say "done: best mean validation Dice of the 8 ROIs ${best:-n/a} (HDL: at the searched per-class thresholds)"
echo "quickstart: run directory $Q/train (log.csv, run.json, ckpt/, eval/)"
echo "quickstart: report $Q/report/index.html (tables.md, figures *.png)"
