#!/usr/bin/env bash
# Writes src/export/jsonl/system_emojis.txt: the short names of the emojis of the npm package
# emoji-datasource (MIT, https://github.com/iamcal/emoji-data), the data the Mattermost webapp
# builds its system emojis from (`model.SystemEmojis`). The bulk importer skips a custom emoji
# with such a name. Needs npm and python3; run it when the server moves to newer emoji data.
# Usage: scripts/system-emojis.sh [VERSION]   (default 16.0.0)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-16.0.0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "emoji-datasource@$version" >/dev/null && tar xzf ./*.tgz package/emoji.json)
python3 - "$tmp/package/emoji.json" "$version" > src/export/jsonl/system_emojis.txt <<'PY'
import json, sys
names = sorted({n for e in json.load(open(sys.argv[1])) for n in e.get("short_names", [])})
print(f"# The short names of emoji-datasource {sys.argv[2]} (MIT, github.com/iamcal/emoji-data),")
print("# one per line, sorted: written by scripts/system-emojis.sh, not by hand.")
print("\n".join(names))
PY
echo "wrote $(grep -vc '^#' src/export/jsonl/system_emojis.txt) names" >&2
