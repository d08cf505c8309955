#!/usr/bin/env bash
# The click-path benchmark: in one run, on this machine, a bare-302 server (same HTTP stack, no
# work) and Clicktrail's click path in default and durable mode, each at peak load and
# Clicktrail also at half its peak rate; requests/s, latency percentiles, ratios, peak RSS.
#
#   bench/click-path.sh [SECONDS] [CONNECTIONS]
#
# Needs `oha` (installed with `cargo install oha --locked` when missing) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-32}
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
# oha run → "rps p50_ms p99_ms"
load() {
  oha --no-tui --output-format json -z "${SECS}s" -c "$CONNS" -r 0 "$@" > "$WORK/oha.json"
  python3 - "$WORK/oha.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s, p = d["summary"], d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
ok = sum(v for k, v in codes.items() if k.startswith("2") or k.startswith("3"))
bad = sum(codes.values()) - ok
print(f'{s["requestsPerSec"]:.0f} {p["p50"]*1000:.3f} {p["p99"]*1000:.3f} {bad}')
PY
}
# Waits until the server's event buffer is empty (the writer kept up), then a moment more.
settle() {
  local metrics="${1%%/c/*}/metrics"
  for _ in $(seq 100); do
    [ "$(curl -fs "$metrics" | awk '/^clicktrail_event_buffer_queued / {print $2}')" = "0" ] && break
    sleep 0.1
  done
  sleep 2
}
# A short unmeasured run first, so every server is measured warm (page cache, allocator, files).
warm() { oha --no-tui --output-format quiet -z 3s -c "$CONNS" -r 0 "$1" >/dev/null 2>&1 || true; }
hwm_mb() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

start_clicktrail() { # mode → sets CT_PID CT_URL
  local mode=$1 p; p=$(port)
  CLICKTRAIL_ADMIN_KEY=$ADMIN CLICKTRAIL_WRITE_MODE=$mode CLICKTRAIL_GEOIP_AUTO_INSTALL=false CLICKTRAIL_LOG=warn \
    "$BIN" serve --data-dir "$WORK/data-$mode" --listen "127.0.0.1:$p" > "$WORK/$mode.log" 2>&1 &
  CT_PID=$!; PIDS+=("$CT_PID")
  wait_up "http://127.0.0.1:$p/healthz"
  local api="http://127.0.0.1:$p/api" aff offer
  aff=$(curl -fs "$api/affiliates" -H "Authorization: Bearer $ADMIN" -d '{"name":"Bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  offer=$(curl -fs "$api/offers" -H "Authorization: Bearer $ADMIN" \
    -d '{"name":"Bench","destination_url":"https://shop.example/land?cid={click_id}&s1={sub1}","payout":1.5,"payout_type":"cpa","revenue":2}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  CT_URL="http://127.0.0.1:$p/c/$offer/$aff?sub1=bench&source_id=newsletter"
}

echo "cores: $(nproc), $SECS s per run, $CONNS connections" >&2
BP=$(port); "$BARE" "127.0.0.1:$BP" & PIDS+=($!); wait_up "http://127.0.0.1:$BP/c/1/1" || true
warm "http://127.0.0.1:$BP/c/1/1"
read -r BARE_RPS BARE_P50 BARE_P99 BARE_BAD < <(load "http://127.0.0.1:$BP/c/1/1")
BARE_PID=${PIDS[-1]}

start_clicktrail default
warm "$CT_URL"; settle "$CT_URL"
read -r DEF_RPS DEF_P50 DEF_P99 DEF_BAD < <(load "$CT_URL")
settle "$CT_URL"
HALF=$(( ${DEF_RPS%.*} / 2 ))
read -r HALF_RPS HALF_P50 HALF_P99 HALF_BAD < <(load -q "$HALF" --latency-correction "$CT_URL")
# The baseline at the same fixed rate, for context on what this machine's scheduler allows.
read -r BHALF_RPS BHALF_P50 BHALF_P99 BHALF_BAD < <(load -q "$HALF" --latency-correction "http://127.0.0.1:$BP/c/1/1")
kill "$BARE_PID"
DEF_RSS=$(hwm_mb "$CT_PID")
kill -TERM "$CT_PID"; wait "$CT_PID" 2>/dev/null || true

start_clicktrail durable
warm "$CT_URL"; settle "$CT_URL"
read -r DUR_RPS DUR_P50 DUR_P99 DUR_BAD < <(load "$CT_URL")
DUR_RSS=$(hwm_mb "$CT_PID")
kill -TERM "$CT_PID"; wait "$CT_PID" 2>/dev/null || true

python3 - "$BARE_RPS" "$DEF_RPS" "$DUR_RPS" <<PY
import sys
bare, default, durable = map(float, sys.argv[1:4])
print()
print("| run | requests/s | p50 ms | p99 ms | non-2xx/3xx | peak RSS MB |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
print(f"| bare 302 (baseline) | {bare:.0f} | $BARE_P50 | $BARE_P99 | $BARE_BAD | |")
print(f"| click path, default mode, peak | {default:.0f} | $DEF_P50 | $DEF_P99 | $DEF_BAD | $DEF_RSS |")
print(f"| click path, default mode, at {int(default)//2}/s (half peak) | $HALF_RPS | $HALF_P50 | $HALF_P99 | $HALF_BAD | |")
print(f"| bare 302 at the same {int(default)//2}/s | $BHALF_RPS | $BHALF_P50 | $BHALF_P99 | $BHALF_BAD | |")
print(f"| click path, durable mode, peak | {durable:.0f} | $DUR_P50 | $DUR_P99 | $DUR_BAD | $DUR_RSS |")
print()
print(f"click path / bare 302: {default / bare * 100:.1f} %   (target >= 50 %)")
print(f"durable / default:     {durable / default * 100:.1f} %   (target >= 50 %)")
print(f"p99 at half peak:      $HALF_P99 ms   (target <= 2 ms)")
print(f"peak RSS:              default $DEF_RSS MB, durable $DUR_RSS MB   (target <= 200 MB)")
PY
