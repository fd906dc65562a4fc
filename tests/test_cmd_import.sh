#!/usr/bin/env bash
# tests/test_cmd_import.sh BIN: a user's own dataset in with one command, and
# splits they can trust and edit (issue 28), through the program:
#  - a BIDS-style folder of 6 subjects with string ids (sub-tor01 ...; B0/FA
#    maps and labels from `cordseg phantom --nifti`) imports with one
#    `import --bids`; `info` lists the names; a missing label file stops the
#    import naming it with nothing written, --skip-bad imports the others
#  - a subject given again (alone, or in a second folder) is refused with its
#    name, the store unchanged; --replace replaces it
#  - `folds --k` refuses a split it cannot make, saying how many subjects it
#    needs; `folds --from` accepts an edited nnU-Net-style split, rejects an
#    unknown name, and a 1-epoch tiny `train` runs on its folds; `evaluate`'s
#    slices.csv names the test subjects
#  - sites from participants.tsv; `folds --group-by site` tests whole sites,
#    refuses fewer sites than folds and subjects without a site
#  - `import --list subjects.tsv`: rows of files in any layout, a missing file
#    named by line and column (nothing written; --skip-bad), a repeated row
#  - B0-only and FA-only stores: `info` names the maps, a subject of the other
#    map refused, train input = fa refused on a B0-only store, input = b0 runs
#  - per-slice levels from a level image (--levels, BIDS *_labeled), a bad one refused
#  - SCT's warped atlas folder as --labels (--label-map pam50): the ROI of the
#    largest tract sum (the single largest map is another ROI's), --atlas-min
# Without the PAM50 atlas the phantom is built on the synthetic stand-in (tests/atlas.sh).
set -uo pipefail
BIN=$(readlink -f "$1")
DATA=${CORDSEG_DATA:-$(dirname "$0")/../../shared/data}
. "$(dirname "$0")/atlas.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
T=$(mktemp -d "${TMPDIR:-/tmp}"/cordseg-test-import.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
check() { checks=$((checks + 1)); if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }
sum() { awk '/^checksum/ {print $2}' <<<"$("$BIN" info "$1")"; }

"$BIN" phantom --pam50 "$PAM50" --subjects 6 --slices 2 --size 64 -o "$T/ph.h5" --nifti "$T/nii" >/dev/null \
  || { echo "FAIL: phantom --nifti"; exit 1; }
NAMES=(sub-tor01 sub-tor02 sub-mtl01 sub-mtl02 sub-zur01 sub-zur02)
mkbids() { # DIR: the 6 phantom subjects laid out BIDS-style under their string ids
  for i in 0 1 2 3 4 5; do
    local s=${NAMES[$i]} n; n=$(printf '%03d' $((i + 1)))
    mkdir -p "$1/$s/dwi" "$1/derivatives/labels/$s/dwi"
    cp "$T/nii/sub-${n}_b0.nii.gz" "$1/$s/dwi/${s}_desc-b0.nii.gz"
    cp "$T/nii/sub-${n}_fa.nii.gz" "$1/$s/dwi/${s}_FA.nii.gz"
    cp "$T/nii/sub-${n}_labels.nii.gz" "$1/derivatives/labels/$s/dwi/${s}_dseg.nii.gz"
  done
}
mkbids "$T/bids"
"$BIN" import -o "$T/s.h5" --bids "$T/bids" --size 64 > "$T/imp.out" 2>&1
check "import --bids of 6 subjects exits 0" "[ $? = 0 ]"
check "import --bids: progress per subject and a summary" \
  "grep -q 'import \[6/6\] sub-zur02: B0/FA maps, 2 slices' '$T/imp.out' && grep -q '6 of 6 subjects imported' '$T/imp.out'"
info=$("$BIN" info "$T/s.h5")
check "info lists the string ids" "grep -q 'names  *sub-mtl01:2 sub-mtl02:2 sub-tor01:2 sub-tor02:2 sub-zur01:2 sub-zur02:2' <<<\"\$info\""
check "info: the store verifies" "grep -q 'verified' <<<\"\$info\""
before=$(sum "$T/s.h5")

# a subject given again: alone, or in a second folder beside a new one
"$BIN" import -o "$T/s.h5" --subject sub-tor02 --b0 "$T/nii/sub-002_b0.nii.gz" --fa "$T/nii/sub-002_fa.nii.gz" \
  --labels "$T/nii/sub-002_labels.nii.gz" --size 64 > "$T/dup.out" 2>&1
check "import of a subject the store holds exits 1 naming it and the store" \
  "[ $? = 1 ] && grep -q \"subject 'sub-tor02' is already in store '$T/s.h5'\" '$T/dup.out'"
mkdir -p "$T/more"
cp -r "$T/bids/sub-zur01" "$T/more/sub-zur01" && cp -r "$T/bids/sub-zur01" "$T/more/sub-new01"
mv "$T/more/sub-new01/dwi/sub-zur01_desc-b0.nii.gz" "$T/more/sub-new01/dwi/sub-new01_desc-b0.nii.gz"
mv "$T/more/sub-new01/dwi/sub-zur01_FA.nii.gz" "$T/more/sub-new01/dwi/sub-new01_FA.nii.gz"
mkdir -p "$T/more/derivatives/labels/sub-new01/dwi" "$T/more/derivatives/labels/sub-zur01/dwi"
cp "$T/nii/sub-005_labels.nii.gz" "$T/more/derivatives/labels/sub-new01/dwi/sub-new01_dseg.nii.gz"
cp "$T/nii/sub-005_labels.nii.gz" "$T/more/derivatives/labels/sub-zur01/dwi/sub-zur01_dseg.nii.gz"
"$BIN" import -o "$T/s.h5" --bids "$T/more" --size 64 > "$T/dup2.out" 2>&1
check "import --bids of a folder repeating a subject exits 1 naming it" \
  "[ $? = 1 ] && grep -q \"subject 'sub-zur01' .* is already in store\" '$T/dup2.out'"
check "refused imports left the store as it was" "[ '$(sum "$T/s.h5")' = '$before' ]"
"$BIN" import -o "$T/r.h5" --bids "$T/bids" --size 64 >/dev/null 2>&1
"$BIN" import -o "$T/r.h5" --subject sub-tor02 --b0 "$T/nii/sub-003_b0.nii.gz" --fa "$T/nii/sub-003_fa.nii.gz" \
  --labels "$T/nii/sub-003_labels.nii.gz" --size 64 --replace > "$T/rep.out" 2>&1
check "import --replace replaces the subject's slices" \
  "[ $? = 0 ] && grep -q 'names .*sub-tor02:2' <<<\"\$('$BIN' info '$T/r.h5')\" && [ '$(sum "$T/r.h5")' != '$before' ]"

# the final write fails (a test hook inside the commit): no store, no scratch folder, no temp store left
"$BIN" import -o "$T/hook.h5" --bids "$T/bids" --size 64 --test-fail-before commit > "$T/hook.out" 2>&1
check "import --bids failing in its commit exits 1 and leaves neither the store nor its temporaries" \
  "[ $? = 1 ] && grep -q 'stopping before the commit' '$T/hook.out' && [ ! -e '$T/hook.h5' ] && ! compgen -G '$T/hook.h5.*' >/dev/null"
# a killed import's scratch folder is removed by the next import beside it
mkdir -p "$T/hook.h5.import.tmp.999999999" && touch "$T/hook.h5.import.tmp.999999999/0.h5"
"$BIN" import -o "$T/hook.h5" --bids "$T/bids" --size 64 > "$T/hook2.out" 2>&1
check "the next import --bids removes a dead import's scratch folder and says so" \
  "[ $? = 0 ] && grep -q \"removed '.*hook.h5.import.tmp.999999999'\" '$T/hook2.out' && ! compgen -G '$T/hook.h5.*' >/dev/null"

# a broken subject: stops naming the file, nothing written; --skip-bad imports the others
rm "$T/more/derivatives/labels/sub-new01/dwi/sub-new01_dseg.nii.gz"
"$BIN" import -o "$T/b.h5" --bids "$T/more" --size 64 > "$T/bad.out" 2>&1
check "a subject without labels stops the import naming the pattern, nothing written" \
  "[ $? = 1 ] && grep -q \"sub-new01.*labels/sub-new01/dwi/sub-new01\" '$T/bad.out' && [ ! -e '$T/b.h5' ]"
"$BIN" import -o "$T/b.h5" --bids "$T/more" --size 64 --skip-bad > "$T/skip.out" 2>&1
check "--skip-bad imports the good subject and lists the bad one" \
  "[ $? = 0 ] && grep -q 'skipped as bad (--skip-bad): sub-new01' '$T/skip.out' && grep -q 'names  *sub-zur01:2' <<<\"\$('$BIN' info '$T/b.h5')\""

# folds: an impossible split refused; an edited split taken, checked against the store
"$BIN" folds "$T/s.h5" -o "$T/f.txt" --k 3 --val 4 > "$T/fk.out" 2>&1
check "folds --k 3 --val 4 of 6 subjects is refused, saying how many it needs, nothing written" \
  "[ $? = 1 ] && grep -q 'need at least [0-9]* subjects' '$T/fk.out' && [ ! -e '$T/f.txt' ]"
"$BIN" folds "$T/s.h5" -o "$T/f.txt" --k 3 > "$T/fd.out" 2>&1
check "folds --k 3: the default takes 2 validation subjects where it can, and says so" \
  "[ $? = 0 ] && grep -q 'val   2 subjects' '$T/fd.out' && grep -q 'the default' '$T/fd.out' && grep -q '^names sub-mtl01' '$T/f.txt'"
cat > "$T/splits.json" <<'EOF'
[{"train": ["sub-tor01", "sub-tor02", "sub-mtl01"], "val": ["sub-mtl02"]},
 {"train": ["sub-zur01", "sub-zur02", "sub-mtl01"], "val": ["sub-tor01"], "test": ["sub-tor02", "sub-mtl02"]}]
EOF
"$BIN" folds "$T/s.h5" -o "$T/edited.txt" --from "$T/splits.json" > "$T/fj.out" 2>&1
check "folds --from an edited split exits 0, test = the rest" \
  "[ $? = 0 ] && grep -q 'fold 0 .*test: sub-zur01 sub-zur02' '$T/fj.out' && grep -q '^hash fnv1a64:' '$T/edited.txt'"
sed 's/sub-mtl02"]},/sub-mtl09"]},/' "$T/splits.json" > "$T/unknown.json"
"$BIN" folds "$T/s.h5" -o "$T/u.txt" --from "$T/unknown.json" > "$T/fu.out" 2>&1
check "folds --from with an unknown name exits 1 naming it" "[ $? = 1 ] && grep -q \"'sub-mtl09'\" '$T/fu.out' && [ ! -e '$T/u.txt' ]"
cat > "$T/cfg.ini" <<EOC
store = $T/s.h5
folds = $T/edited.txt
width_div = 4
loss = hdl
epochs = 1
batch = 2
steps_per_epoch = 1
warmup_epochs = 0
no_aug_epochs = 0
EOC
"$BIN" train --config "$T/cfg.ini" --fold 1 --run-dir "$T/run" > "$T/train.out" 2>&1
check "a 1-epoch train runs on the --from folds" "[ $? = 0 ] && [ -s '$T/run/log.csv' ]"
"$BIN" evaluate -q "$T/run" > "$T/eval.out" 2>&1
check "evaluate's slices.csv names the test subjects (fold 1: sub-tor02, sub-mtl02)" \
  "[ $? = 0 ] && grep -q ',sub-tor02,' '$T/run/eval/slices.csv' && grep -q ',sub-mtl02,' '$T/run/eval/slices.csv'"
# sites: participants.tsv of the BIDS folder; folds --group-by site tests whole sites
printf 'participant_id\tage\tsite\n' > "$T/bids/participants.tsv"
for s in "${NAMES[@]}"; do printf '%s\t50\t%s\n' "$s" "${s:4:3}" >> "$T/bids/participants.tsv"; done
"$BIN" import -o "$T/site.h5" --bids "$T/bids" --size 64 > "$T/site.out" 2>&1
check "import --bids stores each subject's site from participants.tsv (info lists them)" \
  "[ $? = 0 ] && grep -q 'sites  *mtl:2 tor:2 zur:2' <<<\"\$('$BIN' info '$T/site.h5')\""
"$BIN" folds "$T/site.h5" -o "$T/fs.txt" --k 3 --group-by site > "$T/fs.out" 2>&1
check "folds --group-by site --k 3 exits 0 and records the grouping" "[ $? = 0 ] && grep -q '^# grouped by site' '$T/fs.txt'"
tests=$(grep -o 'test: .*' "$T/fs.out")
check "each fold and the split test whole sites: both subjects of one site (no site in training and test)" \
  "[ \$(grep -cE '^test: sub-(...)0[12] sub-\\10[12]\$' <<<\"\$tests\") = 4 ]"
"$BIN" folds "$T/site.h5" -o "$T/fs4.txt" --k 4 --group-by site > "$T/fs4.out" 2>&1
check "folds --group-by site --k 4 with 3 sites is refused, nothing written" \
  "[ $? = 1 ] && grep -q '3 sites cannot be the test sets of 4 folds' '$T/fs4.out' && [ ! -e '$T/fs4.txt' ]"
"$BIN" folds "$T/s.h5" -o "$T/fs0.txt" --k 3 --group-by site > "$T/fs0.out" 2>&1
check "folds --group-by site on a store without sites is refused naming the subjects" \
  "[ $? = 1 ] && grep -q '6 subjects of store .* have no site (sub-mtl01' '$T/fs0.out'"
"$BIN" import -o "$T/site.h5" --subject sub-tor02 --b0 "$T/nii/sub-002_b0.nii.gz" --fa "$T/nii/sub-002_fa.nii.gz" \
  --labels "$T/nii/sub-002_labels.nii.gz" --size 64 --replace >/dev/null 2>&1
check "import --replace without --site keeps the subject's site" "grep -q 'sites  *mtl:2 tor:2 zur:2' <<<\"\$('$BIN' info '$T/site.h5')\""

# --list: any layout, one row per subject, paths relative to the list, errors by line and column
mkdir -p "$T/lst/maps" && cp "$T"/nii/sub-00[1-4]_*.nii.gz "$T/lst/maps/"
{ printf 'subject\tsite\tb0\tfa\tlabels\tage\n'
  for i in 1 2 3 4; do
    printf 'pt-%d\t%s\tmaps/sub-00%d_b0.nii.gz\tmaps/sub-00%d_fa.nii.gz\tmaps/sub-00%d_labels.nii.gz\t4%d\n' \
      "$i" "$([ $i -le 2 ] && echo bern || echo oslo)" "$i" "$i" "$i" "$i"
  done; } > "$T/lst/subjects.tsv"
"$BIN" import -o "$T/l.h5" --list "$T/lst/subjects.tsv" --size 64 > "$T/l.out" 2>&1
check "import --list of 4 rows exits 0: names, sites, the unread column listed" \
  "[ $? = 0 ] && grep -q 'columns not read: age' '$T/l.out' && grep -q 'names  *pt-1:2 pt-2:2 pt-3:2 pt-4:2' <<<\"\$('$BIN' info '$T/l.h5')\" && grep -q 'sites  *bern:2 oslo:2' <<<\"\$('$BIN' info '$T/l.h5')\""
sed 's/sub-003_fa/sub-009_fa/' "$T/lst/subjects.tsv" > "$T/lst/bad.tsv"
"$BIN" import -o "$T/lb.h5" --list "$T/lst/bad.tsv" --size 64 > "$T/lb.out" 2>&1
check "a row's missing file stops --list naming the line and column, nothing written" \
  "[ $? = 1 ] && grep -q \"bad.tsv line 4, column 'fa': no file '.*sub-009_fa.nii.gz'\" '$T/lb.out' && [ ! -e '$T/lb.h5' ]"
"$BIN" import -o "$T/lb.h5" --list "$T/lst/bad.tsv" --size 64 --skip-bad > "$T/lbs.out" 2>&1
check "--list --skip-bad imports the other rows and lists the bad one" \
  "[ $? = 0 ] && grep -q 'skipped as bad (--skip-bad): pt-3' '$T/lbs.out'"
{ cat "$T/lst/subjects.tsv"; tail -1 "$T/lst/subjects.tsv"; } > "$T/lst/dup.tsv"
"$BIN" import -o "$T/ld.h5" --list "$T/lst/dup.tsv" --size 64 > "$T/ld.out" 2>&1
check "a subject on two rows of --list is refused naming both lines" \
  "[ $? = 1 ] && grep -q \"line 6, column 'subject': 'pt-4' is also on line 5\" '$T/ld.out' && [ ! -e '$T/ld.h5' ]"
"$BIN" import -o "$T/l.h5" --list "$T/lst/subjects.tsv" --size 64 > "$T/lr.out" 2>&1
check "a --list naming subjects the store holds is refused by name" "[ $? = 1 ] && grep -q \"subject 'pt-1' (of .*subjects.tsv) is already in store\" '$T/lr.out'"
# B0-only and FA-only stores: the store records its maps; training refuses an input it lacks
{ printf 'subject\tb0\tlabels\n'
  for i in 1 2 3 4; do printf 'pt-%d\tmaps/sub-00%d_b0.nii.gz\tmaps/sub-00%d_labels.nii.gz\n' "$i" "$i" "$i"; done; } \
  > "$T/lst/b0only.tsv"
"$BIN" import -o "$T/b0.h5" --list "$T/lst/b0only.tsv" --size 64 > "$T/b0.out" 2>&1
check "import --list of B0 maps only makes a B0-only store (info says so, the store verifies)" \
  "[ $? = 0 ] && grep -q 'maps  *B0 only' <<<\"\$('$BIN' info '$T/b0.h5')\" && grep -q verified <<<\"\$('$BIN' info '$T/b0.h5')\""
"$BIN" import -o "$T/fa.h5" --subject sub-fa1 --fa "$T/nii/sub-001_fa.nii.gz" --labels "$T/nii/sub-001_labels.nii.gz" \
  --size 64 > "$T/fa.out" 2>&1
check "import --fa alone makes an FA-only store" "[ $? = 0 ] && grep -q 'maps  *FA only' <<<\"\$('$BIN' info '$T/fa.h5')\""
b0sum=$(sum "$T/b0.h5")
"$BIN" import -o "$T/b0.h5" --subject sub-fa1 --fa "$T/nii/sub-001_fa.nii.gz" --labels "$T/nii/sub-001_labels.nii.gz" \
  --size 64 > "$T/mix.out" 2>&1
check "an FA-only subject into the B0-only store is refused naming both, the store unchanged" \
  "[ $? = 1 ] && grep -q \"store '$T/b0.h5' holds B0 maps; subject 'sub-fa1' has FA only\" '$T/mix.out' && [ '$(sum "$T/b0.h5")' = '$b0sum' ]"
"$BIN" folds "$T/b0.h5" -o "$T/fb0.txt" --k 2 --val 1 >/dev/null 2>&1
sed -e "s|^store = .*|store = $T/b0.h5|" -e "s|^folds = .*|folds = $T/fb0.txt|" "$T/cfg.ini" > "$T/cfg-b0.ini"
"$BIN" train --config "$T/cfg-b0.ini" --fold 0 --set input=fa --run-dir "$T/run-fa" > "$T/tfa.out" 2>&1
check "train input = fa on the B0-only store is refused naming the store and the missing FA map" \
  "[ $? = 1 ] && grep -q \"input = fa needs the FA map, and store '$T/b0.h5' holds B0 maps only\" '$T/tfa.out'"
"$BIN" train --config "$T/cfg-b0.ini" --fold 0 --set input=b0 --set select_by=fa_error --run-dir "$T/run-sel" > "$T/tsel.out" 2>&1
check "select_by = fa_error on the B0-only store is refused naming the store" \
  "[ $? = 1 ] && grep -q \"select_by = fa_error needs the FA map, and store '$T/b0.h5' holds B0 maps only\" '$T/tsel.out'"
"$BIN" train --config "$T/cfg-b0.ini" --fold 0 --set input=b0 --run-dir "$T/run-b0" > "$T/tb0.out" 2>&1
check "train input = b0 on the B0-only store runs, and evaluate scores it" \
  "[ $? = 0 ] && '$BIN' evaluate -q '$T/run-b0' >/dev/null 2>&1 && [ -s '$T/run-b0/eval/slices.csv' ]"
# per-slice levels from a level image (SCT's *_labeled): --levels, and the BIDS derivatives by default
NT="python3 $(dirname "$0")/nifti_tool.py"
$NT levels "$T/nii/sub-001_labels.nii.gz" "$T/lv1.nii.gz"
"$BIN" import -o "$T/lv.h5" --subject sub-lv --b0 "$T/nii/sub-001_b0.nii.gz" --labels "$T/nii/sub-001_labels.nii.gz" \
  --levels "$T/lv1.nii.gz" --size 64 > "$T/lv.out" 2>&1
check "import --levels: each slice's level is the mode of the level image in it (C2 the top slice, C3 the next)" \
  "[ $? = 0 ] && grep -q 'levels  *C2:1 C3:1\$' <<<\"\$('$BIN' info '$T/lv.h5')\" && grep -qE '^ *2, 3\$' <<<\"\$(h5dump -y -d /level '$T/lv.h5')\""
$NT set "$T/lv1.nii.gz" "$T/lv99.nii.gz" 99
"$BIN" import -o "$T/lv99.h5" --subject sub-lv --b0 "$T/nii/sub-001_b0.nii.gz" --labels "$T/nii/sub-001_labels.nii.gz" \
  --levels "$T/lv99.nii.gz" --size 64 > "$T/lv99.out" 2>&1
check "import --levels with a value that is not a level is refused naming the file" \
  "[ $? = 1 ] && grep -q \"levels '$T/lv99.nii.gz': value 99 at voxel\" '$T/lv99.out' && [ ! -e '$T/lv99.h5' ]"
for s in "${NAMES[@]}"; do
  $NT levels "$T/bids/derivatives/labels/$s/dwi/${s}_dseg.nii.gz" "$T/bids/derivatives/labels/$s/dwi/${s}_dwi_seg_labeled.nii.gz"
done
"$BIN" import -o "$T/lvb.h5" --bids "$T/bids" --size 64 > "$T/lvb.out" 2>&1
check "import --bids reads each subject's *_labeled level image from the derivatives" \
  "[ $? = 0 ] && grep -q 'sub-zur02: B0/FA maps, 2 slices, levels from its level image' '$T/lvb.out' && grep -q 'levels  *C2:6 C3:6\$' <<<\"\$('$BIN' info '$T/lvb.h5')\""
# SCT's warped atlas folder as --labels with --label-map pam50: ROI sums, a stated minimum cord fraction
$NT atlas "$T/nii/sub-001_labels.nii.gz" "$T/atlas"
"$BIN" import -o "$T/roi.h5" --subject sub-a --b0 "$T/nii/sub-001_b0.nii.gz" --labels "$T/nii/sub-001_labels.nii.gz" \
  --size 64 >/dev/null 2>&1
"$BIN" import -o "$T/atl.h5" --subject sub-a --b0 "$T/nii/sub-001_b0.nii.gz" --labels "$T/atlas" --label-map pam50 \
  --size 64 > "$T/atl.out" 2>&1
check "an atlas folder gives each voxel the ROI of the largest tract sum (the store of the ROI labels, same checksum)" \
  "[ $? = 0 ] && [ '$(sum "$T/atl.h5")' = '$(sum "$T/roi.h5")' ]"
"$BIN" import -o "$T/atl96.h5" --subject sub-a --b0 "$T/nii/sub-001_b0.nii.gz" --labels "$T/atlas" --label-map pam50 \
  --atlas-min 0.96 --size 64 >/dev/null 2>&1
check "--atlas-min 0.96 leaves the voxels whose maps sum to 0.95 unlabelled" \
  "grep -q 'L dorsal column *0.0000%' <<<\"\$('$BIN' info '$T/atl96.h5')\""
rm "$T/atlas/PAM50_atlas_17.nii.gz"
"$BIN" import -o "$T/atlx.h5" --subject sub-a --b0 "$T/nii/sub-001_b0.nii.gz" --labels "$T/atlas" --label-map pam50 \
  --size 64 > "$T/atlx.out" 2>&1
check "an atlas folder without one of the 36 maps is refused naming it, nothing written" \
  "[ $? = 1 ] && grep -q 'no PAM50_atlas_17.nii.gz' '$T/atlx.out' && [ ! -e '$T/atlx.h5' ]"
[ $fails = 0 ] || tail -5 "$T/train.out"
echo "$((checks - fails)) passed, $fails failed"
[ $fails = 0 ]
