# What the bench scripts share; `source bench/lib.sh` after `cd` to the repository.
# Sets WORK (a scratch folder) and PIDS (processes to stop), both cleaned up on exit, and RELEASE
# (where cargo puts release binaries: $CARGO_TARGET_DIR/release when set).

RELEASE=${CARGO_TARGET_DIR:-target}/release

log() { printf '== %s\n' "$*" >&2; }

WORK=$(mktemp -d "/tmp/tollgate-$(basename "$0" .sh).XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    wait 2> /dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_http URL [SECONDS]: until URL answers (any status), at most SECONDS (30).
wait_http() {
    for _ in $(seq $((${2:-30} * 10))); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "no answer from $1" >&2
    return 1
}
