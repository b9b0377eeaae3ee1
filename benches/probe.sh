#!/usr/bin/env bash
# The probe at scale (benches/README.md): target/release/vigil-probe pinned to CPU 1 checks
# MONITORS HTTP monitors (default 5000) at a 10 s interval against a local HTTP server (the
# ingest engine's /healthz), reporting every result to that engine. After WARMUP seconds
# (default 20) it measures for WINDOW seconds (default 60): checks run, the probe's CPU per
# check, the p99 of how late checks started (from its lateness histogram), and its memory.
# Needs VIGIL_DATABASE_URL, VIGIL_REDIS_URL, VIGIL_CLICKHOUSE_URL (deploy/local/stack.sh) and
# `cargo build --release -p control-plane -p ingest-engine -p probe`.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
monitors=${MONITORS:-5000}
warmup=${WARMUP:-20}
window=${WINDOW:-60}
: "${VIGIL_DATABASE_URL:?}" "${VIGIL_REDIS_URL:?}" "${VIGIL_CLICKHOUSE_URL:?}"
bin=${CARGO_TARGET_DIR:-$repo/target}/release
for b in vigil vigil-ingest vigil-probe; do
  [ -x "$bin/$b" ] || { echo "build it: cargo build --release -p control-plane -p ingest-engine -p probe" >&2; exit 1; }
done
name="bench_probe_$$"
# Below the ephemeral range (32768+), which the checks' own connections use.
port=$((20000 + $$ % 10000))
work=$(mktemp -d)
psql -q "$VIGIL_DATABASE_URL" -c "CREATE DATABASE $name"
db="${VIGIL_DATABASE_URL%/*}/$name"
pids=()
cleanup() {
  # The probe first: its last results would find the engine gone.
  for p in $(printf '%s\n' "${pids[@]}" | tac); do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$VIGIL_DATABASE_URL" -c "DROP DATABASE IF EXISTS $name" || true
  curl -s "$VIGIL_CLICKHOUSE_URL" --data-binary "DROP DATABASE IF EXISTS $name" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
VIGIL_DATABASE_URL=$db "$bin/vigil" migrate 2>/dev/null
key=vpk_bench_key
psql -q "$db" -v monitors="$monitors" -v key="$key" \
  -v url="http://127.0.0.1:$((port + 1))/healthz" -f "$repo/benches/probe/seed.sql"

export VIGIL_LOG=warn
VIGIL_DATABASE_URL=$db VIGIL_CONTROL_ADDR=127.0.0.1:$((port + 3)) taskset -c 0 "$bin/vigil" serve &
pids+=($!)
VIGIL_DATABASE_URL=$db VIGIL_CLICKHOUSE_DATABASE=$name VIGIL_WAL_DIR=$work/wal \
  VIGIL_REDIS_STREAM_PREFIX="$name:" VIGIL_REDIS_STREAM_MAX_LEN=10000 \
  VIGIL_OTLP_GRPC_ADDR=127.0.0.1:$port VIGIL_OTLP_HTTP_ADDR=127.0.0.1:$((port + 1)) \
  VIGIL_FORWARD_ADDR=127.0.0.1:$((port + 2)) taskset -c 0 "$bin/vigil-ingest" &
pids+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$((port + 1))/readyz" >/dev/null &&
    curl -sf "http://127.0.0.1:$((port + 3))/api/v1/openapi.json" >/dev/null && break
  sleep 0.2
done
VIGIL_PROBE_KEY=$key VIGIL_PROBE_CONTROL_URL=http://127.0.0.1:$((port + 3)) \
  VIGIL_PROBE_INGEST_URL=http://127.0.0.1:$port VIGIL_PROBE_METRICS_ADDR=127.0.0.1:$((port + 4)) \
  taskset -c 1 "$bin/vigil-probe" &
probe=$!
pids+=("$probe")
metrics() { curl -s "http://127.0.0.1:$((port + 4))/metrics"; }
sample() { metrics | awk -v m="$1" '$1 == m {print $2}'; }
cpu() { awk '{print $14+$15}' "/proc/$probe/stat"; }
scheduled() { metrics | awk '$1 == "vigil_probe_monitors{state=\"scheduled\"}" {print $2}'; }
for _ in $(seq 150); do [ "$(scheduled 2>/dev/null)" = "$monitors" ] && break; sleep 0.2; done
[ "$(scheduled)" = "$monitors" ] || { echo "the probe did not get its $monitors monitors" >&2; exit 1; }
sleep "$warmup"
checks_a=$(sample vigil_probe_checks_total); cpu_a=$(cpu)
metrics | grep '^vigil_probe_check_lateness_seconds_bucket' >"$work/late_a"
sleep "$window"
checks_b=$(sample vigil_probe_checks_total); cpu_b=$(cpu)
metrics | grep '^vigil_probe_check_lateness_seconds_bucket' >"$work/late_b"
sent=$(sample vigil_probe_results_sent_total); dropped=$(sample vigil_probe_results_dropped_total)
failed=$(metrics | awk '/^vigil_probe_checks_failed_total/ {s += $2} END {print s + 0}')
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$probe/status")
ticks=$(getconf CLK_TCK)
# p99 lateness: the smallest bucket bound holding 99 % of the window's checks.
p99=$(paste "$work/late_a" "$work/late_b" | awk '{
    split($1, a, "\""); n = $4 - $2; bounds[NR] = a[2]; counts[NR] = n; total = n }
  END { for (i = 1; i <= NR; i++) if (counts[i] >= 0.99 * total) { print bounds[i]; exit } }')
awk -v n=$((checks_b - checks_a)) -v t=$((cpu_b - cpu_a)) -v hz="$ticks" -v w="$window" \
  -v m="$monitors" -v rss="$rss_kb" -v p99="$p99" -v sent="$sent" -v dropped="$dropped" \
  -v failed="$failed" 'BEGIN {
    cpu = t / hz;
    printf "%d monitors at 10 s: %d checks in %d s (%.0f/s, %.0f%% of the schedule), p99 lateness <= %s s\n",
      m, n, w, n / w, 100 * n / (m * w / 10), p99;
    printf "probe CPU %.2f s: %.1f us per check (%.0f%% of one core); RSS %.1f MiB, %.1f KiB per monitor\n",
      cpu, cpu * 1e6 / n, 100 * cpu / w, rss / 1024, rss / m;
    printf "results sent %d, dropped %d, failed checks %d\n", sent, dropped, failed }'
