#!/usr/bin/env bash
# Vendor Swagger UI (Apache-2.0) into skyfence/web/static/vendor/ so /docs works offline and
# under the page's own Content-Security-Policy (no CDN).
# Usage: scripts/vendor_swagger_ui.sh [VERSION]   (default: latest 5.x from the npm registry)
set -euo pipefail
version="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/skyfence/web/static/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar -xzf swagger-ui-dist-*.tgz)
mkdir -p "$dest"
# the bundle without its source-map comment: the map is not vendored
sed '/^\/\/# sourceMappingURL=/d' "$tmp/package/swagger-ui-bundle.js" >"$dest/swagger-ui-bundle.js"
sed '/sourceMappingURL=/d' "$tmp/package/swagger-ui.css" >"$dest/swagger-ui.css"
cp "$tmp/package/LICENSE" "$dest/swagger-ui.LICENSE.txt"
cp "$tmp/package/NOTICE" "$dest/swagger-ui.NOTICE.txt"
cp "$tmp/package/swagger-ui-bundle.js.LICENSE.txt" "$dest/swagger-ui-bundle.js.LICENSE.txt"
v="$(node -p "require('$tmp/package/package.json').version" 2>/dev/null || echo "$version")"
touch "$dest/VERSION.txt"
{ grep -v '^swagger-ui-dist ' "$dest/VERSION.txt" || true; echo "swagger-ui-dist $v"; } >"$tmp/VERSION.txt"
mv "$tmp/VERSION.txt" "$dest/VERSION.txt"
echo "vendored swagger-ui-dist $v into $dest"
