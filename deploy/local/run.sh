#!/usr/bin/env bash
# Runs the whole Vigil stack locally: PostgreSQL, Redis and ClickHouse (installed if missing,
# data under .vigil/stack, non-default 127.0.0.1 ports), then the control plane's API
# (`vigil serve`), its worker (`vigil worker`) and vigil-ingest against them; builds
# vigil-probe too. Makes a development admin, project, ingestion key and monitors through the
# API (once; deploy/local/bootstrap.py) and, once everything listens, prints how to sign in and
# where to send data. Ctrl-C stops everything cleanly.
#
#   deploy/local/run.sh [--tls]
#
# --tls also puts nginx in front (deploy/nginx/), on https://localhost:8443
# (VIGIL_EDGE_LISTEN), with a certificate from a local CA made under .vigil/tls; the CA's path
# is printed: clients trust that file. The UI, API, status pages, OTLP/HTTP and OTLP/gRPC are
# all on that one port.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
tls=0
for arg in "$@"; do
  case "$arg" in
    --tls) tls=1 ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
  esac
done
stack_dir="$repo/.vigil/stack"

# A stale stack.env from a crashed run would block start: stop whatever it names first.
[ -f "$stack_dir/stack.env" ] && deploy/local/stack.sh stop "$stack_dir"
deploy/local/stack.sh start "$stack_dir"
trap 'deploy/local/stack.sh stop "$stack_dir"' EXIT
# shellcheck disable=SC1091
source "$stack_dir/stack.env"

cargo build --release --locked -p ingest-engine -p control-plane -p probe

# The control plane keeps its tables in a database of its own.
psql "$VIGIL_DATABASE_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = 'vigil'" | grep -q 1 ||
  psql "$VIGIL_DATABASE_URL" -qc "CREATE DATABASE vigil"
export VIGIL_DATABASE_URL=${VIGIL_DATABASE_URL%/*}/vigil
export VIGIL_CONTROL_ADDR=${VIGIL_CONTROL_ADDR:-127.0.0.1:8080}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
# Tables first: the ingest engine reads its keys from them (VIGIL_DATABASE_URL).
"$target_dir/release/vigil" migrate

export VIGIL_OTLP_GRPC_ADDR=${VIGIL_OTLP_GRPC_ADDR:-127.0.0.1:4317}
export VIGIL_OTLP_HTTP_ADDR=${VIGIL_OTLP_HTTP_ADDR:-127.0.0.1:4318}
export VIGIL_WAL_DIR=${VIGIL_WAL_DIR:-$repo/.vigil/wal}
export VIGIL_FORWARD_ADDR=${VIGIL_FORWARD_ADDR:-127.0.0.1:24224}
# Fluent Bit and Fluentd log in with this (public) shared key and an ingestion key as username.
export VIGIL_FORWARD_KEY_LOGIN_SHARED_KEY=${VIGIL_FORWARD_KEY_LOGIN_SHARED_KEY:-vigil}
# The operator UI's snippets show these addresses to clients.
export VIGIL_PUBLIC_INGEST_GRPC_URL=${VIGIL_PUBLIC_INGEST_GRPC_URL:-http://$VIGIL_OTLP_GRPC_ADDR}
export VIGIL_PUBLIC_INGEST_HTTP_URL=${VIGIL_PUBLIC_INGEST_HTTP_URL:-http://$VIGIL_OTLP_HTTP_ADDR}
export VIGIL_PUBLIC_INGEST_FORWARD_ADDR=${VIGIL_PUBLIC_INGEST_FORWARD_ADDR:-$VIGIL_FORWARD_ADDR}

if [ "$tls" = 1 ]; then
  # nginx terminates TLS and names the client to Vigil (which trusts it, on loopback).
  ca=$(deploy/nginx/local-ca.sh "$repo/.vigil/tls" server localhost 127.0.0.1)
  export VIGIL_EDGE_LISTEN=${VIGIL_EDGE_LISTEN:-127.0.0.1:8443}
  export VIGIL_EDGE_CERT=$repo/.vigil/tls/server.pem VIGIL_EDGE_KEY=$repo/.vigil/tls/server.key
  export VIGIL_EDGE_CONTROL=$VIGIL_CONTROL_ADDR VIGIL_EDGE_INGEST_HTTP=$VIGIL_OTLP_HTTP_ADDR
  export VIGIL_EDGE_INGEST_GRPC=$VIGIL_OTLP_GRPC_ADDR
  python3 deploy/nginx/render.py "$repo/.vigil/nginx" --standalone >/dev/null
  edge=https://localhost:${VIGIL_EDGE_LISTEN##*:}
  export VIGIL_TRUSTED_PROXIES=${VIGIL_TRUSTED_PROXIES:-127.0.0.1}
  export VIGIL_SECURE_COOKIES=true VIGIL_PUBLIC_URL=$edge
  export VIGIL_PUBLIC_INGEST_GRPC_URL=$edge VIGIL_PUBLIC_INGEST_HTTP_URL=$edge
fi

pids=()
stop_all() { [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true; }
trap 'stop_all' INT TERM
# Waits until URL answers 2xx (or the process PID exits).
wait_for() { # url pid what
  for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "run: $3 exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "run: $3 did not come up" >&2
  exit 1
}

"$target_dir/release/vigil" serve &
pids+=($!)
wait_for "http://$VIGIL_CONTROL_ADDR/api/v1/openapi.json" "${pids[-1]}" "vigil serve"
# The development account, project, keys and monitors, made through the API once and kept.
dev_env=$(python3 "$repo/deploy/local/bootstrap.py" "http://$VIGIL_CONTROL_ADDR" "$repo/.vigil/dev-account.json")
eval "$dev_env"
"$target_dir/release/vigil" worker &
pids+=($!)
"$target_dir/release/vigil-ingest" &
pids+=($!)
ingest=${pids[-1]}
wait_for "http://$VIGIL_OTLP_HTTP_ADDR/readyz" "$ingest" "vigil-ingest"

if [ "$tls" = 1 ]; then
  /usr/sbin/nginx -e "$repo/.vigil/nginx/error.log" -c "$repo/.vigil/nginx/nginx.conf" -g 'daemon off;' &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null --cacert "$ca" "$edge/login" 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "run: nginx exited (.vigil/nginx/error.log)" >&2; exit 1; }
    sleep 0.1
  done
  cat >&2 <<MSG

Over TLS through nginx: $edge   (UI, API, status pages, OTLP/HTTP and OTLP/gRPC)
  The local CA is $ca — trust it: curl --cacert $ca, OTEL_EXPORTER_OTLP_CERTIFICATE=$ca,
  VIGIL_PROBE_CA_FILE=$ca, or import it into your browser. nginx's configuration and logs: .vigil/nginx/
MSG
fi

http=http://$VIGIL_OTLP_HTTP_ADDR
cat >&2 <<MSG

Vigil is running.
  Open       ${edge:-http://$VIGIL_CONTROL_ADDR}/   and sign in as $dev_email / $dev_password
  API        http://$VIGIL_CONTROL_ADDR/api/v1   (POST /api/v1/auth/login; project "Development"
             $dev_project_id; OpenAPI: /api/v1/openapi.json; kept in .vigil/dev-account.json)
  OTLP/gRPC  $VIGIL_OTLP_GRPC_ADDR          (e.g. OTEL_EXPORTER_OTLP_ENDPOINT=http://$VIGIL_OTLP_GRPC_ADDR)
  OTLP/HTTP  $http   (/v1/logs, /v1/traces, /v1/metrics)
  header     x-vigil-token: $dev_ingestion_key   (also Authorization: Bearer …)
  Forward    $VIGIL_FORWARD_ADDR   Fluent Bit: Shared_Key $VIGIL_FORWARD_KEY_LOGIN_SHARED_KEY,
             Username $dev_ingestion_key, Password (anything)
  Fluentd    $http/fluentd/v1/logs   (JSON, same header)
  agent      $http/server-monitor/response/ingest/$dev_agent_key   (monitor "server-1")
  heartbeat  $http/heartbeat/$dev_heartbeat_key   (GET or POST; monitor "heartbeat-1")
  probe      register one (POST /api/v1/projects/$dev_project_id/probes), then
             VIGIL_PROBE_KEY=vpk_… $target_dir/release/vigil-probe
  metrics    $http/metrics   ready: /readyz
  ClickHouse $VIGIL_CLICKHOUSE_URL  (database "vigil")   WAL $VIGIL_WAL_DIR

Try:  curl -s $http/v1/logs -H 'content-type: application/json' \\
        -H 'x-vigil-token: $dev_ingestion_key' -d '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hello"}}]}]}]}'
Ctrl-C stops Vigil and the servers.

MSG
# Not exec: the EXIT trap must run after all have exited (vigil-ingest flushes first).
wait "$ingest" || true
stop_all
wait "${pids[@]}" 2>/dev/null || true
