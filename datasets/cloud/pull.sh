#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# On your own machine: copies a run (logs, metrics, checkpoints) and its staged model home.
# Usage: datasets/cloud/pull.sh USER@HOST NAME [REMOTE_CHECKOUT]   (default checkout: text-recognizer)
set -euo pipefail
source "$(dirname "$0")/common.sh"
host=${1:-}
name=${2:-}
remote=${3:-text-recognizer}
[[ -n $host ]] || die "usage: $0 USER@HOST NAME [REMOTE_CHECKOUT]"
need_name "$name"
mkdir -p "$RUNS" "$STAGED"
rsync -az --info=progress2 "$host:$remote/runs/$name" "$host:$remote/runs/$name.log" "$RUNS/"
rsync -az "$host:$remote/staged/$name.htr" "$STAGED/" || echo "no staged model yet (stage.sh $name on the instance)"
