"""compare_peak.py OUT: hybrid (argmax label map) against HDL with revive_dead (runs tagged rev)
decoded with `evaluate --masks peak` (RUN/eval-peak, made by decode.sh), paired by (cohort, seed)
on B0: the mean over the 8 ROIs of the test Dice and of the FA error, hybrid minus HDL, with
hybrid's wins and the exact two-sided Wilcoxon p of compare.py. Prints a markdown table."""
import json, os, statistics as st, sys
from compare import wilcoxon_p

def means(path):
    rois = json.load(open(path))["rois"].values()
    return st.mean(v["dice_mean"] for v in rois), st.mean(v["fa_err_pct_mean"] for v in rois)

dd, df = [], []
for co in ("qs", "imp"):
    for seed in range(1, 100):
        h = f"{sys.argv[1]}/{co}/vgg16-hybrid-auto-s{seed}/eval/summary.json"
        p = f"{sys.argv[1]}/{co}/vgg16-hdl-auto-rev-s{seed}/eval-peak/summary.json"
        if os.path.exists(h) and os.path.exists(p):
            a, b = means(h), means(p)
            dd.append(a[0] - b[0]), df.append(a[1] - b[1])
print("| pairs | test Dice diff | hybrid better | Wilcoxon p | FA error diff (points) | hybrid better | Wilcoxon p |")
print("|---|---|---|---|---|---|---|")
print(f"| {len(dd)} | {st.mean(dd):+.3f} +- {st.stdev(dd):.3f} | {sum(x > 0 for x in dd)}/{len(dd)} | {wilcoxon_p(dd):.4f} | "
      f"{st.mean(df):+.2f} +- {st.stdev(df):.2f} | {sum(x < 0 for x in df)}/{len(df)} | {wilcoxon_p(df):.4f} |")
