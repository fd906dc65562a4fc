#!/usr/bin/env bash
# scripts/configure.sh BUILD_DIR [CMAKE_ARGS...]: `cmake -S . -B BUILD_DIR ARGS`
# from the repository root, quiet when it works (one line), and when it
# fails: cmake's messages, then which Debian package is missing and the
# command that installs it. Used by scripts/quickstart.sh and tests/run.sh.
set -uo pipefail
SUDO_HINT=$([ "$(id -u)" = 0 ] || echo "sudo ")
cd "$(dirname "$0")/.."
B=${1:?usage: scripts/configure.sh BUILD_DIR [CMAKE_ARGS...]}
shift
mkdir -p "$B"
LOG=$B/configure.log
if ! command -v cmake >/dev/null; then
  echo "configure: cmake is not installed: ${SUDO_HINT}apt-get install --no-install-recommends cmake build-essential" >&2
  echo "configure:   (or everything at once: ${SUDO_HINT}bash scripts/install-deps.sh)" >&2
  exit 1
fi
t0=$SECONDS
if cmake -S . -B "$B" "$@" >"$LOG" 2>&1; then
  echo "configure: $B configured in $((SECONDS - t0)) s (log: $LOG)"
  exit 0
fi
echo "configure: cmake failed; its messages ($LOG):" >&2
grep -v '^--' "$LOG" | sed -n '1,60p' >&2
# known failures -> Debian packages (the pattern is matched in cmake's output)
pkgs=()
hit() { grep -Eq -- "$1" "$LOG" && pkgs+=("${@:2}"); }
hit 'Could NOT find OpenCL|OpenCL_LIBRARY|OpenCL_INCLUDE_DIR' ocl-icd-opencl-dev
hit 'package configuration file provided by "dnnl"|dnnl-config.cmake.*not found|Could not find.*dnnl' libdnnl-dev
hit 'No CMAKE_C_COMPILER could be found|C compiler .* is not able to compile|Could NOT find OpenMP' build-essential
hit 'Could NOT find HDF5' libhdf5-dev
hit 'Could NOT find ZLIB' zlib1g-dev
hit 'Could NOT find PNG' libpng-dev
hit 'Could NOT find PkgConfig|pkg-config tool not found' pkg-config
hit "package 'inih'|No package 'inih' found|INIH" libinih-dev
hit "package 'cairo'|No package 'cairo' found|CAIRO" libcairo2-dev
hit "package 'libcjson'|No package 'libcjson' found|CJSON" libcjson-dev
hit 'Could NOT find MPI' libopenmpi-dev openmpi-bin
hit 'NIFTI_INCLUDE|NIFTI2_LIB|ZNZ_LIB' libnifti2-dev
if [ ${#pkgs[@]} -gt 0 ]; then
  mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
  echo "configure: missing Debian package(s): ${pkgs[*]}" >&2
  echo "configure: install with: ${SUDO_HINT}apt-get install --no-install-recommends ${pkgs[*]}" >&2
  echo "configure:           or: ${SUDO_HINT}bash scripts/install-deps.sh (everything cordseg needs)" >&2
else # not a known pattern: say what of the package list is absent, if anything
  bash scripts/install-deps.sh --check >&2 || true
fi
exit 1
