#!/usr/bin/env bash
# tests/run.sh: the README's test command (and what CI runs): installs what is
# missing (with python3-torch for the PyTorch reference test), builds with
# warnings as errors into ./build-test, runs every ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/install-deps.sh --tests
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DCORDSEG_FATAL_WARNINGS=ON >/dev/null
cmake --build build-test -j"$(nproc)"
# shared data sets (PAM50 atlas, sct_dmri) for the io tests: $CORDSEG_DATA, else
# ../shared/data beside the checkout, else the workplace's /work/shared/data
if [ -z "${CORDSEG_DATA:-}" ]; then
  for d in ../shared/data /work/shared/data; do
    [ -d "$d/PAM50" ] && export CORDSEG_DATA="$(cd "$d" && pwd)" && break
  done
fi
echo "tests: shared data at ${CORDSEG_DATA:-<none: data tests skip>}"
ctest --test-dir build-test --output-on-failure --timeout 900
