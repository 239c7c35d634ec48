# What the bench scripts share; `source bench/lib.sh` after `cd` to the repository.
# Sets WORK (a scratch folder) and PIDS (processes to stop), both cleaned up on exit, and RELEASE
# (where cargo puts release binaries: $CARGO_TARGET_DIR/release when set).

RELEASE=${CARGO_TARGET_DIR:-target}/release

log() { printf '== %s\n' "$*" >&2; }

WORK=$(mktemp -d "/tmp/tollgate-$(basename "$0" .sh).XXXXXX")
PIDS=()
cleanup() {
    # SIGCONT too: a server stopped on purpose (bench/tail.sh) acts on SIGTERM only once resumed.
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null && kill -CONT "$pid" 2> /dev/null || true; done
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

WRK_VERSION=4.1.0-3+b2 # Debian bookworm's

# need_wrk: installs wrk (Debian, pinned) when it is missing.
need_wrk() {
    if ! command -v wrk > /dev/null; then
        log "installing wrk $WRK_VERSION"
        apt-get install -y -q "wrk=$WRK_VERSION" > /dev/null
    fi
}

OHA_VERSION=1.16.0
OHA=${HOME}/.cache/tollgate/oha-$OHA_VERSION/bin/oha

# need_oha: installs oha (crates.io, pinned) into the cache when it is missing. oha sends at a
# fixed rate, evenly spaced, and measures latency from when each request was due.
need_oha() {
    if [ ! -x "$OHA" ]; then
        log "installing oha $OHA_VERSION (cargo install, a few minutes once)"
        cargo install oha --version "$OHA_VERSION" --locked --quiet --root "$(dirname "$(dirname "$OHA")")"
    fi
}

# cpu_ticks PID: the process's user + system time so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# to_ms LATENCY: a wrk latency such as 412.00us, 1.20ms or 1.01s, in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
        else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
        else print v }'
}

# median: the median of the numbers on standard input, one per line.
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# start_tollgate [VAR=VALUE...]: the release tollgate on free ports with its embedded store in
# $WORK/data, log at warn, pinned to CPU $SERVER_CPU, with VAR=VALUE settings on top, serving
# `demo` (premium). Sets TG_PORT, TG_PID (added to PIDS) and TG_ENV (its settings, for `tollgate`
# commands run beside it).
start_tollgate() {
    local store
    TG_PORT=$(free_port)
    store=$(free_port)
    TG_ENV=(TOLLGATE__SERVER__PORT="$TG_PORT" TOLLGATE__STORAGE__EMBEDDED__ADDR="127.0.0.1:$store"
        TOLLGATE__STORAGE__EMBEDDED__DATA_DIR="$WORK/data" TOLLGATE__LOG__FILTER=warn "$@")
    env "${TG_ENV[@]}" taskset -c "$SERVER_CPU" "$RELEASE/tollgate" serve > "$WORK/tollgate.log" 2>&1 &
    TG_PID=$!
    PIDS+=("$TG_PID")
    wait_http "http://127.0.0.1:$TG_PORT/healthz"
    printf 'not really a video' > "$WORK/demo.mp4"
    env "${TG_ENV[@]}" "$RELEASE/tollgate" put --id demo --access premium "$WORK/demo.mp4" > /dev/null
}
