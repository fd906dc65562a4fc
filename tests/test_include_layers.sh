#!/usr/bin/env bash
# tests/test_include_layers.sh [SOURCE_DIR]: the folders are floors, and a file
# includes only from its own floor or below. Fails, naming the file, the line
# and the rule, on any upward (or sideways) #include "folder/...":
#   core/   core/ only (core/cpu and core/cuda included)
#   io/     core/, io/                 formats and data preparation
#   sim/    core/, io/, sim/           the phantom, its anatomy, --compare, synthetic batches
#   slurm/  core/, io/, slurm/         sweep files, tasks, the Slurm calls
#   jobs/   core/, io/, jobs/          the engines (train, predict, evaluate, segment, report)
#   cmd/    everything                 thin commands, the CLI and main.c
# Generated headers without a folder (cordseg_git.h) are allowed in jobs/ and cmd/.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
declare -A ALLOW=(
  [core]="core"
  [io]="core io"
  [sim]="core io sim"
  [slurm]="core io slurm"
  [jobs]="core io jobs"
  [cmd]="core io sim slurm jobs cmd"
)
bad=0 n=0
for floor in "${!ALLOW[@]}"; do
  [ -d "$floor" ] || { echo "layers: folder $floor/ is missing" >&2; bad=1; continue; }
  while IFS= read -r f; do
    n=$((n + 1))
    while IFS=: read -r line inc; do
      target=${inc%%/*}
      if [ "$target" = "$inc" ]; then # no folder: a generated header
        case "$floor:$inc" in jobs:cordseg_git.h | cmd:cordseg_git.h) continue ;; esac
        echo "layers: $f:$line includes \"$inc\" (no folder; $floor/ may include ${ALLOW[$floor]})" >&2
        bad=1
        continue
      fi
      case " ${ALLOW[$floor]} " in *" $target "*) ;; *)
        echo "layers: $f:$line includes \"$inc\": $floor/ may include only ${ALLOW[$floor]}/" >&2
        bad=1 ;;
      esac
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/' || true)
  done < <(find "$floor" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cpp' \) | sort)
done
[ "$n" -gt 0 ] || { echo "layers: no source files found under $(pwd)" >&2; exit 1; }
if [ "$bad" != 0 ]; then
  echo "layers: FAILED: move the code to the floor it belongs to, or call it through a lower floor" >&2
  exit 1
fi
echo "layers: $n files, every #include on its own floor or below"
