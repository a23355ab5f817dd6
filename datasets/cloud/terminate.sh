#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Ends billing: terminates a Lambda Labs instance through the Lambda Cloud API (shutting the
# OS down does not stop the meter). Copy the run home first (pull.sh): the disk is destroyed.
# Usage: LAMBDA_API_KEY=... datasets/cloud/terminate.sh INSTANCE_ID
#   List your instances and their ids: datasets/cloud/terminate.sh --list
set -euo pipefail
source "$(dirname "$0")/common.sh"
api=${LAMBDA_API:-https://cloud.lambdalabs.com/api/v1}
[[ -n ${LAMBDA_API_KEY:-} ]] || die "set LAMBDA_API_KEY (cloud dashboard > API keys)"
case ${1:-} in
  --list)
    curl -fsS -u "$LAMBDA_API_KEY:" "$api/instances"
    ;;
  "")
    die "usage: $0 INSTANCE_ID | --list"
    ;;
  *)
    curl -fsS -u "$LAMBDA_API_KEY:" -H 'Content-Type: application/json' \
      -d "{\"instance_ids\": [\"$1\"]}" "$api/instance-operations/terminate"
    ;;
esac
echo
