#!/usr/bin/env bash
# Several Clicktrail nodes behind HAProxy on loopback, on the local PostgreSQL, Redis and the
# two ClickHouse servers of scripts/clickhouse/start.sh (the topology of docs/SCALING.md).
#
#   scripts/cluster.sh start [NAME] [NODES] [PORT]   # NODES (3) nodes on PORT+1…, HAProxy on PORT (18080)
#   scripts/cluster.sh stop [NAME]
#
# NAME (default "demo") names everything the cluster owns: the PostgreSQL database
# clicktrail_cluster_NAME, the Redis key prefix ct-cluster-NAME, the ClickHouse database
# clicktrail_cluster_NAME on both shards and the directory /var/tmp/clicktrail-cluster-NAME
# (settings, logs, pids). `start` starts afresh: it drops what an earlier cluster of that name
# left. The first node creates the network; the admin key is printed. BIN points at the
# clicktrail binary (default: a release build, made when missing).
#
# Needs: haproxy, PostgreSQL on 127.0.0.1:5432 (user postgres), Redis on 127.0.0.1:6379,
# Debian's clickhouse-server, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
ACTION=${1:-start}
NAME=${2:-demo}
NODES=${3:-3}
PORT=${4:-18080}
case "$NAME" in *[!a-z0-9_]*) echo "cluster: NAME is lower-case letters, digits and _" >&2; exit 2 ;; esac
DIR=/var/tmp/clicktrail-cluster-$NAME
DB=clicktrail_cluster_$NAME
PREFIX=ct-cluster-$NAME
ADMIN=${ADMIN_KEY:-cluster-admin-key-$NAME-0123456789}
SHARDS=(http://127.0.0.1:18123 http://127.0.0.1:18124)

stop() {
  if [ -d "$DIR" ]; then
    for pid in "$DIR"/*.pid; do
      [ -e "$pid" ] || continue
      kill "$(cat "$pid")" 2>/dev/null || true
      rm -f "$pid"
    done
  fi
}

if [ "$ACTION" = stop ]; then
  stop
  echo "cluster $NAME: stopped"
  exit 0
fi
[ "$ACTION" = start ] || { echo "usage: scripts/cluster.sh start|stop [NAME] [NODES] [PORT]" >&2; exit 2; }
command -v haproxy >/dev/null || { echo "cluster: haproxy missing (apt-get install haproxy)" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}
  BIN=$CARGO_TARGET_DIR/release/clicktrail
  [ -x "$BIN" ] || cargo build --release --locked --quiet --bin clicktrail
fi

stop
rm -rf "$DIR"
mkdir -p "$DIR"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
bash scripts/clickhouse/start.sh >/dev/null
for s in "${SHARDS[@]}"; do curl -fs "$s/" --data-binary "DROP DATABASE IF EXISTS $DB" >/dev/null; done
keys=$(redis-cli -h 127.0.0.1 --scan --pattern "$PREFIX:*" | head -100000)
[ -z "$keys" ] || echo "$keys" | xargs -r -n 500 redis-cli -h 127.0.0.1 del >/dev/null

servers=""
for n in $(seq 1 "$NODES"); do
  p=$((PORT + n))
  mkdir -p "$DIR/node$n"
  cat > "$DIR/node$n.toml" <<EOF
listen = "127.0.0.1:$p"
data_dir = "$DIR/node$n"
log = "warn"
database_url = "postgres://postgres@127.0.0.1:5432/$DB"
redis_url = "redis://127.0.0.1:6379/0"
redis_prefix = "$PREFIX"
clickhouse_url = "${SHARDS[0]}/$DB,${SHARDS[1]}/$DB"
clickhouse_cluster = "clicktrail_test"
admin_key = "$ADMIN"
write_mode = "${WRITE_MODE:-default}"
geoip_auto_install = false
trusted_proxies = ["127.0.0.1"]
EOF
  servers+="    server node$n 127.0.0.1:$p check"$'\n'
done

up() { for _ in $(seq 300); do curl -fs -o /dev/null "$1/readyz" && return 0; sleep 0.1; done; echo "cluster: $1 did not start (see $DIR/*.log)" >&2; exit 1; }
start_node() {
  env -u CLICKTRAIL_DATA_DIR "$BIN" --config "$DIR/node$1.toml" serve > "$DIR/node$1.out" 2> "$DIR/node$1.log" &
  echo $! > "$DIR/node$1.pid"
}
# The first node alone creates the network; the others find it.
start_node 1
up "http://127.0.0.1:$((PORT + 1))"
for n in $(seq 2 "$NODES"); do start_node "$n"; done
for n in $(seq 2 "$NODES"); do up "http://127.0.0.1:$((PORT + n))"; done

# The balancer's settings are the cluster tests' own (scripts/haproxy.cfg.in).
cfg=$(<scripts/haproxy.cfg.in)
cfg=${cfg//@PORT@/$PORT}
cfg=${cfg//@SERVERS@/$servers}
printf '%s\n' "${cfg//@EXTRA@/}" > "$DIR/haproxy.cfg"
haproxy -db -f "$DIR/haproxy.cfg" > "$DIR/haproxy.log" 2>&1 &
echo $! > "$DIR/haproxy.pid"
up "http://127.0.0.1:$PORT"
echo "cluster $NAME: $NODES nodes on ports $((PORT + 1))-$((PORT + NODES)) behind HAProxy at http://127.0.0.1:$PORT"
echo "cluster $NAME: admin key $ADMIN; logs in $DIR; stop with: scripts/cluster.sh stop $NAME"
