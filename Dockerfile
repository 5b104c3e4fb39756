# syntax=docker/dockerfile:1
# stockflow's services in one image: command-service, projector, query-service, the
# operators' console and the one-shot stockflow-migrate. compose.yaml picks the binary with
# `command:`.
#
# Static queries are sqlx's compile-time checked macros (query!, query_as!); the build checks
# them against the committed offline query data (.sqlx/, with SQLX_OFFLINE=true from
# .cargo/config.toml), so it needs no database. sqlx::migrate! embeds migrations/.
#
# scripts/check-deploy runs the build command below (as `cargo check`) in CI, so a change
# that breaks it is caught without a Docker engine.

ARG RUST_VERSION=1.95

# cargo-chef turns the workspace's manifests into a recipe, so that the dependencies are
# built in a layer of their own that stays cached until Cargo.toml or Cargo.lock change.
FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json \
    --bin command-service --bin projector --bin query-service --bin console \
    --bin stockflow-migrate
COPY . .
RUN cargo build --release --locked \
    --bin command-service --bin projector --bin query-service --bin console \
    --bin stockflow-migrate

FROM debian:bookworm-slim AS runtime
# The binaries need only glibc. ca-certificates holds the system's CA roots for when TLS to
# PostgreSQL or RabbitMQ is turned on: today neither client is built with TLS, so traffic
# stays on the compose network. The health check speaks HTTP over bash's /dev/tcp, so the
# image carries no curl.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 stockflow \
    && useradd --system --uid 10001 --gid stockflow --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin stockflow
COPY --from=builder /app/target/release/command-service /app/target/release/projector \
     /app/target/release/query-service /app/target/release/console \
     /app/target/release/stockflow-migrate /usr/local/bin/
COPY deploy/healthcheck /usr/local/bin/stockflow-healthcheck
# No configuration and no secret is baked in: everything comes from the environment.
ENV LOG_FORMAT=json
USER stockflow:stockflow
CMD ["command-service"]
