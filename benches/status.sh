#!/usr/bin/env bash
# Status pages served from memory (benches/README.md): seeds a project (benches/worker/seed.sql)
# with a RESOURCES-system page (default 50) and a BIG-system page (default 500) with 90 days of
# rollups and incidents (benches/status/seed.sql), starts target/release/vigil serve pinned to
# CPU 1, and measures with wrk on CPU 0 (DURATION seconds each, default 10, CONNECTIONS
# connections, default 32):
#   - requests/s of the 50-system page's HTML with Accept-Encoding: gzip from Vigil, and from
#     nginx (Debian's) serving the very same gzipped bytes as a static file (gzip_static), one
#     worker pinned to the same CPU 1 — the ratio is the figure;
#   - the time to rebuild the big page after a change (RUNS changes, default 20; curl's
#     time_total of the first request after the change, which waits for the rebuild), beside
#     the time of a request served from the snapshot.
# Needs VIGIL_DATABASE_URL (deploy/local/stack.sh), psql, curl, wrk and nginx (Debian packages).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
resources=${RESOURCES:-50}
big=${BIG:-500}
duration=${DURATION:-10}
connections=${CONNECTIONS:-32}
runs=${RUNS:-20}
: "${VIGIL_DATABASE_URL:?}"
bin=${CARGO_TARGET_DIR:-$repo/target}/release/vigil
[ -x "$bin" ] || { echo "build it: cargo build --release -p control-plane" >&2; exit 1; }
for tool in wrk nginx psql curl; do
  command -v "$tool" >/dev/null || { echo "status: needs $tool (apt-get install wrk nginx-light)" >&2; exit 1; }
done
name="bench_status_$$"
server=${VIGIL_DATABASE_URL%/*}
db="$server/$name"
port=$((20000 + $$ % 20000))
nginx_port=$((port + 1))
base="http://127.0.0.1:$port"
work=$(mktemp -d)
cleanup() {
  kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  psql -q "$VIGIL_DATABASE_URL" -c "DROP DATABASE IF EXISTS $name" || true
  rm -rf "$work"
}
trap cleanup EXIT
psql -q "$VIGIL_DATABASE_URL" -c "CREATE DATABASE $name"
VIGIL_DATABASE_URL=$db "$bin" migrate 2>/dev/null
monitors=$(( big > resources ? big : resources ))
psql -q "$db" -v monitors="$monitors" -f "$repo/benches/worker/seed.sql" >/dev/null
psql -q "$db" -v slug=bench -v resources="$resources" -v groups=5 -f "$repo/benches/status/seed.sql" >/dev/null
psql -q "$db" -v slug=big -v resources="$big" -v groups=20 -f "$repo/benches/status/seed.sql" >/dev/null

env VIGIL_DATABASE_URL="$db" VIGIL_CONTROL_ADDR="127.0.0.1:$port" VIGIL_LOG=warn \
  VIGIL_STATUS_RATE_PER_MINUTE=0 VIGIL_STATUS_SNAPSHOT_MAX_AGE_SECS=3600 \
  taskset -c 1 "$bin" serve & pid=$!
for _ in $(seq 300); do curl -fsS -o /dev/null "$base/status/bench" 2>/dev/null && break; sleep 0.1; done

# The same bytes for nginx: the page as Vigil sends it gzipped, and plain.
mkdir -p "$work/root/status"
curl -fsS -H 'Accept-Encoding: gzip' -o "$work/root/status/bench.gz" "$base/status/bench"
curl -fsS -o "$work/root/status/bench" "$base/status/bench"
plain=$(stat -c %s "$work/root/status/bench"); gz=$(stat -c %s "$work/root/status/bench.gz")
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 10;
daemon on;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type text/html;
  gzip_static on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/root;
  }
}
CONF
# nginx workers run as another user: they must read the files.
chmod -R a+rX "$work"
taskset -c 1 nginx -c "$work/nginx.conf" -p "$work"
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$nginx_port/status/bench" 2>/dev/null && break; sleep 0.1; done
[ "$(curl -fsS -H 'Accept-Encoding: gzip' "http://127.0.0.1:$nginx_port/status/bench" | cmp - "$work/root/status/bench.gz" && echo same)" = same ] \
  || { echo "status: nginx does not send the same bytes" >&2; exit 1; }

rps() { # url
  taskset -c 0 wrk -t1 -c"$connections" -d"${duration}s" -H 'Accept-Encoding: gzip' "$1" \
    | awk '/Requests\/sec/ { print $2 }'
}
rps "$base/status/bench" >/dev/null # warm
vigil=$(rps "$base/status/bench")
nginx_rps=$(rps "http://127.0.0.1:$nginx_port/status/bench")
echo "| server (1 core, $resources-system page, $plain B HTML, $gz B gzipped) | requests/s |"
echo "|---|---|"
echo "| nginx, the same bytes as a static file (gzip_static) | $nginx_rps |"
echo "| vigil serve, /status/bench from its snapshot | $vigil |"
awk -v v="$vigil" -v n="$nginx_rps" 'BEGIN { printf "| Vigil ÷ nginx | %.2f |\n", v / n }'

# The big page: rebuild after a change, beside a snapshot hit.
curl -fsS -o /dev/null "$base/status/big"
times() { sort -n | awk -v n="$runs" '{ t[NR] = $1 * 1000 } END {
  printf "%.1f ms | %.1f ms", t[int((n + 1) / 2)], t[int(n * 0.95 + 0.5)] }'; }
hit=$(for _ in $(seq "$runs"); do
  taskset -c 0 curl -fsS -o /dev/null -w '%{time_total}\n' "$base/status/big"; done | times)
rebuild=$(for i in $(seq "$runs"); do
  psql -q "$db" -c "UPDATE status_pages SET description = 'change $i' WHERE slug = 'big'"
  sleep 0.2 # the NOTIFY reaches the server
  taskset -c 0 curl -fsS -o /dev/null -w '%{time_total}\n' "$base/status/big"; done | times)
bytes=$(curl -fsS -o /dev/null -w '%{size_download}' "$base/status/big")
echo
echo "| $big-system page ($bytes B HTML) | median | p95 |"
echo "|---|---|---|"
echo "| served from the snapshot | $hit |"
echo "| first request after a change (rebuild: queries, render, gzip) | $rebuild |"
