#!/usr/bin/env bash
# Held-out synthetic test sets for a model, and its scores on them.
# Text: Debian `fortunes-min` (fortune cookies), which training never sees (its text is the KJV);
# fonts: the training fonts unless said; seeds: ones training never uses. Five sets:
#   handwriting lines (300), printed lines (200), printed lines in faces no config trains on
#   (200, FontSet HeldOutPrint), printed lines of the fortunes' words in random order with
#   numbers and punctuation (200: a reader that writes its own words shows here as "invented"),
#   paragraphs of handwriting lines, light ink on dark as FSDL stacks them (50), the last read
#   with --layout paragraph (segmentation first).
# Usage: datasets/eval/heldout-synthetic.sh OUT_DIR [--model FILE]
# Binaries: $TRAIN_APP and $INFER_APP (default: target/release/…).
set -euo pipefail
out=${1:?usage: heldout-synthetic.sh OUT_DIR [--model FILE]}
shift
train_app=${TRAIN_APP:-target/release/train-app}
infer_app=${INFER_APP:-target/release/infer-app}
fortunes=/usr/share/games/fortunes/fortunes
[ -f "$fortunes" ] || { echo "missing $fortunes: apt-get install fortunes-min" >&2; exit 2; }
mkdir -p "$out"
# One saying per line: drop the % separators and attributions, keep lines of 12+ characters.
grep -v '^%$' "$fortunes" | grep -v '^[[:space:]]*--' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' |
  awk 'length($0) >= 12' > "$out/fortunes.txt"
# Their words, one per line, for lines of random words.
tr -s '[:space:]' '\n' < "$out/fortunes.txt" | tr -d '[:punct:]' | awk 'length($0) >= 1' |
  sort -u > "$out/fortune-words.txt"
text="File(\"$out/fortunes.txt\")"
"$train_app" data export "SyntheticLines(fonts: Handwriting, text: $text, samples: 300)" \
  --samples 300 --seed 7000001 -o "$out/handwriting"
"$train_app" data export "SyntheticLines(fonts: Printed, text: $text, samples: 200)" \
  --samples 200 --seed 7000002 -o "$out/printed"
"$train_app" data export "SyntheticLines(fonts: HeldOutPrint, text: $text, samples: 200)" \
  --samples 200 --seed 7000004 -o "$out/printed-unseen"
"$train_app" data export \
  "SyntheticLines(fonts: Printed, text: Words(lists: [\"$out/fortune-words.txt\"]), samples: 200)" \
  --samples 200 --seed 7000005 -o "$out/random-words"
"$train_app" data export \
  "SyntheticParagraphs(lines: SyntheticLines(fonts: Handwriting, text: $text, samples: 1000), samples: 50)" \
  --samples 50 --seed 7000003 -o "$out/paragraphs"
for set in handwriting printed printed-unseen random-words; do
  "$infer_app" eval "$out/$set" --json "$@" > "$out/$set.json"
done
"$infer_app" eval "$out/paragraphs" --layout paragraph --json "$@" > "$out/paragraphs.json"
for set in handwriting printed printed-unseen random-words paragraphs; do
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); s=r.get('segmentation'); seg=f\"  right line count {s['right_count']}/{s['images']}\" if s else ''; i=r['invented']; print(f\"{sys.argv[2]:14} {r['images']:4} images  CER {r['cer']:6.2f} %  WER {r['wer']:6.2f} %  invented words {i['words']}/{i['of_words_read']}  {r['images_per_second']:.1f} images/s{seg}\")" "$out/$set.json" "$set"
done
