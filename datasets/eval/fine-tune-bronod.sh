#!/usr/bin/env bash
# Fine-tuning to one hand, measured as issue "A default model that reads" §3 asks: LECTAUREP
# Bronod (one notary's hand, which no training config uses) — `train-app fine-tune` on N of its
# train lines for M minutes on one pinned core, from a base model or from scratch, then
# `infer-app eval` on its 286 val lines (greedy without LM, and as the file reads: its own beam
# and LM). One row per cell, appended to OUT/table.md.
# Usage: datasets/eval/fine-tune-bronod.sh OUT MINUTES LINES BASE [--scratch]
#   BASE: a .htr file (the embedded default: `infer-app` writes none, so pass
#   text-recognizer/model/default-line.htr).
# Binaries: $TRAIN_APP and $INFER_APP (default: target/debug/…); $CORE pins the run (default 1).
# Data: LECTAUREP Bronod (Limon-Bonnet, Chagué, Rostaing), CC-BY-4.0, in ../shared/data.
set -euo pipefail
out=${1:?usage: fine-tune-bronod.sh OUT MINUTES LINES BASE [--scratch]}
minutes=${2:?minutes}
lines=${3:?lines}
base=${4:?base model}
shift 4
train_app=${TRAIN_APP:-target/debug/train-app}
infer_app=${INFER_APP:-target/debug/infer-app}
core=${CORE:-1}
data=${BRONOD:-../shared/data/lectaurep-bronod/lines}
from=$(basename "$base" .htr)
case " $* " in *" --scratch "*) from="scratch ($from architecture)" ;; esac
cell="$out/$(echo "$from-$lines-$minutes" | tr -c 'A-Za-z0-9.\n-' '_')"
mkdir -p "$out"
rm -rf "$cell"
taskset -c "$core" "$train_app" fine-tune "$data/train" --from "$base" --lines "$lines" \
  --minutes "$minutes" --run-dir "$cell" --log-progress "$@" > "$cell.log" 2>&1
read_cer() { python3 -c "import json,sys; print(f\"{json.load(sys.stdin)['cer']:.2f}\")"; }
greedy=$(taskset -c "$core" "$infer_app" eval "$data/val" --model "$cell/fine-tuned.htr" \
  --batch-size 16 --beam 1 --no-lm --json | read_cer)
own=$(taskset -c "$core" "$infer_app" eval "$data/val" --model "$cell/fine-tuned.htr" \
  --batch-size 16 --json | read_cer)
# "X % after the first epoch, Y % at the best checkpoint" on the held-back lines.
split=$(grep 'validation CER' "$cell.log" | tail -1 | sed 's/validation CER: //; s/ → .*//')
[ -f "$out/table.md" ] || {
  echo "| from | lines | minutes (1 core) | Bronod val greedy | Bronod val, file's decoding | held-back lines (of the N) |"
  echo "|---|---|---|---|---|---|"
} > "$out/table.md"
echo "| $from | $lines | $minutes | $greedy % | $own % | $split |" >> "$out/table.md"
tail -1 "$out/table.md"
