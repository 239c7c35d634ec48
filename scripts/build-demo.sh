#!/usr/bin/env bash
# Builds the /demo page's bundle (web/demo/main.js → web/demo/dist/demo.{js,css}) with esbuild,
# from the npm packages pinned in web/package-lock.json. tollgate compiles the built files in, so
# they are committed: `cargo run` needs no Node.js.
#
#   scripts/build-demo.sh           rebuild web/demo/dist/
#   scripts/build-demo.sh --check   fail if web/demo/dist/ is not what its sources build (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/npm-ci.sh web

out="web/demo/dist"
if [ "${1:-}" = "--check" ]; then
    out="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-demo.XXXXXX")"
    trap 'rm -rf "$out"' EXIT
fi

# Pinned by web/package-lock.json; the same inputs give the same bytes.
web/node_modules/.bin/esbuild web/demo/main.js \
    --bundle --minify --format=iife --target=es2020 \
    --legal-comments=none --log-level=warning \
    --outfile="$out/demo.js"

if [ "${1:-}" = "--check" ]; then
    if ! diff -q "$out/demo.js" web/demo/dist/demo.js > /dev/null \
        || ! diff -q "$out/demo.css" web/demo/dist/demo.css > /dev/null; then
        echo "build-demo.sh: web/demo/dist/ differs from what web/demo/ builds: run scripts/build-demo.sh and commit" >&2
        exit 1
    fi
    echo "build-demo.sh: web/demo/dist/ is what its sources build"
else
    ls -l web/demo/dist >&2
fi
