# One image for all five services (`docker run ironsmith <binary> serve|migrate|check-config`) and
# the data plane's `listener` and `operator`.
# syntax=docker/dockerfile:1

# The web UI: type-checked against the committed OpenAPI document, bundled and precompressed.
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY docs/openapi.json docs/openapi.json
COPY services/frontend/web/package.json services/frontend/web/package-lock.json services/frontend/web/
RUN cd services/frontend/web && npm ci --no-audit --no-fund
COPY services/frontend/web services/frontend/web
RUN cd services/frontend/web && npm run check-types && npm run build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The frontend binary embeds the UI built above.
COPY --from=web /src/services/frontend/web/dist services/frontend/web/dist
# The committed .sqlx data lets sqlx check queries without a database.
ENV SQLX_OFFLINE=true
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace --bins \
 && mkdir -p /out \
 && cp target/release/frontend target/release/backend target/release/platform-backend \
       target/release/playground target/release/queue \
       target/release/listener target/release/operator /out/

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
