#!/usr/bin/env bash
# tests/gpu/device-check.sh: the one-call GPU check of the CUDA backend.
# Prepare here first (bash tests/gpu/prepare.sh), then the device tool:
#   run(command="bash tests/gpu/device-check.sh", carry=[".gpu"], timeout_s=480)
# One overall deadline (--deadline S, default 420 s) with a running budget:
# each step gets the smaller of its own limit and what is left (less a
# reserve for the summary), and a step that no longer fits is skipped and
# listed as such. Steps, most valuable first:
#   0  the carry folder's MANIFEST (sizes, sha256), the machine, ldd
#   1  gpu_backend_ops: every op and 3-5 training steps of both UNets (a new
#      batch each step), CUDA vs CPU, TF32 on; NCCL with one rank
#   2  gpu_bench VGG16/ResNet50 at 128^2 batch 16, fp32 and bf16 (the chosen
#      cuDNN algorithm and math type per layer to algos.txt), and VGG16 fp32
#      with graphs off
#   3  the PyTorch peer: eager AMP bf16 channels_last at 128^2
#   4  gpu_backend_ops with TF32 off (fp32 limits) and in bf16
#   5  gpu_torch_ref: both UNets x 3 losses on CUDA vs the fp64 reference
#   6  PyTorch eager fp32 at 128^2; the 256^2 benches (cordseg and PyTorch)
#   7  compute-sanitizer memcheck on one small step per backbone
#   8  torch.compile, last and only if time remains
# $OUT (else ./gpu-check-out) gets at most 5 files, well inside what the
# device tool returns (8 files): summary.md (rewritten after every step, so
# a cut run still returns its figures), device-check.log (every step's full
# output), bench.jsonl, algos.txt, steps.tsv.
# --rehearse runs the same script here, in CI (test_gpu_rehearse), on the
# emulation binaries (prepare.sh --rehearse BUILD) with small shapes and a
# CPU stand-in for the PyTorch peer: the script itself is tested on every
# change.
set -uo pipefail
cd "$(dirname "$0")/../.."
usage() {
  echo "usage: bash tests/gpu/device-check.sh [--deadline SECONDS] [--carry DIR] [--rehearse]"
  echo "  --deadline S   overall budget, default 420 (leave the device call's timeout_s some 60 s above it)"
  echo "  --carry DIR    the folder prepare.sh made (default .gpu; with --rehearse build-test/gpu-rehearse)"
  echo "  --rehearse     the emulation binaries, small shapes, PyTorch on the CPU (CI runs this)"
}
deadline=420 rehearse=0 carry=""
while [ $# -gt 0 ]; do
  case $1 in
    --deadline) deadline=${2:?--deadline needs seconds}; shift 2 ;;
    --carry) carry=${2:?--carry needs a folder}; shift 2 ;;
    --rehearse) rehearse=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[ -n "$carry" ] || carry=$([ $rehearse = 1 ] && echo build-test/gpu-rehearse || echo .gpu)
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
LOG=$OUT/device-check.log STEPS=$OUT/steps.tsv BENCH=$OUT/bench.jsonl ALGOS=$OUT/algos.txt
: > "$LOG"; : > "$BENCH"; : > "$ALGOS"
printf 'step\tstatus\trc\tseconds\tnote\n' > "$STEPS"
TMPD=$(mktemp -d)
T0=$(date +%s) RESERVE=15
T_END=$((T0 + deadline))
# a python3 with PyTorch: the GPU machine's plain python3 is its torch venv; here Debian's python3-torch
PY=""
for p in ${CORDSEG_PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c "import torch" > /dev/null 2>&1; then PY=$p; break; fi
done
[ -n "$PY" ] || PY=python3 HAVE_TORCH=0
HAVE_TORCH=${HAVE_TORCH:-1}
say() { echo "device-check [$(($(date +%s) - T0)) s]: $*" | tee -a "$LOG"; }
summary() { "$PY" tests/gpu/summary.py "$OUT" "$carry/MANIFEST" "$([ $rehearse = 1 ] && echo rehearsal || echo gpu)" \
  > "$OUT/summary.md.tmp" 2>> "$LOG" && mv "$OUT/summary.md.tmp" "$OUT/summary.md"; }
record() { # name status rc seconds note
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> "$STEPS"
  summary
}
# step NAME LIMIT_S COMMAND...: runs it within the budget, logs it whole, keeps the JSON lines
step() {
  local name=$1 lim=$2 left t rc status note=""
  shift 2
  if [ "$1" = "$PY" ] && [ "$HAVE_TORCH" = 0 ]; then
    say "$name: SKIPPED, no python3 with PyTorch here"
    record "$name" skipped - 0 "no python3 with PyTorch"
    return
  fi
  left=$((T_END - $(date +%s) - RESERVE))
  if [ "$left" -lt 20 ]; then
    say "$name: SKIPPED, ${left} s left of the ${deadline} s deadline"
    record "$name" "no time" - 0 "${left} s left"
    return
  fi
  [ "$lim" -le "$left" ] || lim=$left
  say "$name (limit $lim s): $*"
  t=$(date +%s)
  timeout -k 5 "$lim" "$@" > "$TMPD/out" 2>&1
  rc=$?
  t=$(($(date +%s) - t))
  { echo "----- $name: $* (exit $rc, $t s)"; cat "$TMPD/out"; } >> "$LOG"
  grep '^{' "$TMPD/out" >> "$BENCH"
  case $rc in
    0) status=ok ;;
    77) status=skipped note=$(grep -m1 -i 'skip' "$TMPD/out" | cut -c1-160) ;;
    124 | 137) status=TIMEOUT note="cut at $lim s" ;;
    *) status=FAIL note=$(grep -m1 -E 'FAIL|error|fatal' "$TMPD/out" | cut -c1-160) ;;
  esac
  tail -n 6 "$TMPD/out"
  say "$name: $status (exit $rc, $t s)"
  record "$name" "$status" "$rc" "$t" "$note"
}

# ---- 0: the carry folder, the machine, the libraries ----
say "mode $([ $rehearse = 1 ] && echo rehearsal || echo gpu), carry $carry, deadline $deadline s, OUT $OUT"
[ -f "$carry/MANIFEST" ] || { say "no $carry/MANIFEST: run bash tests/gpu/prepare.sh here and carry $carry"; record manifest FAIL 2 0 "missing"; exit 2; }
bad=""
while read -r sum size path; do
  f=$carry/$path
  if [ ! -f "$f" ]; then bad+=" $path (missing)"
  elif [ "$(stat -c %s "$f")" != "$size" ]; then bad+=" $path (size $(stat -c %s "$f"), manifest $size)"
  elif [ "$(sha256sum "$f" | cut -d' ' -f1)" != "$sum" ]; then bad+=" $path (sha256 differs)"
  fi
done < <(grep -v '^#' "$carry/MANIFEST")
if [ -n "$bad" ]; then
  say "the carry folder does not match its MANIFEST:$bad; rerun bash tests/gpu/prepare.sh and carry $carry whole"
  record manifest FAIL 2 0 "$bad"
  exit 2
fi
record manifest ok 0 0 "$(grep -vc '^#' "$carry/MANIFEST") files, $(sed -n 's/^# commit: //p' "$carry/MANIFEST")"
# the device's cuDNN / NCCL / CUDA libraries: PyTorch's nvidia-* packages
libs=$("$PY" - 2>/dev/null <<'PYEOF'
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
dirs = set()
for r in roots:
    for pat in ("libcudnn.so.9", "libnccl.so.2", "libcudart.so.*", "libcublas.so.*"):
        for f in glob.glob(os.path.join(r, "**", pat), recursive=True):
            dirs.add(os.path.dirname(f))
print(":".join(sorted(dirs)))
PYEOF
)
export LD_LIBRARY_PATH="$PWD/$carry/lib:${libs}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export CORDSEG_PYTHON=$PY CORDSEG_TORCH_REF_DIR=$TMPD/torchref OMP_NUM_THREADS=8 PYTHONUNBUFFERED=1
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$TMPD/gpu.txt" 2>&1
  cat "$TMPD/gpu.txt" >> "$LOG"
  say "GPU: $(tail -n 1 "$TMPD/gpu.txt")"
  record machine ok 0 0 "$(tail -n 1 "$TMPD/gpu.txt" | cut -c1-120)"
else
  record machine skipped - 0 "no nvidia-smi$([ $rehearse = 1 ] && echo ' (rehearsal)')"
fi
missing=""
for f in "$carry"/bin/*; do
  out=$(ldd "$f" 2>&1)
  echo "ldd $f:"$'\n'"$out" >> "$LOG"
  m=$(awk '/not found/ {print $1}' <<< "$out" | tr '\n' ' ')
  [ -z "$m" ] || missing+=" $(basename "$f"): $m"
done
if [ -n "$missing" ]; then
  say "libraries not found:$missing (cuDNN/NCCL come from PyTorch's nvidia-* packages here: is $PY the torch venv?)"
  record ldd FAIL 2 0 "$missing"
  exit 2
fi
record ldd ok 0 0 "cuDNN/NCCL from ${libs:-the system}"

# ---- shapes: the real ones, or the rehearsal's small ones ----
B=$carry/bin
if [ $rehearse = 1 ]; then
  S1=32 S2=64 NB=2 NS=2 WD="--width-div 4" PEER=(--device cpu --batch 2 --steps 1 --width-div 4)
  export CORDSEG_TORCH_REF_CASES=vgg16_hybrid # the whole-model check of one case: the emulation is slow
else
  S1=128 S2=256 NB=16 NS=20 WD="" PEER=(--batch 16 --steps 20)
fi
bench() { # backbone size precision [extra...]
  local bb=$1 s=$2 p=$3
  shift 3
  step "bench_${bb}_${s}_${p}$([ "${1:-}" = --no-graph ] && echo _nograph)" 60 \
    "$B/gpu_bench" --backbone "$bb" --size "$s" --batch "$NB" --steps "$NS" --precision "$p" $WD "$@"
}

# ---- 1-8 ----
step backend_ops_tf32 90 "$B/gpu_backend_ops"
for bb in vgg16 resnet50; do
  for p in fp32 bf16; do
    bench "$bb" "$S1" "$p" --describe
    { echo "# $bb ${S1}x${S1} batch $NB $p: conv | forward | backward data | backward weights"; grep '^conv ' "$TMPD/out"; } >> "$ALGOS"
  done
done
bench vgg16 "$S1" fp32 --no-graph
step torch_peer_amp_$S1 120 "$PY" tests/gpu/torch_peer_gpu.py --models vgg16,resnet50 --sizes "$S1" \
  --forms eager-amp "${PEER[@]}"
NVIDIA_TF32_OVERRIDE=0 step backend_ops_fp32 90 "$B/gpu_backend_ops"
CORDSEG_TEST_PRECISION=bf16 step backend_ops_bf16 90 "$B/gpu_backend_ops"
NVIDIA_TF32_OVERRIDE=0 CORDSEG_TEST_DEVICE=cuda step torch_ref_cuda 150 "$B/gpu_torch_ref"
step torch_peer_fp32_$S1 90 "$PY" tests/gpu/torch_peer_gpu.py --models vgg16,resnet50 --sizes "$S1" \
  --forms eager-fp32 "${PEER[@]}"
for bb in vgg16 resnet50; do
  for p in fp32 bf16; do bench "$bb" "$S2" "$p"; done
done
step torch_peer_$S2 120 "$PY" tests/gpu/torch_peer_gpu.py --models vgg16,resnet50 --sizes "$S2" \
  --forms eager-amp,eager-fp32 "${PEER[@]}"
if command -v compute-sanitizer > /dev/null; then
  for bb in vgg16 resnet50; do
    step "memcheck_$bb" 90 compute-sanitizer --tool memcheck --error-exitcode 3 "$B/gpu_bench" --backbone "$bb" \
      --size 64 --batch 2 --steps 1 --width-div 4
  done
else
  record memcheck skipped - 0 "compute-sanitizer not on PATH"
fi
if [ $rehearse = 1 ]; then
  record torch_compile skipped - 0 "rehearsal: torch.compile on a CPU says nothing about the GPU"
else
  step torch_compile 300 "$PY" tests/gpu/torch_peer_gpu.py --models vgg16,resnet50 --sizes "$S1" --forms compile-amp \
    "${PEER[@]}"
fi

fails=$(awk -F'\t' 'NR > 1 && ($2 == "FAIL" || $2 == "TIMEOUT")' "$STEPS" | wc -l)
cut=$(awk -F'\t' 'NR > 1 && $2 == "no time"' "$STEPS" | wc -l)
say "done in $(($(date +%s) - T0)) s: $fails step(s) failed or timed out, $cut skipped for time; $OUT/summary.md"
rm -rf "$TMPD"
[ "$fails" = 0 ]
