#!/usr/bin/env bash
# Fuzzes tollgate with libFuzzer (cargo-fuzz, pinned, installed into the cache once), each
# target for SECONDS (default 60):
#   hls_playlist  the HLS playlist parser
#   token         Authorization headers and HS256-signed JWTs of any header and claims
#   upload_body   POST /uploads bodies
#   uppy_sign     Uppy 6.x POST /s3/sign bodies
# The request targets drive the whole router in-process against the embedded store (see
# fuzz/fuzz_targets/common). A crash stops the run with its input in fuzz/artifacts/<target>/;
# each one found becomes a regression test in tests/api/.
# The machine's one toolchain is stable: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the nightly flags
# it needs (sanitizer coverage).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(hls_playlist token upload_body uppy_sign)
fi
CARGO_FUZZ_VERSION="0.13.2"
CACHE_DIR="${TOLLGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate}"
ROOT="$CACHE_DIR/cargo-fuzz-$CARGO_FUZZ_VERSION"

if ! "$ROOT/bin/cargo-fuzz" --version 2> /dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION into $ROOT" >&2
    cargo install --locked --quiet --root "$ROOT" "cargo-fuzz@$CARGO_FUZZ_VERSION" >&2
fi
export PATH="$ROOT/bin:$PATH" RUSTC_BOOTSTRAP=1
# The embedded store's objects, made fresh and removed afterwards.
TOLLGATE_FUZZ_DATA="$(mktemp -d)"
export TOLLGATE_FUZZ_DATA
trap 'rm -rf "$TOLLGATE_FUZZ_DATA"' EXIT

for target in "${TARGETS[@]}"; do
    corpus="target/fuzz-corpus/$target"
    mkdir -p "$corpus"
    # Seeds: the committed playlists, or the target's committed inputs.
    if [ "$target" = hls_playlist ]; then
        find web/fixtures/hls -name '*.m3u8' -exec cp {} "$corpus/" \;
    else
        cp fuzz/seeds/"$target"/* "$corpus/"
    fi
    echo "fuzz.sh: $target for ${SECONDS_TO_RUN}s" >&2
    (cd fuzz && cargo fuzz run "$target" "../$corpus" -- \
        -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -print_final_stats=1)
done
