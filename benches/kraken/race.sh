#!/usr/bin/env bash
# The race: kraken's `ketos train` and our `train-app train`, from scratch, on the same line
# folder, for the same minutes, one pinned core each (taskset; one BLAS/rayon thread each).
# Every SNAP minutes both engines' current models are copied aside; afterwards each copy reads
# the same validation lines and ONE scorer (`infer-app eval`, with `--predictions` for kraken's
# output) gives every CER, so normalisation and edit distance cannot differ.
#
# Usage: benches/kraken/race.sh LINES_DIR VAL_DIR MINUTES [OUT]
#   LINES_DIR, VAL_DIR: NAME.{jpg,png} + NAME.gt.txt folders (e.g. ../shared/data/testaments/lines/train, …/val)
#   env: RECIPE (our config, default datasets/configs/cpu/ctc-conv.ron; its train and valid
#        folders are replaced by LINES_DIR and VAL_MINI), VAL_MINI (our per-epoch checkpoint
#        choice, default datasets/fixtures/testaments-val-mini), SNAP (minutes between snapshots,
#        default 10), KRAKEN_ARGS (extra `ketos train` options, e.g. "--augment -B 16" for
#        kraken at the settings a user would pick), VENV (benches/kraken/setup.sh's venv),
#        BIN (our binaries, default target/debug), CORES ("kraken ours", default "0 1").
# Output: OUT/table.md (CER against minutes for both), OUT/chart.svg, OUT/{ours,kraken}/.
set -euo pipefail
lines=${1:?usage: race.sh LINES_DIR VAL_DIR MINUTES [OUT]}
val=${2:?usage: race.sh LINES_DIR VAL_DIR MINUTES [OUT]}
minutes=${3:?usage: race.sh LINES_DIR VAL_DIR MINUTES [OUT]}
out=${4:-target/race-$(date +%Y%m%d-%H%M%S)}
root=$(cd "$(dirname "$0")/../.." && pwd)
recipe=${RECIPE:-$root/datasets/configs/cpu/ctc-conv.ron}
val_mini=${VAL_MINI:-$root/datasets/fixtures/testaments-val-mini}
snap=${SNAP:-10}
venv=${VENV:-$root/target/kraken-venv}
bin=${BIN:-$root/target/debug}
read -r core_kraken core_ours <<< "${CORES:-0 1}"
[ -x "$venv/bin/ketos" ] || { echo "race.sh: no kraken at $venv (run benches/kraken/setup.sh)" >&2; exit 2; }
for b in train-app infer-app; do
  [ -x "$bin/$b" ] || { echo "race.sh: no $bin/$b (cargo build)" >&2; exit 2; }
done
for d in "$lines" "$val" "$val_mini"; do
  [ -d "$d" ] || { echo "race.sh: $d is not a folder" >&2; exit 2; }
done
lines=$(cd "$lines" && pwd); val=$(cd "$val" && pwd); val_mini=$(cd "$val_mini" && pwd)
mkdir -p "$out"/ours/snapshots "$out"/kraken/snapshots
out=$(cd "$out" && pwd)

# Our config with the race's folders.
sed -e "s|LineFolder(\"[^\"]*\"), weight|LineFolder(\"$lines\"), weight|" \
    -e "s|^\( *valid: \).*|\1[LineFolder(\"$val_mini\")],|" "$recipe" > "$out/ours/config.ron"
grep -q "$lines" "$out/ours/config.ron" || { echo "race.sh: $recipe has no train LineFolder to point at $lines" >&2; exit 2; }
# kraken validates on its own split of the same val-mini lines our run uses to pick checkpoints.
ls "$val_mini"/*.jpg "$val_mini"/*.png 2>/dev/null > "$out/kraken/val.txt" || true
ls "$lines"/*.jpg "$lines"/*.png 2>/dev/null > "$out/kraken/train.txt" || true

start=$(date +%s)
# shellcheck disable=SC2086  # KRAKEN_ARGS is a list of options
( cd "$out/kraken" && OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 exec taskset -c "$core_kraken" \
    timeout "$((minutes * 60))" "$venv/bin/ketos" --workers 0 --threads 1 -d cpu train \
    -f path -t train.txt -e val.txt -o model -q fixed -N 100000 ${KRAKEN_ARGS:-} ) \
    > "$out/kraken/train.log" 2>&1 &
kraken_pid=$!
RAYON_NUM_THREADS=1 taskset -c "$core_ours" "$bin/train-app" train --config "$out/ours/config.ron" \
  --run-dir "$out/ours/run" --log-progress --max-minutes "$minutes" > "$out/ours/train.log" 2>&1 &
ours_pid=$!
trap 'kill $kraken_pid $ours_pid 2>/dev/null || true' EXIT

# Snapshots: kraken's newest saved weights and our best checkpoint so far, every SNAP minutes.
mark=$snap
while kill -0 "$ours_pid" 2>/dev/null || kill -0 "$kraken_pid" 2>/dev/null; do
  sleep 5
  elapsed=$(( $(date +%s) - start ))
  if [ "$elapsed" -ge $((mark * 60)) ] || ! kill -0 "$ours_pid" 2>/dev/null; then
    [ "$mark" -le "$minutes" ] || break
    # shellcheck disable=SC2012  # kraken's own file names; newest first
    newest=$(ls -t "$out"/kraken/model/*.ckpt "$out"/kraken/model/*.safetensors 2>/dev/null | head -1 || true)
    [ -n "$newest" ] && cp "$newest" "$out/kraken/snapshots/t$mark.${newest##*.}"
    "$bin/train-app" stage "$out/ours/run" --name race -o "$out/ours/snapshots/t$mark.htr" \
      >> "$out/ours/stage.log" 2>&1 || true
    mark=$((mark + snap))
  fi
done
wait "$ours_pid" || true
wait "$kraken_pid" || true
trap - EXIT

# One scorer for both.
echo "| CPU-minutes | ours: CER % | kraken: CER % |" > "$out/table.md"
echo "|---|---|---|" >> "$out/table.md"
cer() { sed -n 's/.*"cer": \([0-9.]*\).*/\1/p' "$1" | head -1 | awk '{ printf "%.2f", $1 }'; }
for ((m = snap; m <= minutes; m += snap)); do
  ours=- theirs=-
  if [ -f "$out/ours/snapshots/t$m.htr" ]; then
    "$bin/infer-app" eval "$val" --model "$out/ours/snapshots/t$m.htr" --json --worst 0 \
      > "$out/ours/eval-t$m.json" 2>/dev/null || true
    ours=$(cer "$out/ours/eval-t$m.json")
  fi
  # shellcheck disable=SC2012  # our own snapshot names
  snapshot=$(ls "$out"/kraken/snapshots/t"$m".ckpt "$out"/kraken/snapshots/t"$m".safetensors 2>/dev/null | head -1 || true)
  if [ -n "$snapshot" ]; then
    pred="$out/kraken/pred-t$m"
    rm -rf "$pred"; mkdir -p "$pred"
    weights=$snapshot
    if [ "${snapshot##*.}" = ckpt ]; then
      weights="$out/kraken/snapshots/t$m.safetensors"
      "$venv/bin/ketos" convert -o "$weights" "$snapshot" > /dev/null 2>&1 || true
    fi
    # One kraken process for every line (it starts slowly): -i IMAGE OUTPUT pairs.
    pairs=()
    for img in "$val"/*.jpg "$val"/*.png; do
      [ -f "$img" ] || continue
      name=$(basename "${img%.*}")
      pairs+=(-i "$img" "$pred/$name.txt")
    done
    OMP_NUM_THREADS=1 "$venv/bin/kraken" "${pairs[@]}" ocr -m "$weights" -s \
      > "$pred.log" 2>&1 || true
    "$bin/infer-app" eval "$val" --predictions "$pred" --json --worst 0 \
      > "$out/kraken/eval-t$m.json" 2>/dev/null || true
    theirs=$(cer "$out/kraken/eval-t$m.json")
  fi
  echo "| $m | ${ours:--} | ${theirs:--} |" >> "$out/table.md"
done

# The chart: CER against minutes, one line per engine.
awk -F'|' -v W=640 -v H=360 -v M="$minutes" '
  NR > 2 { x[n] = $2 + 0; o[n] = $3; k[n] = $4; n++ }
  function px(m) { return 50 + (W - 70) * m / M }
  function py(c) { return 20 + (H - 60) * (1 - c / 100) }
  function line(v, colour,   i, d) {
    d = ""
    for (i = 0; i < n; i++) if (v[i] ~ /[0-9]/) d = d sprintf("%s%.1f,%.1f ", d == "" ? "M" : "L", px(x[i]), py(v[i] + 0))
    if (d != "") printf "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", d, colour
  }
  END {
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    for (c = 0; c <= 100; c += 25) printf "<line x1=\"50\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"8\" y=\"%.1f\">%d %%</text>\n", W - 20, py(c), py(c), py(c) + 4, c
    printf "<text x=\"%d\" y=\"%d\">CPU-minutes (0 to %d)</text>\n", W / 2 - 60, H - 10, M
    line(o, "#1f77b4"); line(k, "#d62728")
    printf "<text x=\"%d\" y=\"30\" fill=\"#1f77b4\">ours (train-app)</text><text x=\"%d\" y=\"46\" fill=\"#d62728\">kraken (ketos)</text>\n", W - 160, W - 160
    print "</svg>"
  }' "$out/table.md" > "$out/chart.svg"
cat "$out/table.md"
echo "race: $out (chart.svg, {ours,kraken}/train.log)"
