#!/usr/bin/env bash
# tests/test_make_model.sh BIN: scripts/make-model.sh, the one command that
# trains and exports the real-data model (issue 29), at a tiny scale (9
# subjects x 4 slices, 6 epochs, 2 seeds; the recipe's own scale is measured
# in results/2026-12-07-real-model). Checks:
#  1. bad arguments are usage errors (exit 2) naming the argument;
#  2. a run writes one model of both seeds whose `info` says it was trained
#     on a phantom store with input b0+fa and the hybrid (softmax) loss, and
#     prints the expected time and each seed's test Dice;
#  3. killed while training and run again, it resumes (the trainer's resume
#     line) and finishes; run once more, it trains nothing (DONE kept);
#  4. the same --work with other cohort settings is refused, naming both;
#  5. with the real series there, the model's check segments it and prints
#     segment's QC lines.
set -uo pipefail
BIN=$(readlink -f "$1")
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${CORDSEG_DATA:-$(dirname "$0")/../../shared/data}
. "$(dirname "$0")/atlas.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}"/cordseg-test-mm.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
MM="$SRC/scripts/make-model.sh"
export CORDSEG=$BIN CORDSEG_DATA=$DATA
small=(--pam50 "$PAM50" --subjects 9 --slices 4 --epochs 6 --seeds "1 2" --jobs 2)

# 1. usage errors
for bad in "--jobs 0" "--seeds x1" "--epochs -3" "--frobnicate"; do
  # shellcheck disable=SC2086
  out=$(bash "$MM" $bad 2>&1); rc=$?
  [ $rc = 2 ] && grep -q -- "${bad%% *}\|seed 'x1'" <<<"$out" && ok "usage error for '$bad'" ||
    fail "'$bad': exit $rc, '$out'"
done

# 3 first: a run killed while its seeds train, then run again
setsid bash "$MM" "${small[@]}" --work "$T/w" --no-check >"$T/first.out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  [ "$(cat "$T"/w/run-seed[12]/log.csv 2>/dev/null | wc -l)" -ge 4 ] && break # an epoch of each seed
  kill -0 $pid 2>/dev/null || break
  sleep 0.2
done
if kill -0 $pid 2>/dev/null && [ ! -f "$T/w/run-seed1/DONE" ]; then
  kill -TERM -- -$pid 2>/dev/null
  wait $pid
  [ ! -f "$T/w/cordseg-b0fa-hybrid.h5" ] && ok "killed while training: no model written" || fail "a model after the kill"
  killed=1
else
  wait $pid
  echo "note: the first run finished before it could be killed (a fast machine); the resume check is skipped"
  killed=0
fi
bash "$MM" "${small[@]}" --work "$T/w" --no-check >"$T/second.out" 2>&1 || fail "the second run: $(tail -5 "$T/second.out")"
if [ $killed = 1 ]; then
  grep -qi "resum" "$T/w/train-seed1.log" "$T/w/train-seed2.log" && ok "the killed trainings resumed" ||
    fail "no resume line in the train logs: $(tail -3 "$T/w/train-seed1.log")"
fi
M=$T/w/cordseg-b0fa-hybrid.h5
[ -f "$M" ] && ok "model written" || fail "no model at $M: $(tail -5 "$T/second.out")"

# 2. what the model says it is, and what the script printed
info=$("$BIN" info "$M" 2>&1)
grep -q "trained on  a phantom store of 9 subjects" <<<"$info" && ok "info: trained on a phantom store" ||
  fail "info: $(grep -i 'trained' <<<"$info")"
grep -q "input       b0+fa" <<<"$info" && grep -q "softmax" <<<"$info" && grep -q "members     2" <<<"$info" &&
  ok "info: b0+fa, softmax (hybrid), 2 members" || fail "info: $info"
grep -q "expected on this machine: about [0-9]* min" "$T/first.out" "$T/second.out" && ok "expected time printed" ||
  fail "no expected time: $(cat "$T/first.out")"
n=$(grep -c "phantom test Dice [0-9.]* " "$T/second.out")
[ "$n" = 2 ] && ok "each seed's test Dice printed" || fail "$n test Dice lines"

# 3b. once more: nothing trained
d1=$(stat -c %Y "$T/w/run-seed1/DONE")
bash "$MM" "${small[@]}" --work "$T/w" --no-check >"$T/third.out" 2>&1 || fail "third run"
! grep -q "training" "$T/third.out" && [ "$(stat -c %Y "$T/w/run-seed1/DONE")" = "$d1" ] &&
  ok "a finished run trains nothing" || fail "third run: $(cat "$T/third.out")"

# 4. other cohort settings in the same folder
out=$(bash "$MM" "${small[@]}" --subjects 10 --work "$T/w" --no-check 2>&1); rc=$?
[ $rc = 1 ] && grep -q "subjects=9" <<<"$out" && grep -q "subjects=10" <<<"$out" && ok "other cohort settings refused" ||
  fail "exit $rc: $out"

# 5. the real-series check
R=$DATA/sct_dmri
if [ -f "$R/dmri.nii.gz" ]; then
  bash "$MM" "${small[@]}" --work "$T/w" >"$T/check.out" 2>&1 || fail "check run: $(tail -5 "$T/check.out")"
  grep -q "^segment: QC: .* labelled voxels" "$T/check.out" && [ -f "$T/w/check-real/cord_qc.csv" ] &&
    ok "the real-series check prints segment's QC" || fail "check: $(cat "$T/check.out")"
else
  echo "note: no real series at $R: check 5 skipped"
fi
[ $fails = 0 ] && echo "PASS" || { echo "$fails check(s) failed"; exit 1; }
