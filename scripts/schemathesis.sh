#!/usr/bin/env bash
# Fuzzes tollgate's OpenAPI contract with schemathesis (PyPI, pinned, in a venv of its own under
# ~/.cache/tollgate): builds tollgate, starts it on its embedded store on free ports with a
# configuration written here (rate limits on but generous, an upload quota), mints an admin and
# uploader token with `tollgate token`, seeds a video and an HLS video, then runs every check of
# scripts/schemathesis.toml against GET /openapi.json. Exits non-zero on any failure; tollgate is
# stopped by its PID.
#   bash scripts/schemathesis.sh                 the CI run (bounded, a few minutes)
#   MAX_TIME=60 bash scripts/schemathesis.sh     a shorter one
#   bash scripts/schemathesis.sh --include-path /s3/sign    extra arguments go to `st run`
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION="4.32.5" # needs Python >= 3.10
MAX_TIME="${MAX_TIME:-240}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/tollgate"
VENV="$CACHE/schemathesis-$SCHEMATHESIS_VERSION"

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || {
    echo "schemathesis.sh: schemathesis $SCHEMATHESIS_VERSION needs Python >= 3.10" >&2
    exit 1
}

# Step 1: schemathesis, once.
if ! "$VENV/bin/st" --version 2>/dev/null | grep -qx "st, version $SCHEMATHESIS_VERSION"; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$VENV/bin/st" --version

# Step 2: tollgate, with its embedded store and the demo page (the default features).
cargo build --locked --quiet --bin tollgate
BIN="${CARGO_TARGET_DIR:-target}/debug/tollgate"

WORK="$(mktemp -d)"
PID=""
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT="$(free_port)"
STORE_PORT="$(free_port)"

# Step 3: its configuration: config/local.toml (the published development secrets) on free
# ports, with generous limits, so that their headers are answered and 429s stay rare, and a
# quota, so that its paths run too.
mkdir -p "$WORK/config" "$WORK/data"
sed -e "s|^addr = .*|addr = \"127.0.0.1:$STORE_PORT\"|" \
    -e "s|^data_dir = .*|data_dir = \"$WORK/data\"|" \
    -e '/^\[uploads\]$/a quota_bytes = 1099511627776' \
    config/local.toml >"$WORK/config/local.toml"
cat >>"$WORK/config/local.toml" <<TOML

[server]
port = $PORT

[log]
filter = "${LOG_FILTER:-warn,tollgate::routes::admin=error}"

[limits]
ip = { requests = 100000, period_secs = 60, burst = 10000 }
playback = { requests = 100000, period_secs = 60, burst = 10000 }
upload = { requests = 100000, period_secs = 60, burst = 10000 }
admin = { requests = 100000, period_secs = 60, burst = 10000 }
TOML
export TOLLGATE_CONFIG_DIR="$WORK/config"
export TOLLGATE_ENV=local
"$BIN" check-config >/dev/null

"$BIN" serve >"$WORK/tollgate.log" 2>&1 &
PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    if curl -sf "$URL/readyz" >/dev/null; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then
        cat "$WORK/tollgate.log" >&2
        echo "schemathesis.sh: tollgate exited" >&2
        exit 1
    fi
    sleep 0.2
done
curl -sf "$URL/readyz" >/dev/null

# Step 4: a token (admin and uploader, so that every route's success path is reachable) and
# two videos: a file and an HLS folder.
# The subject is random: Hypothesis also draws strings from the constants of the Python source it
# loads, so a fixed name such as "schemathesis" ends up revoked by POST /admin/revocations.
SUBJECT="fuzz-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
TOKEN="$("$BIN" token --sub "$SUBJECT" --entitlement premium --role admin --role uploader --ttl 2h)"
printf 'not really a video' >"$WORK/video.mp4"
"$BIN" put --id tg-file-7d1f3a --access premium --owner "$SUBJECT" "$WORK/video.mp4" >/dev/null
mkdir -p "$WORK/hls/360p"
printf '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000,RESOLUTION=640x360\n360p/index.m3u8\n' \
    >"$WORK/hls/master.m3u8"
printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg-0.ts\n#EXT-X-ENDLIST\n' \
    >"$WORK/hls/360p/index.m3u8"
printf 'not really a segment' >"$WORK/hls/360p/seg-0.ts"
"$BIN" put-hls --id tg-hls-7d1f3a --access free "$WORK/hls" >/dev/null

# Step 5: every check against the document tollgate serves.
status=0
TOLLGATE_URL="$URL" TOLLGATE_TOKEN="$TOKEN" "$VENV/bin/st" \
    --config-file scripts/schemathesis.toml run "$URL/openapi.json" \
    --checks all --max-time "$MAX_TIME" --seed "${SEED:-20261130}" \
    --no-color "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "schemathesis.sh: failures above; tollgate's log (warnings and errors):" >&2
    tail -n 50 "$WORK/tollgate.log" >&2
fi
exit "$status"
