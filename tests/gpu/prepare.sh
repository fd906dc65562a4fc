#!/usr/bin/env bash
# tests/gpu/prepare.sh: builds, on this (GPU-less) machine, what
# tests/gpu/device-check.sh runs on a GPU machine, into the carry folder
# .gpu/ (ignored by git through .git/info/exclude): bin/ gpu_backend_ops,
# gpu_torch_ref, gpu_bench (core only, sm_90, no -march=native: the GPU
# host's CPU may differ) and lib/ the Debian libraries they need that the
# GPU machine's image lacks (oneDNN, the OpenCL loader oneDNN links, libgomp).
# cuDNN, NCCL and the CUDA runtime come from the GPU machine (PyTorch's
# nvidia-* packages there); cudart is linked statically.
# Then: device run with carry [".gpu"], command "bash tests/gpu/device-check.sh".
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCORDSEG_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCORDSEG_NATIVE=OFF -DCORDSEG_CUDA_EMUL=OFF >/dev/null
cmake --build build-gpu -j"$(nproc)" --target gpu_backend_ops gpu_torch_ref gpu_bench
rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib
cp build-gpu/gpu_backend_ops build-gpu/gpu_torch_ref build-gpu/gpu_bench .gpu/bin/
strip .gpu/bin/*
for l in libdnnl.so.2 libOpenCL.so.1 libgomp.so.1; do
  p=$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64/ {print $NF; exit}')
  [ -n "$p" ] || { echo "prepare: $l not found (bash jobs/install-deps.sh)" >&2; exit 1; }
  cp -L "$p" .gpu/lib/
done
echo "prepare: .gpu is $(du -sh .gpu | cut -f1); needs from the GPU machine:"
ldd .gpu/bin/gpu_bench | grep -E "cudnn|nccl|cuda" || true
