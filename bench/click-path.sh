#!/usr/bin/env bash
# The click-path benchmark: a bare-302 server (same HTTP stack, no work) and Clicktrail's click
# path in default and durable mode, all started side by side and measured in alternating rounds
# on this machine (which is shared and noisy: each round measures every server back to back,
# and the verdicts use the median round). Per round: peak requests/s of each server; Clicktrail
# (default mode) at half its peak rate and the bare server at that same rate, with latency
# percentiles (coordinated-omission corrected); at the end, peak RSS of both Clicktrails.
#
#   bench/click-path.sh [SECONDS] [CONNECTIONS] [ROUNDS]
#   SCALED=1 bench/click-path.sh …   (also a Clicktrail on PostgreSQL + ClickHouse + Redis)
#
# With SCALED=1 a third Clicktrail (default mode) runs on the local PostgreSQL (a fresh database
# clicktrail_bench), ClickHouse (scripts/clickhouse/start.sh's first server, database
# clicktrail_bench) and Redis (its own key prefix), measured in the same rounds; issue 13 asks
# for >= 35 % of the bare 302 server there. BENCH_DATABASE_URL, BENCH_CLICKHOUSE_URL and
# BENCH_REDIS_URL point elsewhere.
#
# Needs `oha` (installed with `cargo install oha --locked` when missing) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-32}
ROUNDS=${3:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}
command -v oha >/dev/null || cargo install oha --locked
echo "building release binaries …" >&2
cargo build --release --locked --quiet --bin clicktrail --example bare302
BIN=$CARGO_TARGET_DIR/release/clicktrail
BARE=$CARGO_TARGET_DIR/release/examples/bare302
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
ADMIN=bench-admin-key-0123456789

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done; echo "server at $1 did not start" >&2; exit 1; }
# load URL: one oha run (bench/oha.sh).
# shellcheck source=bench/oha.sh
source bench/oha.sh
warm() { oha --no-tui --output-format quiet -z 3s -c "$CONNS" -r 0 "$1" >/dev/null 2>&1 || true; }
# Waits until a server's event buffer is empty (its writer kept up), then a moment more.
settle() {
  local metrics="${1%%/c/*}/metrics"
  for _ in $(seq 100); do
    [ "$(curl -fs "$metrics" | awk '/^clicktrail_event_buffer_queued / {print $2}')" = "0" ] && break
    sleep 0.1
  done
  sleep 1
}
hwm_mb() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

start_clicktrail() { # mode name [VAR=value …] → prints "PID URL"
  local mode=$1 name=$2 p; p=$(port)
  shift 2
  env "$@" CLICKTRAIL_ADMIN_KEY=$ADMIN CLICKTRAIL_WRITE_MODE="$mode" CLICKTRAIL_GEOIP_AUTO_INSTALL=false CLICKTRAIL_LOG=warn \
    "$BIN" serve --data-dir "$WORK/data-$name" --listen "127.0.0.1:$p" > "$WORK/$name.log" 2>&1 &
  local pid=$!
  wait_up "http://127.0.0.1:$p/healthz"
  local api="http://127.0.0.1:$p/api" aff offer
  aff=$(curl -fs "$api/affiliates" -H "Authorization: Bearer $ADMIN" -d '{"name":"Bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  offer=$(curl -fs "$api/offers" -H "Authorization: Bearer $ADMIN" \
    -d '{"name":"Bench","destination_url":"https://shop.example/land?cid={click_id}&s1={sub1}","payout":1.5,"payout_type":"cpa","revenue":2}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  echo "$pid http://127.0.0.1:$p/c/$offer/$aff?sub1=bench&source_id=newsletter"
}

echo "cores: $(nproc), $SECS s per run, $CONNS connections, $ROUNDS rounds" >&2
BP=$(port); "$BARE" "127.0.0.1:$BP" & PIDS+=($!)
BARE_URL="http://127.0.0.1:$BP/c/1/1"
wait_up "$BARE_URL" || true
read -r DEF_PID DEF_URL < <(start_clicktrail default default); PIDS+=("$DEF_PID")
read -r DUR_PID DUR_URL < <(start_clicktrail durable durable); PIDS+=("$DUR_PID")
warm "$BARE_URL"; warm "$DEF_URL"; settle "$DEF_URL"; warm "$DUR_URL"; settle "$DUR_URL"
SCL_URL=
if [ -n "${SCALED:-}" ]; then
  PG_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/clicktrail_bench}
  CH_URL=${BENCH_CLICKHOUSE_URL:-http://127.0.0.1:18123/clicktrail_bench}
  if [ -z "${BENCH_DATABASE_URL:-}" ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS clicktrail_bench WITH (FORCE)" -c "CREATE DATABASE clicktrail_bench"
  fi
  if [ -z "${BENCH_CLICKHOUSE_URL:-}" ]; then
    bash scripts/clickhouse/start.sh >&2
    curl -fs http://127.0.0.1:18123/ --data-binary "DROP DATABASE IF EXISTS clicktrail_bench" > /dev/null
  fi
  read -r SCL_PID SCL_URL < <(start_clicktrail default scaled CLICKTRAIL_DATABASE_URL="$PG_URL" \
    CLICKTRAIL_CLICKHOUSE_URL="$CH_URL" CLICKTRAIL_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0}" \
    CLICKTRAIL_REDIS_PREFIX="bench-$$"); PIDS+=("$SCL_PID")
  warm "$SCL_URL"; settle "$SCL_URL"
fi

: > "$WORK/rounds"
for round in $(seq "$ROUNDS"); do
  echo "round $round …" >&2
  read -r B_RPS B_P50 B_P99 B_BAD < <(load "$BARE_URL")
  read -r D_RPS D_P50 D_P99 D_BAD < <(load "$DEF_URL"); settle "$DEF_URL"
  read -r U_RPS U_P50 U_P99 U_BAD < <(load "$DUR_URL"); settle "$DUR_URL"
  HALF=$(( ${D_RPS%.*} / 2 ))
  read -r H_RPS H_P50 H_P99 H_BAD < <(load -q "$HALF" --latency-correction "$DEF_URL"); settle "$DEF_URL"
  read -r BH_RPS BH_P50 BH_P99 BH_BAD < <(load -q "$HALF" --latency-correction "$BARE_URL")
  S_RPS=0; S_P99=0; S_BAD=0
  if [ -n "$SCL_URL" ]; then read -r S_RPS _ S_P99 S_BAD < <(load "$SCL_URL"); settle "$SCL_URL"; fi
  echo "$round $B_RPS $B_P99 $D_RPS $D_P50 $D_P99 $U_RPS $U_P99 $HALF $H_P50 $H_P99 $BH_P99 $((B_BAD + D_BAD + U_BAD + H_BAD + BH_BAD + S_BAD)) $S_RPS $S_P99" >> "$WORK/rounds"
done
DEF_RSS=$(hwm_mb "$DEF_PID"); DUR_RSS=$(hwm_mb "$DUR_PID")

python3 - "$WORK/rounds" "$DEF_RSS" "$DUR_RSS" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
def_rss, dur_rss = sys.argv[2], sys.argv[3]
print()
print("| round | bare 302 req/s | click path req/s (p50 / p99 ms) | ratio | durable req/s | durable/default | half-peak rate | click path p50 / p99 ms | bare p99 ms at that rate | failures |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
ratios, durables, p99s, scaled = [], [], [], []
for r in rows:
    rnd, b, bp99, d, dp50, dp99, u, up99, half, hp50, hp99, bhp99, bad, srps, sp99 = r
    if srps:
        scaled.append((srps / b * 100, srps, sp99))
    ratios.append(d / b * 100); durables.append(u / d * 100); p99s.append(hp99)
    print(f"| {int(rnd)} | {b:.0f} | {d:.0f} ({dp50:.3f} / {dp99:.3f}) | {d / b * 100:.1f} % | {u:.0f} | {u / d * 100:.1f} % | {half:.0f}/s | {hp50:.3f} / {hp99:.3f} | {bhp99:.3f} | {int(bad)} |")
print()
print(f"median click path / bare 302: {statistics.median(ratios):.1f} %   (target >= 50 %)")
print(f"median durable / default:     {statistics.median(durables):.1f} %   (target >= 50 %)")
print(f"median p99 at half peak:      {statistics.median(p99s):.3f} ms   (target <= 2 ms)")
print(f"peak RSS:                     default {def_rss} MB, durable {dur_rss} MB   (target <= 200 MB)")
if scaled:
    print()
    print("| round | on PostgreSQL + ClickHouse + Redis req/s | p99 ms | / bare 302 |")
    print("| ---: | ---: | ---: | ---: |")
    for i, (ratio, rps, p99) in enumerate(scaled, 1):
        print(f"| {i} | {rps:.0f} | {p99:.3f} | {ratio:.1f} % |")
    print(f"median scaled-out click path / bare 302: {statistics.median(r for r, _, _ in scaled):.1f} %   (target >= 35 %)")
PY
