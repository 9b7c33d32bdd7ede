#!/usr/bin/env bash
# Fidelity check of the fake server: runs the original Python matterbak 0.5.2 (from PyPI) against
# it, then lets the Rust port continue the data dir the original made.
# Usage: scripts/check-original.sh [WORKDIR]   (default: target/check-original)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${1:-target/check-original}
rm -rf "$work"
mkdir -p "$work"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q matterbak==0.5.2
cargo build --release --locked --workspace --bins >&2
"$root/target/release/fakemm" serve --seed 42 --scale demo --addr 127.0.0.1:0 --write-config "$work" > "$work/fakemm.out" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q listening "$work/fakemm.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$work/fakemm.out" | head -1)
cd "$work"
echo "== the original matterbak 0.5.2 against $url" >&2
start=$(date +%s.%N)
venv/bin/matterbak --rate-limit 0 -d data -o original.zip > original.log 2>&1 || { tail -20 original.log; exit 1; }
end=$(date +%s.%N)
echo "original: $(find data -name '*.json' | wc -l) json files, $(du -sh data | cut -f1), $(echo "$end - $start" | bc) s" >&2
curl -s "$url/__fake/stats" > original-stats.json
echo "original: $(python3 -c 'import json;print(json.load(open("original-stats.json"))["total"])') requests" >&2
curl -s -X POST "$url/__fake/reset-stats" >/dev/null
echo "== the Rust port continuing the original's data dir" >&2
"$root/target/release/matterbak" --rate-limit 0 -d data -o port.zip 2> port.log | tee port.out >&2
dups=$(find data -type f -regextype posix-extended -regex '.*/[0-9]{8}-[0-9]{12}__[a-z0-9]+\.json' | sed 's/.*__//' | sort | uniq -d | wc -l)
echo "duplicate post files after the port's run: $dups" >&2
test "$dups" = 0
