#!/usr/bin/env bash
# scripts/bench-ranks.sh [NP] [--set k=v ...]: data-parallel scaling on this
# machine: trains the same config (same global batch, same steps) on 1 rank
# with all cores and on NP ranks (default 2) sharing the cores, and prints
# the training images/s of each (mean over epochs 2.., from log.csv) and the
# scaling efficiency = (img/s on NP ranks) / (img/s on 1 rank), the figure
# that matters on a CPU node where ranks share the cores.
# Needs a store: set STORE and FOLDS (default: runs/quickstart/, made by
# scripts/quickstart.sh). Example: bash scripts/bench-ranks.sh 2 --set width_div=1
set -euo pipefail
cd "$(dirname "$0")/.."
NP=${1:-2}; shift || true
STORE=${STORE:-runs/quickstart/cohort.h5}; FOLDS=${FOLDS:-runs/quickstart/folds.txt}
[ -f "$STORE" ] && [ -f "$FOLDS" ] || { echo "bench-ranks: $STORE / $FOLDS missing: run scripts/quickstart.sh or set STORE and FOLDS"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
CORES=$(nproc)
T=$(mktemp -d "${TMPDIR:-/tmp}"/cordseg-bench-ranks.XXXXXX); trap 'rm -rf "$T"' EXIT
run() { # np threads
  OMP_NUM_THREADS=$2 mpirun -np "$1" --bind-to none ./build/cordseg train --config configs/demo.ini \
    --set store="$STORE" --set folds="$FOLDS" --set epochs=4 --set val_every=100 --set steps_per_epoch=6 \
    --set batch=8 --run-dir "$T/np$1" "${@:3}" >/dev/null
  python3 -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1])))[1:]; print(sum(float(x['img_per_s']) for x in r)/len(r))" "$T/np$1/log.csv"
}
one=$(run 1 "$CORES" "$@")
many=$(run "$NP" $((CORES / NP > 0 ? CORES / NP : 1)) "$@")
python3 - "$one" "$many" "$NP" "$CORES" <<'EOP'
import sys
one, many, np, cores = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"bench-ranks: global batch 8, {cores} cores: 1 rank x {cores} threads {one:.2f} img/s, "
      f"{np} ranks x {max(cores // np, 1)} threads {many:.2f} img/s, scaling efficiency {100 * many / one:.0f} %")
EOP
