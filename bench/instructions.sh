#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: a stable measure where wall-clock
# ratios on these VMs drift by ±15 points between runs. Writes the "instructions" section of
# bench/RESULTS.md.
#
#   bash bench/instructions.sh            # N=2000 requests after a warm-up of 200
#   N=500 bash bench/instructions.sh
#   BEFORE=main bash bench/instructions.sh  # also tollgate at git revision `main`, same run
#   REVS="abc123 def456 HEAD" bash bench/instructions.sh  # a series, commit by commit
#
# With BEFORE, the revision's tree (git archive) is built into $CARGO_TARGET_DIR/before (or
# target/before) and its tollgate measured beside this one's, with its own config/ folder; the
# table then gives both figures for each tollgate request, so that a change's effect is read
# off one run.
#
# For each case the release binary runs twice under `valgrind --tool=callgrind`, serving a
# warm-up and then 0 or N requests from one keep-alive client (bench/instructions_client.py);
# instructions per request = (total with N − total with 0) / N. The cases, in one run: the bare
# axum hello (the HTTP ceiling), tollgate's GET /videos/{id}/url with an HS256 token and with an
# ES256 token (through the token cache), POST /uploads, and GET /videos/{id}/url (HS256) again with
# the access log at `info` in the JSON format, as production runs (its lines go to a file).
#
# With REVS, only GET /videos/{id}/url with an HS256 token is measured, at each revision in turn
# (each built like BEFORE's), and a table of them is printed, not written: the figures behind
# RESULTS.md's "what moved the instruction counts", read off one run.
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
BEFORE=${BEFORE:-}
REVS=${REVS:-}
BEFORE_TARGET=$(realpath -m "${CARGO_TARGET_DIR:-target}/before")

# build_before REV: tollgate at REV (git archive) built into $BEFORE_TARGET, its tree in
# $WORK/before.
build_before() {
    rm -rf "$WORK/before"
    mkdir "$WORK/before"
    # -m: the files get the current time, so that cargo rebuilds what an earlier revision left in
    # the same target folder (git archive stamps them with the commit's time).
    git archive "$1" | tar -x -m -C "$WORK/before"
    (cd "$WORK/before" && CARGO_TARGET_DIR=$BEFORE_TARGET \
        cargo build --release --locked -q --bin tollgate)
}

log "building release binaries"
cargo build --release --locked -q --bin tollgate --example hello --example bench_tokens
if [ -n "$BEFORE" ]; then
    before_rev=$(git rev-parse --short "$BEFORE^{commit}")
    log "building tollgate at $BEFORE ($before_rev)"
    build_before "$before_rev"
fi


# ES256 tokens and the JWKS that publishes their key, served on loopback.
"$RELEASE/examples/bench_tokens" ES256 1 "$WORK" > /dev/null
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

# The log filter and format tollgate runs with: `warn` leaves out the access log's line per
# request; `LOG_FILTER=info LOG_FORMAT=json measure …` measures it.
LOG_FILTER=warn
LOG_FORMAT=pretty

# run COUNT KIND PATH METHOD BODY TOKEN: one server (KIND hello, tollgate, or before: tollgate
# at $BEFORE, in its own tree) on free ports under callgrind, WARMUP + COUNT requests, then
# SIGTERM; prints "TOTAL SHA".
run() {
    local count=$1 kind=$2 path=$3 method=$4 body=$5 token=$6
    local port store out="$WORK/callgrind.${kind}.$count.$RANDOM" ready
    port=$(free_port)
    store=$(free_port)
    local callgrind=(valgrind --tool=callgrind --callgrind-out-file="$out")
    if [ "$kind" = hello ]; then
        "${callgrind[@]}" "$RELEASE/examples/hello" "127.0.0.1:$port" > "$out.log" 2>&1 &
        ready=/hello
    else
        local binary tree=$PWD
        binary=$(realpath "$RELEASE/tollgate")
        [ "$kind" = before ] && binary=$BEFORE_TARGET/release/tollgate tree=$WORK/before
        mkdir -p "$WORK/data-$port"
        (cd "$tree" && exec env TOLLGATE__SERVER__PORT="$port" \
            TOLLGATE__STORAGE__EMBEDDED__ADDR="127.0.0.1:$store" \
            TOLLGATE__STORAGE__EMBEDDED__DATA_DIR="$WORK/data-$port" \
            TOLLGATE__LOG__FILTER="$LOG_FILTER" TOLLGATE__LOG__FORMAT="$LOG_FORMAT" \
            TOLLGATE__AUTH__JWKS_URL="http://127.0.0.1:$JWKS_PORT/jwks.json" \
            "${callgrind[@]}" "$binary" serve > "$out.log" 2>&1) &
        ready=/healthz
    fi
    local pid=$!
    PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port$ready" 60
    if [ "$kind" != hello ]; then
        TOLLGATE__STORAGE__EMBEDDED__ADDR="127.0.0.1:$store" TOLLGATE__LOG__FILTER=warn \
            "$RELEASE/tollgate" put --id demo --access premium "$WORK/demo.mp4" > /dev/null
    fi
    python3 bench/instructions_client.py "127.0.0.1:$port" "$path" "$method" "$body" "$token" \
        "$WARMUP" "$count"
    kill -TERM "$pid"
    wait "$pid" 2> /dev/null || true
    totals "$out"
}

# per_request KIND PATH METHOD BODY TOKEN → "PER SHA": instructions per request, and its sha2:: share
per_request() {
    local results=()
    for count in 0 "$N"; do
        results+=("$(run "$count" "$@")")
    done
    local base base_sha full full_sha
    read -r base base_sha <<< "${results[0]}"
    read -r full full_sha <<< "${results[1]}"
    echo "$(((full - base) / N)) $(((full_sha - base_sha) / N))"
}

rows=()
measure() { # NAME KIND PATH METHOD BODY TOKEN
    local name=$1 kind=$2 per sha before=- before_sha=-
    shift 2
    read -r per sha <<< "$(per_request "$kind" "$@")"
    log "$name: $per instructions per request ($sha in sha2::)"
    if [ -n "$BEFORE" ] && [ "$kind" = tollgate ]; then
        read -r before before_sha <<< "$(per_request before "$@")"
        log "$name at $BEFORE: $before instructions per request ($before_sha in sha2::)"
    fi
    rows+=("$name|$per|$sha|$before|$before_sha")
}

HS256_TOKEN=$("$RELEASE/tollgate" token --sub alice --entitlement premium)
UPLOADER_TOKEN=$("$RELEASE/tollgate" token --sub ursula --role uploader)
UPLOAD_BODY='{"content_type":"video/mp4","size":1048576}'

if [ -n "$REVS" ]; then
    echo "| commit | subject | GET /url HS256 | without sha2:: |"
    echo "|---|---|---:|---:|"
    for rev in $REVS; do
        short=$(git rev-parse --short "$rev^{commit}")
        log "building tollgate at $rev ($short)"
        build_before "$short"
        read -r per sha <<< "$(per_request before /videos/demo/url GET "" "$HS256_TOKEN")"
        echo "| $short | $(git log -1 --format=%s "$short") | $per | $((per - sha)) |"
    done
    exit 0
fi

measure "bare axum hello (JSON)" hello /hello GET "" ""
measure "tollgate GET /videos/{id}/url, HS256" tollgate /videos/demo/url GET "" "$HS256_TOKEN"
measure "tollgate GET /videos/{id}/url, ES256 (token cache hit)" tollgate /videos/demo/url GET "" \
    "$ES256_TOKEN"
measure "tollgate POST /uploads" tollgate /uploads POST "$UPLOAD_BODY" "$UPLOADER_TOKEN"
LOG_FILTER=info LOG_FORMAT=json measure "tollgate GET /videos/{id}/url, HS256, access log at info (JSON)" \
    tollgate /videos/demo/url GET "" "$HS256_TOKEN"

hello=$(cut -d'|' -f2 <<< "${rows[0]}")
hello_sha=$(cut -d'|' -f3 <<< "${rows[0]}")
native=$(grep -q -m1 sha_ni /proc/cpuinfo && echo "SHA-NI (the CPU has it; sha2 detects it at run time)" || echo "software (no SHA-NI on this CPU)")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a / b}'; }
change() { # BEFORE AFTER → "−12 %", or "" without a before figure
    [ "$1" = - ] || awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.0f %%", (b - a) * 100 / a}' | sed 's/-/−/'
}
part=$(mktemp)
{
    echo "## Instructions per request (callgrind)"
    echo
    echo "Written by \`bash bench/instructions.sh\` on $(date -u +%Y-%m-%d) (N=$N after a warm-up of $WARMUP, one keep-alive client; $(valgrind --version)). (total with N − total with 0) / N, release build. Natively sha2 runs $native; under valgrind SHA-NI is hidden and it runs in software, so the instruction columns count a software SHA-256; the \"without sha2::\" ones leave the \`sha2::\` functions out."
    if [ -n "$BEFORE" ]; then
        echo
        echo "Before: tollgate at \`$BEFORE\` ($before_rev), measured in the same run; after: $(git diff --quiet HEAD -- src Cargo.toml Cargo.lock config && git rev-parse --short HEAD || echo "the working tree (uncommitted changes on $(git rev-parse --short HEAD))")."
        echo
        echo "| request | before | after | change | × hello | without sha2:: before | after | × hello |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    else
        echo
        echo "| request | instructions | × hello | without sha2:: | × hello |"
        echo "|---|---:|---:|---:|---:|"
    fi
    for row in "${rows[@]}"; do
        IFS='|' read -r name per sha before before_sha <<< "$row"
        without_before=-
        [ "$before" = - ] || without_before=$((before - before_sha))
        if [ -n "$BEFORE" ]; then
            echo "| $name | $before | $per | $(change "$before" "$per") | $(ratio "$per" "$hello") | $without_before | $((per - sha)) | $(ratio "$((per - sha))" "$((hello - hello_sha))") |"
        else
            echo "| $name | $per | $(ratio "$per" "$hello") | $((per - sha)) | $(ratio "$((per - sha))" "$((hello - hello_sha))") |"
        fi
    done
} > "$part"
bash bench/splice.sh instructions "$part"
cat "$part"
rm -f "$part"
