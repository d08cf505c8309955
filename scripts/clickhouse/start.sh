#!/usr/bin/env bash
# Starts the test ClickHouse servers (Debian's clickhouse-server, 18.16): two shards on loopback,
# each with its own ports and data directory under $CLICKHOUSE_DIR, and a cluster
# `clicktrail_test` over both. Idempotent: a server that answers is left running.
#
#   scripts/clickhouse/start.sh         (then http://127.0.0.1:18123 and :18124)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="${CLICKHOUSE_DIR:-/var/tmp/clicktrail-clickhouse}"
for shard in 1 2; do
  http=$((18122 + shard)); tcp=$((19000 + shard)); inter=$((19008 + shard))
  if curl -fs "http://127.0.0.1:$http/ping" >/dev/null 2>&1; then continue; fi
  dir="$base/shard$shard"
  mkdir -p "$dir/data" "$dir/tmp" "$dir/log"
  cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <interserver_http_port>$inter</interserver_http_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <users_config>$here/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <timezone>UTC</timezone>
    <remote_servers>
        <clicktrail_test>
            <shard><replica><host>127.0.0.1</host><port>19001</port></replica></shard>
            <shard><replica><host>127.0.0.1</host><port>19002</port></replica></shard>
        </clicktrail_test>
    </remote_servers>
</yandex>
XML
  clickhouse-server --config-file="$dir/config.xml" > "$dir/log/stdout.log" 2>&1 &
done
for shard in 1 2; do
  http=$((18122 + shard))
  for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$http/ping" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fs "http://127.0.0.1:$http/ping" >/dev/null || { echo "clickhouse: shard $shard did not start (see $base/shard$shard/log)" >&2; exit 1; }
done
echo "clickhouse: shards on http://127.0.0.1:18123 and http://127.0.0.1:18124 (cluster clicktrail_test)"
