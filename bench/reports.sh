#!/usr/bin/env bash
# The report benchmark: COUNT synthetic clicks (1 % converting) over 30 days loaded into the
# embedded store, then the latency of the seeds' reports on them and the freshness of a click.
#
#   bench/reports.sh [COUNT]        (issue 5 asks for 10000000)
#   ONLY=panel bench/reports.sh     (the panel's pages alone)
#   BACKEND=scaled bench/reports.sh (on PostgreSQL + ClickHouse + Redis: a fresh database
#                                    clicktrail_bench_reports in each, loaded once)
#
# The loaded data directory is kept in $BENCH_DATA (default /var/tmp/clicktrail-bench-COUNT)
# and reused by later runs.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-10000000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}
if [ "${BACKEND:-}" = scaled ]; then
  DATA=${BENCH_DATA:-/var/tmp/clicktrail-bench-scaled-$COUNT}
  export CLICKTRAIL_DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/clicktrail_bench_reports}
  export CLICKTRAIL_CLICKHOUSE_URL=${BENCH_CLICKHOUSE_URL:-http://127.0.0.1:18123/clicktrail_bench_reports}
  export CLICKTRAIL_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0} CLICKTRAIL_REDIS_PREFIX=bench-reports
  bash scripts/clickhouse/start.sh >&2
else
  DATA=${BENCH_DATA:-/var/tmp/clicktrail-bench-$COUNT}
fi
ADMIN=bench-admin-key-0123456789
# SERVER_BIN runs another build on the same data (an older commit's, to compare side by side).
cargo build --release --locked --quiet --bin clicktrail --example report_load
SERVER_BIN=${SERVER_BIN:-$CARGO_TARGET_DIR/release/clicktrail}
if [ ! -f "$DATA/loaded" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  if [ "${BACKEND:-}" = scaled ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS clicktrail_bench_reports WITH (FORCE)" \
      -c "CREATE DATABASE clicktrail_bench_reports"
    curl -fs http://127.0.0.1:18123/ --data-binary "DROP DATABASE IF EXISTS clicktrail_bench_reports" > /dev/null
  fi
  echo "loading $COUNT clicks into $DATA …" >&2
  # Only the KEY=value lines: set-up also prints the admin's generated panel login.
  "$CARGO_TARGET_DIR/release/examples/report_load" "$DATA" "$ADMIN" "$COUNT" 30 | grep -E '^[A-Z_]+=' > "$DATA/loaded.tmp"
  mv "$DATA/loaded.tmp" "$DATA/loaded"
fi
# shellcheck disable=SC1091
source "$DATA/loaded"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PANEL_PASSWORD=bench-panel-password
# This machine's PostgreSQL runs without autovacuum: the statistics a server that has been
# running would have (the bulk load leaves none, and the planner then sorts on disk).
if [ "${BACKEND:-}" = scaled ]; then psql -q "$CLICKTRAIL_DATABASE_URL" -c ANALYZE; fi
# The schema this build has, before the server starts (a migration that fills new rollups
# from 10 M clicks takes longer than the start-up wait below).
"$SERVER_BIN" --data-dir "$DATA" migrate > /dev/null
# The admin's panel password (the loader's set-up generated one).
echo "$PANEL_PASSWORD" | "$SERVER_BIN" --data-dir "$DATA" users set-password --email admin@localhost --password-stdin > /dev/null
# The bench is no rate-limit test: quotas far above what it sends.
CLICKTRAIL_ADMIN_KEY=$ADMIN CLICKTRAIL_GEOIP_AUTO_INSTALL=false CLICKTRAIL_LOG=warn \
  CLICKTRAIL_RATE_LIMIT_STANDARD=1000000 CLICKTRAIL_RATE_LIMIT_PREMIUM=1000000 CLICKTRAIL_RATE_LIMIT_BURST=1000000 \
  "$SERVER_BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" > /dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 600); do curl -fs -o /dev/null "$BASE/healthz" && break; sleep 0.1; done
# Measure on folded rollups, as a server that has been running would have them (ClickHouse's
# materialized views keep its rollups as the clicks arrive).
[ "${BACKEND:-}" = scaled ] || python3 - "$DATA/events.db" <<'PY'
import sqlite3, sys, time
deadline = time.time() + 1800
while True:
    con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    marks = con.execute("SELECT through FROM rollup_marks").fetchall()
    con.close()
    if len(marks) == 10 and min(m for (m,) in marks) >= (time.time() - 3600) * 1000:
        break
    if time.time() > deadline:
        sys.exit("the rollups did not fold within 30 minutes")
    time.sleep(2)
PY
RUNS=${RUNS:-5}
best() { # best of RUNS (after one warm-up) of a curl, in ms; any answer but 200 stops the bench
  code=$("$@" -o /dev/null -s -w '%{http_code}')
  [ "$code" = 200 ] || { echo "bench: $* answered $code" >&2; exit 1; }
  for _ in $(seq "$RUNS"); do "$@" -o /dev/null -s -w '%{time_total}\n'; done | sort -n | head -1 | awk '{printf "%.1f", $1*1000}'
}
FROM=$(date -u -d '30 days ago' +%F); TO=$(date -u +%F)
if [ "${ONLY:-}" != panel ]; then
A=$(best curl "$BASE/api/v1.2/admin/offerStats/$FROM/$TO/" -H "x-api-key: $ADMIN" -H "x-user-id: 1")
E=$(best curl "$BASE/v1/stats?date_from=$FROM&date_to=$TO&group_by=sub1" -H "Authorization: Bearer $AFFILIATE_KEY")
D_FROM=$(date -u -d '20 days ago' +%F); D_TO=$(date -u -d '7 days ago' +%F)
D=$(best curl "$BASE/v1/affiliates/reporting/clicks/stream" -H "x-eflow-api-key: $ADMIN" -H 'content-type: application/json' \
  -d "{\"from\":\"$D_FROM\",\"to\":\"$D_TO\",\"timezone_id\":67}")
N=$(curl -fs "$BASE/v1/affiliates/reporting/clicks/stream" -H "x-eflow-api-key: $ADMIN" -H 'content-type: application/json' \
  -d "{\"from\":\"$D_FROM\",\"to\":\"$D_TO\",\"timezone_id\":67}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["clicks"]))')
# Freshness: a click, then the report until it counts it — over a window that starts at a
# fixed time, a minute ago (one that slides would lose the loaded clicks at its start when the
# load ended within the hour).
FRESH=$(date -u -d '1 minute ago' '+%Y-%m-%d%%20%H:%M:%S')
before=$(curl -fs "$BASE/api/reports?from=$FRESH&to=now&offer_id=1" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["clicks"])')
start=$(date +%s.%N)
curl -fs -o /dev/null "$BASE/c/1/$AFFILIATE_ID" -A "Mozilla/5.0 (fresh)"
while :; do
  now=$(curl -fs "$BASE/api/reports?from=$FRESH&to=now&offer_id=1" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["clicks"])')
  [ "$now" -gt "$before" ] && break
  python3 -c "import sys, time; sys.exit(time.time() - $start > 60)" || { echo "bench: the click did not show in 60 s" >&2; exit 1; }
  sleep 0.01
done
F=$(python3 -c "import time; print(f'{(time.time() - $start) * 1000:.0f}')")
# Other reports on the same data (no target; how the planner does off the seeds' paths).
A_RO=$(best curl "$BASE/api/v1.2/admin/offerStats/$FROM/$TO/?country=RO" -H "x-api-key: $ADMIN" -H "x-user-id: 1")
A_KOL=$(best curl "$BASE/api/v1.2/admin/offerStats/$FROM/$TO/?groupBy=date&timezone=Asia/Kolkata" -H "x-api-key: $ADMIN" -H "x-user-id: 1")
A_HOUR=$(best curl "$BASE/api/v1.2/admin/offerStats/$FROM/$TO/?groupBy=hour" -H "x-api-key: $ADMIN" -H "x-user-id: 1")
B_SRC=$(best curl "$BASE/api/traffic-source?rest_key=$ADMIN&date_from=$(date -u -d "29 days ago" +%s)&date_to=$(date -u +%s)")
R_SUB=$(best curl "$BASE/api/reports?from=$FROM&to=$TO&group_by=sub1" -H "Authorization: Bearer $ADMIN")
R_RAW=$(best curl "$BASE/api/reports?from=$FROM&to=$TO&group_by=sub1,country&affiliate_id=$AFFILIATE_ID" -H "Authorization: Bearer $ADMIN")
# Issue 11: filters pushed into the store, group-bys over any allowed fields.
stream() { # KEY BODY-QUERY: a Dialect D stream over the 14 days above with a query
  best curl "$BASE/v1/affiliates/reporting/clicks/stream" -H "x-eflow-api-key: $1" -H 'content-type: application/json' \
    -d "{\"from\":\"$D_FROM\",\"to\":\"$D_TO\",\"timezone_id\":67,\"query\":$2}"
}
f() { echo "{\"resource_type\":\"$1\",\"filter_id_value\":\"$2\"}"; }
D_S3=$(stream "$ADMIN" "{\"filters\":[$(f s3 x)]}")
D_MIX=$(stream "$ADMIN" "{\"filters\":[$(f s1 s7),$(f country RO),$(f offer 3)]}")
D_EXCL=$(stream "$ADMIN" "{\"exclusions\":[$(f country US),$(f s2 t3)]}")
D_AFF=$(stream "$AFFILIATE_KEY" "{\"filters\":[$(f s1 s7),$(f s2 t3)]}")
D_BROWSER=$(stream "$ADMIN" "{\"filters\":[$(f browser Firefox)]}")
D_RARE=$(stream "$ADMIN" "{\"filters\":[$(f s1 s7),$(f s2 t3)]}")
stats() { best curl "$BASE/v1/stats?date_from=$FROM&date_to=$TO&group_by=$1" -H "Authorization: Bearer $AFFILIATE_KEY"; }
E_SGD=$(stats sub1,geo,device); E_GDO=$(stats geo,device,os); E_OSS=$(stats offer,sub1,sub2); E_DS=$(stats date,sub1)
report() { best curl "$BASE/api/reports?from=$FROM&to=$TO&group_by=$1" -H "Authorization: Bearer $ADMIN"; }
R_SC=$(report sub1,country); R_SS=$(report sub1,sub2); R_CDO=$(report country,device,os); R_SSC=$(report sub1,sub2,country)
echo
echo "| measurement ($COUNT clicks over 30 days) | best of $RUNS | target |"
echo "| --- | ---: | ---: |"
echo "| seed 000: offerStats over 30 days | $A ms | ≤ 50 ms |"
echo "| seed 004: /v1/stats by sub1 over 30 days | $E ms | ≤ 1000 ms |"
echo "| seed 003: stream of $N clicks | $D ms | ≤ 200 ms |"
echo "| a click visible in /api/reports | $F ms | ≤ 2000 ms |"
echo
echo "| other reports over 30 days (no target) | best of $RUNS |"
echo "| --- | ---: |"
echo "| offerStats, country=RO (offer × affiliate × country days) | $A_RO ms |"
echo "| offerStats, groupBy=date in Asia/Kolkata (hours: local dates are not UTC days) | $A_KOL ms |"
echo "| offerStats, groupBy=hour | $A_HOUR ms |"
echo "| traffic-source, 30 days (offer × affiliate × source days) | $B_SRC ms |"
echo "| /api/reports by sub1, whole network | $R_SUB ms |"
echo "| /api/reports by sub1 and country, one affiliate (affiliate × day rollup of every field) | $R_RAW ms |"
echo
echo "| issue 11: filters in the store, any group-by | best of $RUNS | target |"
echo "| --- | ---: | ---: |"
echo "| D stream, 14 days, s3 = a value no click has (day rollups skip every day) | $D_S3 ms | ≤ 300 ms |"
echo "| D stream, 14 days, s1 + country + offer (the offer's index) | $D_MIX ms | ≤ 300 ms |"
echo "| D stream, 14 days, excluding country US and s2 t3 | $D_EXCL ms | ≤ 300 ms |"
echo "| D stream, 14 days, an affiliate's key, s1 + s2 (the affiliate's index) | $D_AFF ms | ≤ 300 ms |"
echo "| D stream, 14 days, browser = a value no click has (the day facets skip every day) | $D_BROWSER ms | ≤ 300 ms |"
echo "| D stream, 14 days, s1 + s2 for the whole network (1 click in 500 matches: nothing narrows the scan) | $D_RARE ms | ≤ 300 ms |"
echo "| /v1/stats, one affiliate, 30 days, sub1,geo,device (affiliate × day rollup of every field) | $E_SGD ms | ≤ 500 ms |"
echo "| /v1/stats, one affiliate, 30 days, geo,device,os (day rollup) | $E_GDO ms | ≤ 500 ms |"
echo "| /v1/stats, one affiliate, 30 days, offer,sub1,sub2 (affiliate × day rollup of every field) | $E_OSS ms | ≤ 500 ms |"
echo "| /v1/stats, one affiliate, 30 days, date,sub1 (sub-id day rollup) | $E_DS ms | ≤ 500 ms |"
echo "| /api/reports, network, 30 days, sub1,country (network pair rollup) | $R_SC ms | ≤ 2000 ms |"
echo "| /api/reports, network, 30 days, sub1,sub2 (network pair rollup) | $R_SS ms | ≤ 2000 ms |"
echo "| /api/reports, network, 30 days, country,device,os (network day rollup) | $R_CDO ms | ≤ 2000 ms |"
echo "| /api/reports, network, 30 days, sub1,sub2,country (raw: 10 M clicks) | $R_SSC ms | ≤ 2000 ms |"
fi
# Issue 12: the panel's pages, logged in as a person would be (server time of the whole page).
JAR=$(mktemp); AJAR=$(mktemp)
trap 'kill $PID 2>/dev/null; rm -f "$JAR" "$AJAR"' EXIT
curl -fs -o /dev/null -c "$JAR" --data-urlencode "email=admin@localhost" --data-urlencode "password=$PANEL_PASSWORD" "$BASE/panel/login"
curl -fs -o /dev/null -X PATCH "$BASE/api/affiliates/$AFFILIATE_ID" -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
  -d "{\"email\":\"bench-affiliate@example.com\",\"password\":\"$PANEL_PASSWORD\"}"
curl -fs -o /dev/null -c "$AJAR" --data-urlencode "email=bench-affiliate@example.com" --data-urlencode "password=$PANEL_PASSWORD" "$BASE/panel/login"
page() { # JAR PATH: best of RUNS of a page (which must answer 200)
  best curl -b "$1" "$BASE$2"
}
echo
echo "| issue 12: panel pages ($COUNT clicks over 30 days) | best of $RUNS | target |"
echo "| --- | ---: | ---: |"
for p in "/panel/" "/panel/offers" "/panel/offers/1" "/panel/affiliates" "/panel/conversions" "/panel/conversions?status=pending" \
  "/panel/reports" "/panel/reports?period=30d&g1=offer&compare=1" "/panel/reports?period=30d&g1=sub1" \
  "/panel/reports?period=30d&g1=country&g2=device" "/panel/reports?period=30d&g1=sub1&g2=country" "/panel/clicks"; do
  echo "| admin $p | $(page "$JAR" "$p") ms | ≤ 100 ms |"
done
for p in "/panel/" "/panel/offers" "/panel/reports?period=30d&g1=sub1" "/panel/conversions" "/panel/clicks"; do
  echo "| affiliate $p | $(page "$AJAR" "$p") ms | ≤ 100 ms |"
done
