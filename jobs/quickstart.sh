#!/usr/bin/env bash
# jobs/quickstart.sh: the README's main command: installs what is missing,
# builds cordseg in ./build and runs the main job on its embedded default:
#  1. a small CSM-like phantom cohort from the PAM50 atlas (6 subjects x 4
#     slices) -> runs/quickstart/cohort.h5 (+ PNG montage), its summary, folds
#     (skipped with a note when ../shared/data/PAM50 is absent; set PAM50=DIR)
#  2. the smoke job: both UNets (paper widths) trained a few Adam steps on a
#     generated batch, loss printed per step.
# It grows into phantom -> mpirun cordseg train -> evaluate -> report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
./build/cordseg model-info
PAM50=${PAM50:-../shared/data/PAM50}
if [ -f "$PAM50/atlas/info_label.txt" ]; then
  mkdir -p runs/quickstart
  ./build/cordseg phantom --pam50 "$PAM50" --subjects 6 --slices 4 -o runs/quickstart/cohort.h5 \
    --png runs/quickstart/cohort.png
  ./build/cordseg info runs/quickstart/cohort.h5
  ./build/cordseg folds runs/quickstart/cohort.h5 -o runs/quickstart/folds.txt --k 3
else
  echo "quickstart: PAM50 atlas not found at $PAM50 (set PAM50=DIR): phantom cohort skipped"
fi
./build/cordseg demo "$@"
