#!/usr/bin/env bash
# A throw-away single-node Garage (an independent S3 server written in Rust) on free loopback ports.
#
#   scripts/garage.sh --install        build/install Garage into the cache only (idempotent)
#   scripts/garage.sh -- CMD [ARGS…]   start Garage, run CMD with the settings below, stop Garage
#   scripts/garage.sh                  start Garage, print the settings, stop on Ctrl-C
#
# Settings exported to CMD (and printed as `export` lines):
#   TOLLGATE_TEST_STORE=garage, TOLLGATE_TEST_S3_ENDPOINT, TOLLGATE_TEST_S3_REGION,
#   TOLLGATE_TEST_S3_BUCKET, TOLLGATE_TEST_S3_ACCESS_KEY / _SECRET_KEY (read-write: seeding),
#   TOLLGATE_TEST_S3_WRITE_ONLY_ACCESS_KEY / _SECRET_KEY (tollgate's upload key) and
#   TOLLGATE_TEST_S3_READ_ONLY_ACCESS_KEY / _SECRET_KEY (tollgate's read key).
# The bucket has a CORS rule for browsers on any port of http://localhost and http://127.0.0.1.
#
# Garage is built with `cargo install --locked` (about 7.5 minutes on 2 cores) into
# ${TOLLGATE_CACHE_DIR:-~/.cache/tollgate}/garage-$GARAGE_VERSION and reused from there.
set -euo pipefail

GARAGE_VERSION="2.5.0"
CACHE_DIR="${TOLLGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate}"
GARAGE_ROOT="$CACHE_DIR/garage-$GARAGE_VERSION"
GARAGE="$GARAGE_ROOT/bin/garage"
REGION="garage"
BUCKET="videos"

log() { printf 'garage.sh: %s\n' "$*" >&2; }

install_garage() {
    if [ -x "$GARAGE" ] && "$GARAGE" --version 2>/dev/null | grep -q "$GARAGE_VERSION"; then
        return
    fi
    log "building Garage $GARAGE_VERSION into $GARAGE_ROOT (about 7.5 minutes on 2 cores)"
    mkdir -p "$GARAGE_ROOT"
    cargo install --locked --quiet --root "$GARAGE_ROOT" "garage@$GARAGE_VERSION" >&2
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

hex() { python3 -c "import secrets; print(secrets.token_hex($1))"; }

if [ "${1:-}" = "--install" ]; then
    install_garage
    "$GARAGE" --version >&2
    exit 0
fi

install_garage

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-garage.XXXXXX")"
GARAGE_PID=""
stop() {
    if [ -n "$GARAGE_PID" ] && kill -0 "$GARAGE_PID" 2>/dev/null; then
        kill "$GARAGE_PID" 2>/dev/null || true
        wait "$GARAGE_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap stop EXIT
trap 'exit 130' INT TERM

S3_PORT="$(free_port)"
RPC_PORT="$(free_port)"
cat > "$WORK/garage.toml" <<TOML
metadata_dir = "$WORK/meta"
data_dir = "$WORK/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$RPC_PORT"
rpc_public_addr = "127.0.0.1:$RPC_PORT"
rpc_secret = "$(hex 32)"

[s3_api]
s3_region = "$REGION"
api_bind_addr = "127.0.0.1:$S3_PORT"
root_domain = ".s3.garage.localhost"
TOML

g() { "$GARAGE" -c "$WORK/garage.toml" "$@"; }

RUST_LOG="${GARAGE_LOG:-warn}" "$GARAGE" -c "$WORK/garage.toml" server > "$WORK/server.log" 2>&1 &
GARAGE_PID=$!

for _ in $(seq 1 100); do
    if g status > /dev/null 2>&1; then break; fi
    if ! kill -0 "$GARAGE_PID" 2>/dev/null; then
        log "Garage exited early:"; cat "$WORK/server.log" >&2; exit 1
    fi
    sleep 0.1
done

NODE_ID="$(g node id -q | cut -d@ -f1)"
g layout assign -z dc1 -c 1G "$NODE_ID" > /dev/null
g layout apply --version 1 > /dev/null

RW_KEY="GK$(hex 12)"; RW_SECRET="$(hex 32)"
WO_KEY="GK$(hex 12)"; WO_SECRET="$(hex 32)"
RO_KEY="GK$(hex 12)"; RO_SECRET="$(hex 32)"
g key import --yes -n tollgate-rw "$RW_KEY" "$RW_SECRET" > /dev/null
# tollgate's two keys: the upload key may write and not read, the read key may read and not write
# (a presigned URL carries its signer's permissions). The read-write key seeds and checks.
g key import --yes -n tollgate-upload "$WO_KEY" "$WO_SECRET" > /dev/null
g key import --yes -n tollgate-read "$RO_KEY" "$RO_SECRET" > /dev/null
g bucket create "$BUCKET" > /dev/null
g bucket allow --read --write --owner "$BUCKET" --key tollgate-rw > /dev/null
g bucket allow --write "$BUCKET" --key tollgate-upload > /dev/null
g bucket allow --read "$BUCKET" --key tollgate-read > /dev/null

# Browsers may use the presigned URLs from any local development port, as on the embedded store
# (storage.embedded.cors_origins in config/local.toml). Garage 2.5 takes one `*` per origin.
# ETag is exposed for Uppy (it reads each part's), the range headers for <video> seeking.
put_bucket_cors() {
    local cors
    cors='<CORSConfiguration><CORSRule>
<AllowedOrigin>http://localhost:*</AllowedOrigin><AllowedOrigin>http://127.0.0.1:*</AllowedOrigin>
<AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedMethod>PUT</AllowedMethod>
<AllowedMethod>POST</AllowedMethod><AllowedMethod>DELETE</AllowedMethod>
<AllowedHeader>*</AllowedHeader>
<ExposeHeader>ETag</ExposeHeader><ExposeHeader>Location</ExposeHeader>
<ExposeHeader>Content-Range</ExposeHeader><ExposeHeader>Content-Length</ExposeHeader>
<ExposeHeader>Accept-Ranges</ExposeHeader>
</CORSRule></CORSConfiguration>'
    # PutBucketCors, SigV4-signed by curl (7.75+) with the read-write key (the bucket's owner).
    # Garage wants the payload's hash, which curl 7.88 does not add by itself; `?cors=`, not
    # `?cors`, because curl 7.88 signs a bare `cors` as is where S3 canonicalises it to `cors=`.
    local sha
    sha="$(printf '%s' "$cors" | sha256sum | cut -d' ' -f1)"
    curl -sS --fail-with-body -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/$BUCKET?cors=" \
        --aws-sigv4 "aws:amz:$REGION:s3" --user "$RW_KEY:$RW_SECRET" \
        -H "x-amz-content-sha256: $sha" -H 'Content-Type: application/xml' --data-binary "$cors"
    # A preflight from a development origin proves that the rule took.
    local allowed
    allowed="$(curl -sS -o /dev/null -w '%header{access-control-allow-origin}' -X OPTIONS \
        "http://127.0.0.1:$S3_PORT/$BUCKET/videos/probe" \
        -H 'Origin: http://localhost:5173' -H 'Access-Control-Request-Method: PUT' \
        -H 'Access-Control-Request-Headers: content-type,x-amz-meta-owner')"
    if [ "$allowed" != "http://localhost:5173" ]; then
        log "the bucket CORS rule did not take: a preflight got Access-Control-Allow-Origin '$allowed'"
        exit 1
    fi
}
put_bucket_cors

export TOLLGATE_TEST_STORE=garage
export TOLLGATE_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export TOLLGATE_TEST_S3_REGION="$REGION"
export TOLLGATE_TEST_S3_BUCKET="$BUCKET"
export TOLLGATE_TEST_S3_ACCESS_KEY="$RW_KEY"
export TOLLGATE_TEST_S3_SECRET_KEY="$RW_SECRET"
export TOLLGATE_TEST_S3_WRITE_ONLY_ACCESS_KEY="$WO_KEY"
export TOLLGATE_TEST_S3_WRITE_ONLY_SECRET_KEY="$WO_SECRET"
export TOLLGATE_TEST_S3_READ_ONLY_ACCESS_KEY="$RO_KEY"
export TOLLGATE_TEST_S3_READ_ONLY_SECRET_KEY="$RO_SECRET"
log "Garage $GARAGE_VERSION on $TOLLGATE_TEST_S3_ENDPOINT (region $REGION, bucket $BUCKET)"

if [ "${1:-}" = "--" ]; then
    shift
    set +e
    "$@"
    status=$?
    set -e
    exit "$status"
fi

env | grep -E '^TOLLGATE_TEST_' | sed 's/^/export /'
log "running; Ctrl-C stops it"
wait "$GARAGE_PID"
