#!/usr/bin/env bash
# Throughput of the click path through HAProxy with three nodes, beside one node alone, on the
# same PostgreSQL + ClickHouse (two shards) + Redis, measured in alternating rounds on this
# machine. All of it shares the same cores, so the ratio shows what coordination costs, not
# what three machines would do (docs/SCALING.md turns the figures into a capacity model).
#
#   bench/cluster.sh [SECONDS] [CONNECTIONS] [ROUNDS]
#
# Per round: peak clicks/s and latency of one node (direct), of HAProxy in front of that one
# node (what the balancer costs), and of HAProxy in front of three. Starts the clusters with
# scripts/cluster.sh (names bench1 and bench3) and stops them at the end.
#
# Needs what scripts/cluster.sh needs, and `oha` (installed with cargo when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-64}
ROUNDS=${3:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}
command -v oha >/dev/null || cargo install oha --locked
echo "building the release binary …" >&2
cargo build --release --locked --quiet --bin clicktrail
export BIN=$CARGO_TARGET_DIR/release/clicktrail
WORK=$(mktemp -d)
cleanup() { bash scripts/cluster.sh stop bench1 >/dev/null; bash scripts/cluster.sh stop bench3 >/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

bash scripts/cluster.sh start bench1 1 18090 >&2
bash scripts/cluster.sh start bench3 3 18080 >&2

# An affiliate and an offer on a cluster; prints the click path.
offer_on() {
  local api=$1/api key=$2 aff offer
  aff=$(curl -fs "$api/affiliates" -H "Authorization: Bearer $key" -d '{"name":"Bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  offer=$(curl -fs "$api/offers" -H "Authorization: Bearer $key" \
    -d '{"name":"Bench","destination_url":"https://shop.example/land?cid={click_id}&s1={sub1}","payout":1.5,"payout_type":"cpa","revenue":2}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  echo "/c/$offer/$aff?sub1=bench&source_id=newsletter"
}
ONE_PATH=$(offer_on http://127.0.0.1:18090 cluster-admin-key-bench1-0123456789)
THREE_PATH=$(offer_on http://127.0.0.1:18080 cluster-admin-key-bench3-0123456789)
sleep 1 # every node's catalog follows within 200 ms
ONE="http://127.0.0.1:18091$ONE_PATH"
ONE_LB="http://127.0.0.1:18090$ONE_PATH"
THREE="http://127.0.0.1:18080$THREE_PATH"

# load URL: one oha run (bench/oha.sh).
# shellcheck source=bench/oha.sh
source bench/oha.sh
# Waits until every node of a cluster has written what it buffered.
settle() {
  for port in "$@"; do
    for _ in $(seq 100); do
      [ "$(curl -fs "http://127.0.0.1:$port/metrics" | awk '/^clicktrail_event_buffer_queued / {print $2}')" = "0" ] && break
      sleep 0.1
    done
  done
  sleep 1
}
oha --no-tui --output-format quiet -z 3s -c "$CONNS" -r 0 "$ONE" >/dev/null 2>&1 || true
oha --no-tui --output-format quiet -z 3s -c "$CONNS" -r 0 "$THREE" >/dev/null 2>&1 || true
settle 18091 18081 18082 18083

echo "cores: $(nproc), $SECS s per run, $CONNS connections, $ROUNDS rounds" >&2
printf '| round | one node: clicks/s | p50 ms | p99 ms | HAProxy + one node: clicks/s | p99 ms | HAProxy + three nodes: clicks/s | p50 ms | p99 ms | three / one |\n'
printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
  read -r O_RPS O_P50 O_P99 O_BAD < <(load "$ONE"); settle 18091
  read -r L_RPS _ L_P99 L_BAD < <(load "$ONE_LB"); settle 18091
  read -r T_RPS T_P50 T_P99 T_BAD < <(load "$THREE"); settle 18081 18082 18083
  for bad in "$O_BAD" "$L_BAD" "$T_BAD"; do
    [ "$bad" = 0 ] || { echo "round $r: $bad requests failed" >&2; exit 1; }
  done
  ratio=$(python3 -c "print(f'{$T_RPS / $O_RPS:.2f}')")
  RATIOS+=("$ratio")
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$r" "$O_RPS" "$O_P50" "$O_P99" "$L_RPS" "$L_P99" "$T_RPS" "$T_P50" "$T_P99" "$ratio"
done
echo "median three-node / one-node ratio: $(printf '%s\n' "${RATIOS[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p")"
# Every answered click counted once: the clusters' own click totals.
for c in "18090 cluster-admin-key-bench1-0123456789" "18080 cluster-admin-key-bench3-0123456789"; do
  set -- $c
  total=$(curl -fs "http://127.0.0.1:$1/api/reports" -H "Authorization: Bearer $2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["clicks"])')
  echo "clicks counted by the cluster behind port $1: $total"
done
