#!/usr/bin/env bash
# Shared settings of the cloud scripts (sourced, not run). Every value can be set from outside.
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file

# The checkout the scripts run from.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The train-app binary `setup.sh` builds (a dry run points it at a debug build).
TRAIN_APP=${TRAIN_APP:-$ROOT/target/release/train-app}
# Named runs live in $RUNS/NAME, their logs in $RUNS/NAME.log.
RUNS=${RUNS:-$ROOT/runs}
# Staged models.
STAGED=${STAGED:-$ROOT/staged}

die() {
  echo "error: $*" >&2
  exit 1
}

need_name() {
  [[ ${1:-} =~ ^[A-Za-z0-9._-]+$ ]] || die "a run name is letters, digits, '.', '_' or '-' (got '${1:-}')"
}
