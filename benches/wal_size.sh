#!/usr/bin/env bash
# The WAL's bytes per record, for sizing the disk an outage of ClickHouse needs:
#   benches/wal_size.sh [logs|traces|metrics] [REQUESTS]
# Starts target/release/vigil-ingest with ClickHouse unreachable (so every acknowledged
# record waits in the WAL), sends REQUESTS (default 200) OTLP/gRPC requests of 1000 records from
# target/release/vigil-load (its generated records: a service, a body or span name, a few
# attributes of each type), and prints the WAL's bytes on disk per record acknowledged.
# Needs: cargo build --release -p ingest-engine -p benches.
set -euo pipefail
signal=${1:-logs}
requests=${2:-200}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${CARGO_TARGET_DIR:-$repo/target}/release
work=$(mktemp -d)
port=$((20000 + $$ % 20000))
# Port 9 (discard) on loopback: nothing listens, every INSERT fails and is retried later.
env -u VIGIL_DATABASE_URL VIGIL_INGEST_TOKENS=tok=p VIGIL_CLICKHOUSE_URL=http://127.0.0.1:9 \
  VIGIL_WAL_DIR="$work/wal" VIGIL_OTLP_GRPC_ADDR=127.0.0.1:$port \
  VIGIL_OTLP_HTTP_ADDR=127.0.0.1:$((port + 1)) VIGIL_FORWARD_ADDR=127.0.0.1:$((port + 2)) \
  VIGIL_LOG=error "$bin/vigil-ingest" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((port + 1))/healthz" >/dev/null && break; sleep 0.1; done
"$bin/vigil-load" --signal "$signal" --target 127.0.0.1:$port --token tok \
  --requests "$requests" --records-per-request 1000 --concurrency 8 --duration 600 >"$work/load.out" 2>&1 ||
  { cat "$work/load.out" >&2; exit 1; }
metrics=$(curl -s "http://127.0.0.1:$((port + 1))/metrics")
accepted=$(echo "$metrics" | awk -v s="$signal" '$1 ~ "^vigil_ingest_records_accepted_total" && $1 ~ "signal=\""s"\"" {print $2}')
wal=$(echo "$metrics" | awk '$1 ~ /^vigil_ingest_wal_bytes/ {s += $2} END {print s + 0}')
awk -v a="$accepted" -v w="$wal" -v s="$signal" 'BEGIN {
  printf "%s: %d records acknowledged, WAL %.1f MiB: %.0f bytes per record; an hour at 100k records/s: %.1f GiB\n",
    s, a, w / 1048576, w / a, w / a * 100000 * 3600 / 1073741824 }'
