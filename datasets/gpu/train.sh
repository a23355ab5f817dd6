#!/usr/bin/env bash
# Trains a config on a rented GPU through wgpu (Vulkan) for a fixed wall time, then stages the
# best checkpoint. Expects, beside the checkout (prepared on the build box):
#   .gl/*.deb           Vulkan/GL loader packages (the GPU box has the NVIDIA driver, not the loader)
#   .gpu/train-app.xz   train-app built with `--features wgpu --release`
#   .gpu/fonts, .gpu/cache/processed/kjv.txt.xz, .gpu/testaments/{train,val-small}
#   .gpu/init/*.htr     a staged model, when EXTRA_ARGS holds --init-from
# fonts/ and testaments/ may come as .gpu/{fonts,testaments}.tar (the carry is counted in disk
# blocks, and thousands of small files waste them).
# Usage: datasets/gpu/train.sh CONFIG SECONDS OUT_DIR NAME [EXTRA_ARGS...]
#   e.g. datasets/gpu/train.sh datasets/configs/gpu-line.ron 390 "$OUT" gpu-line
set -uo pipefail
config=$1
secs=$2
out=$3
name=$4
shift 4
mkdir -p "$out"
source datasets/gpu/vulkan.sh
xz -dc .gpu/train-app.xz > /tmp/train-app && chmod +x /tmp/train-app
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
timeout $(( secs + 60 )) /tmp/train-app --device wgpu train --config "$config" \
    --run-dir "$run" --log-progress --max-minutes "$(python3 -c "print($secs / 60)")" "$@" > "$out/train.log" 2>&1
echo "train exit $? after $(( $(date +%s) - start )) s" | tee -a "$out/train.log"
kill $mon 2>/dev/null
/tmp/train-app stage "$run" --name "$name" -o "$out/$name.htr" 2>&1 | tee -a "$out/train.log"
cp "$run/metrics.csv" "$run/run.ron" "$out/" 2>/dev/null
tail -n 30 "$out/train.log"
cat "$out/metrics.csv"
