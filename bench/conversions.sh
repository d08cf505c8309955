#!/usr/bin/env bash
# The conversion benchmark: conversions/s accepted on /postback, and how soon each affiliate
# postback's first attempt reaches a local receiver after the conversion was answered.
#
#   bench/conversions.sh [COUNT] [CONNECTIONS] [RATE]
#
# Two runs on one server: COUNT conversions at full speed (conversions/s), then COUNT paced at
# RATE per second (default 200), where the delivery latency is the figure that matters.
# SERVER_BIN=… LOAD_BIN=… run prebuilt binaries instead of building this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-5000}
CONNS=${2:-32}
RATE=${3:-200}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}
# SERVER_BIN and LOAD_BIN run other builds (an older commit's, to compare side by side).
if [ -z "${SERVER_BIN:-}" ]; then
  echo "building release binaries …" >&2
  cargo build --release --locked --quiet --bin clicktrail --example conversion_load
fi
SERVER_BIN=${SERVER_BIN:-$CARGO_TARGET_DIR/release/clicktrail}
LOAD_BIN=${LOAD_BIN:-$CARGO_TARGET_DIR/release/examples/conversion_load}
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ADMIN=bench-admin-key-0123456789
CLICKTRAIL_ADMIN_KEY=$ADMIN CLICKTRAIL_GEOIP_AUTO_INSTALL=false CLICKTRAIL_LOG=warn \
  CLICKTRAIL_POSTBACK_ALLOWLIST=127.0.0.0/8 \
  "$SERVER_BIN" serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.05; done
echo "cores: $(nproc), $COUNT conversions, $CONNS connections" >&2
"$LOAD_BIN" "http://127.0.0.1:$PORT" "$ADMIN" "$COUNT" "$CONNS"
"$LOAD_BIN" "http://127.0.0.1:$PORT" "$ADMIN" "$COUNT" "$CONNS" "$RATE"
