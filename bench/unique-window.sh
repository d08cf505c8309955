#!/usr/bin/env bash
# The unique-click window at scale: 10 M distinct visitors over one day in the in-memory window
# the server keeps; prints its resident memory, bytes per visitor and nanoseconds per sighting,
# and checks that every visitor is still remembered as a repeat at the end of the day.
#
#   bench/unique-window.sh [VISITORS]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}
echo "building the release example …" >&2
cargo build --release --locked --quiet -p clicktrail --example unique_window
"$CARGO_TARGET_DIR/release/examples/unique_window" "${1:-10000000}"
