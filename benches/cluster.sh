#!/usr/bin/env bash
# ClickHouse's CPU per record inserted: a cluster of 2 shards × 2 replicas against one server.
#   benches/cluster.sh [REQUESTS]
# Runs target/release/vigil-ingest twice — against the single server of the dev stack
# (VIGIL_CLICKHOUSE_URL; its pid in STACK_DIR, default .vigil/stack), then against the cluster
# of `deploy/local/stack.sh cluster-start CLUSTER_DIR` (VIGIL_CLICKHOUSE_CLUSTER=vigil, through
# node 1) — sends REQUESTS (default 1000) OTLP/gRPC requests of 1000 logs with h2load, waits
# until every record is readable, and prints the CPU all ClickHouse servers (and ZooKeeper)
# spent per record, and the engine's. Idle background work over the same window is included.
# Needs h2load and cargo build --release -p ingest-engine -p benches.
set -euo pipefail
requests=${1:-1000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${CARGO_TARGET_DIR:-$repo/target}/release
stack=${STACK_DIR:-$repo/.vigil/stack}
cluster=${CLUSTER_DIR:?CLUSTER_DIR: the folder of stack.sh cluster-start}
payloads=${PAYLOADS:-/tmp/payloads}
[ -f "$payloads/logs.grpc" ] || "$bin/vigil-load" --write-payloads "$payloads" --records-per-request 1000 --seed 7
: "${VIGIL_CLICKHOUSE_URL:?set VIGIL_CLICKHOUSE_URL}"
# shellcheck disable=SC1091
source "$cluster/cluster.env"
node1=${VIGIL_TEST_CLUSTER_URLS%% *}
hz=$(getconf CLK_TCK)
ticks() { for p in "$@"; do awk '{print $14+$15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }

run() { # name url cluster server-pids...
  local name=$1 url=$2 cluster_name=$3; shift 3
  local db="bench_cluster_$$" work port
  work=$(mktemp -d); port=$((20000 + $$ % 20000))
  env -u VIGIL_DATABASE_URL VIGIL_INGEST_TOKENS=tok=p VIGIL_CLICKHOUSE_URL="$url" \
    VIGIL_CLICKHOUSE_DATABASE="$db" VIGIL_CLICKHOUSE_CLUSTER="$cluster_name" VIGIL_WAL_DIR="$work/wal" \
    VIGIL_OTLP_GRPC_ADDR=127.0.0.1:$port VIGIL_OTLP_HTTP_ADDR=127.0.0.1:$((port + 1)) \
    VIGIL_FORWARD_ADDR=127.0.0.1:$((port + 2)) VIGIL_LOG=warn taskset -c 1 "$bin/vigil-ingest" &
  local engine=$!
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$((port + 1))/readyz" >/dev/null && break; sleep 0.1; done
  local c0 e0 c1 e1 want=$((requests * 1000))
  c0=$(ticks "$@"); e0=$(ticks "$engine")
  taskset -c 0 h2load -n "$requests" -c 8 -m 16 -d "$payloads/logs.grpc" \
    -H 'content-type: application/grpc' -H 'te: trailers' -H 'x-vigil-token: tok' \
    "http://127.0.0.1:$port/opentelemetry.proto.collector.logs.v1.LogsService/Export" >"$work/h2load.out" 2>&1
  grep -q "$requests succeeded" "$work/h2load.out" || { cat "$work/h2load.out" >&2; exit 1; }
  for _ in $(seq 1200); do
    [ "$(curl -s "$url" --data-binary "SELECT count() FROM $db.logs")" -ge "$want" ] && break; sleep 0.1
  done
  c1=$(ticks "$@"); e1=$(ticks "$engine")
  kill "$engine"; wait "$engine" 2>/dev/null || true
  local on=""; [ -n "$cluster_name" ] && on=" ON CLUSTER $cluster_name"
  curl -s "$url" --data-binary "DROP DATABASE IF EXISTS $db$on" >/dev/null
  rm -rf "$work"
  python3 -c "
c, e, r = ($c1 - $c0) / $hz, ($e1 - $e0) / $hz, $want
print(f'$name: records={r} clickhouse_us_per_record={c * 1e6 / r:.3f} engine_us_per_record={e * 1e6 / r:.3f}')"
}

run single "$VIGIL_CLICKHOUSE_URL" "" "$(cat "$stack/clickhouse.pid")"
run cluster "$node1" vigil $(cat "$cluster"/ch?.pid) "$(cat "$cluster/zk.pid")"
