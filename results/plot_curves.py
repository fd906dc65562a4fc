#!/usr/bin/env python3
"""results/plot_curves.py: training curves of HDL variants as one SVG (stdlib only).

  python3 results/plot_curves.py OUT.svg CSV[:ARM[=LABEL]] ...

Each CSV is a long table arm,seed,epoch,val_loss,val_dice_mean,dice_<ROI>,...
(results/hdl-*.csv). Each ARM becomes one row of small multiples: the
validation loss, then the threshold-searched validation Dice of each of the
8 ROIs, per epoch; every seed is one line. The README's HDL figure is
  python3 results/plot_curves.py results/hdl-curves-2026-12-01.svg \\
    results/hdl-defaults-2026-12-01.csv:old="as specified" \\
    results/hdl-clip-2026-12-01.csv:hw="clip 100, lr 1e-3" \\
    results/hdl-clip-2026-12-01.csv:c1lr5="clip 1, lr 5e-4 (defaults)" \\
    results/hdl-clip-2026-12-01.csv:c1lr5fa="FA, defaults"
"""
import csv
import sys

ROI = ["LDC", "LLC", "LVC", "LGM", "RDC", "RLC", "RVC", "RGM"]
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
PW, PH, M = 120, 90, 34  # panel width/height, margin


def load(spec):
    path, _, sel = spec.partition(":")
    arm, _, label = sel.partition("=")
    series = {}
    for r in csv.DictReader(open(path)):
        if arm and r["arm"] != arm:
            continue
        series.setdefault(r["seed"], []).append(r)
    return label or arm or path, series


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows = [load(s) for s in sys.argv[2:]]
    cols = ["val loss (axis to 100)"] + ["val Dice " + r for r in ROI]
    keys = ["val_loss"] + ["dice_" + r for r in ROI]
    # the loss axis stops at 100 (the collapsed runs sit at 200-500; the constant prior prediction is ~66)
    lmax = min(100.0, max((num(r["val_loss"]) or 0) for _, s in rows for v in s.values() for r in v))
    emax = max(int(r["epoch"]) for _, s in rows for v in s.values() for r in v)
    W = 150 + len(cols) * (PW + M)
    H = 40 + len(rows) * (PH + M + 10)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="10">',
         f'<rect width="{W}" height="{H}" fill="white"/>']
    for j, c in enumerate(cols):
        o.append(f'<text x="{150 + j * (PW + M) + PW / 2}" y="18" text-anchor="middle" font-size="12">{c}</text>')
    for i, (label, series) in enumerate(rows):
        y0 = 30 + i * (PH + M + 10)
        o.append(f'<text x="140" y="{y0 + PH / 2}" text-anchor="end" font-size="11">{label}</text>')
        o.append(f'<text x="140" y="{y0 + PH / 2 + 13}" text-anchor="end" fill="#666">{len(series)} seeds</text>')
        for j, k in enumerate(keys):
            x0 = 150 + j * (PW + M)
            ymax = lmax if k == "val_loss" else 1.0
            o.append(f'<rect x="{x0}" y="{y0}" width="{PW}" height="{PH}" fill="none" stroke="#999"/>')
            o.append(f'<text x="{x0 - 3}" y="{y0 + 8}" text-anchor="end" fill="#666">{ymax:.3g}</text>')
            o.append(f'<text x="{x0 - 3}" y="{y0 + PH}" text-anchor="end" fill="#666">0</text>')
            o.append(f'<text x="{x0 + PW}" y="{y0 + PH + 11}" text-anchor="end" fill="#666">ep {emax}</text>')
            for s, (seed, rs) in enumerate(sorted(series.items())):
                pts = []
                for r in rs:
                    v = num(r[k])
                    if v is None:
                        continue
                    px = x0 + (int(r["epoch"]) - 1) / max(emax - 1, 1) * PW
                    py = y0 + PH - min(v, ymax) / ymax * PH
                    pts.append(f"{px:.1f},{py:.1f}")
                if pts:
                    o.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{COLOURS[s % 8]}" '
                             f'stroke-width="1.2"><title>seed {seed}</title></polyline>')
    o.append("</svg>")
    open(sys.argv[1], "w").write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
