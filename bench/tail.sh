#!/usr/bin/env bash
# Where tollgate's latency tail comes from, in one run: `GET /videos/{id}/url` (HS256, one
# token, warm caches) and the bare axum hello, each paced by oha at a fixed rate:
#   - both at half of tollgate's saturation (the comparison bench/load.sh makes);
#   - a hello that spins on the clock for the CPU tollgate spends beyond the hello's, at the
#     same rate ("busy"): a bare server doing tollgate's amount of work, its core as busy and
#     the client's load the same; if tollgate's tail is only its CPU a request, the two match;
#   - the hello again at the same rate, answering as many bytes as tollgate with its headers
#     and sent the same token ("padded"): the wire and the client's work the same as
#     tollgate's, the server's not;
#   - tollgate, the hello and the busy hello each stopped once for PAUSE_MS (SIGSTOP, SIGCONT)
#     in the middle of a run at the same rate: what one stall of the server does to each p99;
#   - tollgate once more under `perf sched record` on its core: how long its worker waited for
#     the CPU (the longest wait and who ran meanwhile), to rule stalls in or out.
# Each paced run also gives the client's own CPU (oha's, on its core): its queue is in the p99 too.
# Writes the "tail" section of bench/RESULTS.md.
#
#   bash bench/tail.sh                  # 3 runs × 10 s each
#   DURATION=5 REPS=1 bash bench/tail.sh
#
# Servers are pinned to CPU $SERVER_CPU, oha to $LOAD_CPU. Bounded: fixed durations, loopback
# only, every process stopped on exit. Installs wrk (Debian) and oha (crates.io) if missing;
# needs perf (linux-perf) for the scheduler trace and skips it without.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10}
REPS=${REPS:-3}
CONNS=${CONNS:-64}
PAUSE_MS=${PAUSE_MS:-50}
unset STOP_ONCE # set per paced run below, never from outside
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
HZ=$(getconf CLK_TCK)

need_wrk
need_oha
log "building release binaries"
cargo build --release --locked -q --bin tollgate --example hello

start_tollgate
port=$TG_PORT
TG=$TG_PID
TOKEN=$("$RELEASE/tollgate" token --sub tail --entitlement premium --ttl 2h)
# start_hello PATH [MODE]: the hello in that mode on its core, up; sets HELLO_PORT and HELLO_PID.
start_hello() {
    HELLO_PORT=$(free_port)
    taskset -c "$SERVER_CPU" "$RELEASE/examples/hello" "127.0.0.1:$HELLO_PORT" "${@:2}" \
        > /dev/null 2>&1 &
    HELLO_PID=$!
    PIDS+=("$HELLO_PID")
    wait_http "http://127.0.0.1:$HELLO_PORT$1"
}
start_hello /hello
hello_port=$HELLO_PORT HELLO=$HELLO_PID
start_hello /hello padded
padded_port=$HELLO_PORT PADDED=$HELLO_PID
start_hello /hello/0 busy
busy_port=$HELLO_PORT BUSY=$HELLO_PID

# Saturation: wrk as hard as it can, one token; the median of REPS runs, as one run on these VMs
# can land 30 % off and take the paced rate (half of it) with it.
echo "$TOKEN" > "$WORK/token"
: > "$WORK/saturation"
for rep in $(seq "$REPS"); do
    BENCH_PATH=/videos/demo/url BENCH_TOKENS="$WORK/token" taskset -c "$LOAD_CPU" \
        wrk -t1 -c"$CONNS" -d"${DURATION}s" -s bench/tokens.lua "http://127.0.0.1:$port" |
        awk '/^Requests\/sec/ {printf "%d\n", $2}' >> "$WORK/saturation"
done
SATURATION=$(median < "$WORK/saturation")
HALF=$((SATURATION / 2))
log "tollgate saturates at $SATURATION req/s (median of $(paste -sd' ' "$WORK/saturation")); half: $HALF"

# paced NAME PID PORT PATH RATE [TOKEN] → "rate p50_ms p99_ms max_ms cpu_us_per_req busy_%
# server_p99_ms client_busy_%" (server_p99_ms: the bound of tollgate's histogram bucket holding
# its own p99, or -; client_busy_%: oha's user + system time over the run's wall time). With
# STOP_ONCE=1 the server is stopped for PAUSE_MS once, half-way through the run.
paced() {
    local name=$1 pid=$2 port=$3 path=$4 rate=$5 token=${6:-} header=() before after pauser=
    [ -n "$token" ] && header=(-H "Authorization: Bearer $token")
    # tollgate's own histogram of each request's time inside it (head to answer), before and
    # after: where the client's tail is spent, in the server's code or waiting outside it.
    : > "$WORK/metrics.before"
    : > "$WORK/metrics.after"
    [ "$name" = tollgate ] && curl -sf "http://127.0.0.1:$port/metrics" > "$WORK/metrics.before"
    before=$(cpu_ticks "$pid")
    if [ "${STOP_ONCE:-0}" = 1 ]; then
        (sleep "$(awk -v d="$DURATION" 'BEGIN {print d / 2}')"
            kill -STOP "$pid"
            sleep "$(awk -v p="$PAUSE_MS" 'BEGIN {print p / 1000}')"
            kill -CONT "$pid") &
        pauser=$!
    fi
    # bash's `time` gives the client's own CPU time (its rusage), with no package needed.
    { TIMEFORMAT='%U %S %R'; time taskset -c "$LOAD_CPU" "$OHA" -z "${DURATION}s" -q "$rate" \
        -c "$CONNS" --latency-correction --no-tui --output-format json "${header[@]}" \
        "http://127.0.0.1:$port$path" > "$WORK/oha.json" 2> "$WORK/oha.err"; } 2> "$WORK/oha.time" ||
        { cat "$WORK/oha.err" >&2; return 1; }
    [ -n "$pauser" ] && wait "$pauser"
    after=$(cpu_ticks "$pid")
    [ "$name" = tollgate ] && curl -sf "http://127.0.0.1:$port/metrics" > "$WORK/metrics.after"
    python3 - "$WORK/oha.json" "$((after - before))" "$HZ" "$DURATION" "$WORK/metrics.before" \
        "$WORK/metrics.after" "$WORK/oha.time" <<'PY'
import json, re, sys

def buckets(file):
    """The request-duration histogram's cumulative counts by upper bound, for the route."""
    found = {}
    for line in open(file):
        m = re.match(r'tollgate_http_request_duration_seconds_bucket\{(.*)\} (\d+)', line)
        if not m or 'route="/videos/{id}/url"' not in m.group(1):
            continue
        le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
        found[float(le)] = int(m.group(2))
    return found

def server_p99(before, after):
    b, a = buckets(before), buckets(after)
    if not a:
        return "-"
    total = a[max(a)] - b.get(max(a), 0)
    for le in sorted(a):
        if a[le] - b.get(le, 0) >= 0.99 * total:
            return f"{le * 1000:.2f}"
    return "-"

r = json.load(open(sys.argv[1]))
codes = r.get("statusCodeDistribution", {})
if set(codes) != {"200"}:
    sys.exit(f"paced run: status codes {codes}")
n = sum(codes.values())
p = r["latencyPercentiles"]
cpu_s = int(sys.argv[2]) / int(sys.argv[3])
user, system, wall = (float(v) for v in open(sys.argv[7]).read().split())
print(f'{r["summary"]["requestsPerSec"]:.0f} {p["p50"] * 1000:.3f} {p["p99"] * 1000:.3f} '
      f'{r["summary"]["slowest"] * 1000:.3f} {cpu_s * 1e6 / n:.1f} {100 * cpu_s / float(sys.argv[4]):.0f} '
      f'{server_p99(sys.argv[5], sys.argv[6])} {100 * (user + system) / wall:.0f}')
PY
}

# spin_ns SPIN_NS TARGET_US COST_US: the spin that brings a request costing COST_US (with
# SPIN_NS of spin) to TARGET_US, in whole ns, never below 0.
spin_ns() {
    awk -v s="$1" -v t="$2" -v c="$3" 'BEGIN {s += (t - c) * 1000; printf "%d", (s > 0 ? s : 0)}'
}

: > "$WORK/tollgate-half"
: > "$WORK/hello-half"
: > "$WORK/padded-half"
: > "$WORK/busy-half"
for rep in $(seq "$REPS"); do
    paced tollgate "$TG" "$port" /videos/demo/url "$HALF" "$TOKEN" | tee -a "$WORK/tollgate-half" |
        sed "s/^/== tollgate at $HALF req\/s, run $rep: /" >&2
    paced hello "$HELLO" "$hello_port" /hello "$HALF" | tee -a "$WORK/hello-half" |
        sed "s/^/== hello at $HALF req\/s, run $rep: /" >&2
    # With tollgate's token too: the client sends and reads what it does for tollgate.
    paced padded "$PADDED" "$padded_port" /hello "$HALF" "$TOKEN" | tee -a "$WORK/padded-half" |
        sed "s/^/== hello with tollgate's answer at $HALF req\/s, run $rep: /" >&2
    # The busy hello spins for what tollgate's request cost beyond the hello's in this run; one
    # short calibration run, then the spin again from what the busy hello cost there (its path
    # parameter and the clock reads are work too).
    tollgate_us=$(tail -1 "$WORK/tollgate-half" | awk '{print $5}')
    spin=$(spin_ns 0 "$tollgate_us" "$(tail -1 "$WORK/hello-half" | awk '{print $5}')")
    busy_us=$(DURATION=2 paced busy "$BUSY" "$busy_port" "/hello/$spin" "$HALF" | awk '{print $5}')
    spin=$(spin_ns "$spin" "$tollgate_us" "$busy_us")
    paced busy "$BUSY" "$busy_port" "/hello/$spin" "$HALF" | sed "s/\$/ $spin/" | tee -a "$WORK/busy-half" |
        sed "s/^/== hello spinning $spin ns a request at $HALF req\/s, run $rep: /" >&2
done

# One stall of each server, the same length at the same moment of the run, at the same rate.
: > "$WORK/tollgate-pause"
: > "$WORK/hello-pause"
: > "$WORK/busy-pause"
for rep in $(seq "$REPS"); do
    STOP_ONCE=1 paced tollgate "$TG" "$port" /videos/demo/url "$HALF" "$TOKEN" |
        tee -a "$WORK/tollgate-pause" | sed "s/^/== tollgate stopped $PAUSE_MS ms, run $rep: /" >&2
    STOP_ONCE=1 paced hello "$HELLO" "$hello_port" /hello "$HALF" |
        tee -a "$WORK/hello-pause" | sed "s/^/== hello stopped $PAUSE_MS ms, run $rep: /" >&2
    STOP_ONCE=1 paced busy "$BUSY" "$busy_port" "/hello/$spin" "$HALF" | sed "s/\$/ $spin/" |
        tee -a "$WORK/busy-pause" | sed "s/^/== busy hello stopped $PAUSE_MS ms, run $rep: /" >&2
done

# The scheduler's view of one more tollgate run at half saturation.
sched="perf not available"
if command -v perf > /dev/null; then
    perf sched record -q -C "$SERVER_CPU" -o "$WORK/sched.data" -- sleep "$DURATION" &
    recorder=$!
    paced tollgate "$TG" "$port" /videos/demo/url "$HALF" "$TOKEN" > "$WORK/traced"
    wait "$recorder" || true
    perf sched latency -i "$WORK/sched.data" -s max 2> /dev/null > "$WORK/latency.txt" || true
    # Per task: runtime, switches, average and longest wait for the CPU after being woken.
    sched=$(awk -F'|' '/ms \|/ && NF > 5 {
            gsub(/^ +| +$/, "", $1); gsub(/ +/, " ", $3); gsub(/ +/, " ", $4); gsub(/ +/, " ", $5)
            printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$WORK/latency.txt" | head -8)
fi

m() { awk -v c="$2" '{print $c}' "$WORK/$1" | median; }
row() { printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(m "$2" 1)" "$(m "$2" 6)" "$(m "$2" 5)" "$(m "$2" 2)" "$(m "$2" 3)" "$(m "$2" 4)" "$(m "$2" 7)" "$(m "$2" 8)"; }
part=$(mktemp)
{
    echo "## The tail: tollgate's p99 against the bare server's"
    echo
    echo "Written by \`bash bench/tail.sh\` on $(date -u +%Y-%m-%d) (DURATION=${DURATION} s × REPS=${REPS}, medians). Release binaries pinned to CPU ${SERVER_CPU}, oha ${OHA_VERSION} (${CONNS} connections, evenly paced, latency counted from when each request was due) on CPU ${LOAD_CPU}, loopback. tollgate: \`GET /videos/demo/url\`, HS256, one token, warm caches, log at warn; it saturated at ${SATURATION} req/s (wrk, one token, the median of $(paste -sd'/' "$WORK/saturation" | sed 's|/| / |g')). *busy*: the server's CPU time over the run's wall time (one core = 100 %)."
    echo
    echo "| server, rate | req/s | busy % | CPU µs/req | p50 ms | p99 ms | max ms | p99 inside tollgate, ms (≤) | client busy % |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    row "tollgate, half its saturation" tollgate-half
    row "hello, the same rate" hello-half
    row "hello with tollgate's request and answer (bytes, headers), the same rate" padded-half
    row "hello spinning for tollgate's extra CPU a request (\"busy\"), the same rate" busy-half
    row "tollgate, stopped once for ${PAUSE_MS} ms mid-run" tollgate-pause
    row "hello, stopped once for ${PAUSE_MS} ms mid-run" hello-pause
    row "busy hello, stopped once for ${PAUSE_MS} ms mid-run" busy-pause
    echo
    echo "*p99 inside tollgate*: from its own \`tollgate_http_request_duration_seconds\` histogram (head to answer, inside the access log), the bound of the bucket that holds the 99th percentile: time spent in tollgate's code and its awaits, against the client's p99, which also counts the wait for the socket to be read."
    echo
    echo "*client busy %*: oha's own CPU time over the run's wall time, on its core: requests wait in its queue too, and a larger answer costs it more."
    echo
    echo "Raw runs (req/s, p50, p99, max ms, CPU µs/req, busy %, p99 inside tollgate ms, client busy %; the busy hello's also its spin, ns; the stopped busy hello spins as in the last run before):"
    echo
    for f in tollgate-half hello-half padded-half busy-half tollgate-pause hello-pause busy-pause; do
        echo "- $f: $(paste -sd';' "$WORK/$f" | sed 's/;/; /g')"
    done
    echo
    echo "\`perf sched latency\` on CPU ${SERVER_CPU} during one more tollgate run at half saturation ($(cat "$WORK/traced" 2> /dev/null | awk '{print "p99 " $3 " ms"}')), tasks by their longest wait for the CPU:"
    echo
    echo "| task | runtime | switches | average wait | longest wait |"
    echo "|---|---:|---:|---:|---:|"
    echo "$sched"
} > "$part"
bash bench/splice.sh tail "$part"
cat "$part"
rm -f "$part"
