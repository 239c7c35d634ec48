#!/usr/bin/env bash
# Soak: tollgate (release, embedded store) under a steady mix of traffic for DURATION seconds
# (600) at twice the nominal rate, sampled every SAMPLE seconds (10): errors, p50/p99 latency
# and the process's RSS. Writes bench/soak.csv, plots it to bench/soak.png (matplotlib, pinned,
# in a venv in the cache) and the "soak" section of bench/RESULTS.md.
#
#   bash bench/soak.sh                    # 10 minutes
#   DURATION=60 bash bench/soak.sh        # a shorter run (writes the same files)
#
# The mix (bench/soak.lua): 70 % playback URLs, 15 % uploads (POST /uploads), 10 % refused as
# not entitled (403), 5 % without a token (401). Any other status or a socket error is an error.
# Nominal rate: NOMINAL req/s (2500), a replica at a comfortable tenth of its measured
# saturation (bench/load.sh); the soak runs at twice that. tollgate is pinned to CPU
# $SERVER_CPU, wrk (one thread, wrk's `delay` per connection: an open rate) to $LOAD_CPU.
# Targets: errors < 0.1 %, and RSS flat within 10 % after the first minute (max/min − 1 over
# the samples after warm-up). Bounded: fixed duration, 127.0.0.1 only, processes stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-600}
SAMPLE=${SAMPLE:-10}
NOMINAL=${NOMINAL:-2500}
CONNS=${CONNS:-100}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
WARMUP=${WARMUP:-60}
MATPLOTLIB_VERSION=3.10.7
CACHE_DIR="${TOLLGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate}"
VENV="$CACHE_DIR/soak-venv-matplotlib-$MATPLOTLIB_VERSION"

need_wrk
if ! "$VENV/bin/python" -c "import matplotlib" 2> /dev/null; then
    log "installing matplotlib $MATPLOTLIB_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "matplotlib==$MATPLOTLIB_VERSION"
fi
log "building the release binary"
cargo build --release --locked -q --bin tollgate

# Each of CONNS connections pauses DELAY_MS between requests: rate ≈ CONNS × 1000 / (delay +
# latency). The pause starts from the latency-free value and is corrected after each sample
# by the latency that sample showed.
RATE=$((2 * NOMINAL))
DELAY_MS=$((CONNS * 1000 / RATE))
# Never below half of it: a server that falls behind is a finding, not a reason to push harder.
MIN_DELAY_MS=$((DELAY_MS / 2))

start_tollgate
port=$TG_PORT
pid=$TG_PID
# 100 subjects of each kind: premium viewers, uploaders, viewers without the tier.
: > "$WORK/tokens"
for i in $(seq 100); do
    "$RELEASE/tollgate" token --sub "viewer-$i" --entitlement premium --ttl 2h >> "$WORK/tokens"
    "$RELEASE/tollgate" token --sub "uploader-$i" --role uploader --ttl 2h >> "$WORK/tokens"
    "$RELEASE/tollgate" token --sub "free-$i" --ttl 2h >> "$WORK/tokens"
done

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
samples=$((DURATION / SAMPLE))
log "soak: $DURATION s at ~$RATE req/s ($CONNS connections, $DELAY_MS ms apart), sampled every $SAMPLE s"
echo "t_s,requests,rate,errors,socket_errors,p50_ms,p99_ms,rss_mib" > "$WORK/soak.csv"
for i in $(seq "$samples"); do
    out=$(SOAK_TOKENS="$WORK/tokens" SOAK_DELAY_MS="$DELAY_MS" taskset -c "$LOAD_CPU" \
        wrk -t1 -c"$CONNS" -d"${SAMPLE}s" --timeout 5s -s bench/soak.lua "http://127.0.0.1:$port")
    line=$(grep '^SOAK ' <<< "$out") || { echo "$out" >&2; exit 1; }
    eval "$(sed 's/^SOAK //' <<< "$line")"
    # shellcheck disable=SC2154 # set by the eval
    row=$(awk -v t=$((i * SAMPLE)) -v n="$requests" -v s="$SAMPLE" -v bad="$unexpected" \
        -v sock="$socket_errors" -v p50="$p50_us" -v p99="$p99_us" -v rss="$(rss_kib)" \
        'BEGIN { printf "%d,%d,%.0f,%d,%d,%.3f,%.3f,%.1f", t, n, n / s, bad, sock, p50 / 1000, p99 / 1000, rss / 1024 }')
    echo "$row" >> "$WORK/soak.csv"
    log "$row (pause $DELAY_MS ms)"
    # The next pause: the cycle the target needs, less what each request took beyond its pause.
    DELAY_MS=$(awk -v c="$CONNS" -v r="$RATE" -v n="$requests" -v s="$SAMPLE" -v d="$DELAY_MS" \
        -v m="$MIN_DELAY_MS" \
        'BEGIN { over = c * 1000 * s / n - d; p = c * 1000 / r - over; print (p < m ? m : int(p + 0.5)) }')
done
kill "$pid"
wait "$pid" 2> /dev/null || true
cp "$WORK/soak.csv" bench/soak.csv

"$VENV/bin/python" - bench/soak.csv bench/soak.png "$WARMUP" "$RATE" <<'PY'
import csv, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

path, png, warmup, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rows = list(csv.DictReader(open(path)))
t = [int(r["t_s"]) for r in rows]
col = lambda name: [float(r[name]) for r in rows]
fig, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
axes[0].plot(t, col("rate")); axes[0].set_ylabel("req/s")
axes[0].axhline(rate, color="grey", linestyle=":", label=f"target {rate}"); axes[0].legend()
axes[1].plot(t, col("p50_ms"), label="p50"); axes[1].plot(t, col("p99_ms"), label="p99")
axes[1].set_ylabel("latency ms"); axes[1].legend()
errors = [int(r["errors"]) + int(r["socket_errors"]) for r in rows]
axes[2].bar(t, errors, width=6); axes[2].set_ylabel("errors")
axes[2].set_ylim(bottom=0, top=max(1, max(errors) * 1.2))
axes[3].plot(t, col("rss_mib")); axes[3].set_ylabel("RSS MiB"); axes[3].set_xlabel("seconds")
axes[3].axvline(warmup, color="grey", linestyle=":", label="end of warm-up"); axes[3].legend()
axes[3].set_ylim(bottom=0)
fig.suptitle("tollgate soak (bench/soak.sh): mixed traffic at twice the nominal rate")
fig.tight_layout()
fig.savefig(png, dpi=80)
PY

summary=$(awk -F, -v w="$WARMUP" -v s="$SAMPLE" 'NR > 1 {
        n += $2; bad += $4 + $5
        if ($7 > p99max) p99max = $7
        if ($1 > w) { if (min == "" || $8 < min) min = $8; if ($8 > max) max = $8 }
        first = (first == "" ? $8 : first); last = $8; rows++ }
    END { printf "%d %d %.4f %.3f %.1f %.1f %.1f %.1f %.1f %.0f", n, bad, 100 * bad / n, p99max, first, min, max, last, 100 * (max / min - 1), n / (rows * s) }' bench/soak.csv)
read -r total bad error_pct p99max first min max last spread mean_rate <<< "$summary"
part=$(mktemp)
{
    echo "## Soak: mixed traffic at twice the nominal rate"
    echo
    echo "Written by \`bash bench/soak.sh\` on $(date -u +%Y-%m-%d) (DURATION=${DURATION} s, sampled every ${SAMPLE} s; warm-up ${WARMUP} s). tollgate (release, embedded store, log at warn) pinned to CPU ${SERVER_CPU}; wrk (one thread, ${CONNS} connections, each pausing between requests, the pause tuned after each sample to hold ${RATE} req/s, twice the nominal ${NOMINAL}; last pause ${DELAY_MS} ms) on CPU ${LOAD_CPU}; loopback. Mix per 20 requests: 14 playback URLs (200), 3 uploads \`POST /uploads\` (201), 2 not entitled (403), 1 without a token (401), over 300 subjects. An error is any other status or a socket error. Samples: \`bench/soak.csv\`."
    echo
    echo "| measure | value | target |"
    echo "|---|---:|---:|"
    echo "| requests | $total | |"
    echo "| mean rate | $mean_rate req/s | $RATE req/s |"
    echo "| errors | $bad ($error_pct %) | < 0.1 % |"
    echo "| worst p99 of a sample | $p99max ms | |"
    echo "| RSS: first sample, min / max after warm-up, last | $first MiB, $min / $max MiB, $last MiB | |"
    echo "| RSS spread after warm-up (max / min − 1) | $spread % | ≤ 10 % |"
    echo
    echo "![soak samples](soak.png)"
} > "$part"
bash bench/splice.sh soak "$part"
cat "$part"
rm -f "$part"
awk -v e="$error_pct" -v s="$spread" 'BEGIN { exit !(e < 0.1 && s <= 10) }' || {
    echo "soak: a target was missed" >&2
    exit 1
}
