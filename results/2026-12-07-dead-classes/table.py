"""table.py OUT: one row per run directory under OUT/<cohort>/ into OUT/runs.csv, and a
summary per (cohort, arm) on stdout: runs, runs with an ROI whose validation Dice stayed below 0.05
in every epoch ("dead"), min over runs of the smallest per-ROI Dice at the best epoch, mean
best validation Dice, and with evaluate: mean test Dice, FA error, outlier rate."""
import csv, json, os, sys, re, statistics as st
out = sys.argv[1]
ROIS = ["LDC", "LLC", "LVC", "LGM", "RDC", "RLC", "RVC", "RGM"]
rows = []
for co in sorted(os.listdir(out)):
    cd = os.path.join(out, co)
    if not os.path.isdir(cd): continue
    for r in sorted(os.listdir(cd)):
        m = re.match(r"(\w+)-(hybrid|hdl|ce)-(auto|default|prior|uniform)(-\w+?)?-s(\d+)$", r)
        lp = os.path.join(cd, r, "log.csv")
        if not m or not os.path.exists(os.path.join(cd, r, "DONE")): continue
        log = [x for x in csv.DictReader(open(lp)) if x["val_dice_mean"]]
        best = max(log, key=lambda x: float(x["val_dice_mean"]))
        # lost: validation Dice never above 0.05 in any epoch (softmax: 0 pixels; sigmoid: the threshold search
        # falls back to near 0 and the Dice to the ROI's share of the image, about 0.002)
        dead = [k for k in ROIS if all(float(x["dice_" + k]) < 0.05 for x in log)]
        row = dict(cohort=co, backbone=m[1], loss=m[2], head_init=m[3], extra=m[4] or "", seed=int(m[5]),
                   best_epoch=int(best["epoch"]), val_dice=float(best["val_dice_mean"]),
                   min_roi=min(float(best["dice_" + k]) for k in ROIS), dead=" ".join(dead))
        row.update({"val_" + k: float(best["dice_" + k]) for k in ROIS})
        sp = os.path.join(cd, r, "eval", "summary.json")
        if os.path.exists(sp):
            s = json.load(open(sp))["rois"]
            for k, v in s.items():
                row["test_dice_" + k] = v["dice_mean"]
                row["fa_err_" + k] = v["fa_err_pct_mean"]
                row["outlier_" + k] = v["outlier_pct"]
        rows.append(row)
keys = []
for r in rows:
    keys += [k for k in r if k not in keys]
with open(os.path.join(out, "runs.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, keys); w.writeheader(); w.writerows(rows)
arms = {}
for r in rows: arms.setdefault((r["cohort"], r["backbone"], r["loss"], r["head_init"] + r["extra"]), []).append(r)
print("| cohort | arm | runs | runs that lost an ROI | dead ROIs | min ROI val Dice | mean best val Dice | mean test Dice | mean FA error % | max outlier % |")
print("|---|---|---|---|---|---|---|---|---|---|")
def mean(v):
    v = [x for x in v if x is not None]
    return f"{st.mean(v):.3f}" if v else "-"
for (co, bb, loss, hi), rs in sorted(arms.items()):
    td = [st.mean([r[k] for k in r if k.startswith("test_dice_") and r[k] is not None]) if any(k.startswith("test_dice_") for k in r) else None for r in rs]
    fe = [st.mean([r[k] for k in r if k.startswith("fa_err_") and r[k] is not None]) if any(k.startswith("fa_err_") for k in r) else None for r in rs]
    ol = [max(r[k] for k in r if k.startswith("outlier_")) for r in rs if any(k.startswith("outlier_") for k in r)]
    dead = sum(1 for r in rs if r["dead"])
    names = sorted({d for r in rs for d in r["dead"].split()})
    print(f"| {co} | {bb}-{loss} head_init={hi} | {len(rs)} | {dead} | {' '.join(names) or '-'} | {min(r['min_roi'] for r in rs):.3f} | "
          f"{mean([r['val_dice'] for r in rs])} | {mean(td)} | {mean(fe)} | {max(ol) if ol else '-'} |")
