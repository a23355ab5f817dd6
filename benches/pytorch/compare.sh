#!/usr/bin/env bash
# burn (ours) against the PyTorch twin at the same thread count (same weights and inputs for parity,
# same shapes and token counts for timing):
#   1. builds `twin` (release) and exports the models burn uses (benches/src/bin/twin.rs);
#   2. parity: the twin loads those weights; logits within 1e-3 and identical greedy tokens;
#   3. times both, alternating, ROUNDS times (each a median of REPEATS after a warm-up), and
#      prints a Markdown table of medians and ratios.
# Usage: benches/pytorch/compare.sh [extra `time` options, e.g. --paragraph-tokens 682]
# Env: THREADS (2), REPEATS (3), ROUNDS (2), VENV (target/pytorch-venv, made by setup.sh),
#      BUILDS="label=path ..." other `twin` binaries timed alongside (before/after comparisons).
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${THREADS:-2}
repeats=${REPEATS:-3}
rounds=${ROUNDS:-2}
venv=${VENV:-target/pytorch-venv}
out=target/twin
[ -x "$venv/bin/python" ] || { echo "no venv at $venv: run benches/pytorch/setup.sh" >&2; exit 2; }
cargo build --release -q -p benches --bin twin
twin=target/release/twin
export RAYON_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
"$twin" export "$out"
"$venv/bin/python" benches/pytorch/twin.py parity "$out"
rm -f "$out"/times-*.jsonl
for round in $(seq "$rounds"); do
  echo "round $round: burn ($threads threads)" >&2
  "$twin" time --repeats "$repeats" "$@" | tee -a "$out/times-burn.jsonl" >&2
  for build in ${BUILDS:-}; do
    echo "round $round: ${build%%=*}" >&2
    "${build#*=}" time --repeats "$repeats" "$@" | sed "s/\"framework\":\"burn\"/\"framework\":\"${build%%=*}\"/" \
      | tee -a "$out/times-${build%%=*}.jsonl" >&2
  done
  echo "round $round: PyTorch ($threads threads)" >&2
  "$venv/bin/python" benches/pytorch/twin.py time "$out" --threads "$threads" --repeats "$repeats" "$@" \
    | tee -a "$out/times-pytorch.jsonl" >&2
done
echo
echo "$(nproc) cores, $threads threads, median of $rounds rounds x $repeats runs; $(date -u +%F)"
"$venv/bin/python" benches/pytorch/twin.py table "$out"/times-*.jsonl
