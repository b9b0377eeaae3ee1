#!/usr/bin/env bash
# Local PostgreSQL, Redis and ClickHouse for Vigil, under one data folder, on 127.0.0.1 only.
#
#   deploy/local/stack.sh install                   install missing Debian packages (apt),
#                                                   nginx and openssl (for TLS) among them
#   deploy/local/stack.sh start  [DIR] [--random-ports]
#   deploy/local/stack.sh stop   [DIR]              stop all three and wait until they exited
#   deploy/local/stack.sh status [DIR]
#   deploy/local/stack.sh cluster-start DIR         ZooKeeper and four ClickHouse servers as
#                                                   cluster `vigil`: 2 shards × 2 replicas,
#                                                   random 127.0.0.1 ports; DIR/cluster.env
#   deploy/local/stack.sh cluster-node stop|start DIR N   one of them (1–4: shard 1 replicas
#                                                   1, 2, then shard 2's)
#   deploy/local/stack.sh cluster-stop DIR
#
# DIR defaults to .vigil/stack in the repository. `start` writes DIR/stack.env with the
# VIGIL_* URLs (source it). Default ports are non-default ones (PostgreSQL 15432, Redis 16379,
# ClickHouse HTTP 18123); --random-ports picks free ones (used by the test command).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cmd=${1:-}
shift || true
dir="$repo/.vigil/stack"
random_ports=0
for arg in "$@"; do
  case "$arg" in
    --random-ports) random_ports=1 ;;
    *) dir=$arg ;;
  esac
done

log() { echo "stack: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root (or sudo) to run: $*"; fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install() {
  local missing=()
  [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server)
  command -v clickhouse-client >/dev/null || missing+=(clickhouse-client)
  command -v curl >/dev/null || missing+=(curl)
  # nginx in front (run.sh --tls, the tests), run on its own: not as a system service.
  [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v openssl >/dev/null || missing+=(openssl)
  # run.sh's bootstrap and test.sh's client venv are Python.
  command -v python3 >/dev/null || missing+=(python3)
  # ZooKeeper for the ClickHouse cluster (cluster-start); Java comes with it.
  [ -x /usr/share/zookeeper/bin/zkServer.sh ] || missing+=(zookeeper)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    # Debian starts the nginx it installs on port 80; Vigil runs its own (deploy/nginx/).
    if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v systemctl >/dev/null &&
      systemctl is-active --quiet nginx 2>/dev/null; then
      as_root systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
  fi
}

# N distinct free 127.0.0.1 ports: all bound at once, so no two are the same (ports picked
# one at a time can repeat, and two servers then race for one).
free_ports() {
  python3 -c '
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))
' "$1"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_gone() { # pid, name
  local i
  for i in $(seq 1 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  log "$2 (pid $1) did not exit in 30 s; killing it"; kill -9 "$1" 2>/dev/null || true
}

start() {
  install
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/stack.env" ] && die "a stack seems to run in $dir (stack.env exists); stop it first"
  local pg_port redis_port ch_http ch_tcp ch_inter
  if [ "$random_ports" = 1 ]; then
    read -r pg_port redis_port ch_http ch_tcp ch_inter < <(free_ports 5)
  else
    pg_port=15432; redis_port=16379; ch_http=18123; ch_tcp=19000; ch_inter=19009
  fi
  for p in $pg_port $redis_port $ch_http $ch_tcp $ch_inter; do
    port_taken "$p" && die "port $p on 127.0.0.1 is already in use"
  done

  # PostgreSQL refuses to run as root: run it as `postgres` when we are root.
  local pg=$dir/pg bin; bin=$(pg_bin)
  mkdir -p "$pg"
  local run_pg=()
  if [ "$(id -u)" = 0 ]; then
    chmod o+x "$dir"  # e.g. a mktemp folder (mode 700): `postgres` must be able to enter it
    chown postgres:postgres "$pg"
    run_pg=(runuser -u postgres --)
  fi
  if [ ! -f "$pg/data/PG_VERSION" ]; then
    "${run_pg[@]}" "$bin/initdb" -D "$pg/data" -U postgres --auth=trust -E UTF8 --no-locale --no-sync >"$pg/initdb.log" 2>&1 \
      || { cat "$pg/initdb.log" >&2; die "initdb failed"; }
  fi
  "${run_pg[@]}" "$bin/pg_ctl" -D "$pg/data" -l "$pg/log" -w -t 60 \
    -o "-p $pg_port -k $pg -c listen_addresses=127.0.0.1" start >/dev/null \
    || { tail -20 "$pg/log" >&2; die "postgresql did not start"; }

  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"

  local ch=$dir/ch
  mkdir -p "$ch/data" "$ch/tmp" "$ch/user_files" "$ch/format_schemas"
  /usr/sbin/clickhouse-server --config-file=/etc/clickhouse-server/config.xml -- \
    --path="$ch/data/" --tmp_path="$ch/tmp/" --user_files_path="$ch/user_files/" \
    --format_schema_path="$ch/format_schemas/" --listen_host=127.0.0.1 \
    --http_port="$ch_http" --tcp_port="$ch_tcp" --interserver_http_port="$ch_inter" \
    --logger.log="$ch/log" --logger.errorlog="$ch/err" >"$ch/stdout" 2>&1 &
  echo $! >"$dir/clickhouse.pid"

  local i
  for i in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$ch_http/ping" >/dev/null && break
    kill -0 "$(cat "$dir/clickhouse.pid")" 2>/dev/null || { tail -20 "$ch/err" >&2; die "clickhouse exited"; }
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$ch_http/ping" >/dev/null || die "clickhouse did not answer in 30 s"
  for i in $(seq 1 100); do [ -f "$dir/redis.pid" ] && break; sleep 0.1; done

  cat >"$dir/stack.env" <<ENV
export VIGIL_DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/postgres
export VIGIL_REDIS_URL=redis://127.0.0.1:$redis_port
export VIGIL_CLICKHOUSE_URL=http://127.0.0.1:$ch_http
ENV
  log "running in $dir"
  sed 's/^export /  /' "$dir/stack.env" >&2
}

stop() {
  [ -d "$dir" ] || { log "nothing in $dir"; return 0; }
  dir=$(cd "$dir" && pwd)
  local bin; bin=$(pg_bin)
  if [ -f "$dir/pg/data/postmaster.pid" ]; then
    local run_pg=(); [ "$(id -u)" = 0 ] && run_pg=(runuser -u postgres --)
    "${run_pg[@]}" "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w -t 60 stop >/dev/null || true
  fi
  local name pid
  for name in redis clickhouse; do
    if [ -f "$dir/$name.pid" ]; then
      pid=$(cat "$dir/$name.pid")
      kill "$pid" 2>/dev/null || true
      wait_gone "$pid" "$name"
      rm -f "$dir/$name.pid"
    fi
  done
  rm -f "$dir/stack.env"
  log "stopped ($dir)"
}

status() {
  [ -f "$dir/stack.env" ] || { echo "not running ($dir)"; return 1; }
  cat "$dir/stack.env"
}

# The ClickHouse cluster: one ZooKeeper and four servers, each with its own folder, ports and
# macros ({shard}, {replica}), all knowing the cluster `vigil` (internal replication).
cluster_start() {
  install
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/cluster.env" ] && die "a cluster seems to run in $dir (cluster.env exists)"
  # ZooKeeper's port and each node's TCP, HTTP and interserver ports, distinct.
  local ports zk_port
  read -r -a ports < <(free_ports 13)
  zk_port=${ports[0]}
  mkdir -p "$dir/zk/data"
  cat >"$dir/zk/zoo.cfg" <<ZK
tickTime=2000
dataDir=$dir/zk/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok
ZK
  ZOOCFGDIR="$dir/zk" ZOO_LOG_DIR="$dir/zk" /usr/share/zookeeper/bin/zkServer.sh start-foreground \
    "$dir/zk/zoo.cfg" >"$dir/zk/stdout" 2>&1 &
  echo $! >"$dir/zk.pid"
  local zk_ok=0 i
  for i in $(seq 1 300); do
    python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$zk_port),1); s.sendall(b'ruok'); sys.exit(s.recv(4)!=b'imok')" 2>/dev/null && { zk_ok=1; break; }
    kill -0 "$(cat "$dir/zk.pid")" 2>/dev/null || { tail -20 "$dir/zk/stdout" >&2; die "zookeeper exited"; }
    sleep 0.1
  done
  [ "$zk_ok" = 1 ] || die "zookeeper did not answer in 30 s"
  local tcp=() http=() inter=()
  for i in 1 2 3 4; do
    tcp[$i]=${ports[$((3 * i - 2))]}; http[$i]=${ports[$((3 * i - 1))]}; inter[$i]=${ports[$((3 * i))]}
  done
  local shards="" s r
  for s in 1 2; do
    shards+="<shard><internal_replication>true</internal_replication>"
    for r in 1 2; do shards+="<replica><host>127.0.0.1</host><port>${tcp[$(( (s - 1) * 2 + r ))]}</port></replica>"; done
    shards+="</shard>"
  done
  for i in 1 2 3 4; do
    local n=$dir/ch$i
    mkdir -p "$n/config.d" "$n/data" "$n/tmp" "$n/user_files" "$n/format_schemas"
    cp /etc/clickhouse-server/config.xml /etc/clickhouse-server/users.xml "$n/"
    cat >"$n/config.d/cluster.xml" <<XML
<yandex>
  <listen_host replace="replace">127.0.0.1</listen_host>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <remote_servers replace="replace"><vigil>$shards</vigil></remote_servers>
  <zookeeper replace="replace"><node><host>127.0.0.1</host><port>$zk_port</port></node></zookeeper>
  <macros replace="replace"><shard>0$(( (i + 1) / 2 ))</shard><replica>r$i</replica></macros>
</yandex>
XML
    printf '%s\n' "--path=$n/data/" "--tmp_path=$n/tmp/" "--user_files_path=$n/user_files/" \
      "--format_schema_path=$n/format_schemas/" "--http_port=${http[$i]}" "--tcp_port=${tcp[$i]}" \
      "--interserver_http_port=${inter[$i]}" "--logger.log=$n/log" "--logger.errorlog=$n/err" >"$n/args"
    cluster_node start "$i"
  done
  local urls=""
  for i in 1 2 3 4; do urls+="http://127.0.0.1:${http[$i]} "; done
  cat >"$dir/cluster.env" <<ENV
export VIGIL_TEST_CLUSTER_NAME=vigil
export VIGIL_TEST_CLUSTER_URLS="${urls% }"
export VIGIL_TEST_CLUSTER_DIR=$dir
ENV
  log "cluster vigil (2 shards × 2 replicas) running in $dir"
}

cluster_node() { # start|stop N
  local n=$dir/ch$2
  case "$1" in
    start)
      mapfile -t args <"$n/args"
      /usr/sbin/clickhouse-server --config-file="$n/config.xml" -- "${args[@]}" >"$n/stdout" 2>&1 &
      echo $! >"$n.pid"
      local port; port=$(grep -- --http_port "$n/args" | cut -d= -f2)
      local i
      for i in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$port/ping" >/dev/null && return 0
        kill -0 "$(cat "$n.pid")" 2>/dev/null || { tail -20 "$n/err" >&2; die "clickhouse $2 exited"; }
        sleep 0.1
      done
      die "clickhouse $2 did not answer in 30 s" ;;
    stop)
      [ -f "$n.pid" ] || return 0
      local pid; pid=$(cat "$n.pid")
      kill "$pid" 2>/dev/null || true
      wait_gone "$pid" "clickhouse $2"
      rm -f "$n.pid" ;;
  esac
}

cluster_stop() {
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  local i
  for i in 1 2 3 4; do cluster_node stop "$i"; done
  if [ -f "$dir/zk.pid" ]; then
    local pid; pid=$(cat "$dir/zk.pid")
    kill "$pid" 2>/dev/null || true
    wait_gone "$pid" zookeeper
    rm -f "$dir/zk.pid"
  fi
  rm -f "$dir/cluster.env"
  log "cluster stopped ($dir)"
}

case "$cmd" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  cluster-start) cluster_start ;;
  cluster-stop) cluster_stop ;;
  cluster-node)
    action=$1 dir=$2 node=$3
    [[ "$action" =~ ^(start|stop)$ && "$node" =~ ^[1-4]$ ]] || { sed -n '2,18p' "$0" >&2; exit 2; }
    dir=$(cd "$dir" && pwd)
    cluster_node "$action" "$node" ;;
  *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
