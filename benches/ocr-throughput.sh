#!/usr/bin/env bash
# infer-app throughput on this machine: lines/s and paragraphs/s at several batch sizes, latency
# per image, peak memory. Release build, embedded default model, all cores (`--jobs` = nproc).
#   Lines: the 461 Testaments val lines (../shared), read with --layout line.
#   Paragraphs: 50 held-out synthetic paragraphs (datasets/eval/heldout-synthetic.sh makes them),
#   read with --layout paragraph (segmentation, then the line model).
# Usage: benches/ocr-throughput.sh [HELDOUT_DIR]   (prints a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
heldout=${1:-target/heldout}
infer=target/release/infer-app
[ -x "$infer" ] || cargo build --release -p infer-app -p train-app
[ -d "$heldout/paragraphs" ] || bash datasets/eval/heldout-synthetic.sh "$heldout" >/dev/null
lines=../shared/data/testaments/lines/val
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| set | layout | batch | images | wall s | images/s | mean ms/image (elapsed_ms) | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|"
for spec in "lines:$lines:line" "paragraphs:$heldout/paragraphs:paragraph"; do
  IFS=: read -r name dir layout <<<"$spec"
  for batch in 1 4 8 16 32; do
    /usr/bin/time -f "%e %M" -o "$tmp/time" "$infer" ocr "$dir" --layout "$layout" \
      --batch-size "$batch" --jobs "$(nproc)" -f jsonl -o "$tmp/out.jsonl" 2>/dev/null
    read -r wall rss < "$tmp/time"
    python3 - "$tmp/out.jsonl" "$name" "$layout" "$batch" "$wall" "$rss" <<'PY'
import json, sys
path, name, layout, batch, wall, rss = sys.argv[1:]
recs = [json.loads(l) for l in open(path)]
ms = sum(r["elapsed_ms"] for r in recs) / len(recs)
print(f"| {name} | {layout} | {batch} | {len(recs)} | {float(wall):.1f} | {len(recs)/float(wall):.2f} | {ms:.0f} | {int(rss)/1024:.0f} |")
PY
  done
done
