#!/usr/bin/env bash
# Builds train-app with burn's CUDA backend on a machine whose only network is the package
# registries. burn-cuda's LLVM (cubecl-llvm) would download a prebuilt LLVM 23 bundle at build
# time; Debian's LLVM 22 stands in for it: the bundler skips its download when its marker file
# exists, and its build script then asks `llvm-config` in that folder how to link LLVM
# statically. Debian's llvm-config prints libz3 as a full path, which the bundler would turn
# into `-llibz3`; the shim rewrites it to `-lz3`. (Checked to compile and link; the GPU code it
# generates is checked on the GPU by `train-app --device cuda check-device` before training.)
# Usage: datasets/gpu/build-cuda.sh [OUT]   (default .gpu/train-app.xz, as datasets/gpu/train.sh
# expects; CUDARC_CUDA_VERSION picks the CUDA API, default 13000 for the lent H200's driver)
set -euo pipefail
out=${1:-.gpu/train-app.xz}
if [ ! -x /usr/lib/llvm-22/bin/llvm-config ] || [ ! -e /usr/lib/llvm-22/lib/libPolly.a ]; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get install -y --no-install-recommends llvm-22-dev libpolly-22-dev libzstd-dev
fi
# Only this build sees the stand-in: a private XDG_DATA_HOME under target/.
xdg=$PWD/target/cuda-xdg
bundle=$xdg/tracel/tracel-llvm-23.1.0-4
mkdir -p "$bundle/bin"
touch "$bundle/.tracel-llvm-installed"
cat > "$bundle/bin/llvm-config" <<'SHIM'
#!/bin/sh
/usr/lib/llvm-22/bin/llvm-config "$@" | sed 's#/usr/lib/x86_64-linux-gnu/libz3\.so#-lz3#g'
SHIM
chmod +x "$bundle/bin/llvm-config"
XDG_DATA_HOME=$xdg CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000} \
  cargo build --release -p train-app --features cuda
mkdir -p "$(dirname "$out")"
strip -o /tmp/train-app-cuda target/release/train-app
xz -9 -T0 -c /tmp/train-app-cuda > "$out"
ls -l "$out"
