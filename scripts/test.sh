#!/usr/bin/env bash
# The test command (README): installs what the suites need when it is missing, then runs every
# suite. A suite that cannot run fails the run; none is skipped.
#
# Needs: cargo-nextest (installed with cargo if missing), Debian's chromium and chromium-driver
# (the panel's browser tests), PHP's command line (Debian's php-cli), the oracle of the time-expression tests (docs/TIME-EXPRESSIONS.md), and Python's
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
if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "test: cargo-nextest missing; installing it"
  cargo install cargo-nextest --locked
fi

export PHP_ORACLE=required
export OPENAPI_VALIDATOR=required
export SCHEMATHESIS=required
echo "test: $(php -r 'echo "PHP ", PHP_VERSION;') is the strtotime oracle"
cargo nextest run --workspace --locked "$@"
