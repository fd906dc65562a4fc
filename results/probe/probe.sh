#!/usr/bin/env bash
# results/probe/probe.sh MODEL SEGDIR MODE [PAR]: segment the perturbed B0 map of SEGDIR (a `cordseg segment
# --dwi` output of the real series) with MODEL and print the labels' mean offset from the DW cord mask.
# e.g. results/probe/probe.sh runs/effect-full-11/model.h5 runs/effect-full-11/seg occ_ant 1
set -euo pipefail
H=$(cd "$(dirname "$0")" && pwd); BIN=${BIN:-$H/../../build/cordseg}
M=$1; S=$2; MODE=$3; PAR=${4:-0}; T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
python3 "$H/probe.py" "$S/b0.nii.gz" "$T/b0.nii.gz" "$MODE" "$PAR"
"$BIN" segment -m "$M" --b0 "$T/b0.nii.gz" --largest -o "$T/seg" > "$T/segment.log" 2>&1 ||
  { cat "$T/segment.log" >&2; exit 1; } # e.g. a B0+FA model: the probes feed a B0 map only
python3 "$H/offset.py" "$T/seg" | awk -v r="$MODE $PAR" '/^outside/ {o = $0} /^z/ {for (i = 1; i <= NF; i++) if ($i ~ /^dy\(lab-mask\)=/) {
  split($i, a, "="); if (a[2] != "+nan") {s += a[2]; n++}}} END {printf "%s: mean dy(lab-mask) %+.2f voxels over %d slices; %s\n", r, s / n, n, o}'
