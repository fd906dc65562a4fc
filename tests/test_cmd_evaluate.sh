#!/usr/bin/env bash
# tests/test_cmd_evaluate.sh BIN: `cordseg evaluate` and `cordseg report` end
# to end through the program, as the README runs them: a tiny phantom cohort
# (6 subjects x 4 slices), 3 folds, two 2-epoch trainings (UNet-VGG16/4 and
# UNet-ResNet50/4, HDL, fold 0), evaluate both, report the study. Checks exit
# codes, the files each command promises, that the report names the missing
# folds (and --strict turns them into exit 3), and that bad input is refused
# with a message naming the fix. Without the PAM50 atlas the phantoms are built on the synthetic stand-in (tests/atlas.sh).
set -uo pipefail
BIN=$(readlink -f "$1")
DATA=${CORDSEG_DATA:-$(dirname "$0")/../../shared/data}
. "$(dirname "$0")/atlas.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
T=$(mktemp -d "${TMPDIR:-/tmp}"/cordseg-test-eval.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
check() { checks=$((checks + 1)); if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }

out=$("$BIN" evaluate --help) && grep -q "usage: cordseg evaluate" <<<"$out" || { echo "FAIL: evaluate --help"; exit 1; }
out=$("$BIN" report --help) && grep -q "usage: cordseg report" <<<"$out" || { echo "FAIL: report --help"; exit 1; }
"$BIN" phantom --pam50 "$PAM50" --subjects 6 --slices 4 -o "$T/c.h5" >/dev/null || { echo "FAIL: phantom"; exit 1; }
# --val 1: the folds these checks were measured on (the default takes 2 validation subjects since 2026-12-07)
"$BIN" folds "$T/c.h5" -o "$T/f.txt" --k 3 --val 1 >/dev/null || { echo "FAIL: folds"; exit 1; }
cat > "$T/cfg.ini" <<EOC
store = $T/c.h5
folds = $T/f.txt
width_div = 4
loss = hdl
epochs = 2
batch = 4
steps_per_epoch = 1
lr_max = 3e-4
warmup_epochs = 1
no_aug_epochs = 0
EOC
# run.json's commit is the source tree's at build time (the build reads it every time, not at configure)
SRC=$(dirname "$0")/..
"$BIN" train --config "$T/cfg.ini" --set epochs=1 --set warmup_epochs=0 --run-dir "$T/gitrun" > "$T/gitrun.out" 2>&1 \
  || { echo "FAIL: train (git check): $(tail -3 "$T/gitrun.out")"; exit 1; }
got=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["git"])' "$T/gitrun/run.json")
if git -C "$SRC" rev-parse HEAD >/dev/null 2>&1; then
  want=$(git -C "$SRC" rev-parse HEAD) dirty=
  git -C "$SRC" diff --quiet HEAD -- || dirty=-dirty
  check "run.json git '$got' is the source's HEAD ${want:0:12}$dirty (rebuild if the tree changed since)" \
    "[ '${got%-dirty}' != '' ] && [ '${want#"${got%-dirty}"}' != '$want' ] && [ '$got' = '${got%-dirty}$dirty' ]"
  check "cordseg --version names the same commit" "grep -qF '($got)' <<<\"\$('$BIN' --version)\""
else
  check "run.json git is 'unknown' outside a git checkout" "[ '$got' = unknown ]"
fi
for bb in vgg16 resnet50; do
  "$BIN" train --config "$T/cfg.ini" --set backbone=$bb --run-dir "$T/study/$bb-hdl-b0/fold0" > "$T/train-$bb.out" 2>&1 \
    || { echo "FAIL: train $bb: $(tail -3 "$T/train-$bb.out")"; exit 1; }
  "$BIN" evaluate "$T/study/$bb-hdl-b0/fold0" > "$T/eval-$bb.out" 2>&1
  check "evaluate $bb exits 0" "[ $? = 0 ]"
  for f in slices.csv summary.json thresholds.txt pred.h5; do
    check "evaluate $bb wrote eval/$f" "[ -s '$T/study/$bb-hdl-b0/fold0/eval/$f' ]"
  done
  check "evaluate $bb: slices.csv has 8 ROI rows per test slice + header" \
    "[ \$(( (\$(wc -l < '$T/study/$bb-hdl-b0/fold0/eval/slices.csv') - 1) % 8 )) = 0 ]"
  check "evaluate $bb: thresholds searched (sigmoid mode)" "grep -q '^mode sigmoid' '$T/study/$bb-hdl-b0/fold0/eval/thresholds.txt'"
done
"$BIN" report -o "$T/report" "$T/study" > "$T/report.out" 2>&1
check "report exits 0" "[ $? = 0 ]"
for f in index.html tables.md tables.tex table1.csv table2.csv table3.csv stats.csv runs.csv fig_dice_by_arm.png \
         fig_compare_resnet50-hdl-b0_vs_vgg16-hdl-b0.png fig_fa_corr_vgg16-hdl-b0.png fig_bland_altman_vgg16-hdl-b0.png \
         curves_vgg16-hdl-b0_fold0_seed11.png; do
  check "report wrote $f" "[ -s '$T/report/$f' ]"
done
check "report names the missing folds" "grep -q 'missing: arm vgg16-hdl-b0, fold 2, seed 11' '$T/report.out'"
check "PNG files are PNG" "[ \"\$(head -c 8 '$T/report/fig_dice_by_arm.png' | od -An -tx1)\" = ' 89 50 4e 47 0d 0a 1a 0a' ]"
"$BIN" report --strict -q -o "$T/report2" "$T/study" > /dev/null 2>&1
check "report --strict exits 3 on missing folds" "[ $? = 3 ]"
"$BIN" evaluate "$T" > "$T/bad.out" 2>&1
check "evaluate on a non-run directory fails with a hint" "[ $? = 1 ] && grep -q 'run.json' '$T/bad.out'"
"$BIN" report -o "$T/r3" "$T/nothing-here" > "$T/bad2.out" 2>&1
check "report on a missing study fails" "[ $? = 1 ] && grep -q 'not a directory' '$T/bad2.out'"
"$BIN" evaluate "$T/study/vgg16-hdl-b0/fold0" --ckpt "$T/study/resnet50-hdl-b0/fold0/ckpt/last.h5" -o "$T/x" -q > "$T/ck.out" 2>&1
check "evaluate --ckpt of another run is refused" "[ $? = 1 ] && grep -qE 'was written by config|holds model' '$T/ck.out'"
# another cohort: a second phantom (other seed), all its slices / two of its subjects
"$BIN" phantom --pam50 "$PAM50" --subjects 3 --slices 4 --seed 77 -o "$T/other.h5" >/dev/null
"$BIN" evaluate "$T/study/vgg16-hdl-b0/fold0" --store "$T/other.h5" -q > "$T/cohort.out" 2>&1
check "evaluate --store exits 0" "[ $? = 0 ]"
E="$T/study/vgg16-hdl-b0/fold0/eval-other"
check "evaluate --store: 12 slices x 8 ROIs in eval-other/slices.csv" "[ \$(( \$(wc -l < '$E/slices.csv') - 1 )) = 96 ]"
check "evaluate --store: cohort.txt names the store and the training store" \
  "grep -q '^store $T/other.h5' '$E/cohort.txt' && grep -q '^trained_on ' '$E/cohort.txt'"
check "evaluate --store keeps the run's own thresholds" "cmp -s '$E/thresholds.txt' '$T/study/vgg16-hdl-b0/fold0/eval/thresholds.txt'"
# --masks per-class: each ROI on its own threshold mask, a superset of its label-map mask, same references
"$BIN" evaluate "$T/study/vgg16-hdl-b0/fold0" --store "$T/other.h5" --masks per-class -o "$T/pc" -q > /dev/null 2>&1
check "evaluate --masks per-class exits 0 and says so in summary.json" \
  "grep -qE '\"label_mode\":[[:space:]]*\"sigmoid thresholds, per-class masks' '$T/pc/summary.json'"
check "evaluate --masks per-class: every ROI's mask holds its label-map pixels (pred_px >=), references equal" \
  "python3 - '$E/slices.csv' '$T/pc/slices.csv' <<'EOP'
import csv, sys
a = {(r['index'], r['roi']): r for r in csv.DictReader(open(sys.argv[1]))}
b = {(r['index'], r['roi']): r for r in csv.DictReader(open(sys.argv[2]))}
assert a.keys() == b.keys() and len(a) == 96, (len(a), len(b))
assert all(int(b[k]['pred_px']) >= int(a[k]['pred_px']) and b[k]['ref_px'] == a[k]['ref_px'] for k in a)
print('  per-class pixels', sum(int(r['pred_px']) for r in b.values()), '>= label map', sum(int(r['pred_px']) for r in a.values()))
EOP"
"$BIN" evaluate "$T/study/vgg16-hdl-b0/fold0" --store "$T/other.h5" --masks cord-argmax -o "$T/ca" -q > /dev/null 2>&1
check "evaluate --masks cord-argmax: the searched cord threshold in summary.json, 96 rows" \
  "grep -qE '\"label_mode\":[[:space:]]*\"sigmoid, cord threshold [01]\\.[0-9]{3} ' '$T/ca/summary.json' && [ \$(( \$(wc -l < '$T/ca/slices.csv') - 1 )) = 96 ]"
# --masks peak: thresholds on the heatmaps relative to their per-slice peak; only into -o (RUN/eval keeps export's)
cp "$T/study/vgg16-hdl-b0/fold0/eval/thresholds.txt" "$T/thr-before.txt"
"$BIN" evaluate "$T/study/vgg16-hdl-b0/fold0" --masks peak -q > "$T/pk0.out" 2>&1
check "evaluate --masks peak without -o is a usage error naming -o" "[ $? = 2 ] && grep -q 'needs -o DIR' '$T/pk0.out'"
"$BIN" evaluate "$T/study/vgg16-hdl-b0/fold0" --store "$T/other.h5" --masks peak -o "$T/pk" -q > /dev/null 2>&1
check "evaluate --masks peak: summary.json says relative thresholds, 96 rows, RUN/eval/thresholds.txt untouched" \
  "grep -qE '\"label_mode\":[[:space:]]*\"sigmoid thresholds on the heatmaps relative to their per-slice peak' '$T/pk/summary.json' && [ \$(( \$(wc -l < '$T/pk/slices.csv') - 1 )) = 96 ] && cmp -s '$T/thr-before.txt' '$T/study/vgg16-hdl-b0/fold0/eval/thresholds.txt'"
"$BIN" evaluate "$T/study/vgg16-hdl-b0/fold0" --masks bogus -q > "$T/bm.out" 2>&1
check "evaluate --masks bogus is a usage error naming the choices" "[ $? = 2 ] && grep -q 'label-map, per-class, cord-argmax or peak' '$T/bm.out'"
"$BIN" evaluate "$T/study/vgg16-hdl-b0/fold0" --store "$T/other.h5" --subjects 1,2 -o "$T/two" -q > /dev/null 2>&1
check "evaluate --store --subjects 1,2: 8 slices" "[ \$(( \$(wc -l < '$T/two/slices.csv') - 1 )) = 64 ]"
"$BIN" phantom --pam50 "$PAM50" --subjects 2 --slices 2 --size 64 -o "$T/small.h5" >/dev/null
"$BIN" evaluate "$T/study/vgg16-hdl-b0/fold0" --store "$T/small.h5" -q > "$T/small.out" 2>&1
check "evaluate --store of another slice size is refused naming both" "[ $? = 1 ] && grep -q '64x64' '$T/small.out'"
echo "$((checks - fails)) passed, $fails failed"
[ $fails = 0 ]
