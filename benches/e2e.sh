#!/usr/bin/env bash
# End-to-end CPU per record of vigil-ingest, the method of benches/README.md:
#   benches/e2e.sh logs|traces|forward|forward-gzip|logs-load [VAR=value ...]
# Starts target/release/vigil-ingest pinned to CPU 1 (with the given VIGIL_* overrides, its own
# database and WAL directory), sends 3000 gRPC requests of 1000 records with h2load pinned to
# CPU 0, waits until ClickHouse holds every record (so the WAL read-back and the INSERTs are
# inside the window), and prints the engine's CPU µs per record.
# forward / forward-gzip send the same log content as PackedForward / CompressedPackedForward
# frames with acks, from target/release/vigil-load (128 connections, one frame in flight each);
# logs-load sends the very OTLP/gRPC requests those frames are made from, from vigil-load with
# the same concurrency (the same content on both paths, byte for byte before encoding).
# Needs: VIGIL_CLICKHOUSE_URL (e.g. from deploy/local/stack.sh), h2load (nghttp2-client), and
# target/release/vigil-load (cargo build --release -p benches), which writes the request bodies
# into $PAYLOADS (default /tmp/payloads) when they are not there yet.
set -euo pipefail
signal=${1:?logs or traces}; shift
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
payloads=${PAYLOADS:-/tmp/payloads}
requests=${REQUESTS:-3000}
case "$signal" in
  logs) table=logs; service=logs.v1.LogsService ;;
  traces) table=spans; service=trace.v1.TraceService ;;
  forward|forward-gzip|logs-load) table=logs ;;
  *) echo "signal must be logs, traces, forward, forward-gzip or logs-load" >&2; exit 2 ;;
esac
load=${CARGO_TARGET_DIR:-$repo/target}/release/vigil-load
[ -x "$load" ] || { echo "build vigil-load: cargo build --release -p benches" >&2; exit 1; }
case "$signal" in
  logs|traces) [ -f "$payloads/$signal.grpc" ] || "$load" --write-payloads "$payloads" --records-per-request 1000 --seed 7 ;;
esac
: "${VIGIL_CLICKHOUSE_URL:?set VIGIL_CLICKHOUSE_URL}"

db="bench_$$"
work=$(mktemp -d)
port=$((20000 + $$ % 20000))
bin=${CARGO_TARGET_DIR:-$repo/target}/release/vigil-ingest
env -u VIGIL_DATABASE_URL VIGIL_INGEST_TOKENS=tok=p VIGIL_CLICKHOUSE_DATABASE="$db" VIGIL_WAL_DIR="$work/wal" \
  VIGIL_OTLP_GRPC_ADDR=127.0.0.1:$port VIGIL_OTLP_HTTP_ADDR=127.0.0.1:$((port + 1)) VIGIL_LOG=warn \
  VIGIL_FORWARD_ADDR=127.0.0.1:$((port + 2)) VIGIL_FORWARD_PROJECT=p "$@" \
  taskset -c 1 "$bin" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; curl -s "$VIGIL_CLICKHOUSE_URL" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((port + 1))/readyz" >/dev/null && break; sleep 0.1; done

cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }
count() { curl -s "$VIGIL_CLICKHOUSE_URL" --data-binary "SELECT count() FROM $db.$table"; }
want=$((requests * 1000))
a=$(cpu); start=$(date +%s.%N)
case "$signal" in
  forward*|logs-load)
    if [ "$signal" = logs-load ]; then protocol=grpc target=$port; else protocol=$signal target=$((port + 2)); fi
    taskset -c 0 "$load" --protocol "$protocol" \
      --target 127.0.0.1:$target --token tok --requests "$requests" --concurrency 128 \
      --duration 600 >"$work/h2load.out" 2>/dev/null
    grep -q "errors           none" "$work/h2load.out" || { cat "$work/h2load.out" >&2; exit 1; }
    echo "status codes: $(grep 'requests ok' "$work/h2load.out")" >"$work/h2load.out" ;;
  *)
    taskset -c 0 h2load -n "$requests" -c 8 -m 16 -d "$payloads/$signal.grpc" \
      -H 'content-type: application/grpc' -H 'te: trailers' -H 'x-vigil-token: tok' \
      "http://127.0.0.1:$port/opentelemetry.proto.collector.$service/Export" >"$work/h2load.out" 2>&1 ;;
esac
acked=$(date +%s.%N)
for _ in $(seq 1200); do [ "$(count)" -ge "$want" ] && break; sleep 0.1; done
end=$(date +%s.%N); b=$(cpu)
grep -E "status codes" "$work/h2load.out" >&2
python3 - "$a" "$b" "$(getconf CLK_TCK)" "$want" "$(count)" "$start" "$acked" "$end" <<'PY'
import sys
a, b, tick, want, stored = (int(x) for x in sys.argv[1:6])
start, acked, end = (float(x) for x in sys.argv[6:9])
cpu = (b - a) / tick
print(f"records={want} stored={stored} cpu_s={cpu:.2f} cpu_us_per_record={cpu * 1e6 / want:.3f} "
      f"ack_rate={want / (acked - start):.0f}/s stored_rate={want / (end - start):.0f}/s")
PY
