#!/usr/bin/env bash
# Browser tests: the real @uppy/aws-s3 clients (4.x and 6.x), a <video> element, hls.js and
# tollgate's own /demo page in headless Chromium against tollgate, on its embedded store and on
# Garage (web/browser-tests/run.mjs).
#
#   scripts/browser-test.sh [--store embedded|garage|all] [RUNNER ARGS…]   (default: all)
#   e.g. scripts/browser-test.sh --store garage --only "6.x"
#   UPDATE_SCREENSHOTS=1 scripts/browser-test.sh --store embedded --only demo   (docs/demo.png)
#
# Idempotent; installs what is missing, each pinned: Debian's chromium (apt), the npm packages of
# web/ and web/uppy4/ (npm ci, skipped while node_modules matches the lock), tollgate
# (cargo build --locked; CARGO_TARGET_DIR is respected), Garage (scripts/garage.sh), Debian's
# ffmpeg (apt) for the playback clip made at test time (scripts/make-fixture.sh --long). The HLS
# video (web/fixtures/hls/) is committed: the HLS scenarios need no ffmpeg.
set -euo pipefail
cd "$(dirname "$0")/.."

# playwright-core drives Chromium over CDP, which changes between majors: the pinned
# playwright-core was checked against this one. Set TOLLGATE_CHROMIUM_MAJOR after checking a new one.
CHROMIUM="/usr/bin/chromium"
CHROMIUM_MAJOR="${TOLLGATE_CHROMIUM_MAJOR:-156}"

log() { printf 'browser-test.sh: %s\n' "$*" >&2; }

STORE="all"
if [ "${1:-}" = "--store" ]; then
    STORE="${2:?--store needs embedded, garage or all}"
    shift 2
fi
case "$STORE" in embedded | garage | all) ;; *) log "--store must be embedded, garage or all"; exit 2 ;; esac

install_chromium() {
    if [ ! -x "$CHROMIUM" ]; then
        log "installing Debian's chromium (apt)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium > /dev/null
    fi
    local version major
    # Debian's wrapper script prints a harmless shell warning on stderr.
    version="$("$CHROMIUM" --version 2> /dev/null)"
    major="$(sed -E 's/^Chromium ([0-9]+)\..*/\1/' <<< "$version")"
    log "$version"
    if [ "$major" != "$CHROMIUM_MAJOR" ]; then
        log "expected Chromium $CHROMIUM_MAJOR, found '$version': check web/ against it, then set TOLLGATE_CHROMIUM_MAJOR"
        exit 1
    fi
}

# npm ci wipes node_modules and reinstalls; skip it while the lock is the one installed.
# --ignore-scripts: nothing here needs an install script (esbuild finds its platform package).
npm_ci() {
    local dir="$1" stamp want
    stamp="$dir/node_modules/.tollgate-lock.sha256"
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return
    fi
    log "npm ci in $dir"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
}

install_chromium
npm_ci web
npm_ci web/uppy4
log "cargo build --locked --bin tollgate"
cargo build --locked --quiet --bin tollgate
# The playback clip, a few MB looped from the committed one (ffmpeg, installed from apt if missing).
bash scripts/make-fixture.sh --long target/browser/fixtures/long.mp4

status=0
run_store() {
    local store="$1" began=$SECONDS
    shift
    log "running on the $store store"
    if [ "$store" = "garage" ]; then
        bash scripts/garage.sh -- node web/browser-tests/run.mjs --store garage "$@" || status=1
    else
        node web/browser-tests/run.mjs --store embedded "$@" || status=1
    fi
    log "$store store: $((SECONDS - began)) s wall time"
}

if [ "$STORE" = "embedded" ] || [ "$STORE" = "all" ]; then run_store embedded "$@"; fi
if [ "$STORE" = "garage" ] || [ "$STORE" = "all" ]; then run_store garage "$@"; fi
exit "$status"
