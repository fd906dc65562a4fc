#!/usr/bin/env bash
# results/2026-12-07-dead-classes/decode.sh BIN OUT RUN...: evaluate each HDL run with the three
# --masks modes (and peak) into RUN/eval-<mode>, then one row per run and mode: mean test Dice over the 8
# ROIs, the number of (slice, ROI) outliers (reference holds the ROI, prediction empty) and the
# slices with any outlier, mean FA error.
set -euo pipefail
BIN=$1 OUT=$2; shift 2
for r in "$@"; do
  for m in label-map per-class cord-argmax peak; do
    [ -f "$r/eval-$m/summary.json" ] || "$BIN" evaluate "$r" --masks $m -o "$r/eval-$m" -q > /dev/null 2>&1
  done
done
python3 - "$OUT" "$@" <<'EOP'
import csv, json, sys, statistics as st
out = open(sys.argv[1], "w")
out.write("| run | masks | mean test Dice | outliers (slice x ROI) | slices with an empty ROI | mean FA error % |\n|---|---|---|---|---|---|\n")
for r in sys.argv[2:]:
    for m in ["label-map", "per-class", "cord-argmax", "peak"]:
        rows = list(csv.DictReader(open(f"{r}/eval-{m}/slices.csv")))
        s = json.load(open(f"{r}/eval-{m}/summary.json"))["rois"]
        ol = [x for x in rows if x["outlier"] == "1"]
        out.write(f"| {r.split('/')[-1]} | {m} | {st.mean(v['dice_mean'] for v in s.values()):.3f} | {len(ol)} | "
                  f"{len({x['index'] for x in ol})} of {len({x['index'] for x in rows})} | {st.mean(v['fa_err_pct_mean'] for v in s.values()):.2f} |\n")
EOP
cat "$OUT"
