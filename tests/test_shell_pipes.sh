#!/usr/bin/env bash
# tests/test_shell_pipes.sh [SOURCE_DIR]: no shell script that sets pipefail
# pipes into a reader that stops early (grep -q, grep -m, head). When the
# reader exits at its first match the writer dies of SIGPIPE at its next
# write, the pipeline returns 141 and the check fails at random (CI failed
# so on 2026-12-07 with `cordseg report --help | grep -q`; tests/gpu/prepare.sh
# did with `ldconfig -p | awk '{...; exit}'`). Write `grep -q PAT <<<"$(cmd)"`
# instead, or end the line with `# pipe-ok: WHY` where the writer cannot
# outlive the reader. Comment lines are skipped. Fails naming the file and the line.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
bad=0 n=0
while IFS= read -r f; do
  grep -q 'pipefail' "$f" || continue
  n=$((n + 1))
  # `| grep -q`, `| grep -qE`, `| grep -m1`, `| head`, `| awk '...exit...'`
  hits=$(grep -nE "\|[[:space:]]*(grep[[:space:]]+(-[a-zA-Z]*[qm]|--quiet|--max-count)|head([[:space:]]|$)|awk[[:space:]].*[{;][[:space:]]*exit[[:space:]]*[;}])" "$f" \
    | grep -v 'pipe-ok:' | grep -vE '^[0-9]+:[[:space:]]*#' || true) # comment lines (this file's own) are no pipes
  if [ -n "$hits" ]; then
    while IFS= read -r h; do echo "FAIL: $f:${h%%:*}: pipes into a reader that exits early under pipefail: ${h#*:}"; done <<<"$hits"
    bad=$((bad + 1))
  fi
done < <(git ls-files '*.sh' 2>/dev/null || find . -name '*.sh' -not -path './build*')
[ "$n" -gt 0 ] || { echo "FAIL: no shell script with pipefail found (run from the source tree)"; exit 1; }
[ "$bad" = 0 ] || { echo "$bad file(s): write grep -q PAT <<<\"\$(cmd)\", or mark the line '# pipe-ok: WHY'"; exit 1; }
echo "ok: $n scripts with pipefail, none pipes into an early-exiting reader"
