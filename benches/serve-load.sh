#!/usr/bin/env bash
# Load test of `infer-app serve` on loopback: 50 clients POST a real line to /predict for 60 s
# (at most 100,000 requests), once with micro-batching (--max-batch 16 --max-wait-ms 5) and
# once without (--max-batch 1 --max-wait-ms 0), side by side in one run. Prints a Markdown
# table: requests/s, p50/p99 latency, errors, server RSS at start (model loaded, warmed up),
# once a sixth of the run is over (allocator pools sized) and at the end, and the worst time the
# page (`GET /`) took while the load ran (fetched every 250 ms). A single client for 15 s
# gives each mode's latency without queueing.
# Usage: benches/serve-load.sh [SECONDS] [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
clients=${2:-50}
# The test profile: dependencies and the library at opt-level 3 (Cargo.toml), as the tests run.
cargo build -q -p infer-app -p benches --bin infer-app --bin loadtest
image=datasets/fixtures/testaments-val-mini/AN_0006-0-002.jpg
tmp=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
echo "| mode | clients | s | requests | errors | requests/s | p50 ms | p90 ms | p99 ms | RSS start / at 1/6 / end MiB | page worst ms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for mode in "micro-batched:16:5" "one-by-one:1:0"; do
  IFS=: read -r name batch wait <<<"$mode"
  target/debug/infer-app serve --addr 127.0.0.1:0 --db "$tmp/$name.sqlite3" \
    --max-batch "$batch" --max-wait-ms "$wait" --max-concurrent 256 > "$tmp/addr" 2> "$tmp/$name.log" &
  server=$!
  for _ in $(seq 100); do [ -s "$tmp/addr" ] && break; sleep 0.1; done
  base=$(sed -n 's/^listening on //p' "$tmp/addr")
  for _ in $(seq 600); do curl -fs "$base/readyz" > /dev/null && break; sleep 0.1; done
  for load in "1:15" "$clients:$seconds"; do
    IFS=: read -r n secs <<<"$load"
    target/debug/loadtest --url "$base/predict" --image "$image" --clients "$n" \
      --seconds "$secs" --pid "$server" --label "$name" --probe-url "$base/" > "$tmp/$name.json"
    python3 - "$tmp/$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"| {r['label']} | {r['clients']} | {r['seconds']:.0f} | {r['ok'] + r['errors']} | {r['errors']} "
      f"| {r['requests_per_s']:.1f} | {r['p50_ms']:.0f} | {r['p90_ms']:.0f} | {r['p99_ms']:.0f} "
      f"| {r['rss_start_mib']:.0f} / {r['rss_settled_mib']:.0f} / {r['rss_end_mib']:.0f} "
      f"| {r['probe_worst_ms']:.0f} |")
if r["errors"] or r["probe_failures"]:
    print("errors:", r["error_kinds"], "page failures:", r["probe_failures"], file=sys.stderr)
PY
  done
  kill -TERM "$server"; wait "$server" || true; server=""
done
