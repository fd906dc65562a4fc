#!/usr/bin/env bash
# tests/gpu/prepare.sh: builds, on this (GPU-less) machine, what
# tests/gpu/device-check.sh runs on a GPU machine, into the carry folder
# .gpu/ (ignored by git through .git/info/exclude):
#   bin/  gpu_backend_ops, gpu_torch_ref, gpu_bench (core only, sm_90, no
#         -march=native: the GPU host's CPU may differ), stripped
#   lib/  the Debian libraries they need that the GPU machine's image lacks
#         (oneDNN, the OpenCL loader oneDNN links, libgomp)
#   MANIFEST  every file's sha256 and size, the commit and the build flags;
#         device-check.sh verifies it before anything else.
# cuDNN, NCCL and the driver come from the GPU machine (PyTorch's nvidia-*
# packages there); cudart is linked statically. Then it checks what it made:
#   - ldd of every binary with LD_LIBRARY_PATH=.gpu/lib: every library must
#     resolve into .gpu/lib or be one the GPU image has (glibc, libstdc++,
#     libgcc_s, libz) or brings (cuDNN, NCCL, CUDA driver); anything else,
#     or "not found", stops it with the library named;
#   - each binary is started once here: without a GPU it must skip (exit 77).
# Nothing here runs a pipeline whose reader may stop early (under pipefail a
# writer killed by SIGPIPE would end the script without a word).
#   bash tests/gpu/prepare.sh                     the real carry folder .gpu/
#   bash tests/gpu/prepare.sh --rehearse BUILD    the emulation binaries of
#         BUILD (test_backend_ops_emul, gpu_torch_ref_emul, gpu_bench_emul)
#         into BUILD/gpu-rehearse, for device-check.sh --rehearse (CI)
#   bash tests/gpu/prepare.sh --check DIR         only the ldd check of DIR
# Then: device run with carry [".gpu"], command "bash tests/gpu/device-check.sh".
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { echo "prepare: $*"; }
die() { trap - EXIT; echo "prepare: FAILED: $*" >&2; exit 1; }
# every library each binary needs must come from DIR/lib or from the GPU machine itself
check_ldd() {
  local dir=$1 libdir out bad="" f name arrow path
  libdir=$(cd "$dir/lib" && pwd)
  local provided='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libz)\.so'
  local device='^(libcudnn|libnccl|libcuda|libcudart|libcublas|libcublasLt|libnvrtc|libnvJitLink)[._]'
  for f in "$dir"/bin/*; do
    out=$(LD_LIBRARY_PATH="$libdir" ldd "$f" 2>&1) || die "ldd $f failed: $out"
    while read -r name arrow path _; do
      [ -n "$name" ] && [ "$arrow" = "=>" ] || continue
      [[ "$name" =~ $provided || "$name" =~ $device ]] && continue
      if [ "$path" = not ]; then
        bad+="  $(basename "$f") needs $name: not found"$'\n'
      elif [[ "$path" != "$libdir"/* ]]; then
        bad+="  $(basename "$f") needs $name, found only at $path (not carried in $dir/lib)"$'\n'
      fi
    done <<< "$out"
  done
  [ -z "$bad" ] || die "libraries the GPU machine would lack:"$'\n'"$bad""copy them into $dir/lib (the list is in tests/gpu/prepare.sh)"
  say "ldd: every library of $dir/bin resolves into $dir/lib or comes with the GPU machine (cuDNN, NCCL, driver, glibc, libstdc++)"
}
trap 'rc=$?; [ $rc = 0 ] || echo "prepare: stopped (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' EXIT

mode=gpu build=build-gpu dest=.gpu
if [ "${1:-}" = --check ]; then
  dest=${2:?usage: prepare.sh --check DIR}
  [ -d "$dest/bin" ] && [ -d "$dest/lib" ] || die "$dest has no bin/ and lib/ (run bash tests/gpu/prepare.sh)"
  mode=check
elif [ "${1:-}" = --rehearse ]; then
  mode=rehearse build=${2:?usage: prepare.sh --rehearse BUILD_DIR} dest=${2}/gpu-rehearse
elif [ $# -gt 0 ]; then
  echo "usage: bash tests/gpu/prepare.sh [--rehearse BUILD_DIR | --check DIR]" >&2
  exit 2
fi

if [ "$mode" = check ]; then
  :
elif [ "$mode" = gpu ]; then
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  say "building $build (CUDA sm_90, Release, no -march=native)"
  mkdir -p "$build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCORDSEG_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCORDSEG_NATIVE=OFF -DCORDSEG_CUDA_EMUL=OFF > "$build/prepare.configure.log" 2>&1 ||
    die "cmake configure failed; see $build/prepare.configure.log"
  cmake --build "$build" -j"$(nproc)" --target gpu_backend_ops gpu_torch_ref gpu_bench > "$build/prepare.build.log" 2>&1 ||
    die "build failed; see $build/prepare.build.log"
  bins=("$build/gpu_backend_ops:gpu_backend_ops" "$build/gpu_torch_ref:gpu_torch_ref" "$build/gpu_bench:gpu_bench")
else
  bins=("$build/test_backend_ops_emul:gpu_backend_ops" "$build/gpu_torch_ref_emul:gpu_torch_ref"
    "$build/gpu_bench_emul:gpu_bench")
fi
[ "$mode" = check ] && { check_ldd "$dest"; trap - EXIT; exit 0; }
rm -rf "$dest" && mkdir -p "$dest/bin" "$dest/lib"
for b in "${bins[@]}"; do
  src=${b%%:*} name=${b##*:}
  [ -x "$src" ] || die "$src is missing (build it first: cmake --build $build)"
  cp "$src" "$dest/bin/$name"
done
strip "$dest"/bin/*

# the libraries to carry, from the linker cache (read whole into a variable: no early-closing pipe)
cache=$(ldconfig -p)
for l in libdnnl.so.2 libOpenCL.so.1 libgomp.so.1; do
  p=$(awk -v l="$l" '$1 == l && /x86-64/ {print $NF}' <<< "$cache")
  p=${p%%$'\n'*}
  [ -n "$p" ] && [ -f "$p" ] || die "$l is not installed here (bash jobs/install-deps.sh installs it)"
  cp -L "$p" "$dest/lib/"
done

check_ldd "$dest"
libdir=$(cd "$dest/lib" && pwd)

# each binary starts here; without a GPU it skips with 77
if [ "$mode" = gpu ]; then
  for f in "$dest"/bin/*; do
    rc=0
    msg=$(LD_LIBRARY_PATH="$libdir" CORDSEG_TEST_DEVICE=cuda "$f" 2>&1) || rc=$?
    [ "$rc" = 77 ] || die "$f did not start and skip here (exit $rc, expected 77 without a GPU): ${msg: -400}"
    say "$(basename "$f") starts and skips here (77): $(tail -n 1 <<< "$msg")"
  done
else
  rc=0
  msg=$(LD_LIBRARY_PATH="$libdir" "$dest/bin/gpu_bench" --help 2>&1) || rc=$?
  [ "$rc" = 0 ] || die "$dest/bin/gpu_bench --help failed (exit $rc): $msg"
fi

# the manifest: what was built from what, and every file's hash and size
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit-dirty"
flags=$(grep -E '^(CMAKE_BUILD_TYPE|CMAKE_CUDA_ARCHITECTURES|CORDSEG_NATIVE|CORDSEG_WITH_CUDA|CORDSEG_CUDA_EMUL|CMAKE_C_COMPILER|CMAKE_CUDA_COMPILER):' \
  "$build/CMakeCache.txt" | tr '\n' ' ' || true)
{
  echo "# cordseg GPU-check carry folder ($mode), made by tests/gpu/prepare.sh"
  echo "# commit: $commit"
  echo "# made: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  echo "# build: $flags"
  (cd "$dest" && for f in bin/* lib/*; do
    echo "$(sha256sum "$f" | cut -d' ' -f1) $(stat -c %s "$f") $f"
  done)
} > "$dest/MANIFEST"
trap - EXIT
say "$dest is $(du -sh "$dest" | cut -f1), $(grep -vc '^#' "$dest/MANIFEST") files in $dest/MANIFEST (commit $commit)"
[ "$mode" = gpu ] && say "next: device run with carry [\".gpu\"], command \"bash tests/gpu/device-check.sh\", timeout_s 480"
exit 0
