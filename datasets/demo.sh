#!/usr/bin/env bash
# Main job, end to end on a CPU: train the tiny demo model on the sample lines, stage it, then OCR
# the sample folder (text on stdout). The README main job reads the same folder with the default model.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p train-app -p infer-app
run=runs/demo-$(date +%s)
./target/release/train-app train --config datasets/configs/memorize-tiny.ron --run-dir "$run" --log-progress
./target/release/train-app stage "$run" --name demo -o staged/demo.htr
./target/release/infer-app ocr --model staged/demo.htr --layout line -o - datasets/fixtures/testaments-mini
