#!/usr/bin/env bash
# Makes the browser tests' playback clips.
#
#   scripts/make-fixture.sh [OUT]          web/fixtures/clip.mp4 (committed; run only to change it)
#   scripts/make-fixture.sh --long [OUT]   target/browser/fixtures/long.mp4 (at test time)
#
# clip.mp4: 6 s of ffmpeg's test pattern and a tone, 320x180 H.264 baseline + AAC, about 300 kbit/s,
# a keyframe every 2 s, moov atom first (+faststart) so that a <video> element starts playing
# before the whole file arrived. Deterministic on one ffmpeg build: generated sources, one encoder
# thread, bit-exact flags and no metadata (no encoder version string, no creation time). Another
# ffmpeg/x264 version may still encode other bytes; the tests read the clips' bytes and never
# expect a fixed hash.
#
# long.mp4: clip.mp4 looped 60 times without re-encoding (6 min, about 14 MB, well under a
# second to make). Chromium reads ahead of the playhead by max(10 s of media, 2 MB) + 1 MB,
# 3 MB at this bitrate: a seek into this file's second half cannot be served from what it
# buffered, so it must fetch a range from the middle of the file. The committed clip is too
# small for that (Chromium's first request gets all of it); this one is never committed.
set -euo pipefail
cd "$(dirname "$0")/.."

LONG=false
if [ "${1:-}" = "--long" ]; then
    LONG=true
    shift
fi

if ! command -v ffmpeg > /dev/null; then
    echo "make-fixture.sh: installing ffmpeg (apt)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg > /dev/null
fi

if $LONG; then
    OUT="${1:-target/browser/fixtures/long.mp4}"
    LOOPS=60
    mkdir -p "$(dirname "$OUT")"
    # Written aside and renamed: a run stopped half-way never leaves a truncated clip behind.
    ffmpeg -nostdin -hide_banner -loglevel error -y \
        -stream_loop $((LOOPS - 1)) -i web/fixtures/clip.mp4 -c copy \
        -map_metadata -1 -fflags +bitexact -movflags +faststart -f mp4 "$OUT.part"
    mv "$OUT.part" "$OUT"
else
    OUT="${1:-web/fixtures/clip.mp4}"
    mkdir -p "$(dirname "$OUT")"
    ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc2=size=320x180:rate=24:duration=6" \
        -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=6" \
        -map 0:v -map 1:a -shortest \
        -c:v libx264 -profile:v baseline -level 3.0 -pix_fmt yuv420p -preset medium -threads 1 \
        -b:v 240k -maxrate 240k -bufsize 480k -g 48 -keyint_min 48 -sc_threshold 0 \
        -c:a aac -b:a 48k -ac 1 \
        -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
        -movflags +faststart \
        "$OUT"
fi

echo "make-fixture.sh: $OUT, $(wc -c < "$OUT") bytes, sha256 $(sha256sum "$OUT" | cut -d' ' -f1)" >&2
