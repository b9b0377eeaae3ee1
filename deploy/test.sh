#!/usr/bin/env bash
# Runs every Vigil test against real servers: installs what is missing (Debian packages, a
# Python venv with the real OpenTelemetry clients and chdb), starts throwaway PostgreSQL, Redis
# and ClickHouse — and a ClickHouse cluster of four with ZooKeeper — on random 127.0.0.1 ports,
# runs `cargo test --workspace`, and stops them.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

"$repo/deploy/local/stack.sh" install

# Python with the real clients, cached under ~/.cache/vigil and rebuilt when requirements change.
venv=${VIGIL_TEST_VENV:-$HOME/.cache/vigil/venv}
req=tests/python/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "test: preparing the Python clients in $venv" >&2
  if ! python3 -m venv --help >/dev/null 2>&1; then
    apt_get=(apt-get); [ "$(id -u)" = 0 ] || apt_get=(sudo apt-get)
    "${apt_get[@]}" install -y -qq python3-venv python3-pip >/dev/null
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >/dev/null
  "$venv/bin/pip" install -q -r "$req"
  echo "$want" >"$stamp"
fi

# Node.js with the real Node clients (@fluent-org/logger) and the browser driver
# (playwright-core, which drives the system's Chromium and downloads nothing), cached under
# ~/.cache/vigil/node and reinstalled from the lock file when it changes.
node_dir=${VIGIL_TEST_NODE_DIR:-$HOME/.cache/vigil/node}
lock=tests/node/package-lock.json
node_want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ ! -d "$node_dir/node_modules" ] || [ "$(cat "$node_dir/.lock.sha256" 2>/dev/null)" != "$node_want" ]; then
  echo "test: preparing the Node clients in $node_dir" >&2
  if ! command -v npm >/dev/null; then
    apt_get=(apt-get); [ "$(id -u)" = 0 ] || apt_get=(sudo apt-get)
    "${apt_get[@]}" install -y -qq nodejs npm >/dev/null ||
      { "${apt_get[@]}" update -qq && "${apt_get[@]}" install -y -qq nodejs npm >/dev/null; }
  fi
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  cp tests/node/package.json "$lock" "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$node_want" >"$node_dir/.lock.sha256"
fi

# Debian's Chromium runs the operator UI's browser tests (driven by playwright-core above).
if [ ! -x /usr/bin/chromium ]; then
  apt_get=(apt-get); [ "$(id -u)" = 0 ] || apt_get=(sudo apt-get)
  "${apt_get[@]}" install -y -qq chromium >/dev/null ||
    { "${apt_get[@]}" update -qq && "${apt_get[@]}" install -y -qq chromium >/dev/null; }
fi

# dnsmasq answers the probe's DNS checks in the tests (the binary only, no system service).
if [ ! -x /usr/sbin/dnsmasq ]; then
  apt_get=(apt-get); [ "$(id -u)" = 0 ] || apt_get=(sudo apt-get)
  "${apt_get[@]}" install -y -qq dnsmasq-base >/dev/null ||
    { "${apt_get[@]}" update -qq && "${apt_get[@]}" install -y -qq dnsmasq-base >/dev/null; }
fi

stack_dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-test-stack.XXXXXX")
# The tests' own files (WALs, dead letters, certificates) live in the stack's directory too: all
# of it goes after a pass and stays, servers stopped, for a look after a failure.
cleanup() {
  local status=$?
  "$repo/deploy/local/stack.sh" cluster-stop "$stack_dir/cluster" || true
  "$repo/deploy/local/stack.sh" stop "$stack_dir" || true
  if [ "$status" = 0 ]; then rm -rf "$stack_dir"; else echo "test: failed; files kept in $stack_dir" >&2; fi
}
trap cleanup EXIT
"$repo/deploy/local/stack.sh" start "$stack_dir" --random-ports
mkdir -p "$stack_dir/tmp"
# shellcheck disable=SC1091
source "$stack_dir/stack.env"
# The ClickHouse cluster's tests: ZooKeeper and four ClickHouse servers (2 shards × 2 replicas).
"$repo/deploy/local/stack.sh" cluster-start "$stack_dir/cluster"
# shellcheck disable=SC1091
source "$stack_dir/cluster/cluster.env"
export VIGIL_TEST_CLICKHOUSE_URL=$VIGIL_CLICKHOUSE_URL
export VIGIL_TEST_DATABASE_URL=$VIGIL_DATABASE_URL
export VIGIL_TEST_REDIS_URL=$VIGIL_REDIS_URL
export VIGIL_TEST_PYTHON=$venv/bin/python
export VIGIL_TEST_NODE_PATH=$node_dir/node_modules

# The durability and worker tests run the real binaries (to kill -9 them): build them with the
# same flags.
build_flags=()
for arg in "$@"; do [ "$arg" = --locked ] && build_flags+=(--locked); done
cargo build -p ingest-engine --bin vigil-ingest -p control-plane --bin vigil -p probe --bin vigil-probe \
  "${build_flags[@]}"
target_dir=${CARGO_TARGET_DIR:-$repo/target}
export VIGIL_TEST_INGEST_BIN=$target_dir/debug/vigil-ingest
export VIGIL_TEST_VIGIL_BIN=$target_dir/debug/vigil
export VIGIL_TEST_PROBE_BIN=$target_dir/debug/vigil-probe

TMPDIR=$stack_dir/tmp cargo test --workspace "$@"
