#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Prepares a fresh Ubuntu GPU instance (Lambda Labs' images ship the NVIDIA driver and CUDA):
# system packages, the Rust toolchain, and a release build of train-app with CUDA.
# Usage: datasets/cloud/setup.sh [--cpu]     (--cpu: no CUDA feature, for a CPU box or a dry run)
# Environment: SKIP_APT=1 (packages already there), SKIP_BUILD=1 (binary given as $TRAIN_APP).
set -euo pipefail
source "$(dirname "$0")/common.sh"
features=(--features cuda)
[[ ${1:-} == --cpu ]] && features=()

if [[ ${SKIP_APT:-0} != 1 ]]; then
  echo "== system packages (build tools, fonts and public-domain text for synthetic lines)"
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential pkg-config tmux rsync \
    curl xz-utils fonts-dkg-handwriting fonts-breip fonts-rufscript fonts-sjfonts fonts-kristi \
    fonts-dancingscript fonts-kaushanscript fonts-havana fonts-dejavu-core fonts-liberation2 bible-kjv
fi

if ! command -v cargo >/dev/null; then
  echo "== Rust toolchain (rustup, the version in rust-toolchain or the workspace's rust-version)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  if [[ ${#features[@]} -gt 0 ]]; then
    command -v nvidia-smi >/dev/null || die "no nvidia-smi: not a GPU instance (use --cpu)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  fi
  echo "== building train-app ${features[*]:-(CPU only)}"
  (cd "$ROOT" && cargo build --release --locked -p train-app "${features[@]}")
fi
[[ -x $TRAIN_APP ]] || die "$TRAIN_APP was not built"
"$TRAIN_APP" --version
echo "ready: $TRAIN_APP"
