#!/usr/bin/env bash
# The controls' cost under HTTP load, in one run: `GET /videos/{id}/url` (HS256, 1000 subjects)
# with revocation only (the default) and with every playback control on (a rate limit per client
# IP and per subject, revocation, a stream lease per session), their state in memory and in a
# real redis-server on loopback. Writes the "controls-load" section of bench/RESULTS.md.
#
#   bash bench/controls-load.sh                 # 3 × 10 s per case, 64 connections
#   DURATION=5 REPS=1 bash bench/controls-load.sh
#
# tollgate is pinned to CPU $SERVER_CPU; wrk (one thread) and redis-server share CPU $LOAD_CPU,
# as a Redis on another host would leave tollgate's core alone. The limits are set high enough
# never to refuse (every answer must be a 200), so each request pays for the whole check.
# Bounded: fixed durations, 127.0.0.1 only, every process stopped on exit. Installs wrk and
# redis-server (Debian, pinned) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10}
REPS=${REPS:-3}
CONNS=${CONNS:-64}
TOKENS=${TOKENS:-1000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

need_wrk
bash scripts/redis.sh > /dev/null
log "building release binaries"
cargo build --release --locked -q --bin tollgate --example bench_tokens

printf 'not really a video' > "$WORK/demo.mp4"
target/release/examples/bench_tokens HS256 "$TOKENS" "$WORK"

REDIS_PORT=$(free_port)
taskset -c "$LOAD_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
    --appendonly no --loglevel warning > "$WORK/redis.log" 2>&1 &
REDIS=$!
PIDS+=("$REDIS")
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 && break; sleep 0.1; done


# Every playback control on, never refusing: 10 M requests per second, a lease per subject.
ALL_ON=(
    TOLLGATE__LIMITS__IP__REQUESTS=10000000 TOLLGATE__LIMITS__IP__PERIOD_SECS=1
    TOLLGATE__LIMITS__IP__BURST=10000000
    TOLLGATE__LIMITS__PLAYBACK__REQUESTS=10000000 TOLLGATE__LIMITS__PLAYBACK__PERIOD_SECS=1
    TOLLGATE__LIMITS__PLAYBACK__BURST=10000000
    TOLLGATE__STREAMS__MAX_CONCURRENT=100
)

rows=()
# case: name | state | controls
for case in "memory|memory|revocation" "memory|memory|all" "redis|redis|revocation" "redis|redis|all"; do
    IFS='|' read -r _ state controls <<< "$case"
    port=$(free_port)
    store=$(free_port)
    env=(TOLLGATE__SERVER__PORT="$port" TOLLGATE__STORAGE__EMBEDDED__ADDR="127.0.0.1:$store"
        TOLLGATE__STORAGE__EMBEDDED__DATA_DIR="$WORK/data-$port" TOLLGATE__LOG__FILTER=warn)
    [ "$state" = redis ] && env+=(TOLLGATE__STATE__REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
        TOLLGATE__STATE__KEY_PREFIX="bench-$port:")
    [ "$controls" = all ] && env+=("${ALL_ON[@]}")
    env "${env[@]}" taskset -c "$SERVER_CPU" target/release/tollgate serve > "$WORK/tollgate-$port.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port/healthz"
    env "${env[@]}" target/release/tollgate put --id demo --access premium "$WORK/demo.mp4" > /dev/null
    # The answer must be a working URL before anything is measured.
    answer=$(curl -sf -H "Authorization: Bearer $(head -1 "$WORK/tokens-HS256.txt")" \
        "http://127.0.0.1:$port/videos/demo/url?session=tab")
    url=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["url"])' "$answer")
    [ "$(curl -s "$url")" = "not really a video" ] || { echo "the URL does not fetch" >&2; exit 1; }

    run() { # DURATION → "rps p50 p99 tollgate_us redis_us"
        local t0 r0 out requests
        t0=$(cpu_ticks "$pid")
        r0=$(cpu_ticks "$REDIS")
        out=$(BENCH_PATH="/videos/demo/url?session=tab" BENCH_TOKENS="$WORK/tokens-HS256.txt" \
            taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${1}s" --latency -s bench/tokens.lua \
            "http://127.0.0.1:$port")
        if grep -q 'Non-2xx\|Socket errors' <<< "$out"; then
            echo "$case: errors under load; refusing to report" >&2
            echo "$out" >&2
            exit 1
        fi
        requests=$(awk '/requests in/ {print $1}' <<< "$out")
        awk -v r="$(awk '/^Requests\/sec/ {print $2}' <<< "$out")" \
            -v a="$(to_ms "$(awk '$1 == "50%" {print $2}' <<< "$out")")" \
            -v b="$(to_ms "$(awk '$1 == "99%" {print $2}' <<< "$out")")" \
            -v t="$(($(cpu_ticks "$pid") - t0))" -v s="$(($(cpu_ticks "$REDIS") - r0))" \
            -v n="$requests" -v hz="$(getconf CLK_TCK)" \
            'BEGIN { printf "%s %s %s %.1f %.1f\n", r, a, b, t / hz * 1e6 / n, s / hz * 1e6 / n }'
    }
    run 3 > /dev/null
    : > "$WORK/runs"
    for rep in $(seq "$REPS"); do
        run "$DURATION" | tee -a "$WORK/runs" | sed "s/^/== $state, $controls, run $rep: /" >&2
    done
    m() { awk -v c="$1" '{print $c}' "$WORK/runs" | median; }
    rows+=("$state|$controls|$(m 1)|$(m 2)|$(m 3)|$(m 4)|$(m 5)")
    kill "$pid"
    wait "$pid" 2> /dev/null || true
done

rps_of() { printf '%s\n' "${rows[@]}" | awk -F'|' -v s="$1" -v c="$2" '$1 == s && $2 == c {print $3}'; }
part=$(mktemp)
{
    echo "## The controls' cost: state in memory and in Redis"
    echo
    echo "Written by \`bash bench/controls-load.sh\` on $(date -u +%Y-%m-%d) (DURATION=${DURATION} s × REPS=${REPS}, ${CONNS} connections, ${TOKENS} HS256 tokens of distinct subjects, \`GET /videos/demo/url?session=tab\`). tollgate (release) pinned to CPU ${SERVER_CPU}; wrk (one thread) and redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2) share CPU ${LOAD_CPU}; loopback. Medians of the runs. *revocation*: the defaults (a subject's not-before, the jti deny list, the video's takedown); *all*: also a rate limit per client IP and per subject, and a stream lease per session, with limits that never refuse. In Redis each request makes one script call (one round trip) for all of it. CPU µs per request: the process's user + system time over the requests served."
    echo
    echo "| state | controls | req/s | p50 ms | p99 ms | tollgate CPU µs/req | redis-server CPU µs/req |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}" | awk -F'|' '{printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, ($1 == "redis" ? $7 : "—")}'
    echo
    awk -v a="$(rps_of redis all)" -v b="$(rps_of memory all)" -v c="$(rps_of redis revocation)" -v d="$(rps_of memory revocation)" 'BEGIN {
        printf "| ratio (req/s) | value | target |\n|---|---:|---:|\n"
        printf "| every control, Redis / memory | %.0f %% | ≥ 50 %% |\n", 100 * a / b
        printf "| revocation only, Redis / memory | %.0f %% | |\n", 100 * c / d
    }'
} > "$part"
bash bench/splice.sh controls-load "$part"
cat "$part"
rm -f "$part"
