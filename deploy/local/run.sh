#!/usr/bin/env bash
# Runs the whole Vigil stack locally: PostgreSQL, Redis and ClickHouse (installed if missing,
# data under .vigil/stack, non-default 127.0.0.1 ports), then vigil-ingest, the control plane's
# API (`vigil serve`) and its worker (`vigil worker`) against them.
# Prints where to send data and a ready token. Ctrl-C stops everything cleanly.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
stack_dir="$repo/.vigil/stack"

# A stale stack.env from a crashed run would block start: stop whatever it names first.
[ -f "$stack_dir/stack.env" ] && deploy/local/stack.sh stop "$stack_dir"
deploy/local/stack.sh start "$stack_dir"
trap 'deploy/local/stack.sh stop "$stack_dir"' EXIT
# shellcheck disable=SC1091
source "$stack_dir/stack.env"

cargo build --release --locked -p ingest-engine -p control-plane

# The control plane keeps its tables in a database of its own.
psql "$VIGIL_DATABASE_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = 'vigil'" | grep -q 1 ||
  psql "$VIGIL_DATABASE_URL" -qc "CREATE DATABASE vigil"
export VIGIL_DATABASE_URL=${VIGIL_DATABASE_URL%/*}/vigil
export VIGIL_CONTROL_ADDR=${VIGIL_CONTROL_ADDR:-127.0.0.1:8080}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
# Tables first: the ingest engine reads its keys from them (VIGIL_DATABASE_URL).
"$target_dir/release/vigil" migrate

# Development keys besides those the API issues, kept across runs.
secret() { # file
  if [ ! -s "$1" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1"
    chmod 600 "$1"
  fi
  cat "$1"
}
token=$(secret "$repo/.vigil/ingest-token")
agent_key=$(secret "$repo/.vigil/agent-key")
heartbeat_key=$(secret "$repo/.vigil/heartbeat-key")
export VIGIL_INGEST_TOKENS="$token=default"
export VIGIL_AGENT_KEYS="$agent_key=default/server-1"
export VIGIL_HEARTBEAT_KEYS="$heartbeat_key=default/heartbeat-1"
export VIGIL_OTLP_GRPC_ADDR=${VIGIL_OTLP_GRPC_ADDR:-127.0.0.1:4317}
export VIGIL_OTLP_HTTP_ADDR=${VIGIL_OTLP_HTTP_ADDR:-127.0.0.1:4318}
export VIGIL_WAL_DIR=${VIGIL_WAL_DIR:-$repo/.vigil/wal}
export VIGIL_FORWARD_ADDR=${VIGIL_FORWARD_ADDR:-127.0.0.1:24224}
export VIGIL_FORWARD_PROJECT=${VIGIL_FORWARD_PROJECT:-default}

cat >&2 <<MSG

Vigil is starting. Send OpenTelemetry data to:
  OTLP/gRPC  $VIGIL_OTLP_GRPC_ADDR          (e.g. OTEL_EXPORTER_OTLP_ENDPOINT=http://$VIGIL_OTLP_GRPC_ADDR)
  OTLP/HTTP  http://$VIGIL_OTLP_HTTP_ADDR   (/v1/logs, /v1/traces, /v1/metrics)
  header     x-vigil-token: $token          (project "default"; also Authorization: Bearer …)
  Forward    $VIGIL_FORWARD_ADDR          (Fluent Bit / Fluentd, project "$VIGIL_FORWARD_PROJECT")
  Fluentd    http://$VIGIL_OTLP_HTTP_ADDR/fluentd/v1/logs   (JSON, same token)
  agent      http://$VIGIL_OTLP_HTTP_ADDR/server-monitor/response/ingest/$agent_key   (monitor "server-1")
  heartbeat  http://$VIGIL_OTLP_HTTP_ADDR/heartbeat/$heartbeat_key   (GET or POST; monitor "heartbeat-1")
  events     $VIGIL_REDIS_URL  streams vigil:events:server_report, vigil:events:incoming_request
             (drained by vigil worker: statuses, incidents, notifications)
  metrics    http://$VIGIL_OTLP_HTTP_ADDR/metrics   ready: /readyz
  ClickHouse $VIGIL_CLICKHOUSE_URL  (database "vigil")
  WAL        $VIGIL_WAL_DIR  (acknowledged data waits here for ClickHouse)
  API        http://$VIGIL_CONTROL_ADDR/api/v1   (OpenAPI: /api/v1/openapi.json; the first
             POST /api/v1/auth/signup creates the instance admin; ingestion keys and
             heartbeat/server monitor keys made there work at the ingest engine within seconds)

Try:  curl -s http://$VIGIL_OTLP_HTTP_ADDR/v1/logs -H 'content-type: application/json' \\
        -H 'x-vigil-token: $token' -d '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hello"}}]}]}]}'
Ctrl-C stops Vigil and the servers.

MSG
# Not exec: the EXIT trap must run after all have exited (vigil-ingest flushes first).
"$target_dir/release/vigil" serve &
control=$!
"$target_dir/release/vigil" worker &
worker=$!
"$target_dir/release/vigil-ingest" &
pid=$!
trap 'kill -TERM $pid $control $worker 2>/dev/null || true' INT TERM
wait $pid || true
kill -TERM $control $worker 2>/dev/null || true
wait $pid $control $worker 2>/dev/null || true
