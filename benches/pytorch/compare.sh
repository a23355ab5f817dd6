#!/usr/bin/env bash
# burn (ours) against the PyTorch twin, same weights, same inputs, same thread count:
#   1. builds `twin` (release) and exports the models burn uses (benches/src/bin/twin.rs);
#   2. parity: the twin loads those weights; logits within 1e-3 and identical greedy tokens;
#   3. times both (median of REPEATS after a warm-up) and prints a Markdown table of ratios.
# Usage: benches/pytorch/compare.sh [extra `time` options, e.g. --paragraph-tokens 682]
# Env: THREADS (2), REPEATS (3), VENV (target/pytorch-venv, made by benches/pytorch/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${THREADS:-2}
repeats=${REPEATS:-3}
venv=${VENV:-target/pytorch-venv}
out=target/twin
[ -x "$venv/bin/python" ] || { echo "no venv at $venv: run benches/pytorch/setup.sh" >&2; exit 2; }
cargo build --release -q -p benches --bin twin
twin=target/release/twin
export RAYON_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
"$twin" export "$out"
"$venv/bin/python" benches/pytorch/twin.py parity "$out"
echo "timing burn ($threads threads)..." >&2
"$twin" time --repeats "$repeats" "$@" | tee "$out/burn.jsonl" >&2
echo "timing PyTorch ($threads threads)..." >&2
"$venv/bin/python" benches/pytorch/twin.py time "$out" --threads "$threads" --repeats "$repeats" "$@" \
  | tee "$out/pytorch.jsonl" >&2
echo
echo "$(nproc) cores, $threads threads, median of $repeats; $(date -u +%F)"
"$venv/bin/python" benches/pytorch/twin.py table "$out/burn.jsonl" "$out/pytorch.jsonl"
