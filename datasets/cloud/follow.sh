#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Shows how a named run is doing: the latest log lines and its per-epoch metrics.
# Usage: datasets/cloud/follow.sh NAME [--wait]
#   --wait: block until the run's process ends, then print its end (for scripts).
set -euo pipefail
source "$(dirname "$0")/common.sh"
name=${1:-}
need_name "$name"
run=$RUNS/$name
[[ -f $RUNS/$name.log ]] || die "no run '$name' in $RUNS"
if [[ ${2:-} == --wait ]]; then
  # The pid file is written as the run starts (tmux may take a moment).
  for _ in $(seq 50); do [[ -s $run.pid ]] && break; sleep 0.2; done
  while [[ -s $run.pid ]] && kill -0 "$(cat "$run.pid")" 2>/dev/null; do sleep 2; done
fi
tail -n 15 "$RUNS/$name.log"
if [[ -f $run/metrics.csv ]]; then
  echo "== $run/metrics.csv"
  cat "$run/metrics.csv"
fi
if [[ -s $run.pid ]] && kill -0 "$(cat "$run.pid")" 2>/dev/null; then
  echo "== running (pid $(cat "$run.pid")); live: tail -f $RUNS/$name.log"
else
  echo "== not running"
fi
