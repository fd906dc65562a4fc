#!/usr/bin/env python3
"""tests/gpu/summary.py OUT MANIFEST MODE: the device check's summary.md from
what the steps have written so far (OUT/steps.tsv, OUT/bench.jsonl), so that
tests/gpu/device-check.sh can rewrite it after every step and a run cut by
its deadline still returns its figures. Standard library only (it runs with
the GPU machine's python3 and with CI's)."""
import json
import os
import sys


def load_rows(path):
    rows = []
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    return rows


def main():
    out, manifest, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    steps = []
    with open(os.path.join(out, "steps.tsv")) as f:
        next(f, None)
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 5:
                steps.append(p)
    rows = load_rows(os.path.join(out, "bench.jsonl"))
    head = {}
    if os.path.exists(manifest):
        for line in open(manifest):
            if line.startswith("# ") and ": " in line:
                k, v = line[2:].split(": ", 1)
                head[k] = v.strip()
    peak = next((r for r in rows if r.get("impl") == "peak"), {})
    print(f"# cordseg device check ({mode})\n")
    print(f"- carry folder: commit {head.get('commit', '?')}, made {head.get('made', '?')}")
    print(f"- build: {head.get('build', '?')}")
    if peak:
        print(f"- GPU {peak.get('gpu', '?')}, torch {peak.get('torch', '?')}, cuDNN {peak.get('cudnn', '?')}; measured "
              f"matmul peak bf16 {peak.get('bf16_tflops', '?')} / TF32 {peak.get('tf32_tflops', '?')} TFLOP/s")
    fails = [s for s in steps if s[1] in ("FAIL", "TIMEOUT")]
    print(f"- steps so far: {len(steps)}, failed or cut: {len(fails)}"
          + (" (" + ", ".join(s[0] for s in fails) + ")" if fails else ""))
    print("\n| step | status | exit | s | note |\n|---|---|---|---|---|")
    for s in steps:
        note = s[4].replace("|", "/")
        print(f"| {s[0]} | {s[1]} | {s[2]} | {s[3]} | {note} |")

    def get(model, size, impl, prec=None, graph=None):
        for r in rows:
            if (r.get("model") == model and r.get("size") == size and r.get("impl") == impl
                    and (prec is None or r.get("precision") == prec) and (graph is None or r.get("graph") == graph)
                    and "error" not in r):
                return r
        return {}

    def v(r):
        return r.get("train_img_s", 0) or 0

    def ratio(a, b):
        return f"{v(a) / v(b):.2f}x" if v(a) and v(b) else "-"

    sizes = sorted({r.get("size") for r in rows if r.get("size")})
    if sizes:
        bf = peak.get("bf16_tflops", 0) or 0
        print("\nTraining images/s, batch as run (cordseg: median of the timed steps after 3 warm-ups; "
              "graph = the step replayed as a CUDA graph):\n")
        print("| model | size | cordseg fp32 | fp32 no graph | cordseg bf16 | torch eager fp32 | torch eager AMP "
              "| torch.compile | bf16 / AMP | fp32 / AMP | best / compile | bf16 TFLOP/s | % peak |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for m in ("vgg16", "resnet50"):
            for s in sizes:
                c32, c32n, c16 = get(m, s, "cordseg", "fp32", 1), get(m, s, "cordseg", "fp32", 0), get(m, s, "cordseg", "bf16")
                if not c32:
                    c32 = get(m, s, "cordseg", "fp32")
                e32, amp, comp = get(m, s, "pytorch-eager-fp32"), get(m, s, "pytorch-eager-amp"), get(m, s, "pytorch-compile-amp")
                if not any((c32, c16, e32, amp, comp)):
                    continue
                best = c16 if v(c16) >= v(c32) else c32
                tf = c16.get("train_tflops", 0) or 0
                pk = f"{100 * tf / bf:.1f}" if bf and tf else "-"
                print(f"| {m} | {s} | {v(c32):.1f} | {v(c32n):.1f} | {v(c16):.1f} | {v(e32):.1f} | {v(amp):.1f} | "
                      f"{v(comp):.1f} | {ratio(c16, amp)} | {ratio(c32, amp)} | {ratio(best, comp)} | {tf:.1f} | {pk} |")
        errs = [r for r in rows if "error" in r]
        for r in errs:
            print(f"\n- {r.get('impl')} {r.get('model')} {r.get('size')}: error {r.get('error')}")
    print("\nFiles: device-check.log (every step's output), bench.jsonl, algos.txt (cuDNN algorithm and math type per "
          "layer), steps.tsv.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
