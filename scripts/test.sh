#!/usr/bin/env bash
# The test command (README): installs what the suites need when it is missing, then runs every
# suite. A suite that cannot run fails the run; none is skipped.
#
# Needs: cargo-nextest (installed with cargo if missing) and PHP's command line (Debian's
# php-cli), the oracle of the time-expression tests (docs/TIME-EXPRESSIONS.md). No variable set
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
if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "test: cargo-nextest missing; installing it"
  cargo install cargo-nextest --locked
fi

export PHP_ORACLE=required
echo "test: $(php -r 'echo "PHP ", PHP_VERSION;') is the strtotime oracle"
cargo nextest run --workspace --locked "$@"
