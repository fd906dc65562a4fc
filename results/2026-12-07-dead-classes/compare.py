"""compare.py OUT [HDL_TAG [HYBRID_TAG]]: HDL vs hybrid (both head_init auto), paired by (cohort, seed, input tag) on
OUT/runs.csv (table.py): per ROI and for the mean over the 8 ROIs, the test Dice and FA
error of hybrid minus HDL: mean and SD of the paired differences, hybrid's wins, and the
exact two-sided Wilcoxon signed-rank p (no ties correction needed for continuous values;
zero differences dropped). Prints a markdown table. HDL_TAG / HYBRID_TAG: the run-name tags
(e.g. rev: HDL with revive_dead, vgg16-hdl-auto-rev-sN) paired as if untagged; other tags
pair with the same tag."""
import csv, sys, statistics as st
ROIS = ["L_dc", "L_lc", "L_vc", "L_gm", "R_dc", "R_lc", "R_vc", "R_gm"]
def wilcoxon_p(d):
    d = [x for x in d if x != 0]
    n = len(d)
    if n == 0: return float("nan")
    ranks = sorted(range(n), key=lambda i: abs(d[i]))
    r = [0.0] * n
    for k, i in enumerate(ranks): r[i] = k + 1
    wp = sum(r[i] for i in range(n) if d[i] > 0)
    # exact null distribution of W+ (integer ranks): counts[s] = subsets of 1..n summing to s
    tot = n * (n + 1) // 2
    counts = [1] + [0] * tot
    for k in range(1, n + 1):
        for s in range(tot, k - 1, -1): counts[s] += counts[s - k]
    lo = sum(counts[: int(min(wp, tot - wp)) + 1])
    return min(1.0, 2 * lo / 2 ** n)

def line(name, dh, df):
    return (f"| {name} | {len(dh)} | {st.mean(dh):+.3f} +- {st.stdev(dh) if len(dh) > 1 else 0:.3f} | {sum(x > 0 for x in dh)}/{len(dh)} | "
            f"{wilcoxon_p(dh):.4f} | {st.mean(df):+.2f} +- {st.stdev(df) if len(df) > 1 else 0:.2f} | {sum(x < 0 for x in df)}/{len(df)} | {wilcoxon_p(df):.4f} |")


if __name__ == "__main__":
    rows = [r for r in csv.DictReader(open(sys.argv[1] + "/runs.csv")) if r["head_init"] == "auto" and r.get("test_dice_L_dc")]
    tag = {"hdl": "-" + sys.argv[2] if len(sys.argv) > 2 else "", "hybrid": "-" + sys.argv[3] if len(sys.argv) > 3 else ""}
    by = {}
    for r in rows:
        ex = r["extra"]
        if tag[r["loss"]]:
            if not ex.startswith(tag[r["loss"]]): continue
            ex = ex[len(tag[r["loss"]]):]
        elif any(ex.startswith(t) for t in tag.values() if t): continue
        by.setdefault((r["cohort"], r["backbone"], ex, r["seed"]), {})[r["loss"]] = r

    groups = {}
    for (co, bb, ex, seed), d in by.items():
        if "hybrid" in d and "hdl" in d: groups.setdefault((co, bb, ex), []).append(d)
    groups[("all", "", "")] = [d for k, v in groups.items() for d in v]
    for (co, bb, ex), pairs in sorted(groups.items()):
        print(f"\n**{co} {bb} {ex.strip('-') or 'b0'}**: {len(pairs)} seed pairs (hybrid minus HDL; Dice > 0 and FA error < 0 favour hybrid)\n")
        print("| ROI | n | test Dice diff | hybrid better | Wilcoxon p | FA error diff (points) | hybrid better | Wilcoxon p |")
        print("|---|---|---|---|---|---|---|---|")
        fl = lambda x: float(x) if x not in ("", "None", "nan") else float("nan")
        for roi in ROIS + ["mean"]:
            dh, df = [], []
            for d in pairs:
                a, b = d["hybrid"], d["hdl"]
                if roi == "mean":
                    dh.append(st.mean(fl(a["test_dice_" + k]) for k in ROIS) - st.mean(fl(b["test_dice_" + k]) for k in ROIS))
                    df.append(st.mean(fl(a["fa_err_" + k]) for k in ROIS) - st.mean(fl(b["fa_err_" + k]) for k in ROIS))
                else:
                    dh.append(fl(a["test_dice_" + roi]) - fl(b["test_dice_" + roi]))
                    df.append(fl(a["fa_err_" + roi]) - fl(b["fa_err_" + roi]))
            print(line(roi, dh, df))
