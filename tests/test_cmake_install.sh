#!/usr/bin/env bash
# tests/test_cmake_install.sh BUILD_DIR: what a cluster admin gets from
# `cmake --install BUILD --prefix P` (an environment module, say):
#  - P/bin/cordseg and P/share/cordseg/{slurm,configs} are installed;
#  - the binary holds no path of the build host's source tree;
#  - `cordseg sweep plan configs/sweep_tiny.ini`, run from the installed tree
#    in an unrelated directory (no CORDSEG_SLURM_DIR), finds its templates
#    under P/share/cordseg/slurm, and still does after the prefix is moved;
#  - without any share directory it stops with a message naming
#    CORDSEG_SLURM_DIR, and CORDSEG_SLURM_DIR then works.
# About 10 s. Without the PAM50 atlas the store is built on the synthetic stand-in (tests/atlas.sh).
set -uo pipefail
BUILD=$(readlink -f "$1")
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${CORDSEG_DATA:-$SRC/../shared/data}
. "$(dirname "$0")/atlas.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/cordseg-test-install.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
unset CORDSEG_SLURM_DIR CORDSEG_BIN

cmake --install "$BUILD" --prefix "$T/p" >"$T/install.out" 2>&1 || { cat "$T/install.out"; echo "FAIL: cmake --install"; exit 1; }
P=$T/p
check "installed bin/cordseg, share/cordseg/slurm (5 templates), share/cordseg/configs" \
  bash -c "[ -x '$P/bin/cordseg' ] && [ -x '$P/share/cordseg/slurm/task-run.sh' -o -f '$P/share/cordseg/slurm/task-run.sh' ] \
    && [ \$(ls '$P/share/cordseg/slurm' | wc -l) -ge 5 ] && [ -f '$P/share/cordseg/configs/sweep_tiny.ini' ] \
    && [ -f '$P/share/cordseg/configs/demo.ini' ]"
n=$(grep -a -c -F "$SRC" "$P/bin/cordseg")
check "the binary holds no build-host source path ($SRC: $n occurrences)" test "$n" = 0

mkdir -p "$T/work" && cd "$T/work" || exit 1
"$P/bin/cordseg" phantom --pam50 "$PAM50" --subjects 8 --slices 4 --size 64 -o tiny.h5 >/dev/null 2>&1 || { echo "FAIL: phantom"; exit 1; }
sed -e "s|^store = .*|store = $T/work/tiny.h5|" "$P/share/cordseg/configs/sweep_tiny.ini" >tiny.ini
plan() { "$1" sweep plan tiny.ini --no-check >"$2" 2>&1; }
plan "$P/bin/cordseg" plan.out
rc=$?
check "installed: sweep plan exits 0 ($rc), 4 tasks, template from $P/share/cordseg/slurm" \
  bash -c "[ $rc = 0 ] && grep -q '4 task(s)' plan.out && grep -q 'template $P/share/cordseg/slurm/task-1gpu.sbatch' plan.out"
[ $rc = 0 ] || cat plan.out
mv "$P" "$T/moved" && P=$T/moved
plan "$P/bin/cordseg" moved.out
rc=$?
check "prefix moved: sweep plan still finds its templates ($rc)" \
  bash -c "[ $rc = 0 ] && grep -q 'template $P/share/cordseg/slurm/task-1gpu.sbatch' moved.out"
mkdir -p "$T/bare/bin" && cp "$P/bin/cordseg" "$T/bare/bin/"
plan "$T/bare/bin/cordseg" bare.out
rc=$?
check "no share directory: exit 1 ($rc) naming CORDSEG_SLURM_DIR" bash -c "[ $rc = 1 ] && grep -q CORDSEG_SLURM_DIR bare.out"
CORDSEG_SLURM_DIR=$P/share/cordseg/slurm plan "$T/bare/bin/cordseg" env.out
rc=$?
check "CORDSEG_SLURM_DIR given: plan exits 0 ($rc)" bash -c "[ $rc = 0 ] && grep -q 'template $P/share/cordseg/slurm' env.out"
[ -e runs ] && fail "plan wrote runs/" || ok "plan wrote nothing"
if [ $fails -gt 0 ]; then echo "test_cmake_install: $fails check(s) FAILED"; exit 1; fi
echo "test_cmake_install: all checks passed"
