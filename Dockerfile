# syntax=docker/dockerfile:1
# tollgate without the embedded store: point it at S3, MinIO or Garage through TOLLGATE__STORAGE__*.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Compiled in (include_str!). Only this file: the dev files are not even in the build context
# (.dockerignore).
COPY config/default.toml ./config/default.toml
# Cargo checks that declared targets exist, even when it does not build them.
COPY tests ./tests
COPY benches ./benches
RUN cargo build --locked --release --no-default-features \
    && strip target/release/tollgate

FROM debian:bookworm-slim
# CA roots for https to S3 and the JWKS endpoint.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin tollgate
COPY --from=build /src/target/release/tollgate /usr/local/bin/tollgate
# Production's file only. config/local.toml and config/compose.toml publish their secrets: an
# image carrying them would start with TOLLGATE_ENV=local or compose and let anyone mint admin
# tokens. Other environments take their settings from TOLLGATE__* variables (docker-compose.yml).
COPY config/production.toml /etc/tollgate/config/production.toml
ENV TOLLGATE_CONFIG_DIR=/etc/tollgate/config \
    TOLLGATE_ENV=production \
    TOLLGATE__SERVER__HOST=0.0.0.0
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["serve"]
