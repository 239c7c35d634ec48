#!/usr/bin/env bash
# npm ci in each folder given, skipped while its node_modules holds exactly its lock file.
# --ignore-scripts: no package here needs an install script (esbuild finds its platform package).
#
#   scripts/npm-ci.sh web [web/uppy4 …]
set -euo pipefail
cd "$(dirname "$0")/.."

for dir in "$@"; do
    stamp="$dir/node_modules/.tollgate-lock.sha256"
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        continue
    fi
    printf 'npm-ci.sh: npm ci in %s\n' "$dir" >&2
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
done
