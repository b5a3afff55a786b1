#!/usr/bin/env bash
# Vendor the front-end files the web layer serves: htmx from the npm registry, at the exact version pinned in
# package.json / package-lock.json, copied to static/vendor/htmx.min.js (not committed; see .gitignore).
#
#   scripts/vendor_static.sh          # npm ci only when node_modules is missing or stale, then copy
#
# "Stale" means: no node_modules/.package-lock.json (npm's record of what it installed), package-lock.json or
# package.json newer than that record, or an installed htmx.org whose version differs from the lock's.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
    echo "vendor_static.sh: npm is not installed (Node.js 18+ with npm is needed)" >&2
    exit 1
fi

locked_version() {  # the htmx.org version package-lock.json pins
    node -p 'require("./package-lock.json").packages["node_modules/htmx.org"].version'
}

installed_version() {  # the htmx.org version in node_modules, or nothing
    node -p 'try { require("./node_modules/htmx.org/package.json").version } catch (e) { "" }'
}

stale=""
if [[ ! -f node_modules/.package-lock.json ]]; then
    stale="node_modules is missing"
elif [[ package-lock.json -nt node_modules/.package-lock.json || package.json -nt node_modules/.package-lock.json ]]; then
    stale="package-lock.json changed since the last install"
elif [[ ! -f node_modules/swagger-ui-dist/package.json ]]; then
    stale="swagger-ui-dist is not installed"
elif [[ "$(installed_version)" != "$(locked_version)" ]]; then
    stale="installed htmx.org $(installed_version) is not the locked $(locked_version)"
fi

if [[ -n "$stale" ]]; then
    echo "vendor_static.sh: $stale; running npm ci"
    npm ci --no-audit --no-fund --ignore-scripts
else
    echo "vendor_static.sh: node_modules is up to date (htmx.org $(installed_version))"
fi

src=node_modules/htmx.org/dist/htmx.min.js
if [[ ! -s "$src" ]]; then
    echo "vendor_static.sh: $src is missing after install" >&2
    exit 1
fi
mkdir -p static/vendor
tmp="static/vendor/.htmx.min.js.$$"
cp "$src" "$tmp"
mv -f "$tmp" static/vendor/htmx.min.js
echo "vendor_static.sh: static/vendor/htmx.min.js <- htmx.org $(installed_version) ($(wc -c <static/vendor/htmx.min.js) bytes)"

# Swagger UI for the API docs at /docs (served from here: the browser under test, and many users, have no CDN)
for name in swagger-ui-bundle.js swagger-ui.css; do
    src="node_modules/swagger-ui-dist/$name"
    if [[ ! -s "$src" ]]; then
        echo "vendor_static.sh: $src is missing after install" >&2
        exit 1
    fi
    cp "$src" "static/vendor/.$name.$$"
    mv -f "static/vendor/.$name.$$" "static/vendor/$name"
done
echo "vendor_static.sh: static/vendor/swagger-ui-bundle.js, swagger-ui.css <- swagger-ui-dist"
