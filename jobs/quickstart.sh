#!/usr/bin/env bash
# jobs/quickstart.sh: the README's main command: installs what is missing,
# builds cordseg in ./build and runs the main job on its embedded default.
# Today that is the smoke job: both UNets (paper widths) trained a few Adam
# steps on a generated batch of cord-like slices, loss printed per step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
./build/cordseg model-info
./build/cordseg demo "$@"
