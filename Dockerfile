# One image for all five services: `docker run ironsmith <binary> serve|migrate|check-config`.
# syntax=docker/dockerfile:1

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The committed .sqlx data lets sqlx check queries without a database.
ENV SQLX_OFFLINE=true
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace --bins \
 && mkdir -p /out \
 && cp target/release/frontend target/release/backend target/release/platform-backend \
       target/release/playground target/release/queue /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/ironsmith ironsmith \
 && mkdir -p /var/lib/ironsmith && chown ironsmith /var/lib/ironsmith
COPY --from=build /out/ /usr/local/bin/
COPY config /etc/ironsmith/config
ENV IRONSMITH_CONFIG_DIR=/etc/ironsmith/config
WORKDIR /var/lib/ironsmith
USER ironsmith
# frontend 8080, backend 1984, platform-backend 1986, playground 1988, queue health/metrics 1989
EXPOSE 8080 1984 1986 1988 1989
CMD ["backend", "serve"]
