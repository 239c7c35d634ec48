#!/usr/bin/env bash
# Makes web/fixtures/clip.mp4, the browser tests' playback clip: 6 s of ffmpeg's test pattern and
# a tone, 320x180 H.264 baseline + AAC, moov atom first (+faststart) so that a <video> element
# starts playing before the whole file arrived. Committed; run this only to change the clip.
#
#   scripts/make-fixture.sh [OUT]     (default: web/fixtures/clip.mp4)
#
# Deterministic on one ffmpeg build: generated sources, one encoder thread, bit-exact flags and
# no metadata (no encoder version string, no creation time). Another ffmpeg/x264 version may
# still encode other bytes; the tests read the clip's bytes and never expect a fixed hash.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-web/fixtures/clip.mp4}"

if ! command -v ffmpeg > /dev/null; then
    echo "make-fixture.sh: installing ffmpeg (apt)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg > /dev/null
fi

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

echo "make-fixture.sh: $OUT, $(wc -c < "$OUT") bytes, sha256 $(sha256sum "$OUT" | cut -d' ' -f1)" >&2
