#!/usr/bin/env bash
# Installs what .ci/run needs beyond the Rust toolchain. Idempotent; versions pinned.
set -euo pipefail

DOCKER_COMPOSE_VERSION="1.29.2-3" # Debian bookworm; validates docker-compose.yml without an engine

need_root() {
    if [ "$(id -u)" -ne 0 ]; then echo "install-ci-tools: run as root to apt-get install $*" >&2; exit 1; fi
}

if ! dpkg-query -W -f='${Version}' docker-compose 2>/dev/null | grep -qx "$DOCKER_COMPOSE_VERSION"; then
    need_root docker-compose
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "docker-compose=$DOCKER_COMPOSE_VERSION" >/dev/null
fi
docker-compose version --short

# The controls' shared state under test: the API tests start redis-server on free ports.
bash scripts/redis.sh
