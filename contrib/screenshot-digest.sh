#!/bin/sh
# Renders the seed's HTML digest with headless Chromium into contrib/digest.png (the README's
# picture). Needs Debian's chromium package (apt-get install chromium) and an installed monitor.
#   contrib/screenshot-digest.sh [WIDTHxHEIGHT]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-480x470}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/seeds"
cp "$root"/seeds/* "$work/seeds/"
cat >"$work/config.toml" <<TOML
[seeds]
paths = ["seeds"]

[[rules]]
name = "armenia-azerbaijan"
query = "Armenia AND Azerbaijan"
channels = ["page"]

[[channels]]
name = "page"
type = "file"
path = "digests"
format = "html"
TOML
monitor --config "$work/config.toml" run --once >/dev/null
page=$(find "$work/digests" -name '*.html' | head -n 1)
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="$(echo "$size" | tr x ,)" --screenshot="$root/contrib/digest.png" "file://$page" \
    2>/dev/null
echo "wrote $root/contrib/digest.png from $page"
