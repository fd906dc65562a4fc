#!/usr/bin/env bash
# tests/test_cmd_phantom.sh BIN: `cordseg phantom` through the program (issue 19):
#  - `--anatomy none` (the default) gives the store checksum of the phantom before the
#    anatomy existed, 4 x 3 seed 42: 43587c361313528c (`cordseg info`);
#  - `--anatomy full` twice with one seed: the same checksum, a PNG montage;
#  - `--compare` on the real sct_dmri series prints the three columns and every row, and the full
#    phantom's CSF ring / cord inside its documented 0.7-1.4 and its rim FA above its core FA;
#  - bad input: an unknown --anatomy, --compare without --bvals: exit 2, one message.
# Without the PAM50 atlas the phantoms are built on the synthetic stand-in (tests/atlas.sh).
set -uo pipefail
BIN=$(readlink -f "$1")
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${CORDSEG_DATA:-$SRC/../shared/data}
. "$(dirname "$0")/atlas.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
T=$(mktemp -d /tmp/cordseg-test-phantom.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
sum() { "$BIN" info "$1" | awk '/^checksum/ {print $2}'; }
"$BIN" phantom --pam50 "$PAM50" --subjects 4 --slices 3 -o "$T/none.h5" >/dev/null 2>&1
# the pinned bytes: PAM50's since the phantom was written, the synthetic atlas's since it was (2026-12-07)
if [ "$PAM50_REAL" = 1 ]; then want=fnv1a64:43587c361313528c; else want=fnv1a64:fd6362f1b4c6b989; fi
check "--anatomy none (default) keeps the old bytes ($want)" '[ "$(sum "$T/none.h5")" = "$want" ]'
"$BIN" phantom --pam50 "$PAM50" --anatomy full --subjects 3 --slices 3 -o "$T/f1.h5" --png "$T/f1.png" >/dev/null 2>&1
"$BIN" phantom --pam50 "$PAM50" --anatomy full --subjects 3 --slices 3 -o "$T/f2.h5" >/dev/null 2>&1
check "--anatomy full: same seed, same checksum" '[ -n "$(sum "$T/f1.h5")" ] && [ "$(sum "$T/f1.h5")" = "$(sum "$T/f2.h5")" ]'
check "--anatomy full differs from none" '[ "$(sum "$T/f1.h5")" != "$(sum "$T/none.h5")" ]'
check "montage written" '[ -s "$T/f1.png" ]'
D="$DATA/sct_dmri"
if [ -f "$D/dmri.nii.gz" ]; then
  "$BIN" phantom --pam50 "$PAM50" --compare "$D/dmri.nii.gz" --bvals "$D/bvals.txt" --bvecs "$D/bvecs.txt" \
    --compare-subjects 2 >"$T/cmp.txt" 2>&1
  check "--compare exits 0" '[ $? -eq 0 ]'
  cat "$T/cmp.txt"
  check "--compare prints real, none and full" 'grep -q "real *phantom none *phantom full" "$T/cmp.txt"'
  for row in "B0 CSF ring" "B0 paravertebral" "B0 outside canal" "FA cord WM" "FA cord GM" "FA paravertebral" "decile 90"; do
    check "--compare row '$row'" 'grep -q "$row" "$T/cmp.txt"'
  done
  col() { awk -v r="$1" 'index($0, r) == 1 { print $NF }' "$T/cmp.txt"; } # the phantom full column
  check "--compare: full's CSF ring / cord inside 0.7-1.4 (sim/anatomy.h)" \
    'awk -v x="$(col "B0 CSF ring")" "BEGIN { exit !(x >= 0.7 && x <= 1.4) }"'
  check "--compare: full's rim (WM) FA above its core (GM) FA, as the real series'" \
    'awk -v w="$(col "FA cord WM")" -v g="$(col "FA cord GM")" "BEGIN { exit !(w > g) }"'
fi
"$BIN" phantom --anatomy bones -o "$T/x.h5" >"$T/e1" 2>&1
check "unknown --anatomy: exit 2" '[ $? -eq 2 ] && grep -q "choose none or full" "$T/e1" && [ ! -e "$T/x.h5" ]'
"$BIN" phantom --compare "$T/none.h5" >"$T/e2" 2>&1
check "--compare without --bvals: exit 2" '[ $? -eq 2 ] && grep -q "needs --bvals" "$T/e2"'
exit $fail
