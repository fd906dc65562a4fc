#!/usr/bin/env bash
# tests/run.sh: the README's test command (and what CI runs): installs what is
# missing (with python3-torch for the PyTorch reference test), builds with
# warnings as errors into ./build-test, runs every ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/install-deps.sh --tests
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DCORDSEG_FATAL_WARNINGS=ON >/dev/null
cmake --build build-test -j"$(nproc)"
ctest --test-dir build-test --output-on-failure --timeout 900
