# syntax=docker/dockerfile:1
# tollgate without the embedded store: point it at S3, MinIO or Garage through TOLLGATE__STORAGE__*.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY config ./config
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
COPY config /etc/tollgate/config
ENV TOLLGATE_CONFIG_DIR=/etc/tollgate/config \
    TOLLGATE_ENV=production \
    TOLLGATE__SERVER__HOST=0.0.0.0
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["serve"]
