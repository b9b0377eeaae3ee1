#!/usr/bin/env bash
# CPU per record through nginx with TLS (nginx + engine) against straight to the engine:
#   benches/edge.sh [REQUESTS]
# Starts target/release/vigil-ingest and nginx (deploy/nginx, one worker, TLS with a local CA),
# both pinned to CPU 1, and sends REQUESTS (default 2000) OTLP/gRPC requests of 1000 logs
# (vigil-load's payload, as e2e.sh) with h2load from CPU 0 — first over h2c straight to the
# engine, then over TLS (HTTP/2) through nginx — waiting each time until ClickHouse holds every
# record. Prints each path's CPU µs per record: the engine's alone, and the engine's plus
# nginx's. Needs VIGIL_CLICKHOUSE_URL, h2load (nghttp2-client), nginx (deploy/local/stack.sh
# install) and cargo build --release -p ingest-engine -p benches.
set -euo pipefail
requests=${1:-2000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${CARGO_TARGET_DIR:-$repo/target}/release
payloads=${PAYLOADS:-/tmp/payloads}
[ -f "$payloads/logs.grpc" ] || "$bin/vigil-load" --write-payloads "$payloads" --records-per-request 1000 --seed 7
: "${VIGIL_CLICKHOUSE_URL:?set VIGIL_CLICKHOUSE_URL}"
db="bench_edge_$$"
work=$(mktemp -d)
port=$((20000 + $$ % 20000)) edge=$((20000 + $$ % 20000 + 3))
env -u VIGIL_DATABASE_URL VIGIL_INGEST_TOKENS=tok=p VIGIL_CLICKHOUSE_DATABASE="$db" \
  VIGIL_WAL_DIR="$work/wal" VIGIL_OTLP_GRPC_ADDR=127.0.0.1:$port \
  VIGIL_OTLP_HTTP_ADDR=127.0.0.1:$((port + 1)) VIGIL_FORWARD_ADDR=127.0.0.1:$((port + 2)) \
  VIGIL_LOG=warn taskset -c 1 "$bin/vigil-ingest" &
engine=$!
"$repo/deploy/nginx/local-ca.sh" "$work/tls" server localhost >/dev/null
VIGIL_EDGE_LISTEN=127.0.0.1:$edge VIGIL_EDGE_CERT="$work/tls/server.pem" \
  VIGIL_EDGE_KEY="$work/tls/server.key" VIGIL_EDGE_INGEST_GRPC=127.0.0.1:$port \
  VIGIL_EDGE_INGEST_HTTP=127.0.0.1:$((port + 1)) VIGIL_EDGE_WORKERS=1 \
  python3 "$repo/deploy/nginx/render.py" "$work/nginx" --standalone >/dev/null
sed -i 's|access_log .*;|access_log off;|' "$work/nginx/nginx.conf"
taskset -c 1 /usr/sbin/nginx -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx=$!
trap 'kill $engine $nginx 2>/dev/null; wait $engine $nginx 2>/dev/null; curl -s "$VIGIL_CLICKHOUSE_URL" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((port + 1))/readyz" >/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$edge") 2>/dev/null && break; sleep 0.1; done

# CPU ticks of a process and its children threads (nginx: the master and its workers).
ticks() { for p in "$@"; do awk '{print $14+$15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }
nginx_pids() { echo "$nginx" $(pgrep -P "$nginx"); }
count() { curl -s "$VIGIL_CLICKHOUSE_URL" --data-binary "SELECT count() FROM $db.logs"; }
hz=$(getconf CLK_TCK)
stored=0
run() { # name url
  local e0 n0 e1 n1
  e0=$(ticks "$engine"); n0=$(ticks $(nginx_pids))
  taskset -c 0 h2load -n "$requests" -c 8 -m 16 -d "$payloads/logs.grpc" \
    -H 'content-type: application/grpc' -H 'te: trailers' -H 'x-vigil-token: tok' \
    "$2/opentelemetry.proto.collector.logs.v1.LogsService/Export" >"$work/$1.out" 2>&1
  grep -q "$requests succeeded" "$work/$1.out" || { cat "$work/$1.out" >&2; exit 1; }
  stored=$((stored + requests * 1000))
  for _ in $(seq 1200); do [ "$(count)" -ge "$stored" ] && break; sleep 0.1; done
  e1=$(ticks "$engine"); n1=$(ticks $(nginx_pids))
  python3 -c "
e, n, r = ($e1 - $e0) / $hz, ($n1 - $n0) / $hz, $requests * 1000
print(f'$1: records={r} engine_us_per_record={e * 1e6 / r:.3f} nginx_us_per_record={n * 1e6 / r:.3f} total_us_per_record={(e + n) * 1e6 / r:.3f}')"
}
run direct "http://127.0.0.1:$port"
run nginx-tls "https://localhost:$edge"
