#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: a stable measure where wall-clock
# ratios on these VMs drift by ±15 points between runs. Writes the "instructions" section of
# bench/RESULTS.md.
#
#   bash bench/instructions.sh            # N=2000 requests after a warm-up of 200
#   N=500 bash bench/instructions.sh
#
# For each case the release binary runs twice under `valgrind --tool=callgrind`, serving a
# warm-up and then 0 or N requests from one keep-alive client (bench/instructions_client.py);
# instructions per request = (total with N − total with 0) / N. The cases, in one run: the bare
# axum hello (the HTTP ceiling), tollgate's GET /videos/{id}/url with an HS256 token and with an
# ES256 token (through the token cache), and POST /uploads.
#
# SHA-256: the sha2 crate picks its backend at run time (cpufeatures). Natively it uses SHA-NI
# when the CPU has it; under valgrind CPUID hides SHA-NI and sha2 runs in software, so the
# counts include a software SHA-256. Each row also gives the count without the `sha2::` share.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

N=${N:-2000}
WARMUP=${WARMUP:-200}

command -v valgrind > /dev/null || { log "valgrind is missing (apt-get install valgrind)"; exit 1; }
log "building release binaries"
cargo build --release --locked -q --bin tollgate --example hello --example bench_tokens


# ES256 tokens and the JWKS that publishes their key, served on loopback.
target/release/examples/bench_tokens ES256 1 "$WORK" > /dev/null
JWKS_PORT=$(free_port)
(cd "$WORK" && exec python3 -m http.server "$JWKS_PORT" --bind 127.0.0.1 > /dev/null 2>&1) &
PIDS+=($!)
wait_http "http://127.0.0.1:$JWKS_PORT/jwks.json" 60
ES256_TOKEN=$(head -1 "$WORK/tokens-ES256.txt")
printf 'not really a video' > "$WORK/demo.mp4"

# callgrind's total instructions (Ir) of one run, and the sha2:: functions' own share.
totals() { # FILE → "TOTAL SHA"
    local total sha
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$1")
    sha=$(callgrind_annotate --threshold=100 "$1" 2> /dev/null |
        awk '/sha2::/ {gsub(",", "", $1); s += $1} END {print s + 0}')
    echo "$total $sha"
}

# run NAME COUNT KIND PATH METHOD BODY TOKEN: one server (KIND hello or tollgate) on free ports
# under callgrind, WARMUP + COUNT requests, then SIGTERM; prints "TOTAL SHA".
run() {
    local name=$1 count=$2 kind=$3 path=$4 method=$5 body=$6 token=$7
    local port store out="$WORK/callgrind.${kind}.$count.$RANDOM" ready
    port=$(free_port)
    store=$(free_port)
    local callgrind=(valgrind --tool=callgrind --callgrind-out-file="$out")
    if [ "$kind" = hello ]; then
        "${callgrind[@]}" target/release/examples/hello "127.0.0.1:$port" > "$out.log" 2>&1 &
        ready=/hello
    else
        mkdir -p "$WORK/data-$port"
        env TOLLGATE__SERVER__PORT="$port" TOLLGATE__STORAGE__EMBEDDED__ADDR="127.0.0.1:$store" \
            TOLLGATE__STORAGE__EMBEDDED__DATA_DIR="$WORK/data-$port" TOLLGATE__LOG__FILTER=warn \
            TOLLGATE__AUTH__JWKS_URL="http://127.0.0.1:$JWKS_PORT/jwks.json" \
            "${callgrind[@]}" target/release/tollgate serve > "$out.log" 2>&1 &
        ready=/healthz
    fi
    local pid=$!
    PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port$ready" 60
    if [ "$kind" = tollgate ]; then
        TOLLGATE__STORAGE__EMBEDDED__ADDR="127.0.0.1:$store" TOLLGATE__LOG__FILTER=warn \
            target/release/tollgate put --id demo --access premium "$WORK/demo.mp4" > /dev/null
    fi
    python3 bench/instructions_client.py "127.0.0.1:$port" "$path" "$method" "$body" "$token" \
        "$WARMUP" "$count"
    kill -TERM "$pid"
    wait "$pid" 2> /dev/null || true
    totals "$out"
}

rows=()
measure() { # NAME KIND PATH METHOD BODY TOKEN
    local name=$1 results=()
    for count in 0 "$N"; do
        results+=("$(run "$name" "$count" "$2" "$3" "$4" "$5" "$6")")
    done
    local base base_sha full full_sha
    read -r base base_sha <<< "${results[0]}"
    read -r full full_sha <<< "${results[1]}"
    local per=$(((full - base) / N)) sha=$(((full_sha - base_sha) / N))
    log "$name: $per instructions per request ($sha in sha2::)"
    rows+=("$name|$per|$sha")
}

HS256_TOKEN=$(target/release/tollgate token --sub alice --entitlement premium)
UPLOADER_TOKEN=$(target/release/tollgate token --sub ursula --role uploader)
UPLOAD_BODY='{"content_type":"video/mp4","size":1048576}'

measure "bare axum hello (JSON)" hello /hello GET "" ""
measure "tollgate GET /videos/{id}/url, HS256" tollgate /videos/demo/url GET "" "$HS256_TOKEN"
measure "tollgate GET /videos/{id}/url, ES256 (token cache hit)" tollgate /videos/demo/url GET "" \
    "$ES256_TOKEN"
measure "tollgate POST /uploads" tollgate /uploads POST "$UPLOAD_BODY" "$UPLOADER_TOKEN"

hello=$(cut -d'|' -f2 <<< "${rows[0]}")
hello_sha=$(cut -d'|' -f3 <<< "${rows[0]}")
native=$(grep -q -m1 sha_ni /proc/cpuinfo && echo "SHA-NI (the CPU has it; sha2 detects it at run time)" || echo "software (no SHA-NI on this CPU)")
part=$(mktemp)
{
    echo "## Instructions per request (callgrind)"
    echo
    echo "Written by \`bash bench/instructions.sh\` on $(date -u +%Y-%m-%d) (N=$N after a warm-up of $WARMUP, one keep-alive client; $(valgrind --version)). (total with N − total with 0) / N, release build. Natively sha2 runs $native; under valgrind SHA-NI is hidden and it runs in software, so the middle column counts a software SHA-256; the last one leaves the \`sha2::\` functions out."
    echo
    echo "| request | instructions | × hello | without sha2:: | × hello |"
    echo "|---|---:|---:|---:|---:|"
    for row in "${rows[@]}"; do
        IFS='|' read -r name per sha <<< "$row"
        echo "| $name | $per | $(awk -v a="$per" -v b="$hello" 'BEGIN {printf "%.1f", a / b}') | $((per - sha)) | $(awk -v a="$((per - sha))" -v b="$((hello - hello_sha))" 'BEGIN {printf "%.1f", a / b}') |"
    done
} > "$part"
bash bench/splice.sh instructions "$part"
cat "$part"
rm -f "$part"
