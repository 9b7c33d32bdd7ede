#!/usr/bin/env bash
# Fidelity and compatibility check against the original Python matterbak 0.5.2 (from PyPI):
#  1. the original backs up the fake server's demo data (the fake server must serve it);
#  2. the Rust port continues the original's data dir (no duplicates, no re-downloads);
#  3. the original updates the data dir after the port, also with --update-old-posts, and still
#     writes no duplicate post file.
# All of it in a time zone other than UTC, where post file names differ between UTC and local time.
# Usage: scripts/check-original.sh [WORKDIR]   (default: target/check-original)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release
case $bin in /*) ;; *) bin=$root/$bin ;; esac
work=${1:-target/check-original}
export TZ=${TZ_CHECK:-Europe/Berlin}
rm -rf "$work"
mkdir -p "$work"
if ! python3 -m venv "$work/venv" || ! "$work/venv/bin/pip" install -q matterbak==0.5.2; then
  echo "check-original: cannot install matterbak 0.5.2 from PyPI here: skipped" >&2
  exit 0
fi
cargo build --release --locked --workspace --bins >&2
"$bin/fakemm" serve --seed 42 --scale demo --addr 127.0.0.1:0 --write-config "$work" > "$work/fakemm.out" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q listening "$work/fakemm.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$work/fakemm.out" | head -1)
cd "$work"

requests() { curl -s "$url/__fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
add_posts() { # a few new posts in town-square of acme
  ch=$(curl -s "$url/__fake/world" | python3 -c 'import json,sys; w=json.load(sys.stdin); print([c["id"] for c in w["channels"] if c["name"]=="town-square" and c["team"]=="acme"][0])')
  for i in 1 2 3; do
    curl -s -X POST "$url/__fake/posts" -H 'Content-Type: application/json' \
      -d "{\"channel_id\":\"$ch\",\"user\":\"bob\",\"message\":\"$1 $i\",\"files\":[{\"name\":\"$1-$i.txt\",\"mime\":\"text/plain\",\"size\":100}]}" >/dev/null
    sleep 0.01
  done
}
dups() {
  find data -type f -regextype posix-extended -regex '.*/[0-9]{8}-[0-9]{12}__[a-z0-9]+\.json' -not -path '*/history/*' \
    | sed 's/.*__//' | sort | uniq -d | wc -l
}
posts() { find data -type f -regextype posix-extended -regex '.*/[0-9]{8}-[0-9]{12}__[a-z0-9]+\.json' -not -path '*/history/*' | wc -l; }

echo "== 1. the original matterbak 0.5.2 against $url (TZ=$TZ)" >&2
curl -s -X POST "$url/__fake/reset-stats" >/dev/null
start=$(date +%s%N)
venv/bin/matterbak --rate-limit 0 -d data -o original.zip > original.log 2>&1 || { tail -20 original.log; exit 1; }
end=$(date +%s%N)
echo "original: $(posts) post files, $(du -sh data | cut -f1), $(requests) requests, $(( (end - start) / 1000000 )) ms" >&2

echo "== 2. the Rust port continuing the original's data dir, after new posts" >&2
add_posts after-original
curl -s -X POST "$url/__fake/reset-stats" >/dev/null
"$bin/matterbak" --rate-limit 0 -d data -o port.zip 2> port.log | tee port.out >&2
grep -q '"post_names": "local"' data/.matterbak-state.json || [ "$(date +%z)" = "+0000" ] || { echo "the port did not keep local-time names" >&2; exit 1; }
echo "port: $(posts) post files, duplicates: $(dups), $(requests) requests" >&2
test "$(dups)" = 0

echo "== 3. the original again, after more new posts, then with --update-old-posts" >&2
add_posts after-port
venv/bin/matterbak --rate-limit 0 -d data -o original2.zip > original2.log 2>&1 || { tail -20 original2.log; exit 1; }
echo "original: $(posts) post files, duplicates: $(dups)" >&2
test "$(dups)" = 0
venv/bin/matterbak --rate-limit 0 -d data -o original3.zip --update-old-posts > original3.log 2>&1 || { tail -20 original3.log; exit 1; }
echo "original --update-old-posts: $(posts) post files, duplicates: $(dups)" >&2
test "$(dups)" = 0
echo "ok: the original and the port share the data dir without duplicates" >&2
