#!/usr/bin/env bash
# tests/test_cmd_arms.sh BIN: studies whose arms never mix settings, and an
# export that checks what it joins, through the program. A tiny phantom (6
# subjects x 4 slices, 64x64), 3 folds; three 1-step trainings of VGG16/4
# (hybrid loss) on fold 0: lr_max 1e-3, lr_max 3e-4 and the default 1e-4;
# each evaluated, then `report`: three arms, each named with lr_max=VALUE.
# A second phantom (other --seed) and a run on it: `export` of the two runs
# is refused naming data_checksum and both runs, with nothing at -o; export
# of two lr_max runs is refused naming lr_max and both values; --force
# exports the first pair. Exit 77 (skip) without the PAM50 atlas.
set -uo pipefail
BIN=$(readlink -f "$1")
DATA=${CORDSEG_DATA:-$(dirname "$0")/../../shared/data}
[ -f "$DATA/PAM50/atlas/info_label.txt" ] || { echo "SKIP: PAM50 atlas not found under $DATA (set CORDSEG_DATA)"; exit 77; }
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
T=$(mktemp -d "${TMPDIR:-/tmp}"/cordseg-test-arms.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
check() { checks=$((checks + 1)); if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }

for s in 1 2; do
  "$BIN" phantom --pam50 "$DATA/PAM50" --subjects 6 --slices 4 --size 64 --seed $s -o "$T/c$s.h5" >/dev/null \
    || { echo "FAIL: phantom seed $s"; exit 1; }
  "$BIN" folds "$T/c$s.h5" -o "$T/f$s.txt" --k 3 >/dev/null || { echo "FAIL: folds $s"; exit 1; }
done
cat > "$T/cfg.ini" <<EOC
store = $T/c1.h5
folds = $T/f1.txt
width_div = 4
loss = hybrid
epochs = 1
batch = 2
steps_per_epoch = 1
warmup_epochs = 0
no_aug_epochs = 0
EOC
train() {  # train RUN_DIR [--set k=v]...
  local run=$1; shift
  mkdir -p "$(dirname "$run")"
  "$BIN" train --config "$T/cfg.ini" "$@" --run-dir "$run" > "$run.out" 2>&1 \
    || { echo "FAIL: train $run: $(tail -3 "$run.out")"; exit 1; }
}
train "$T/study/lr3" --set lr_max=1e-3
train "$T/study/lr34" --set lr_max=3e-4
train "$T/study/default"
for r in lr3 lr34 default; do
  "$BIN" evaluate -q "$T/study/$r" > "$T/eval-$r.out" 2>&1 || { echo "FAIL: evaluate $r: $(tail -3 "$T/eval-$r.out")"; exit 1; }
done
check "run.json records the full config and the arm hash" \
  "python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j[\"config\"][\"lr_max\"] == \"0.001\" and j[\"arm_hash\"].startswith(\"fnv1a64:\") and len(j[\"config\"]) > 30' '$T/study/lr3/run.json'"

"$BIN" report -o "$T/report" "$T/study" > "$T/report.out" 2>&1
check "report exits 0" "[ $? = 0 ]"
check "report: 3 runs aggregated into 3 arms" "grep -q 'report: 3 runs found, 3 aggregated into 3 arms' '$T/report.out'"
for v in 0.001 0.0003 0.0001; do
  check "report: arm 'vgg16-hybrid-b0 lr_max=$v' in runs.csv and tables.md" \
    "grep -q ',vgg16-hybrid-b0 lr_max=$v,0,11,' '$T/report/runs.csv' && grep -qF '**vgg16-hybrid-b0 lr_max=$v**' '$T/report/tables.md'"
done
check "report: file-safe figure names" "[ -s '$T/report/fig_fa_corr_vgg16-hybrid-b0_lr_max_0.001.png' ]"

train "$T/other" --set store="$T/c2.h5" --set folds="$T/f2.txt"
"$BIN" export -o "$T/m.h5" "$T/study/default" "$T/other" > "$T/exp-data.out" 2>&1
check "export of runs on two stores is refused naming data_checksum and both runs, nothing written" \
  "[ $? = 1 ] && grep -q 'data_checksum: run .*study/default.*other' '$T/exp-data.out' && [ ! -e '$T/m.h5' ] && ! compgen -G '$T/m.h5*' >/dev/null"
sed 's/^/  | /' "$T/exp-data.out"
"$BIN" export -o "$T/m.h5" "$T/study/lr3" "$T/study/default" > "$T/exp-cfg.out" 2>&1
check "export of two lr_max values is refused naming the key and both values" \
  "[ $? = 1 ] && grep -q \"config key 'lr_max': run .*lr3' has 0.001, run .*default' has 0.0001\" '$T/exp-cfg.out' && [ ! -e '$T/m.h5' ]"
"$BIN" export --force -o "$T/m.h5" "$T/study/default" "$T/other" > "$T/exp-force.out" 2>&1
check "export --force joins them, warning which field differs" \
  "[ $? = 0 ] && [ -s '$T/m.h5' ] && grep -q 'force: joining runs that differ in' '$T/exp-force.out' && grep -q 'data_checksum' '$T/exp-force.out'"
"$BIN" export -o "$T/m1.h5" "$T/study/lr3" > "$T/exp-one.out" 2>&1
check "export of one run needs no --force" "[ $? = 0 ] && [ -s '$T/m1.h5' ]"
echo "$((checks - fails)) passed, $fails failed"
[ $fails = 0 ]
