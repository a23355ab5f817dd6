#!/usr/bin/env bash
# Training throughput of two recipes side by side: real `train-app train` runs (real data,
# loader, augmentation, padding, validation), one pinned core and one thread each, started
# together for the same minutes, so both see the same machine. Prints samples/s of each (from
# its steps.csv, the first 5 steps left out as warm-up) and the ratio B/A.
# Usage: benches/train-throughput.sh CONFIG_A CONFIG_B MINUTES [OUT]   (BIN: default target/debug)
set -euo pipefail
a=${1:?usage: train-throughput.sh CONFIG_A CONFIG_B MINUTES [OUT]}
b=${2:?usage: train-throughput.sh CONFIG_A CONFIG_B MINUTES [OUT]}
minutes=${3:?usage: train-throughput.sh CONFIG_A CONFIG_B MINUTES [OUT]}
out=${4:-target/throughput-$(date +%Y%m%d-%H%M%S)}
bin=${BIN:-target/debug}
mkdir -p "$out"
rm -rf "$out/a" "$out/b"
RAYON_NUM_THREADS=1 taskset -c 0 "$bin/train-app" train --config "$a" --run-dir "$out/a" \
  --log-progress --max-minutes "$minutes" > "$out/a.log" 2>&1 &
pa=$!
RAYON_NUM_THREADS=1 taskset -c 1 "$bin/train-app" train --config "$b" --run-dir "$out/b" \
  --log-progress --max-minutes "$minutes" > "$out/b.log" 2>&1 &
pb=$!
wait "$pa" "$pb"
# samples/s over the train steps after the fifth: (steps · batch) / seconds.
rate() {
  local batch
  batch=$(sed -n 's/^ *batch_size: *\([0-9]*\).*/\1/p' "$2" | head -1)
  awk -F, -v batch="$batch" '
    $1 == "train" && $4 == "step_loss" { n++; if (n == 6) { t0 = $6 } if (n > 6) { k++; t1 = $6 } }
    END { if (k > 0) printf "%.2f\n", k * batch / ((t1 - t0) / 1000); else print "nan" }' "$1/steps.csv"
}
ra=$(rate "$out/a" "$a")
rb=$(rate "$out/b" "$b")
echo "A $a: $ra samples/s"
echo "B $b: $rb samples/s"
awk -v a="$ra" -v b="$rb" 'BEGIN { if (a > 0) printf "B/A: %.2fx\n", b / a }'
