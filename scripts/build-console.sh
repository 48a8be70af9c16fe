#!/usr/bin/env bash
# Rebuilds the web console's bundle, crates/server/console/dist/{app.js,app.css}, from
# crates/server/console/src with the exact packages of package-lock.json (npm ci). The bundle
# is committed and embedded by `cargo build` (crates/server/src/console/assets.rs), so
# building the server needs no Node.js; run this after changing the front end and commit
# dist/ with it. The same sources and lock give the same bytes (`--check` rebuilds into a
# temporary directory and compares).
set -euo pipefail
cd "$(dirname "$0")/../crates/server/console"
npm ci --no-fund --no-audit --loglevel=error >/dev/null
out=dist
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
common=(--bundle --minify --legal-comments=eof --log-level=warning)
node_modules/.bin/esbuild src/main.js "${common[@]}" --format=esm --target=es2020 --outfile="$out/app.js"
node_modules/.bin/esbuild src/style.css "${common[@]}" --outfile="$out/app.css"
if [ "$out" != dist ]; then
  cmp dist/app.js "$out/app.js" && cmp dist/app.css "$out/app.css"
  echo "the committed bundle is what the sources build"
fi
gzip -9 -c dist/app.js | wc -c | xargs printf 'app.js: %s bytes gzipped\n' >&2
