#!/usr/bin/env bash
# Backs up the fake Mattermost server's demo data set: no real server needed.
# Usage: scripts/demo.sh [OUTDIR]   (default: ./demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo}
mkdir -p "$out"
cargo build --release --locked --workspace --bins >&2
bin=${CARGO_TARGET_DIR:-target}/release
"$bin/fakemm" serve --seed 42 --scale demo --addr 127.0.0.1:0 --write-config "$out" > "$out/fakemm.out" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q listening "$out/fakemm.out" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$out/fakemm.out" || { echo "fakemm did not start" >&2; exit 1; }
"$bin/matterbak" --credentials "$out/credentials.json" --channels "$out/channels.json" \
  -d "$out/data" -o "$out/matterbak_alice.zip" --rate-limit 0
echo "backup in $out/data, zip in $out/matterbak_alice.zip" >&2
