#!/usr/bin/env bash
# HTTP load on one HLS media playlist of 2,000 segments (about 2 hours at 4 s segments): how
# many times per second one core serves it rewritten, once warm, with presign.time_window_secs
# = 60 (the rewritten playlist is reused within the window, gzipped once for clients that accept
# it; the grant and the rendition rule are still checked on every request), and without a
# window (2,000 URLs signed per request).
# Writes the "hls-load" section of bench/RESULTS.md.
#
#   bash bench/hls-load.sh                 # 3 × 10 s per case, 64 connections
#   DURATION=5 REPS=1 bash bench/hls-load.sh
#
# tollgate is pinned to CPU $SERVER_CPU, wrk (one thread) to CPU $LOAD_CPU. Bounded: fixed
# durations, 127.0.0.1 only, every process stopped on exit. Installs wrk (Debian) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10}
REPS=${REPS:-3}
CONNS=${CONNS:-64}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SEGMENTS=2000

need_wrk
log "building the release binary"
cargo build --release --locked -q --bin tollgate


# The playlist: only the playlist is stored; rewriting never reads a segment.
mkdir -p "$WORK/film"
{
    printf '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI="init.mp4"\n'
    for i in $(seq -f '%05g' 0 $((SEGMENTS - 1))); do printf '#EXTINF:4.000,\nseg-%s.m4s\n' "$i"; done
    printf '#EXT-X-ENDLIST\n'
} > "$WORK/film/index.m3u8"

rows=()
for case in 60:gzip 60:identity 0:identity; do
    window=${case%%:*}
    encoding=${case#*:}
    port=$(free_port)
    store=$(free_port)
    export TOLLGATE__SERVER__PORT=$port TOLLGATE__STORAGE__EMBEDDED__ADDR=127.0.0.1:$store \
        TOLLGATE__STORAGE__EMBEDDED__DATA_DIR=$WORK/data-$port TOLLGATE__LOG__FILTER=warn \
        TOLLGATE__PRESIGN__TIME_WINDOW_SECS=$window
    taskset -c "$SERVER_CPU" "$RELEASE/tollgate" serve > "$WORK/tollgate-$port.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port/healthz"
    "$RELEASE/tollgate" put-hls --id film --access premium "$WORK/film" > /dev/null
    token=$("$RELEASE/tollgate" token --sub alice --entitlement premium)
    url=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/videos/film/url" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["url"])')
    bytes=$(curl -s -H "Accept-Encoding: $encoding" "$url" | wc -c)
    results=()
    for rep in $(seq "$REPS"); do
        out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Accept-Encoding: $encoding" "$url")
        rps=$(awk '/^Requests\/sec/ {print $2}' <<< "$out")
        errors=$(grep -c 'Non-2xx\|Socket errors' <<< "$out" || true)
        log "window ${window}s, $encoding, run $rep: $rps req/s ($errors error lines)"
        results+=("$rps")
    done
    median=$(printf '%s\n' "${results[@]}" | median)
    rows+=("| ${window} s | $encoding | $bytes | $median | $(awk -v r="$median" -v b="$bytes" 'BEGIN {printf "%.0f", r * b / 1048576}') |")
    kill "$pid"
    wait "$pid" 2> /dev/null || true
done

part=$(mktemp)
{
    echo "## HLS: one 2,000-segment media playlist under load"
    echo
    echo "Written by \`bash bench/hls-load.sh\` on $(date -u +%Y-%m-%d) (DURATION=${DURATION} s × REPS=${REPS}, ${CONNS} connections). tollgate (release) pinned to CPU ${SERVER_CPU}, wrk (one thread) to CPU ${LOAD_CPU}, loopback. Median req/s of the runs; every request carries the grant, which is checked, and the rendition rule is asked."
    echo
    echo "| presign.time_window_secs | Accept-Encoding | bytes per answer | req/s | MiB/s |"
    echo "|---|---|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
} > "$part"
bash bench/splice.sh hls-load "$part"
cat "$part"
rm -f "$part"
