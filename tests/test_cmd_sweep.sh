#!/usr/bin/env bash
# tests/test_cmd_sweep.sh BIN: `cordseg sweep` on a real Slurm cluster: the
# single-node one of ../shared/slurm/start-local-slurm.sh (munge, slurmctld,
# slurmd on this machine), started here and stopped at the end (a cluster
# that was already up is used and left up). About 2 minutes.
#  1. bad input is refused at plan/submit time and nothing is queued or
#     created: an unknown axis value, resources the partition cannot
#     satisfy, a missing data file;
#  2. configs/sweep_tiny.ini (2 arms, paired by [zip], x 2 folds; real
#     `cordseg train`, a few steps on CPU) is submitted as one array + one
#     report job; submit returns at once;
#  3. task 0 gets the requeue signal mid-run (scancel --signal=USR2 --batch,
#     what --signal=B:USR2@LEAD does before the time limit): it checkpoints,
#     requeues itself (same job, restart 1), resumes and finishes;
#  4. task 1 is killed mid-run (scancel): it checkpoints and ends; the
#     chained report still runs (afterany) and lists 3 of 4 runs;
#  5. `sweep status` shows it failed, `sweep resubmit` queues only task 1
#     (a second resubmit while it runs queues nothing); it resumes from its
#     checkpoint; the new report has all 4 runs; finished tasks never ran
#     again; shared/ is unchanged and read-only.
# Exit 77 (skip) without the start script, or when
# Slurm cannot be started (not root, no apt).
set -uo pipefail
BIN=$(readlink -f "$1")
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${CORDSEG_DATA:-$SRC/../shared/data}
skip() { echo "SKIPPED: $*"; exit 77; }
. "$(dirname "$0")/atlas.sh"
SLURM_SH=""
for d in "$SRC/../shared/slurm" "$DATA/../slurm"; do
  [ -f "$d/start-local-slurm.sh" ] && SLURM_SH=$(cd "$d" && pwd) && break
done
[ -n "$SLURM_SH" ] || skip "start-local-slurm.sh not found in ../shared/slurm"

T=$(mktemp -d "${TMPDIR:-/tmp}"/cordseg-test-sweep.XXXXXX)
started=0
cleanup() {
  # our jobs only: the ones jobs.tsv recorded
  [ -f "$T/sw/jobs.tsv" ] && awk -F'\t' 'NR > 1 {print $3}' "$T/sw/jobs.tsv" | xargs -r scancel 2>/dev/null
  if [ "$started" = 1 ]; then
    echo "== stopping the local Slurm cluster"
    bash "$SLURM_SH/stop-local-slurm.sh"
  fi
  chmod -R u+w "$T" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

if command -v scontrol >/dev/null && grep -q 'is UP' <<<"$(scontrol ping 2>/dev/null)" &&
   grep -qE 'idle|mixed|alloc' <<<"$(sinfo -h -o %T 2>/dev/null)"; then
  echo "== using the Slurm cluster that is already up (left running)"
else
  [ "$(id -u)" = 0 ] || skip "starting a local Slurm needs root"
  echo "== starting a local Slurm cluster ($SLURM_SH/start-local-slurm.sh)"
  started=1
  if ! bash "$SLURM_SH/start-local-slurm.sh" >"$T/start.log" 2>&1; then
    tail -15 "$T/start.log"
    skip "could not start Slurm (no apt, or the daemons failed; log above)"
  fi
  tail -4 "$T/start.log"
fi

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
state() { squeue -h -t all -j "$1" -o %T 2>/dev/null | awk 'NR == 1'; }
wait_done() {  # wait_done JOB SECS: until the (report) job has ended
  local i s
  for i in $(seq $(($2 * 2))); do
    s=$(state "$1")
    case "$s" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) return 0 ;; esac
    sleep 0.5
  done
  echo "  (job $1 still '$s' after $2 s)"
  return 1
}
rows() { [ -f "$1/log.csv" ] && echo $(($(wc -l <"$1/log.csv") - 1)) || echo 0; }
# attempts.tsv: time job restart event rc action (slurm/task-run.sh)
starts() { awk -F'\t' '$4 == "start"' "$1/attempts.tsv" 2>/dev/null | wc -l; }
attempt() { awk -F"\t" -v r="$2" -v e="$3" -v rc="${4:-}" -v a="${5:-}" '$3 == r && $4 == e && (rc == "" || $5 == rc) && (a == "" || $6 == a) { f = 1 } END { exit !f }' "$1/attempts.tsv" 2>/dev/null; }

echo "== data"
"$BIN" phantom --pam50 "$PAM50" --subjects 8 --slices 4 --size 64 -o "$T/tiny.h5" >/dev/null || { echo "FAIL: phantom"; exit 1; }
launcher=srun
grep -qw pmix <<<"$(srun --mpi=list 2>&1)" || launcher=direct
sed -e "s|^store = .*|store = $T/tiny.h5|" -e "s|^dir = .*|dir = $T/sw|" -e "s|^launcher = .*|launcher = $launcher|" \
  "$SRC/configs/sweep_tiny.ini" >"$T/tiny.ini"

echo "== 1. bad input: refused before anything is queued"
queued=$(squeue -h | wc -l)
bad() {  # bad NAME SED-EXPR EXPECTED-TEXT
  sed -e "$2" "$T/tiny.ini" >"$T/bad-$1.ini"
  "$BIN" sweep plan "$T/bad-$1.ini" >"$T/bad-$1.out" 2>&1
  local rc=$?
  if [ $rc = 1 ] && grep -q -- "$3" "$T/bad-$1.out"; then ok "plan refuses $1: $(grep error "$T/bad-$1.out" | cut -c1-150)"
  else fail "plan of $1 exited $rc: $(cat "$T/bad-$1.out")"; fi
}
bad unknown-value 's/^loss = hybrid hdl/loss = hybrid dice/' "'dice' is not one of"
bad unknown-axis 's/^fold = all/fold = all\ndepth = 3 4/' "axis 'depth': unknown key 'depth'"
bad too-many-cpus 's/^cpus_per_task = 1/cpus_per_task = 4096/' "CPUs per node"
bad no-partition 's/^\[slurm\]/[slurm]\npartition = nosuch/' "partition 'nosuch' does not exist"
bad missing-store "s|^store = .*|store = $T/none.h5|" "none.h5' cannot be read"
"$BIN" sweep submit "$T/bad-missing-store.ini" >"$T/bad-submit.out" 2>&1
rc=$?
check "submit of a bad sweep exits 1 ($rc), creates no sweep dir, queues nothing" \
  test $rc = 1 -a ! -e "$T/sw" -a "$(squeue -h | wc -l)" = "$queued"

echo "== 2. plan and submit configs/sweep_tiny.ini"
"$BIN" sweep plan "$T/tiny.ini" >"$T/plan.out" 2>&1
rc=$?
check "plan lists 4 tasks and writes nothing" \
  bash -c "[ $rc = 0 ] && grep -q '4 task(s)' '$T/plan.out' && grep -q 'runs/resnet50-hdl-b0/fold1-seed11' '$T/plan.out' && [ ! -e '$T/sw' ]"
[ $rc = 0 ] || cat "$T/plan.out"
t0=$SECONDS
"$BIN" sweep submit "$T/tiny.ini" | tee "$T/submit.out"
A=$(sed -n 's/^submitted: array job \([0-9]*\).*/\1/p' "$T/submit.out")
R1=$(sed -n 's/.*report job \([0-9]*\).*/\1/p' "$T/submit.out")
[ -n "$A" ] && [ -n "$R1" ] || { echo "FAIL: submit printed no job ids"; exit 1; }
check "submit returned at once ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -lt 30
check "report job $R1 depends on array $A (afterany)" \
  grep -q "Dependency=afterany:${A}" <<<"$(scontrol show job "$R1")"
check "array throttle %2 in effect" grep -q 'ArrayTaskThrottle=2' <<<"$(scontrol show job "$A")"
check "shared inputs made before the jobs ran: folds, data check, 4 configs, read-only" \
  bash -c "[ -f '$T/sw/shared/data-check.txt' ] && [ -f '$T/sw/shared/configs/task-003.ini' ] && [ \$(stat -c %a '$T/sw/shared') = 555 ] && [ \$(stat -c %a '$T/sw/shared/folds.txt') = 444 ]"
shared_sum=$(cd "$T/sw/shared" && find . -type f | sort | xargs sha1sum | sha1sum)

R0=$T/sw/runs/vgg16-hybrid-b0/fold0-seed11
R1DIR=$T/sw/runs/vgg16-hybrid-b0/fold1-seed11
echo "== 3./4. requeue signal to task 0 and scancel of task 1, both mid-run"
for _ in $(seq 240); do
  [ "$(rows "$R0")" -ge 2 ] && [ "$(rows "$R1DIR")" -ge 2 ] && break
  sleep 0.5
done
echo "  task 0 at epoch $(rows "$R0"), task 1 at epoch $(rows "$R1DIR")"
scancel "${A}_1"
check "task 1 was mid-run when killed (no DONE yet)" test ! -f "$R1DIR/DONE"
# scancel --signal retries for ~18 s while the job requeues and would then
# signal the requeued run as well: stop it once the signal is out
timeout 4 scancel --signal=USR2 --batch "${A}_0"
wait_done "$R1" 240 || fail "first report job did not end"
"$BIN" sweep status "$T/sw" | tee "$T/status1.out"
check "task 0: requeued itself after the signal (exit 75, restart 1), resumed, finished" \
  eval "attempt '$R0' 0 end 75 requeue && attempt '$R0' 1 start && attempt '$R0' 1 end 0 finished &&
        grep -q 'resuming from' '$T/sw/slurm/logs/task-${A}_0.out' && [ -f '$R0/DONE' ] && [ -f '$R0/eval/summary.json' ]"
check "task 1: stopped by SIGTERM with a checkpoint (exit 143), no DONE" \
  eval "attempt '$R1DIR' 0 end 143 terminated && [ -f '$R1DIR/ckpt/last.h5' ] && [ ! -f '$R1DIR/DONE' ]"
check "status: task 1 failed, 3 finished" \
  bash -c "grep -qE '^ +1  failed' '$T/status1.out' && grep -q '3 finished' '$T/status1.out' && grep -q '1 task(s) neither finished nor queued' '$T/status1.out'"
check "first report (after the array, afterany) ran and lists 3 of 4 runs" \
  bash -c "grep -q 'report: 4 runs found, 3 aggregated' '$T/sw/slurm/logs/report-$R1.out' && [ -f '$T/sw/report/index.html' ]"

echo "== 5. resubmit"
"$BIN" sweep resubmit "$T/sw" | tee "$T/resubmit.out"
A2=$(sed -n 's/^submitted: array job \([0-9]*\).*/\1/p' "$T/resubmit.out")
R2=$(sed -n 's/.*report job \([0-9]*\).*/\1/p' "$T/resubmit.out")
check "resubmit queues only task 1 (array $A2, report $R2)" \
  bash -c "grep -q 'resubmitting 1 task(s): 1 ' '$T/resubmit.out' && [ \"\$(tail -2 '$T/sw/jobs.tsv' | cut -f2,4 | tr '\t\n' ' ')\" = 'array 1 report 1 ' ]"
"$BIN" sweep resubmit "$T/sw" >"$T/resubmit2.out" 2>&1
check "a second resubmit while task 1 is queued queues nothing" \
  bash -c "grep -q 'nothing to resubmit' '$T/resubmit2.out' && grep -q 'task 1 is' '$T/resubmit2.out'"
[ -n "$R2" ] && { wait_done "$R2" 240 || fail "second report job did not end"; }
"$BIN" sweep status "$T/sw" | tee "$T/status2.out"
check "status: all 4 tasks finished" bash -c "grep -q '4 task(s): 4 finished' '$T/status2.out'"
check "task 1 resumed from its checkpoint" bash -c "grep -q 'resuming from' '$T/sw/slurm/logs/task-${A2}_1.out'"
check "finished tasks never ran again (starts: task 0 $(starts "$R0"), task 2 $(starts "$T/sw/runs/resnet50-hdl-b0/fold0-seed11"), task 3 $(starts "$T/sw/runs/resnet50-hdl-b0/fold1-seed11"))" \
  bash -c "[ $(starts "$R0") = 2 ] && [ $(starts "$T/sw/runs/resnet50-hdl-b0/fold0-seed11") = 1 ] && [ $(starts "$T/sw/runs/resnet50-hdl-b0/fold1-seed11") = 1 ] && [ ! -e '$T/sw/slurm/logs/task-${A2}_0.out' ]"
check "the chained report has all 4 results" \
  bash -c "grep -q 'report: 4 runs found, 4 aggregated' '$T/sw/slurm/logs/report-$R2.out' && [ -f '$T/sw/report/index.html' ]"
check "shared/ unchanged by the tasks" test "$(cd "$T/sw/shared" && find . -type f | sort | xargs sha1sum | sha1sum)" = "$shared_sum"
"$BIN" sweep resubmit "$T/sw" >"$T/resubmit3.out" 2>&1
check "resubmit of a finished sweep queues nothing" grep -q 'nothing to resubmit.*4 finished' "$T/resubmit3.out"

if [ $fails -gt 0 ]; then
  echo "--- task logs"; tail -n 20 "$T"/sw/slurm/logs/*.out
  echo "test_cmd_sweep: $fails check(s) FAILED"
  exit 1
fi
echo "test_cmd_sweep: all checks passed"
