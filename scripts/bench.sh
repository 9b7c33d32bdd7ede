#!/usr/bin/env bash
# The benchmarks: builds release binaries and runs `fakemm bench` (see docs/benchmark.md).
# Options go to `fakemm bench`, e.g.:
#   scripts/bench.sh                          # Large, with the original matterbak 0.5.2 if python3 can install it
#   scripts/bench.sh --with-rate-limit        # also a full backup at --rate-limit 10 (about 6 more minutes)
#   scripts/bench.sh --no-original --scale demo
#   scripts/bench.sh -- --jobs 8              # extra options for every matterbak backup run
# With `latency` first, `fakemm bench-latency` runs instead (a server 20 and 50 ms away), e.g.:
#   scripts/bench.sh latency                  # Demo, 20 and 50 ms, --jobs 8, with the original
#   scripts/bench.sh latency --scale large --no-original --with-rate-limit
# The original's venv is kept in $CARGO_TARGET_DIR/bench-original-venv (pip runs once).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$(pwd)/target}
case $target in /*) ;; *) target=$(pwd)/$target ;; esac
cargo build --release --locked --workspace --bins >&2
if [ "${1:-}" = latency ]; then
  shift
  exec "$target/release/fakemm" bench-latency --matterbak "$target/release/matterbak" \
    --venv "$target/bench-original-venv" "$@"
fi
exec "$target/release/fakemm" bench --matterbak "$target/release/matterbak" \
  --venv "$target/bench-original-venv" "$@"
