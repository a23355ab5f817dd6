#!/usr/bin/env bash
# Trains a config on a rented GPU for a fixed wall time, then stages the best checkpoint.
# DEVICE=wgpu (default: Vulkan) or DEVICE=cuda. The device is first checked against the CPU
# (`train-app check-device`: the shipped model's logits, loss and one Adam step on real lines);
# when it disagrees, nothing is trained and the check's JSON comes back in OUT_DIR/check.json.
# Expects, beside the checkout (prepared on the build box):
#   .gl/*.deb           Vulkan/GL loader packages (wgpu only: the GPU box has the NVIDIA driver,
#                       not the loader)
#   .gpu/train-app.xz   train-app built with `--features wgpu --release`, or with
#                       `--features cuda` (datasets/gpu/build-cuda.sh) for DEVICE=cuda
#   .gpu/fonts, .gpu/cache/processed/kjv.txt.xz, .gpu/testaments/{train,val-small}
#   .gpu/init/*.htr     a staged model, when EXTRA_ARGS holds --init-from
# fonts/ and testaments/ may come as .gpu/{fonts,testaments}.tar (the carry is counted in disk
# blocks, and thousands of small files waste them).
# Usage: [DEVICE=cuda] datasets/gpu/train.sh CONFIG SECONDS OUT_DIR NAME [EXTRA_ARGS...]
#   e.g. datasets/gpu/train.sh datasets/configs/gpu-line.ron 390 "$OUT" gpu-line
set -uo pipefail
config=$1
secs=$2
out=$3
name=$4
shift 4
mkdir -p "$out"
device=${DEVICE:-wgpu}
if [ "$device" = cuda ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/device.txt"
else
  source datasets/gpu/vulkan.sh
fi
xz -dc .gpu/train-app.xz > /tmp/train-app && chmod +x /tmp/train-app
timeout 300 /tmp/train-app --device "$device" check-device > "$out/check.json" 2> "$out/check.log" || {
  echo "the $device device disagrees with the CPU or failed; not training"; cat "$out/check.json" "$out/check.log"; exit 1; }
cat "$out/check.json"
xz -dkf .gpu/cache/processed/kjv.txt.xz
for t in .gpu/*.tar .gpu/*.tar.xz; do [ -f "$t" ] &&  tar xf "$t" -C .gpu; done
for m in .gpu/init/*.xz; do [ -f "$m" ] && xz -dkf "$m"; done
# Each new shape is autotuned on first sight; keep that short, shapes are many (widths x lengths).
export CUBECL_AUTOTUNE_LEVEL=minimal
export HTR_FONT_DIR=$PWD/.gpu/fonts HTR_CACHE=$PWD/.gpu/cache
run=/tmp/run-gpu
rm -rf "$run"
start=$(date +%s)
( while sleep 20; do nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader; done ) > "$out/gpu-usage.log" 2>&1 &
mon=$!
# --max-minutes stops between batches and keeps the epoch's checkpoint; timeout is the backstop.
timeout $(( secs + 60 )) /tmp/train-app --device "$device" train --config "$config" \
    --run-dir "$run" --log-progress --max-minutes "$(python3 -c "print($secs / 60)")" "$@" > "$out/train.log" 2>&1
echo "train exit $? after $(( $(date +%s) - start )) s" | tee -a "$out/train.log"
kill $mon 2>/dev/null
/tmp/train-app stage "$run" --name "$name" -o "$out/$name.htr" 2>&1 | tee -a "$out/train.log"
cp "$run/metrics.csv" "$run/run.ron" "$out/" 2>/dev/null
tail -n 30 "$out/train.log"
cat "$out/metrics.csv"
