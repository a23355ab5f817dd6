#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Starts (or, after a preemption or a crash, resumes) a named training run in the background,
# so it outlives the SSH session: in tmux when available, else under nohup.
# Usage: datasets/cloud/start-run.sh NAME CONFIG.ron [train-app train options...]
#   e.g. datasets/cloud/start-run.sh line-v2 datasets/configs/line-v2.ron --devices cuda:0,cuda:1
# The run directory is $RUNS/NAME, the log $RUNS/NAME.log. A mid-epoch checkpoint is saved
# every $CHECKPOINT_EVERY (default 10m); SIGTERM saves and stops; running this script again
# continues from the newest checkpoint. Set MLFLOW_TRACKING_URI to log to an MLflow server.
set -euo pipefail
source "$(dirname "$0")/common.sh"
name=${1:-}
config=${2:-}
need_name "$name"
shift 2 || die "usage: $0 NAME CONFIG.ron [train options...]"
run=$RUNS/$name
log=$RUNS/$name.log
mkdir -p "$RUNS"

if compgen -G "$run/checkpoint/model-*.bpk" >/dev/null ||
  compgen -G "$run/checkpoint/step/model-*.bpk" >/dev/null; then
  echo "resuming $run"
  cmd=("$TRAIN_APP" train --resume "$run")
  # The weights come from the checkpoint now.
  args=()
  while [[ $# -gt 0 ]]; do
    if [[ $1 == --init-from ]]; then shift 2; continue; fi
    args+=("$1")
    shift
  done
  set -- "${args[@]}"
else
  [[ -f $config ]] || die "no config file '$config'"
  cmd=("$TRAIN_APP" train --config "$config" --run-dir "$run")
  # A run that died before its first checkpoint starts over.
  rm -rf "$run"
fi
cmd+=(--log-progress "$@")
[[ " $* " == *" --checkpoint-every "* ]] || cmd+=(--checkpoint-every "${CHECKPOINT_EVERY:-10m}")

if [[ -f $run.pid ]] && kill -0 "$(cat "$run.pid")" 2>/dev/null; then
  die "run $name is already going (pid $(cat "$run.pid")); follow it with follow.sh $name"
fi
# A launcher that records its pid, then becomes train-app (so the pid is train-app's).
launcher=$run.sh
{
  echo '#!/usr/bin/env bash'
  printf 'echo $$ > %q\n' "$run.pid"
  printf 'exec'
  printf ' %q' "${cmd[@]}"
  printf ' >> %q 2>&1\n' "$log"
} > "$launcher"
rm -f "$run.pid"
if command -v tmux >/dev/null && [[ ${NO_TMUX:-0} != 1 ]]; then
  tmux new-session -d -s "$name" "bash $(printf %q "$launcher")"
  echo "started in tmux session '$name' (attach: tmux attach -t $name)"
else
  nohup bash "$launcher" > /dev/null 2>&1 &
  echo "started under nohup"
fi
echo "log: $log"
