#!/usr/bin/env bash
# tests/test_cmd_train_revive.sh BIN: HDL keeps every ROI with revive_dead (issue 30).
# HDL (sigmoid heads) with the defaults of before (head at the prior, clip 1,
# no revival) can leave an ROI at zero for a whole run: on the quickstart's
# cohort (phantom 12 subjects x 8 slices, seed 42; folds --k 3 --val 1, fold
# 0) with configs/demo.ini (HDL) and seed 16 on 2 ranks x 1 thread, the left
# ventral column's validation Dice stays at 0.0017 (no threshold separates it)
# from epoch 2 to 30 (measured 2026-12-07: results/2026-12-07-dead-classes).
# Its sigmoid is ~1e-3 over its own region (H(1-H) ~ 1e-3): it never rises.
# revive_dead = 1 (the default) re-initialises the head row of a class below
# Dice 0.02 at epochs 4, 7, 10, 13. Checks, both runs side by side:
#  1. the default run: at its best epoch every ROI's validation Dice > ROI_FLOOR
#     (0.30) and the mean > FLOOR (0.55);
#  2. the floor can fail: revive_dead = 0 leaves an ROI below ROI_FLOOR (PAM50 phantom only: the failing seed
#     was found there; on the synthetic stand-in this check is skipped);
#  3. the trainer says what it did: a "head row re-initialised" line for the L ventral column at epoch 4 (PAM50),
#     none with revive_dead = 0.
# Exit 77 (skip) without mpirun; without PAM50 the phantom is the synthetic stand-in (tests/atlas.sh).
set -uo pipefail
BIN=$(readlink -f "$1")
DATA=${CORDSEG_DATA:-$(dirname "$0")/../../shared/data}
. "$(dirname "$0")/train_common.sh"
MPI=1 train_common_init revive
FLOOR=0.55 ROI_FLOOR=0.30
cohort_make 8
train() { demo_train 2 "$1" --set seed=16 "${@:2}"; } # run-dir [args...]
train "$T/new" & p1=$!
[ "$PAM50_REAL" = 1 ] && { train "$T/old" --set revive_dead=0 & p2=$!; }
wait $p1 || fail "default HDL run exited with an error: $(tail -3 "$T/new.out")"
[ "$PAM50_REAL" = 1 ] && { wait $p2 || fail "revive_dead = 0 run exited with an error: $(tail -3 "$T/old.out")"; }

echo "default (revive_dead = 1):"
val_floor "$T/new/log.csv" $FLOOR $ROI_FLOOR && ok "HDL with revive_dead keeps every ROI (> $ROI_FLOOR) and the mean > $FLOOR" \
  || fail "HDL with revive_dead lost an ROI or stayed below the floor"
if [ "$PAM50_REAL" = 1 ]; then
  echo "revive_dead = 0:"
  val_floor "$T/old/log.csv" $FLOOR $ROI_FLOOR && fail "revive_dead = 0 passed the floor too: this test cannot tell them apart" \
    || ok "the floor can fail: without revival an ROI stays below $ROI_FLOOR"
  grep -q "epoch 4: L ventral column's validation Dice .* head row re-initialised" "$T/new.out" \
    && ok "the trainer names the revived L ventral column at epoch 4" || fail "no revival line for the L ventral column: $(grep -i 're-initialised' "$T/new.out")"
  grep -q "re-initialised" "$T/old.out" && fail "revive_dead = 0 revived a class" || ok "revive_dead = 0 revives nothing"
else
  echo "note: synthetic stand-in: the failing seed is PAM50's; checks 2-3 skipped"
fi

[ $fails -eq 0 ] && echo "test_cmd_train_revive: all passed" || echo "test_cmd_train_revive: $fails failure(s)"
exit $((fails > 0))
