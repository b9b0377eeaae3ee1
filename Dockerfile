# Vigil's three binaries in one small image: `vigil-ingest`, `vigil` (serve, worker, migrate)
# and `vigil-probe`; the command chooses which runs. Built with the same cargo command as
# deploy/local/run.sh (release, --locked); runs as an unprivileged user.
#
#   docker build -t vigil .
#   docker run --rm vigil vigil-ingest --help
#
# Stage 1: build on Debian bookworm with the Rust toolchain.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ingest-engine -p control-plane -p probe \
 && mkdir /out \
 && cp target/release/vigil-ingest target/release/vigil target/release/vigil-probe /out/

# Stage 2: the runtime — Debian slim with CA certificates (webhooks, Slack, SMTP over TLS),
# nothing else. The WAL lives in /var/lib/vigil/wal (mount a volume there).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/vigil --create-home vigil
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/vigil
ENV VIGIL_WAL_DIR=/var/lib/vigil/wal \
    VIGIL_OTLP_GRPC_ADDR=0.0.0.0:4317 \
    VIGIL_OTLP_HTTP_ADDR=0.0.0.0:4318 \
    VIGIL_FORWARD_ADDR=0.0.0.0:24224 \
    VIGIL_CONTROL_ADDR=0.0.0.0:8080 \
    VIGIL_LOG_FORMAT=json
EXPOSE 4317 4318 24224 8080
CMD ["vigil-ingest"]
