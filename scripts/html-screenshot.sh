#!/usr/bin/env bash
# Makes docs/html-export.png: the demo data set plus a short conversation (Markdown, a thread,
# an image, reactions, a pin, then an edit and a deletion) made through fakemm's control
# interface, backed up twice, exported with `matterbak export html`, and one channel page
# captured by headless Chromium (Debian package chromium).
# Usage: scripts/html-screenshot.sh [OUTDIR]   (default: target/html-screenshot)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/html-screenshot}
rm -rf "$out"
mkdir -p "$out"
cargo build --release --locked --workspace --bins >&2
bin=${CARGO_TARGET_DIR:-target}/release
"$bin/fakemm" serve --seed 42 --scale demo --addr 127.0.0.1:0 --write-config "$out" > "$out/fakemm.out" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q listening "$out/fakemm.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$out/fakemm.out")
[ -n "$url" ] || { echo "fakemm did not start" >&2; exit 1; }

backup() {
  "$bin/matterbak" --credentials "$out/credentials.json" --channels "$out/channels.json" \
    -d "$out/data" -o "$out/backup.zip" --rate-limit 0 >&2
}
# POST to the control interface; prints the new object's id.
fake() {
  curl -fsS -X POST -H 'Content-Type: application/json' -d "$2" "$url/__fake/$1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin).get("id", ""))'
}
json() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
post() { # channel user message [root] [files-json]
  fake posts "{\"channel_id\": \"$1\", \"user\": \"$2\", \"message\": $(json "$3"), \"root_id\": \"${4:-}\", \"files\": ${5:-[]}}"
}

acme=$(curl -fsS "$url/__fake/world" | python3 -c 'import json, sys; print(json.load(sys.stdin)["teams"]["acme"])')
ch=$(fake channels "{\"team_id\": \"$acme\", \"type\": \"O\", \"name\": \"release-planning\", \"display_name\": \"Release Planning\", \"members\": [\"alice\", \"bob\", \"carol\", \"heidi\"]}")
root=$(post "$ch" heidi "Release **2.4** goes out on Friday :tada: The checklist is pinned in ~town-square, questions to @alice.")
build=$(post "$ch" bob $'The build is green, `cargo test --workspace` passes:\n```rust\nfn main() {\n    println!("ship it");\n}\n```' "$root")
post "$ch" carol "@bob can you add the screenshot of the new export?" "$root" > /dev/null
post "$ch" bob "Here it is, and the release notes draft." "$root" \
  '[{"name": "export-preview.png", "mime": "image/png", "size": 48000}, {"name": "release-notes.pdf", "mime": "application/pdf", "size": 220000}]' > /dev/null
notes=$(post "$ch" alice $'Left to do:\n1. changelog\n2. docs\n\n> Ship small, ship often.')
oops=$(post "$ch" carol "Lunch at noon? (wrong channel, sorry)")
post "$ch" heidi "| step | owner |
|---|---|
| tag | bob |
| announce | heidi |
See https://example.org/releases/2.4 for the plan." > /dev/null
for r in "alice +1" "carol +1" "bob partyparrot" "heidi rocket"; do
  set -- $r
  fake "posts/$root/reactions" "{\"user\": \"$1\", \"emoji_name\": \"$2\"}" > /dev/null
done
fake "posts/$build/reactions" '{"user": "heidi", "emoji_name": "white_check_mark"}' > /dev/null
fake "posts/$root/pin" '{"pinned": true}' > /dev/null
backup
fake "posts/$notes/edit" "{\"message\": $(json $'Left to do:\n1. ~~changelog~~ done\n2. docs\n\n> Ship small, ship often.')}" > /dev/null
fake "posts/$oops/delete" '{}' > /dev/null
backup

"$bin/matterbak" export html -d "$out/data" -o "$out/site"
page="$out/site/c/$ch/1.html"
mkdir -p docs
chromium --headless --disable-gpu --no-sandbox --hide-scrollbars --user-data-dir="$out/profile" \
  --window-size=1200,900 --screenshot="$PWD/docs/html-export.png" "file://$(realpath "$page")" 2>/dev/null
echo "site in $out/site, screenshot of $page in docs/html-export.png" >&2
