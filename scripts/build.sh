#!/usr/bin/env bash
# scripts/build.sh BUILD_DIR [CMAKE_ARGS...]: configure (scripts/configure.sh: a
# failed configure names the missing Debian package) and build with all
# cores, printing one progress line per 10 % of make's steps and every
# warning and error in full. Used by scripts/quickstart.sh and tests/run.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:?usage: scripts/build.sh BUILD_DIR [CMAKE_ARGS...]}
bash scripts/configure.sh "$@" || exit 1
t0=$SECONDS
cmake --build "$B" -j"$(nproc)" 2>&1 | awk '
  /^\[ *[0-9]+%\] / { p = substr($0, 2, 3) + 0; if (int(p / 10) > last || (p == 100 && !done)) { last = int(p / 10); done = p == 100; print "build: " $0; fflush() } next }
  /^g?make(\[[0-9]+\])?: (Entering|Leaving)/ { next }
  { print; fflush() }'
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || { echo "build: $B failed (exit $rc); the messages are above" >&2; exit 1; }
echo "build: $B built in $((SECONDS - t0)) s"
