# tests/train_common.sh, sourced by the training tests (test_cmd_train_hybrid,
# _revive, _select, _hdl) after they set BIN and DATA: what they share.
#   train_common_init NAME   a scratch folder $T (removed on exit), fails=0,
#                            fail/ok, one OpenMP thread, Open MPI as root;
#                            exit 77 (skip) without mpirun when MPI=1
#   cohort_make SLICES       the quickstart's cohort (PAM50 phantom, 12
#                            subjects x SLICES, seed 42; folds --k 3 --val 1):
#                            $T/c.h5, $T/f.txt; without PAM50 the synthetic
#                            stand-in (tests/atlas.sh)
#   demo_train NP DIR [--set k=v ...]
#                            configs/demo.ini on that cohort on NP ranks into
#                            run directory DIR (no periodic checkpoints; its
#                            output in DIR.out; 840 s at most)
#   val_floor LOG FLOOR ROI_FLOOR
#                            prints the best epoch's per-ROI validation Dice
#                            of a log.csv; status 0 when the mean > FLOOR and
#                            every ROI > ROI_FLOOR
. "$(dirname "${BASH_SOURCE[0]}")/atlas.sh"
train_common_init() {
  if [ "${MPI:-0}" = 1 ]; then
    command -v mpirun >/dev/null || { echo "SKIP: mpirun not found (apt-get install openmpi-bin)"; exit 77; }
  fi
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
  export OMP_NUM_THREADS=1
  T=$(mktemp -d "${TMPDIR:-/tmp}/cordseg-test-$1.XXXXXX")
  trap 'rm -rf "$T"' EXIT
  fails=0
}
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
cohort_make() {
  "$BIN" phantom --pam50 "$PAM50" --subjects 12 --slices "$1" --seed 42 -o "$T/c.h5" >/dev/null || { echo "FAIL: phantom"; exit 1; }
  # --val 1: the folds these checks were measured on (the default takes 2 validation subjects since 2026-12-07)
  "$BIN" folds "$T/c.h5" -o "$T/f.txt" --k 3 --val 1 >/dev/null || { echo "FAIL: folds"; exit 1; }
}
demo_train() {
  local np=$1 dir=$2 src
  shift 2
  src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  timeout 840 mpirun -np "$np" "$BIN" train --config "$src/configs/demo.ini" --set store="$T/c.h5" --set folds="$T/f.txt" \
    --set ckpt_every_epochs=100 --run-dir "$dir" "$@" > "$dir.out" 2>&1
}
val_floor() {
  python3 - "$1" "$2" "$3" <<'EOP'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["val_dice_mean"]]
b = max(rows, key=lambda r: float(r["val_dice_mean"]))
rois = {k[5:]: float(v) for k, v in b.items() if k.startswith("dice_")}
low = [k for k in rois if all(float(r["dice_" + k]) < 0.02 for r in rows[1:])]
print(f"  best epoch {b['epoch']}: mean {float(b['val_dice_mean']):.3f};", " ".join(f"{k} {v:.3f}" for k, v in rois.items()),
      f"; Dice < 0.02 from epoch 2 on: {' '.join(low) or 'none'}")
sys.exit(not (float(b["val_dice_mean"]) > float(sys.argv[2]) and min(rois.values()) > float(sys.argv[3])))
EOP
}
