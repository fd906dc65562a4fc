# slurm/task-run.sh: the body of every sweep task, sourced by the task
# script `cordseg sweep submit` renders from slurm/task-*.sbatch (which sets
# SWEEP_DIR, CORDSEG, MAX_REQUEUES, REQUEUE_SIG and the LAUNCH array).
#
# One array task = one row of $SWEEP_DIR/plan.tsv: train, then evaluate, in
# that task's own run directory. Nothing else is written: the configs, folds
# and data check under shared/ are read-only and were made before submission.
#
# Signals. sbatch --signal=B:$REQUEUE_SIG@LEAD sends the requeue signal to
# this batch shell only, LEAD seconds before the time limit (Slurm may send it
# up to a minute early). The shell forwards it to the step it runs (srun and
# Open MPI's mpirun pass it on to every rank); `cordseg train` then writes a
# checkpoint and exits 75. If the task has been requeued fewer than
# MAX_REQUEUES times it requeues itself (`scontrol requeue`, same job id,
# SLURM_RESTART_COUNT + 1) and the next run resumes from the checkpoint.
# SIGTERM (scancel, or the time limit itself) is forwarded the same way; train
# checkpoints and exits 143, and the task ends without requeueing.
#
# Every attempt appends to RUN/attempts.tsv:
#   time job restart start - -
#   time job restart end RC ACTION   (ACTION: finished, already-finished,
#        requeue, requeue-limit, terminated, train-failed, evaluate-failed)
# `cordseg sweep status` reads it. Exit status: 0 when the run is trained
# and evaluated, else the failing step's status.

set -u
task=${SLURM_ARRAY_TASK_ID:?"run me as a Slurm array task (sbatch --array)"}
row=$(awk -F'\t' -v id="$task" '$1 == id' "$SWEEP_DIR/plan.tsv")
if [ -z "$row" ]; then
  echo "cordseg sweep: task $task is not in $SWEEP_DIR/plan.tsv" >&2
  exit 1
fi
IFS=$'\t' read -r _ arm fold seed run config overrides <<<"$row"
RUN="$SWEEP_DIR/$run"
CONFIG="$SWEEP_DIR/$config"
mkdir -p "$RUN" || exit 1
restart=${SLURM_RESTART_COUNT:-0}

note() {  # note EVENT RC ACTION
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date +%Y-%m-%dT%H:%M:%S)" "${SLURM_JOB_ID:-0}" "$restart" "$1" "$2" "$3" \
    >>"$RUN/attempts.tsv"
}
finish() { note end "$1" "$2"; exit "$1"; }

echo "cordseg sweep task $task ($arm: ${overrides:-no axes}) on $(hostname), job ${SLURM_JOB_ID:-?}, restart $restart"
echo "  run dir $RUN"
note start - -
if [ -f "$RUN/DONE" ] && [ -f "$RUN/eval/summary.json" ]; then
  echo "  already finished: nothing to do"
  finish 0 already-finished
fi

# run_step CMD...: runs CMD in the background so that this shell can take
# signals while it waits, forwards them to CMD, returns CMD's exit status.
child=0
interrupted=0
forward() {
  echo "  got SIG$1: passing it on to the step (pid $child)"
  interrupted=1
  [ "$child" -gt 0 ] && kill -s "$1" "$child" 2>/dev/null
}
run_step() {
  "$@" &
  child=$!
  local rc
  while :; do
    interrupted=0
    wait "$child"
    rc=$?
    # a trapped signal interrupts `wait` (status > 128): wait again for the real exit status
    [ "$rc" -gt 128 ] && [ "$interrupted" = 1 ] && continue
    break
  done
  child=0
  return "$rc"
}
trap 'forward "$REQUEUE_SIG"' "$REQUEUE_SIG"
trap 'forward TERM' TERM

export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
# GPU jobs: one GPU per rank, bound to it (the CUDA backend picks the local
# rank's device; a rank that would share a GPU is refused with host and rank)
if [ "${LAUNCH[0]:-}" = srun ] && [ "${SLURM_GPUS_ON_NODE:-0}" -gt 0 ]; then
  LAUNCH=(srun --gpus-per-task=1 --gpu-bind=single:1 "${LAUNCH[@]:1}")
fi
run_step "${LAUNCH[@]}" "$CORDSEG" train --config "$CONFIG" --run-dir "$RUN"
rc=$?
case $rc in
  0) ;;
  75)
    if [ "$restart" -lt "$MAX_REQUEUES" ]; then
      echo "  train checkpointed for requeue (exit 75): requeue $((restart + 1)) of $MAX_REQUEUES"
      note end 75 requeue
      scontrol requeue "$SLURM_JOB_ID" && exit 0
      echo "  scontrol requeue failed: resubmit with \`cordseg sweep resubmit $SWEEP_DIR\`"
    else
      echo "  train checkpointed for requeue but the task was requeued $restart times (max_requeues):" \
           "\`cordseg sweep resubmit $SWEEP_DIR\` continues it"
    fi
    finish 75 requeue-limit ;;
  143) echo "  train stopped by SIGTERM after a checkpoint"; finish 143 terminated ;;
  *) echo "  train failed (exit $rc): see the log above"; finish "$rc" train-failed ;;
esac

# evaluation is short and not restartable mid-way: the requeue signal is only logged now
trap 'echo "  got SIG$REQUEUE_SIG during evaluation: finishing it"; interrupted=1' "$REQUEUE_SIG"
run_step "$CORDSEG" evaluate "$RUN"
rc=$?
[ "$rc" = 0 ] || { echo "  evaluate failed (exit $rc)"; finish "$rc" evaluate-failed; }
finish 0 finished
