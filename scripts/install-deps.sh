#!/usr/bin/env bash
# scripts/install-deps.sh: installs what cordseg needs from Debian 12 (as root,
# or through sudo). Idempotent: packages already present are skipped.
# Usage: scripts/install-deps.sh [--tests] [--check]
#   --tests  adds python3-torch (the PyTorch reference test and the benchmark
#            peer), clang (the fuzz harnesses) and what the test scripts use
#   --check  only lists the missing packages and the command that installs
#            them (exit 1 if any is missing); installs nothing
# apt's download size is shown, then one progress line per tenth of the
# downloads and of the package set-ups; apt's whole output goes to
# ${TMPDIR:-/tmp}/cordseg-install-deps.log (printed in full on failure).
set -euo pipefail
# libdnnl-dev only *recommends* the OpenCL headers and loader, but its cmake
# config (find_package(dnnl)) requires them: ocl-icd-opencl-dev.
pkgs=(build-essential cmake git pkg-config libdnnl-dev ocl-icd-opencl-dev libhdf5-dev hdf5-tools libnifti2-dev
      libpng-dev zlib1g-dev openmpi-bin libopenmpi-dev libinih-dev libcairo2-dev libcjson-dev)
# CORDSEG_DEPS_OMIT="PKG ...": leave these out (tests/fresh-root.sh --omit
# proves that a missing package makes the fresh-root check fail)
if [ -n "${CORDSEG_DEPS_OMIT:-}" ]; then
  keep=()
  for p in "${pkgs[@]}"; do [[ " $CORDSEG_DEPS_OMIT " == *" $p "* ]] || keep+=("$p"); done
  pkgs=("${keep[@]}")
  echo "install-deps: CORDSEG_DEPS_OMIT: leaving out $CORDSEG_DEPS_OMIT"
fi
check_only=0
SUDO_HINT=$([ "$(id -u)" = 0 ] || echo "sudo ")
for a in "$@"; do
  case $a in
    --tests) pkgs+=(python3 python3-torch python3-numpy procps clang) ;;
    --check) check_only=1 ;;
    *) echo "install-deps: unknown option '$a' (use --tests, --check)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  grep -q 'install ok installed' <<<"$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
if [ $check_only = 1 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}"
  echo "install-deps: install them with: ${SUDO_HINT}apt-get install --no-install-recommends ${missing[*]}"
  echo "install-deps:              or: ${SUDO_HINT}bash scripts/install-deps.sh"
  exit 1
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive # no prompts, no dialog frontend warnings
LOG=${TMPDIR:-/tmp}/cordseg-install-deps.log
: >"$LOG"
t0=$SECONDS
step() { echo "install-deps [$((SECONDS - t0)) s]: $*"; }
apt_run() { # apt_run ARGS...: apt-get with its output in $LOG, failing loudly
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 "$@" >>"$LOG" 2>&1; then
    echo "install-deps: 'apt-get $*' failed; its output ($LOG):" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
}
step "missing: ${missing[*]}"
step "apt-get update (the package lists, about 10-30 s) ..."
apt_run update
# apt-utils first (small): without it debconf prints "delaying package
# configuration, since apt-utils is not installed" for every package below
if ! grep -q 'install ok installed' <<<"$(dpkg-query -W -f='${Status}' apt-utils 2>/dev/null)"; then
  step "installing apt-utils ..."
  apt_run install -y --no-install-recommends apt-utils
fi
step "installing ${#missing[@]} packages (apt prints the download size; progress below) ..."
set +e
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o Dpkg::Use-Pty=0 \
  "${missing[@]}" 2>&1 | tee -a "$LOG" | awk '
  function tick(kind, n,   p) {
    if (total <= 0) return
    p = int(10 * n / total)
    if (p > last[kind]) { last[kind] = p; printf "install-deps: %s %d/%d packages (%d%%)\n", kind, n, total, 100 * n / total; fflush() }
  }
  /^Need to get|^After this operation/ { print "install-deps: apt: " $0; fflush() }
  / newly installed/ { total = $1 + $3 }
  /^Get:/ { tick("downloaded", ++got) }
  /^Unpacking / { tick("unpacked", ++unp) }
  /^Setting up / { tick("set up", ++set) }
  /^E: |^dpkg: error|^Errors were encountered/ { print; fflush() }'
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
  echo "install-deps: apt-get install failed (exit $rc); its output ($LOG):" >&2
  tail -n 40 "$LOG" >&2
  exit 1
fi
step "done"
