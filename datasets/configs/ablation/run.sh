#!/usr/bin/env bash
# The recipe ablation on a CPU: fine-tunes the embedded default model under every arm's recipe
# with the same data, seed and budget, stages each, and scores it on the 461 Testaments val
# lines (greedy, and beam 4, which also uses the CTC head where there is one).
# Results: OUT/ARM/{metrics.csv,eval-*.txt,train.log}.
# Usage: datasets/configs/ablation/run.sh OUT [ARM...]   (default arms: base mask ctc augment augment-noctc)
set -euo pipefail
out=${1:?usage: run.sh OUT [ARM...]}
shift
arms=("$@")
[ ${#arms[@]} -gt 0 ] || arms=(base mask ctc augment augment-noctc)
here=datasets/configs/ablation
bin=${BIN:-target/debug}
val=${VAL:-../shared/data/testaments/lines/val}
mkdir -p "$out"
for arm in "${arms[@]}"; do
  run="$out/$arm"
  rm -rf "$run/run"
  mkdir -p "$run"
  start=$(date +%s)
  "$bin/train-app" train --config "$here/$arm.ron" --run-dir "$run/run" --log-progress \
    --init-from text-recognizer/model/default-line.htr > "$run/train.log" 2>&1
  echo "train: $(( $(date +%s) - start )) s" >> "$run/train.log"
  cp "$run/run/metrics.csv" "$run/"
  "$bin/train-app" stage "$run/run" --name "ablation-$arm" -o "$run/$arm.htr" >> "$run/train.log" 2>&1
  for beam in 1 4; do
    "$bin/infer-app" eval --model "$run/$arm.htr" --beam "$beam" --worst 0 "$val" > "$run/eval-beam$beam.txt" 2>&1 || true
  done
  echo "== $arm"; grep -h "^CER" "$run"/eval-beam*.txt
done
