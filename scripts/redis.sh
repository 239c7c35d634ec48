#!/usr/bin/env bash
# Installs Debian's redis-server (the controls' shared state under test; tests start their own
# servers on free ports with it). Idempotent; the version is pinned to Debian bookworm's.
#   bash scripts/redis.sh            install if missing, print the version
set -euo pipefail

REDIS_VERSION_PREFIX="5:7.0.15-1~deb12u" # bookworm's redis 7.0.15 (security updates keep the prefix)

installed="$(dpkg-query -W -f='${Version}' redis-server 2>/dev/null || true)"
if [[ "$installed" != "$REDIS_VERSION_PREFIX"* ]] || ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "redis.sh: run as root to apt-get install redis-server" >&2
        exit 1
    fi
    apt-get update -qq
    version="$(apt-cache madison redis-server | awk -v p="$REDIS_VERSION_PREFIX" '$3 ~ "^"p {print $3; exit}')"
    if [ -z "$version" ]; then
        echo "redis.sh: no redis-server $REDIS_VERSION_PREFIX* in the apt sources" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "redis-server=$version" "redis-tools=$version" >/dev/null
    # The package starts a system-wide server on 6379; tests start their own and need none.
    if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
        systemctl stop redis-server || true
        systemctl disable redis-server >/dev/null 2>&1 || true
    fi
fi
redis-server --version
