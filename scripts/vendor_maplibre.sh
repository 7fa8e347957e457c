#!/usr/bin/env bash
# Vendor MapLibre GL JS (BSD-3-Clause) into skyfence/web/static/vendor/ so the web UI works offline.
# Usage: scripts/vendor_maplibre.sh [VERSION]   (default: latest 5.x from the npm registry)
set -euo pipefail
version="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/skyfence/web/static/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "maplibre-gl@$version" >/dev/null && tar -xzf maplibre-gl-*.tgz)
mkdir -p "$dest"
cp "$tmp/package/dist/maplibre-gl.js" "$tmp/package/dist/maplibre-gl.css" "$dest/"
cp "$tmp/package/LICENSE.txt" "$dest/maplibre-gl.LICENSE.txt"
v="$(node -p "require('$tmp/package/package.json').version" 2>/dev/null || echo "$version")"
touch "$dest/VERSION.txt"
{ grep -v '^maplibre-gl ' "$dest/VERSION.txt" || true; echo "maplibre-gl $v"; } >"$tmp/VERSION.txt"
mv "$tmp/VERSION.txt" "$dest/VERSION.txt"
echo "vendored maplibre-gl $v into $dest"
