#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The runbook on this machine, on CPU, with the tiny memorisation config: set-up (no apt, no
# build), a named run, a preemption (SIGTERM) in the middle, the restart that resumes it,
# following it to the end, and staging. CI runs this through `cargo test` (train-app's
# runbook test, which points TRAIN_APP at its debug build and RUNS/STAGED at a scratch folder).
set -euo pipefail
here=$(dirname "$0")
source "$here/common.sh"
export SKIP_APT=1 SKIP_BUILD=1 NO_TMUX=${NO_TMUX:-1}
config=datasets/configs/memorize-tiny.ron
name=dry-run
cd "$ROOT"

"$here/setup.sh" --cpu
"$here/start-run.sh" "$name" "$config" --epochs 4 --epoch-samples 600 --checkpoint-every 20steps
# Preempt it once the first epoch is done. The launcher writes its pid as it starts: until then
# (no file, or an empty one on a loaded machine) the run is starting, not gone.
waited=0
until grep -q "epoch 1/4 valid" "$RUNS/$name.log" 2>/dev/null; do
  pid=$(cat "$RUNS/$name.pid" 2>/dev/null || true)
  if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
    cat "$RUNS/$name.log"
    die "the run ended before its first epoch"
  fi
  if [[ -z $pid ]] && (( ++waited > 240 )); then
    die "the run did not start within 2 minutes"
  fi
  sleep 0.5
done
sleep 1
kill -TERM "$(cat "$RUNS/$name.pid")"
"$here/follow.sh" "$name" --wait
grep -q "stopped (SIGTERM received)" "$RUNS/$name.log" || die "the run did not stop on SIGTERM"

"$here/start-run.sh" "$name" "$config"
"$here/follow.sh" "$name" --wait
grep -q "resuming" "$RUNS/$name.log" || die "the restart did not resume"
[[ $(tail -n +2 "$RUNS/$name/metrics.csv" | wc -l) -eq 4 ]] || die "expected 4 epochs in metrics.csv"

"$here/stage.sh" "$name"
[[ -s $STAGED/$name.htr ]] || die "no staged model"
echo "dry run passed"
