#!/usr/bin/env bash
# tests/test_cmd_segment_slurm.sh BIN: `cordseg segment --bids DIR -o OUT --slurm`
# on a real Slurm cluster: the single-node one of
# ../shared/slurm/start-local-slurm.sh, started here and stopped at the end (a
# cluster that was already up is used and left up). A tiny model (2 epochs,
# softmax) on a 4-subject phantom written as a BIDS-style folder, sub-04 with
# two sessions (5 units: the array's indices are (subject, session) units):
#  1. --dry-run writes OUT/slurm/subjects.tsv and the two job scripts, queues
#     nothing; --slurm without --bids is refused;
#  2. --slurm submits one array over the 4 subjects and a collect job after it;
#     every subject is segmented by its own array task (its log names it), the
#     collect job writes each subject's BIDS sidecar, OUT/metrics.tsv and
#     OUT/qc.html;
#  3. one subject removed, the same command submits only that one (array
#     index 2); submitted again when all are done, it queues nothing.
# Exit 77 (skip) without the start script, or when Slurm cannot be started.
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
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
T=$(mktemp -d "${TMPDIR:-/tmp}"/cordseg-test-segslurm.XXXXXX)
started=0
cleanup() {
  # our jobs only: the ones jobs.tsv recorded
  [ -f "$T/out/slurm/jobs.tsv" ] && awk -F'\t' 'NR > 1 {print $3}' "$T/out/slurm/jobs.tsv" | xargs -r scancel 2>/dev/null
  if [ "$started" = 1 ]; then
    echo "== stopping the local Slurm cluster"
    bash "$SLURM_SH/stop-local-slurm.sh"
  fi
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
  if ! LOCAL_SLURM_CPUS=${LOCAL_SLURM_CPUS:-4} bash "$SLURM_SH/start-local-slurm.sh" >"$T/start.log" 2>&1; then
    tail -15 "$T/start.log"
    skip "could not start Slurm (no apt, or the daemons failed; log above)"
  fi
  tail -4 "$T/start.log"
fi

fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }
state() { squeue -h -t all -j "$1" -o %T 2>/dev/null | awk 'NR == 1'; }
wait_done() {  # wait_done JOB SECS: until the job has ended
  local i s
  for i in $(seq $(($2 * 2))); do
    s=$(state "$1")
    case "$s" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) return 0 ;; esac
    sleep 0.5
  done
  echo "  (job $1 still '$s' after $2 s)"
  return 1
}
last_job() { awk -F'\t' -v k="$1" '$2 == k { j = $3 } END { print j }' "$T/out/slurm/jobs.tsv"; }

echo "== data and a tiny model"
"$BIN" phantom --pam50 "$PAM50" --subjects 4 --slices 4 -o "$T/c.h5" --nifti "$T/nii" >/dev/null || { echo "FAIL: phantom"; exit 1; }
"$BIN" folds "$T/c.h5" -o "$T/f.txt" --k 2 --val 1 >/dev/null || { echo "FAIL: folds"; exit 1; }
"$BIN" train --config "$SRC/configs/demo.ini" --set loss=hybrid --set store="$T/c.h5" --set folds="$T/f.txt" \
  --set epochs=2 --set ckpt_every_epochs=2 --set warmup_epochs=1 --run-dir "$T/run" > "$T/train.out" 2>&1 \
  || { echo "FAIL: train: $(tail -3 "$T/train.out")"; exit 1; }
"$BIN" export -o "$T/m.h5" "$T/run" > /dev/null 2>&1 || { echo "FAIL: export"; exit 1; }
# 5 units: sub-01..03, and sub-04 with two sessions (sub-04/ses-01/dwi/, sub-04/ses-02/dwi/)
for u in sub-01:1 sub-02:2 sub-03:3 sub-04/ses-01:4 sub-04/ses-02:3; do
  r=${u%:*} i=${u#*:}; d="$T/bids/$r/dwi"; p=$(tr / _ <<<"$r"); mkdir -p "$d"
  cp "$T/nii/sub-00${i}_b0.nii.gz" "$d/${p}_desc-b0.nii.gz"; cp "$T/nii/sub-00${i}_fa.nii.gz" "$d/${p}_FA.nii.gz"
done

echo "== 1. --dry-run, refusals"
queued=$(squeue -h | wc -l)
"$BIN" segment -m "$T/m.h5" --bids "$T/bids" -o "$T/out" --slurm --dry-run --cpus 1 > "$T/dry.out" 2>&1
check "--dry-run: subjects.tsv with 5 pending units (sub-04's two sessions apart), both scripts, nothing queued" \
  "[ $? = 0 ] && [ \$(grep -c \$'\\tpending' '$T/out/slurm/subjects.tsv') = 5 ] && grep -qP '^4\\tsub-04\\tses-02\\tpending' '$T/out/slurm/subjects.tsv' && grep -q -- '--subject-index \"\$task\"' '$T/out/slurm/segment-task.sbatch' && grep -q -- '--collect' '$T/out/slurm/segment-collect.sbatch' && [ \$(squeue -h | wc -l) = $queued ] && [ ! -e '$T/out/slurm/jobs.tsv' ]"
"$BIN" segment -m "$T/m.h5" --b0 "$T/nii/sub-001_b0.nii.gz" -o "$T/x" --slurm > "$T/nobids.out" 2>&1
check "--slurm without --bids: refused" "[ $? != 0 ] && grep -q 'go with --bids' '$T/nobids.out'"

echo "== 2. the array and the collect job"
"$BIN" segment -m "$T/m.h5" --bids "$T/bids" -o "$T/out" --slurm --cpus 1 --throttle 2 > "$T/sub1.out" 2>&1
rc=$?
A=$(last_job array) C=$(last_job collect)
check "--slurm: exit 0, an array over 0-4 (throttle 2) and a collect job recorded" \
  "[ $rc = 0 ] && [ -n '$A' ] && [ -n '$C' ] && grep -q 'array job $A (subjects 0-4%2' '$T/sub1.out'"
[ -n "$C" ] && wait_done "$C" 300
check "every unit segmented by its own task; the collect job completed" \
  "(for i in 0 1 2 3 4; do grep -q \"subject \$i of\" '$T/out/slurm/logs/segment-${A}_'\$i.out || exit 1; done) && [ \"\$(state $C)\" = COMPLETED ]"
check "the collect job wrote the sidecars (sub-04's per session), metrics.tsv (4 subjects, 5 subject/session pairs) and qc.html" \
  "(for r in sub-01 sub-02 sub-03 sub-04/ses-01 sub-04/ses-02; do p=\$(tr / _ <<<\$r); [ -s '$T/out/'\$r/dwi/\${p}_desc-cordseg_dseg.json ] || exit 1; done) && [ \$(cut -f1 '$T/out/metrics.tsv' | sort -u | grep -c '^sub-') = 4 ] && [ \"\$(cut -f1,2 '$T/out/metrics.tsv' | sort -u | grep '^sub-04' | tr '\\t\\n' ':,')\" = 'sub-04:ses-01,sub-04:ses-02,' ] && grep -q 'sub-04/ses-02/dwi/qc.png' '$T/out/qc.html'"

echo "== 3. resubmit only what is missing"
rm -r "$T/out/sub-03"
"$BIN" segment -m "$T/m.h5" --bids "$T/bids" -o "$T/out" --slurm --cpus 1 > "$T/sub2.out" 2>&1
A2=$(last_job array) C2=$(last_job collect)
check "sub-03 removed: the same command submits only index 2" "[ '$A2' != '$A' ] && grep -q 'array job $A2 (subjects 2 of' '$T/sub2.out'"
[ -n "$C2" ] && [ "$C2" != "$C" ] && wait_done "$C2" 300
check "only sub-03 ran again; the new collect job completed" \
  "[ -s '$T/out/slurm/logs/segment-${A2}_2.out' ] && [ \$(ls '$T/out/slurm/logs/' | grep -c 'segment-${A2}_') = 1 ] && [ \"\$(state $C2)\" = COMPLETED ] && [ -s '$T/out/sub-03/dwi/sub-03_desc-cordseg_dseg.json' ]"
"$BIN" segment -m "$T/m.h5" --bids "$T/bids" -o "$T/out" --slurm > "$T/sub3.out" 2>&1
check "all done: nothing submitted" "[ $? = 0 ] && grep -q 'all 5 subjects .* are done' '$T/sub3.out' && [ '$(last_job array)' = '$A2' ]"

if [ $fails -gt 0 ]; then
  echo "--- logs"; tail -n 20 "$T"/out/slurm/logs/*.out
  echo "test_cmd_segment_slurm: $fails check(s) FAILED"
  exit 1
fi
echo "test_cmd_segment_slurm: all checks passed"
