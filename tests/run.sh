#!/usr/bin/env bash
# tests/run.sh: the README's test command (and what CI runs): installs what is
# missing (with python3-torch for the PyTorch reference test), builds with
# warnings as errors into ./build-test, runs every ctest. Each test is
# announced with its expected duration (its time in the previous run, else
# the 2-core figures below); skipped tests are listed at the
# end with their reasons (from Testing/Temporary/LastTest.log).
# Arguments go to ctest (e.g. `bash tests/run.sh -R test_cmake_install`).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
say() { echo "tests [$((SECONDS - t0)) s]: $*"; }
say "packages (scripts/install-deps.sh --tests; python3-torch alone is about 200 MB on a fresh system)"
bash scripts/install-deps.sh --tests
say "configure and build ./build-test with -Werror (about 1 min on 2 cores the first time)"
bash scripts/build.sh build-test -DCMAKE_BUILD_TYPE=Release -DCORDSEG_FATAL_WARNINGS=ON
# where nvcc, cuDNN and NCCL are (here: /usr/local/cuda), the CUDA backend must build, warnings as errors
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  if ! grep -q '^CORDSEG_WITH_CUDA:BOOL=ON' build-test/CMakeCache.txt; then
    say "FAIL: nvcc is installed but build-test has no CUDA backend (see cmake's output above)"
    exit 1
  fi
  say "CUDA backend built ($(grep '^CMAKE_CUDA_ARCHITECTURES' build-test/CMakeCache.txt | cut -d= -f2), -Werror)"
else
  say "no nvcc: the CUDA backend is not built; its code still runs under host emulation (test_backend_ops_emul)"
fi
# shared data sets (PAM50 atlas, sct_dmri) for the io tests: $CORDSEG_DATA,
# else ../shared/data beside the checkout
if [ -z "${CORDSEG_DATA:-}" ] && [ -d ../shared/data/PAM50 ]; then
  CORDSEG_DATA=$(cd ../shared/data && pwd)
fi
if [ -n "${CORDSEG_DATA:-}" ]; then
  export CORDSEG_DATA
  say "shared data at $CORDSEG_DATA"
else
  say "no shared data (set CORDSEG_DATA=DIR holding PAM50/ and sct_dmri/, or put them at ../shared/data): the data tests skip"
fi
# expected seconds per test: measured 2026-12-01 on the 2-core CI machine
# (`bash .ci/run`; a loaded machine takes up to 2-3x); the times of this build
# directory's previous run (build-test/ctest.out) win when there are some
declare -A expect=([test_core_overfit]=65 [test_cmd_sweep]=45 [test_torch_ref]=36 [test_cmd_train]=35
  [test_cmd_evaluate]=15 [test_sim_phantom]=7 [test_cmake_install]=6 [test_gpu_rehearse]=200 [test_backend_ops_emul]=20
  [test_cmd_segment]=60 [test_docs_paths]=1 [test_cmd_import]=20 [test_cmd_train_hybrid]=140)
if [ -f build-test/ctest.out ]; then
  while read -r name secs; do expect[$name]=$(printf '%.0f' "$secs"); done < <(
    sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) [ .*]*\(Passed\|Failed\) *\([0-9.]*\) sec.*/\1 \3/p' build-test/ctest.out)
fi
n=$(ctest --test-dir build-test -N "$@" | sed -n 's/^Total Tests: //p')
say "running $n tests (about 10 min on an idle 2-core machine, 2-3x that on a loaded one; long ones announced with their expected time)"
# a test that runs long says so before ctest's limit (900 s) kills it: every
# 15 s, the test that started last and has no result yet; a line at twice its
# expected time (at least 60 s), then every 2 minutes
watch_long() {
  local cur="" t0=0 next=0 now name
  while sleep 15; do
    name=$(awk '/^ *Start +[0-9]+: / { n = $3; d = 0 } /Test +#[0-9]+: / { d = 1 } END { if (!d) print n }' \
      build-test/ctest.out 2>/dev/null)
    now=$SECONDS
    if [ "$name" != "$cur" ]; then
      cur=$name t0=$now e=${expect[$name]:-30}
      next=$((2 * e > 60 ? 2 * e : 60))
      continue
    fi
    if [ -n "$cur" ] && [ $((now - t0)) -ge "$next" ]; then
      echo "tests: $cur still running after about $((now - t0)) s (expected ~${expect[$cur]:-?} s; ctest stops it at 900 s)" >&2
      next=$((next + 120))
    fi
  done
}
: > build-test/ctest.out
watch_long &
watcher=$!
set +e
# stdbuf: ctest writes each result as the test ends, not in blocks when piped;
# each line on as it comes: a bash loop, not awk (Debian's mawk reads its input in
# blocks, which held every result back until 4 KB or the end had arrived)
stdbuf -oL ctest --test-dir build-test --output-on-failure --timeout 900 "$@" 2>&1 | while IFS= read -r line; do
  if [[ $line =~ ^\ *Start\ +[0-9]+:\ ([^ ]+) ]] && [ "${expect[${BASH_REMATCH[1]}]:-0}" -ge 5 ]; then
    line+="  (expect ~${expect[${BASH_REMATCH[1]}]} s)"
  fi
  printf '%s\n' "$line"
done | tee build-test/ctest.out
rc=${PIPESTATUS[0]}
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
set -e
# skipped tests and why: the test's own SKIP line in LastTest.log
skipped=$(sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .*\*\*\*Skipped.*/\1/p' build-test/ctest.out)
if [ -n "$skipped" ]; then
  echo "skipped tests and why:"
  for t in $skipped; do
    why=$(awk -v t="$t" '$0 ~ "^[0-9]+/[0-9]+ Test: " t "$" { on = 1; next } on && /^<end of output>/ { exit }
      on && /SKIP/ { sub(/^.*SKIP(PED)?:? */, ""); print; exit }' build-test/Testing/Temporary/LastTest.log)
    echo "  $t: ${why:-no reason printed (see build-test/Testing/Temporary/LastTest.log)}"
  done
fi
say "done (ctest exit $rc)"
exit "$rc"
