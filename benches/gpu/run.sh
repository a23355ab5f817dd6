#!/usr/bin/env bash
# Accelerator benchmarks on a lent GPU machine: burn through wgpu (Vulkan) against the PyTorch
# twin through CUDA, same architectures and shapes (`twin gpu` / `twin.py gpu`): training steps
# of both presets at batch 16 and 32, recognition latency at batch 1 and 16, one convolution
# backward at the widest line (burn issue #4445), peak GPU memory (nvidia-smi, polled).
#
# Prepared on the build box, carried beside the checkout (the device README says how):
#   .gl/*.deb       the Vulkan loader packages (the GPU box has the NVIDIA driver, not the loader)
#   .gpu/twin.xz    cargo build --release -p benches --bin twin --features wgpu; xz -9
# The machine's own python3 + torch run the twin (it needs numpy, not safetensors).
# Usage: benches/gpu/run.sh OUT [RUNS]
set -uo pipefail
out=${1:?usage: benches/gpu/run.sh OUT [RUNS]}
runs=${2:-10}
mkdir -p "$out"
source datasets/gpu/vulkan.sh
xz -dc .gpu/twin.xz > /tmp/twin && chmod +x /tmp/twin
/tmp/twin export /tmp/twin-models 2> "$out/export.log" || tail "$out/export.log"

# Polls the GPU's memory in use every 0.2 s into $1; prints the poller's pid.
poll_memory() {
  ( while sleep 0.2; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done ) > "$1" 2>/dev/null &
  echo $!
}
peak() { sort -n "$1" | tail -1; }

pid=$(poll_memory "$out/memory-burn.log")
timeout 330 /tmp/twin gpu --device wgpu --runs "$runs" > "$out/burn.jsonl" 2> "$out/burn.log"
echo "burn exit $?"; kill "$pid"
pid=$(poll_memory "$out/memory-pytorch.log")
timeout 200 python3 benches/pytorch/twin.py gpu /tmp/twin-models --device cuda --runs "$runs" \
  > "$out/pytorch.jsonl" 2> "$out/pytorch.log"
echo "pytorch exit $?"; kill "$pid"
tail -n 3 "$out/burn.log" "$out/pytorch.log"
{
  echo "device: $(cat "$out/device.txt")"
  echo "peak GPU memory in use (nvidia-smi, MiB): burn $(peak "$out/memory-burn.log"), PyTorch $(peak "$out/memory-pytorch.log")"
  python3 benches/pytorch/twin.py table "$out/burn.jsonl" "$out/pytorch.jsonl"
} | tee "$out/table.md"
