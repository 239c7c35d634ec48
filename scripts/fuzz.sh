#!/usr/bin/env bash
# Fuzzes the HLS playlist parser with libFuzzer (cargo-fuzz, pinned, installed into the cache
# once). The machine's one toolchain is stable: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the
# nightly flags it needs (sanitizer coverage).
#
#   scripts/fuzz.sh [SECONDS]     (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
CARGO_FUZZ_VERSION="0.13.2"
CACHE_DIR="${TOLLGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate}"
ROOT="$CACHE_DIR/cargo-fuzz-$CARGO_FUZZ_VERSION"

if ! "$ROOT/bin/cargo-fuzz" --version 2> /dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION into $ROOT" >&2
    cargo install --locked --quiet --root "$ROOT" "cargo-fuzz@$CARGO_FUZZ_VERSION" >&2
fi
export PATH="$ROOT/bin:$PATH" RUSTC_BOOTSTRAP=1
mkdir -p target/fuzz-corpus/hls_playlist
# Seeds: the committed playlists.
find web/fixtures/hls -name '*.m3u8' -exec cp {} target/fuzz-corpus/hls_playlist/ \;
cd fuzz
cargo fuzz run hls_playlist ../target/fuzz-corpus/hls_playlist -- \
    -max_total_time="$SECONDS_TO_RUN" -max_len=4096
