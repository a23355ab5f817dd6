#!/usr/bin/env bash
# Packs every real line set of ../shared/data for a GPU machine, where a call carries at most
# 64 MiB in all: each split re-encoded as JPEG at quality 60 (about a third of the published
# size; training augments with JPEG artefacts anyway) and put in one tar, .gpu/real.tar, which
# datasets/gpu/train.sh unpacks into .gpu/real/SET/SPLIT. Transcriptions travel as they are
# (NFC); each set's conventions are applied by the training config (Rewritten sources).
# CC-BY-4.0: the attribution of every set travels with it (its README).
# Usage: datasets/gpu/pack-real.sh [TRAIN_APP]   (default: target/debug/train-app)
set -euo pipefail
bin=${1:-target/debug/train-app}
data=../shared/data
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for set in testaments cremma-mss18 lectaurep-bronod lectaurep-mariages; do
  cp "$data/$set/README.md" "$stage/$set.README.md"
  for split in "$data/$set"/lines/*/; do
    split=$(basename "$split")
    "$bin" data export "$data/$set/lines/$split" --jpeg 60 -o "$stage/real/$set/$split" > /dev/null
  done
done
# The checkpoint-choice set: every 6th Testaments val line (76 lines), as before.
mkdir -p "$stage/real/testaments/val-small"
n=0
for gt in "$stage"/real/testaments/val/*.gt.txt; do
  if (( n % 6 == 0 )); then
    cp "$gt" "${gt%.gt.txt}.jpg" "$stage/real/testaments/val-small/"
  fi
  n=$((n + 1))
done
mkdir -p .gpu
readmes=()
for r in "$stage"/*.README.md; do readmes+=("${r#"$stage"/}"); done
tar cf .gpu/real.tar -C "$stage" real "${readmes[@]}"
du -h .gpu/real.tar
