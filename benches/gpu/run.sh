#!/usr/bin/env bash
# Accelerator benchmarks on a lent GPU machine: burn through wgpu (Vulkan) against the PyTorch
# twin through CUDA, same architectures and shapes (`twin gpu` / `twin.py gpu`): training steps
# of both presets at batch 16 and 32, recognition latency at batch 1 and 16, one convolution
# backward at the widest line (burn issue #4445), peak GPU memory (nvidia-smi, polled).
#
# Prepared on the build box, carried beside the checkout (the device README says how):
#   .gl/*.deb       the Vulkan loader packages (the GPU box has the NVIDIA driver, not the loader)
#   .gpu/twin-wgpu.xz     cargo build --release -p benches --bin twin --features wgpu; strip; xz -9
#   .gpu/twin-vulkan.xz   the same with --features vulkan (SPIR-V instead of WGSL on Vulkan)
# Each carried build runs (carry one or both: each takes about 5 minutes, mostly autotuning and
# shader compilation in the warm-up steps). The machine's own python3 + torch run the twin
# (it needs numpy, not safetensors), as PyTorch ships (TF32 cuDNN convolutions) and with every
# product in float32 as burn's are (`--no-tf32`).
# Each group of cases runs under its own time limit, so a hang or a crash in one (the wide
# convolution is the suspect) costs only that group; the JSON lines of the others survive.
# Usage: benches/gpu/run.sh OUT [RUNS]
# A smoke test without a GPU: BURN_DEVICE=flex TORCH_DEVICE=cpu EXTRA="--train-batches 1", with
# stubs for nvidia-smi and datasets/gpu/vulkan.sh.
set -uo pipefail
out=${1:?usage: benches/gpu/run.sh OUT [RUNS]}
runs=${2:-10}
burn_device=${BURN_DEVICE:-wgpu}
torch_device=${TORCH_DEVICE:-cuda}
extra=${EXTRA:-}
mkdir -p "$out"
source datasets/gpu/vulkan.sh
builds=()
for z in .gpu/twin-*.xz; do
  [ -f "$z" ] || continue
  b=${z#.gpu/twin-}; b=${b%.xz}
  xz -dc "$z" > "/tmp/twin-$b" && chmod +x "/tmp/twin-$b" && builds+=("$b")
done
[ ${#builds[@]} -gt 0 ] || { echo "no .gpu/twin-*.xz carried"; exit 1; }
# Everything comes back in five files ($OUT returns at most eight): device.txt, results.jsonl
# (every framework's JSON lines), logs.txt (every stderr), groups.log and table.md; memory polls
# stay on the machine.
"/tmp/twin-${builds[0]}" export /tmp/twin-models 2>> "$out/logs.txt" || tail "$out/logs.txt"

# Polls the GPU's memory in use every 0.2 s into $1; prints the poller's pid.
poll_memory() {
  ( while sleep 0.2; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done ) > "$1" 2>/dev/null &
  echo $!
}
peak() { sort -n "$1" | tail -1; }
# One group of cases: BUILD (a burn build, pytorch or pytorch-fp32) GROUP SECONDS.
# $extra holds several options and the --no-tf32 switch is optional: both split on purpose.
# shellcheck disable=SC2046,SC2086
group() {
  local started=$SECONDS
  case $1 in
    pytorch*)
      PYTHONUNBUFFERED=1 timeout "$3" python3 benches/pytorch/twin.py gpu /tmp/twin-models --device "$torch_device" \
        --runs "$runs" --cases "$2" $extra $([ "$1" = pytorch-fp32 ] && echo --no-tf32) >> "$out/results.jsonl" 2>> "$out/logs.txt" ;;
    *)
      timeout "$3" "/tmp/twin-$1" gpu --device "$burn_device" --label "burn $1" --runs "$runs" --cases "$2" $extra \
        >> "$out/results.jsonl" 2>> "$out/logs.txt" ;;
  esac
  echo "$1 $2: exit $? after $(( SECONDS - started )) s" | tee -a "$out/groups.log"
}

for b in "${builds[@]}"; do
  pid=$(poll_memory "/tmp/memory-$b.log")
  group "$b" conv 45
  group "$b" infer 110
  group "$b" train 160
  kill "$pid"
done
for b in pytorch pytorch-fp32; do
  pid=$(poll_memory "/tmp/memory-$b.log")
  group $b conv,infer,train 70
  kill "$pid"
done
{
  echo "device: $(cat "$out/device.txt")"
  echo -n "peak GPU memory in use (nvidia-smi, MiB):"
  for b in "${builds[@]}" pytorch pytorch-fp32; do echo -n " $b $(peak "/tmp/memory-$b.log");"; done
  echo
  python3 benches/pytorch/twin.py table "$out/results.jsonl"
} | tee "$out/table.md"
