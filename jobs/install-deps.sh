#!/usr/bin/env bash
# jobs/install-deps.sh: installs what cordseg needs from Debian 12 (as root,
# or through sudo). Idempotent: packages already present are skipped.
# Usage: jobs/install-deps.sh [--tests]   (--tests adds python3-torch for the
# PyTorch reference test and the benchmark peer)
set -euo pipefail
pkgs=(build-essential cmake git pkg-config libdnnl-dev libhdf5-dev hdf5-tools libnifti2-dev
      libpng-dev zlib1g-dev openmpi-bin libopenmpi-dev libinih-dev libcairo2-dev)
[ "${1:-}" = "--tests" ] && pkgs+=(python3-torch python3-numpy)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
