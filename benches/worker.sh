#!/usr/bin/env bash
# The worker's CPU per probe result (benches/README.md): target/release/vigil pinned to CPU 1
# drains RESULTS probe results (default 200000) for MONITORS monitors (default 2000, the mix
# of benches/worker/seed.sql) from a Redis stream, evaluating criteria, writing the status
# timeline, incidents and notifications to PostgreSQL and every result to ClickHouse; prints
# results per second per core (results / the worker's CPU seconds). FAILURES (default 0.01) is
# the share of failing results; each one among good results is two status changes.
# PERF=file also records a perf profile of the worker.
# Needs VIGIL_DATABASE_URL, VIGIL_REDIS_URL, VIGIL_CLICKHOUSE_URL (deploy/local/stack.sh),
# redis-cli and psql.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
results=${RESULTS:-200000}
monitors=${MONITORS:-2000}
failures=${FAILURES:-0.01}
: "${VIGIL_DATABASE_URL:?}" "${VIGIL_REDIS_URL:?}" "${VIGIL_CLICKHOUSE_URL:?}"
bin=${CARGO_TARGET_DIR:-$repo/target}/release/vigil
[ -x "$bin" ] || { echo "build it: cargo build --release -p control-plane" >&2; exit 1; }
name="bench_worker_$$"
server=${VIGIL_DATABASE_URL%/*}
redis_port=${VIGIL_REDIS_URL##*:}
psql -q "$VIGIL_DATABASE_URL" -c "CREATE DATABASE $name"
db="$server/$name"
cleanup() {
  kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true
  psql -q "$VIGIL_DATABASE_URL" -c "DROP DATABASE IF EXISTS $name" || true
  redis-cli -p "$redis_port" DEL "$name:probe_result" >/dev/null || true
  curl -s "$VIGIL_CLICKHOUSE_URL" --data-binary "DROP DATABASE IF EXISTS $name" >/dev/null || true
}
trap cleanup EXIT
VIGIL_DATABASE_URL=$db "$bin" migrate 2>/dev/null
psql -q "$db" -v monitors="$monitors" -f "$repo/benches/worker/seed.sql"

env VIGIL_DATABASE_URL="$db" VIGIL_REDIS_STREAM_PREFIX="$name:" VIGIL_CLICKHOUSE_DATABASE="$name" \
  VIGIL_WORKER_NAME=bench VIGIL_LOG=warn taskset -c 1 "$bin" worker &
pid=$!
[ -n "${PERF:-}" ] && { perf record -F 999 -g -p "$pid" -o "$PERF" 2>/dev/null & perf_pid=$!; }
count() { curl -s "$VIGIL_CLICKHOUSE_URL" --data-binary "SELECT count() FROM $name.monitor_results" 2>/dev/null || echo 0; }
# Started once the group exists and the table is there.
for _ in $(seq 200); do
  redis-cli -p "$redis_port" XINFO GROUPS "$name:probe_result" 2>/dev/null | grep -q vigil-worker \
    && [ "$(count)" = 0 ] && break
  sleep 0.1
done
cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }
a=$(cpu); start=$(date +%s.%N)
taskset -c 0 python3 "$repo/benches/worker/results.py" "$name:probe_result" "$results" "$monitors" "$failures" \
  | taskset -c 0 redis-cli -p "$redis_port" --pipe >/dev/null
until [ "$(count)" -ge "$results" ]; do sleep 0.2; done
b=$(cpu); end=$(date +%s.%N)
[ -n "${perf_pid:-}" ] && { kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; }
ticks=$(getconf CLK_TCK)
changes=$(psql -tA "$db" -c "SELECT count(*) FROM monitor_status_timeline")
incidents=$(psql -tA "$db" -c "SELECT count(*) FROM incidents")
awk -v n="$results" -v t=$((b - a)) -v hz="$ticks" -v s="$start" -v e="$end" \
  -v ch="$changes" -v inc="$incidents" 'BEGIN {
    cpu = t / hz;
    printf "%d results in %.2f s wall, worker CPU %.2f s: %.0f results/s per core (%.1f us/result); %d timeline rows, %d incidents\n",
      n, e - s, cpu, n / cpu, cpu * 1e6 / n, ch, inc }'
