#!/usr/bin/env bash
# Makes web/fixtures/hls/, the HLS test video: 8 s of ffmpeg's test pattern and a tone, packaged
# as a master playlist with two fMP4 renditions (360p and 720p, 2 s segments) and one MPEG-TS
# variant (180p). Committed; run this only to change it. Upload it with
# `tollgate put-hls --id ID --access TIER web/fixtures/hls`.
#
#   scripts/make-hls-fixture.sh [OUT]     (default: web/fixtures/hls)
#
# Deterministic on one ffmpeg build (generated sources, one encoder thread, bit-exact flags, no
# metadata); the tests read the files and never expect fixed hashes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-web/fixtures/hls}"

if ! command -v ffmpeg > /dev/null; then
    echo "make-hls-fixture.sh: installing ffmpeg (apt)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg > /dev/null
fi

rm -rf "$OUT"
mkdir -p "$OUT"
SOURCES=(-f lavfi -i "testsrc2=size=1280x720:rate=24:duration=8"
    -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=8")
COMMON=(-c:v libx264 -pix_fmt yuv420p -preset medium -threads 1 -g 48 -keyint_min 48 -sc_threshold 0
    -c:a aac -b:a 32k -ac 1
    -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact
    -f hls -hls_time 2 -hls_playlist_type vod)

# Two fMP4 renditions and their master playlist.
ffmpeg -nostdin -hide_banner -loglevel error -y "${SOURCES[@]}" \
    -filter_complex "[0:v]split=2[a][b];[a]scale=640:360[v360];[b]null[v720]" \
    -map "[v360]" -map "[v720]" -map 1:a -map 1:a \
    -profile:v main -b:v:0 90k -maxrate:v:0 90k -bufsize:v:0 180k \
    -b:v:1 160k -maxrate:v:1 160k -bufsize:v:1 320k \
    "${COMMON[@]}" -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 \
    -master_pl_name master.m3u8 -var_stream_map "v:0,a:0,name:360p v:1,a:1,name:720p" \
    -hls_segment_filename "$OUT/%v/seg-%03d.m4s" "$OUT/%v/index.m3u8"

# One MPEG-TS variant, added to the master playlist.
mkdir -p "$OUT/ts"
ffmpeg -nostdin -hide_banner -loglevel error -y "${SOURCES[@]}" \
    -map 0:v -map 1:a -vf scale=320:180 -profile:v baseline -b:v 60k -maxrate 60k -bufsize 120k \
    "${COMMON[@]}" -hls_segment_type mpegts \
    -hls_segment_filename "$OUT/ts/seg-%03d.ts" "$OUT/ts/index.m3u8"
printf '#EXT-X-STREAM-INF:BANDWIDTH=110000,RESOLUTION=320x180,CODECS="avc1.42c00c,mp4a.40.2"\nts/index.m3u8\n' \
    >> "$OUT/master.m3u8"

echo "make-hls-fixture.sh: $OUT, $(find "$OUT" -type f | wc -l) files, $(du -sk "$OUT" | cut -f1) KiB" >&2
