#!/usr/bin/env bash
# tests/gpu/device-check.sh: the one-call GPU check of the CUDA backend (at
# most ~7 minutes on one H200). Run `bash tests/gpu/prepare.sh` here first,
# then the device tool: run(command="bash tests/gpu/device-check.sh",
# carry=[".gpu"], timeout_s=540). Logs and a summary go to $OUT (else
# ./gpu-check-out). Steps, each under its own time limit, each logged:
#  1 nvidia-smi, library discovery
#  2 gpu_backend_ops: every op + 3 training steps of both UNets, CUDA vs CPU:
#    TF32 on (default limits), TF32 off (fp32 limits), bf16
#  3 gpu_torch_ref: both UNets x 3 losses on CUDA vs the fp64 PyTorch
#    reference (tests/torch_ref.py), TF32 off
#  4 compute-sanitizer memcheck over two training steps of each backbone
#  5 gpu_bench (cordseg) and tests/gpu/torch_peer_gpu.py (PyTorch eager fp32,
#    eager AMP bf16 channels_last, torch.compile) at 128 and 256, batch 16
#  6 summary: img/s, ratios, achieved TFLOP/s against the measured matmul peak
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/device-check.log") 2>&1
T0=$(date +%s)
say() { echo "device-check [$(( $(date +%s) - T0 )) s]: $*"; }
run() { # name limit_s command...: runs, logs to $OUT/name.log, records rc
  local name=$1 lim=$2
  shift 2
  say "$name (limit ${lim} s): $*"
  timeout "$lim" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$OUT/$name.log"
  echo "$name $rc" >> "$OUT/rc.txt"
  say "$name: exit $rc"
}
: > "$OUT/rc.txt"
[ -x .gpu/bin/gpu_bench ] || { say "no .gpu/bin: run bash tests/gpu/prepare.sh here and carry .gpu"; exit 2; }
PY=${CORDSEG_PYTHON:-python3}
libs=$("$PY" - <<'PYEOF' 2>/dev/null
import importlib, os
out = []
for m in ("nvidia.cudnn", "nvidia.nccl", "nvidia.cuda_runtime", "nvidia.cublas"):
    try:
        mod = importlib.import_module(m)
        for p in mod.__path__:
            if os.path.isdir(os.path.join(p, "lib")): out.append(os.path.join(p, "lib"))
    except Exception:
        pass
print(":".join(out))
PYEOF
)
export LD_LIBRARY_PATH="$PWD/.gpu/lib:${libs}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export CORDSEG_PYTHON=$PY CORDSEG_TORCH_REF_DIR="$OUT/torchref" OMP_NUM_THREADS=8
say "step 1: machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
ldd .gpu/bin/gpu_bench | grep -E "not found|cudnn|nccl|dnnl" | tee "$OUT/ldd.txt"
run backend_ops_tf32 120 .gpu/bin/gpu_backend_ops
NVIDIA_TF32_OVERRIDE=0 run backend_ops_fp32 120 .gpu/bin/gpu_backend_ops
CORDSEG_TEST_PRECISION=bf16 run backend_ops_bf16 120 .gpu/bin/gpu_backend_ops
NVIDIA_TF32_OVERRIDE=0 CORDSEG_TEST_DEVICE=cuda run torch_ref_cuda 150 .gpu/bin/gpu_torch_ref
if command -v compute-sanitizer >/dev/null; then
  for b in vgg16 resnet50; do
    run "memcheck_$b" 120 compute-sanitizer --tool memcheck --error-exitcode 3 .gpu/bin/gpu_bench --backbone $b --size 64 \
      --batch 2 --steps 2
  done
else
  say "compute-sanitizer not on PATH: memcheck skipped"
fi
: > "$OUT/bench.jsonl"
for s in 128 256; do
  for b in vgg16 resnet50; do
    for p in fp32 bf16; do
      run "bench_${b}_${s}_$p" 60 .gpu/bin/gpu_bench --backbone $b --size $s --batch 16 --steps 20 --precision $p
      grep '^{' "$OUT/bench_${b}_${s}_$p.log" >> "$OUT/bench.jsonl"
    done
  done
done
run torch_peer 240 "$PY" tests/gpu/torch_peer_gpu.py --sizes 128,256 --batch 16 --steps 20
grep '^{' "$OUT/torch_peer.log" >> "$OUT/bench.jsonl"
say "step 6: summary"
"$PY" - "$OUT/bench.jsonl" <<'PYEOF' | tee "$OUT/summary.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peak = next((r for r in rows if r.get("impl") == "peak"), {})
bf16 = peak.get("bf16_tflops", 0) or 0
print(f"GPU {peak.get('gpu', '?')}, torch {peak.get('torch', '?')}, measured matmul peak bf16 {bf16} / tf32 {peak.get('tf32_tflops', '?')} TFLOP/s")
print(f"{'model':9} {'size':>4} {'cordseg fp32':>12} {'cordseg bf16':>12} {'torch fp32':>10} {'torch amp':>10} {'compile':>8} {'bf16/amp':>8} {'bf16/comp':>9} {'TFLOP/s':>8} {'%peak':>6}")
for m in ("vgg16", "resnet50"):
    for s in (128, 256):
        def get(impl, prec=None):
            for r in rows:
                if r.get("model") == m and r.get("size") == s and r.get("impl") == impl and (prec is None or r.get("precision") == prec):
                    return r
            return {}
        c32, c16 = get("cordseg", "fp32"), get("cordseg", "bf16")
        e32, amp, comp = get("pytorch-eager-fp32"), get("pytorch-eager-amp"), get("pytorch-compile-amp")
        v = lambda r: r.get("train_img_s", 0) or 0
        ratio = lambda a, b: f"{v(a) / v(b):.2f}x" if v(a) and v(b) else "-"
        tf = c16.get("train_tflops", 0) or 0
        print(f"{m:9} {s:4} {v(c32):12.1f} {v(c16):12.1f} {v(e32):10.1f} {v(amp):10.1f} {v(comp):8.1f} {ratio(c16, amp):>8} {ratio(c16, comp):>9} {tf:8.1f} {100 * tf / bf16 if bf16 else 0:5.1f}%")
PYEOF
say "exit codes:"; cat "$OUT/rc.txt"
fails=$(awk '$2 != 0' "$OUT/rc.txt" | wc -l)
say "done in $(( $(date +%s) - T0 )) s, $fails step(s) failed; logs in $OUT"
[ "$fails" = 0 ]
