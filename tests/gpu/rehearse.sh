#!/usr/bin/env bash
# tests/gpu/rehearse.sh BUILD_DIR: the ctest test_gpu_rehearse. Runs the GPU
# check's two scripts here, as on a GPU machine but on the host emulation
# (tests/gpu/prepare.sh --rehearse, tests/gpu/device-check.sh --rehearse), and
# fails unless: every step ran and passed (or skipped for a stated reason:
# no nvidia-smi, compute-sanitizer or torch.compile here), the summary holds
# the bench table for both backbones, $OUT stays inside what the device tool
# returns (at most 8 files), a manifest that does not match its folder stops
# the check at once, and a deadline too short for the steps still leaves a
# summary with the rest listed as skipped for time.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${1:?usage: tests/gpu/rehearse.sh BUILD_DIR}
fail() { echo "test_gpu_rehearse: FAIL: $*"; exit 1; }
bash tests/gpu/prepare.sh --rehearse "$B" || fail "prepare.sh --rehearse"
out=$B/gpu-rehearse-out
rm -rf "$out"
OUT=$out bash tests/gpu/device-check.sh --rehearse --carry "$B/gpu-rehearse" || fail "device-check.sh --rehearse: $(cat "$out/steps.tsv")"
[ -s "$out/summary.md" ] || fail "no summary.md"
n=$(find "$out" -type f | wc -l)
[ "$n" -le 8 ] || fail "$n files in OUT, the device tool returns 8"
for s in backend_ops_tf32 backend_ops_fp32 backend_ops_bf16 torch_ref_cuda bench_vgg16_32_fp32 bench_resnet50_32_bf16 \
  bench_vgg16_32_fp32_nograph bench_resnet50_64_fp32; do
  grep -q "^$s	ok	" "$out/steps.tsv" || fail "step $s did not pass: $(grep "^$s	" "$out/steps.tsv")"
done
grep -q '^| vgg16 | 32 |' "$out/summary.md" && grep -q '^| resnet50 | 64 |' "$out/summary.md" || fail "summary without the bench table"
grep -q '^conv ' "$out/algos.txt" || fail "algos.txt lists no convolution"
echo "test_gpu_rehearse: the full rehearsal passed ($(awk 'NR > 1' "$out/steps.tsv" | wc -l) steps)"
# a carry folder that does not match its manifest: stopped before any step
cp -r "$B/gpu-rehearse" "$B/gpu-rehearse-bad"
printf 'x' >> "$B/gpu-rehearse-bad/bin/gpu_bench"
rc=0
OUT=$out-bad bash tests/gpu/device-check.sh --rehearse --carry "$B/gpu-rehearse-bad" > /dev/null 2>&1 || rc=$?
rm -rf "$B/gpu-rehearse-bad"
[ "$rc" = 2 ] && grep -q 'gpu_bench (size' "$out-bad/device-check.log" || fail "a changed binary must stop the check (exit $rc)"
# a deadline that fits at most the first step (which passes or is cut at what
# is left, depending on this machine's load): the summary comes back, with
# that step's row and the rest skipped for time, and the script ends in time
rc=0 t0=$SECONDS
OUT=$out-cut bash tests/gpu/device-check.sh --rehearse --deadline 45 --carry "$B/gpu-rehearse" > /dev/null 2>&1 || rc=$?
grep -qE '^\| backend_ops_tf32 \| (ok|TIMEOUT) ' "$out-cut/summary.md" && grep -q '| no time |' "$out-cut/summary.md" ||
  fail "a short deadline must still leave a summary with the steps skipped for time"
[ $((SECONDS - t0)) -le 60 ] || fail "a 45 s deadline took $((SECONDS - t0)) s"
echo "test_gpu_rehearse: a changed binary stops the check; a 45 s deadline ended in $((SECONDS - t0)) s with a summary," \
  "$(grep -c '| no time |' "$out-cut/summary.md") steps skipped for time"
