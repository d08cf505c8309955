#!/usr/bin/env bash
# The test command (README): installs what the suites need when it is missing, then runs every
# suite. A suite that cannot run fails the run; none is skipped.
#
# Needs: cargo-nextest (installed with cargo if missing), PostgreSQL and Redis on their standard
# loopback ports (started when stopped; TEST_DATABASE_URL and TEST_REDIS_URL point elsewhere),
# Debian's clickhouse-server (two servers started on ports 18123/18124, TEST_CLICKHOUSE_SERVER
# points elsewhere) and PyPI's chdb (current ClickHouse, which replays the statements),
# Debian's chromium and chromium-driver
# (the panel's browser tests), Debian's haproxy (the three-node cluster tests), PHP's command line (Debian's php-cli), the oracle of the time-expression tests (docs/TIME-EXPRESSIONS.md), and Python's
# openapi-spec-validator and schemathesis (PyPI), which check the served OpenAPI document and
# fuzz the native API against it (schemathesis.toml). No variable set
# here may start with CLICKTRAIL_: the server reads those as settings and refuses unknown ones.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "test: need root (or sudo) to run: $*" >&2
    exit 1
  fi
}

apt_updated=
need_package() { # command, Debian package
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "test: $1 missing; installing Debian's $2"
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    command -v "$1" >/dev/null 2>&1 || { echo "test: $2 did not provide $1" >&2; exit 1; }
  fi
}

need_package php php-cli
# The panel's browser journeys drive Debian's headless Chromium through its WebDriver.
need_package chromium chromium
need_package chromedriver chromium-driver
need_package python3 python3
if ! python3 -c 'import openapi_spec_validator' >/dev/null 2>&1; then
  echo "test: openapi-spec-validator missing; installing it from PyPI"
  python3 -m pip install --quiet openapi-spec-validator || as_root python3 -m pip install --quiet --break-system-packages openapi-spec-validator
  python3 -c 'import openapi_spec_validator' || { echo "test: openapi-spec-validator did not install" >&2; exit 1; }
fi
if ! command -v schemathesis >/dev/null 2>&1; then
  echo "test: schemathesis missing; installing it from PyPI"
  python3 -m pip install --quiet schemathesis || as_root python3 -m pip install --quiet --break-system-packages schemathesis
  command -v schemathesis >/dev/null 2>&1 || { echo "test: schemathesis did not install (or is not on PATH)" >&2; exit 1; }
fi
if ! python3 -c 'import chdb' >/dev/null 2>&1; then
  # Current ClickHouse, in process: every statement sent to 18.16 is replayed on it.
  echo "test: chdb missing; installing it from PyPI (about 1 GB)"
  python3 -m pip install --quiet chdb || as_root python3 -m pip install --quiet --break-system-packages chdb
  python3 -c 'import chdb' || { echo "test: chdb did not install" >&2; exit 1; }
fi
if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "test: cargo-nextest missing; installing it"
  cargo install cargo-nextest --locked
fi

# PostgreSQL and Redis: the backends' conformance suites, and the HTTP suite a second time on
# them. Both run on this kind of machine; started by the machine's own commands when stopped.
need_package pg_isready postgresql
need_package redis-server redis-server
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "test: PostgreSQL is not answering; starting it"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "test: PostgreSQL did not start" >&2; exit 1; }
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "test: Redis is not answering; starting it"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "test: Redis did not start" >&2; exit 1; }
fi
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  # A database of this run's own: every test makes a schema in it.
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS clicktrail_test WITH (FORCE)" \
    -c "CREATE DATABASE clicktrail_test" ||
    { echo "test: cannot create the database clicktrail_test (PostgreSQL user postgres)" >&2; exit 1; }
  export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/clicktrail_test
fi
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
# ClickHouse: Debian's 18.16, two servers of this run's own (scripts/clickhouse/start.sh).
need_package clickhouse-server clickhouse-server
need_package curl curl
# The many-node tests put three servers behind Debian's HAProxy.
need_package haproxy haproxy
if [ -z "${TEST_CLICKHOUSE_SERVER:-}" ]; then
  bash scripts/clickhouse/start.sh
  export TEST_CLICKHOUSE_SERVER=http://127.0.0.1:18123
  export TEST_CLICKHOUSE_SHARDS=http://127.0.0.1:18123,http://127.0.0.1:18124 TEST_CLICKHOUSE_CLUSTER=clicktrail_test
  # What earlier runs' tests left behind, on both servers.
  for server in http://127.0.0.1:18123 http://127.0.0.1:18124; do
    for db in $(curl -fs "$server/" --data-binary "SELECT name FROM system.databases WHERE startsWith(name, 'ct_')"); do
      curl -fs "$server/" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null
    done
  done
fi

export PHP_ORACLE=required
export OPENAPI_VALIDATOR=required
export SCHEMATHESIS=required
echo "test: $(php -r 'echo "PHP ", PHP_VERSION;') is the strtotime oracle"
cargo nextest run --workspace --locked "$@"

# The HTTP suite again, on PostgreSQL, Redis and ClickHouse sharded over two servers (the
# single-server ClickHouse runs the events conformance suite above). Left out: what only the
# embedded store has (its files: the backup and restore commands, kill -9 durability of the
# SQLite files), the command-line tests, which start the binary with their own settings, and
# the cluster tests, which always run three nodes on these backends (in the first pass).
echo "test: the HTTP suite on PostgreSQL + Redis + a two-shard ClickHouse cluster"
TEST_BACKENDS=postgres,redis,clickhouse-cluster cargo nextest run -p clicktrail --test it --locked \
  -E 'not test(/^cli::/) and not test(/^durability::/) and not test(/^cluster::/)' "$@"
