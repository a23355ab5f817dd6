#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Stages a named run's best checkpoint as $STAGED/NAME.htr (config, alphabet and metrics inside).
# Usage: datasets/cloud/stage.sh NAME
set -euo pipefail
source "$(dirname "$0")/common.sh"
name=${1:-}
need_name "$name"
[[ -f $RUNS/$name/run.ron ]] || die "no run '$name' in $RUNS"
mkdir -p "$STAGED"
"$TRAIN_APP" stage "$RUNS/$name" --name "$name" -o "$STAGED/$name.htr"
ls -l "$STAGED/$name.htr"
