# scripts/lib/pg.sh -- sourced; a scratch PostgreSQL 15 server for tests.
# shellcheck shell=bash
#
#   pg_start DIR   initdb into DIR/data (trust auth, superuser "postgres"),
#                  start on a free loopback port, wait until it accepts
#                  connections; exports AXON_TEST_PG and PG_PORT.
#   pg_stop DIR    stop it (fine if it is not running).
#
# Run as root, the server runs as user postgres (it refuses root), so DIR must
# be reachable by that user; pg_start chowns DIR itself.

_axon_pg_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ports.sh
source "$_axon_pg_lib_dir/ports.sh"

AXON_PG_BIN=${AXON_PG_BIN:-/usr/lib/postgresql/15/bin}

# _pg_as_owner CMD...: runs CMD as postgres when we are root, else as ourselves.
_pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  local dir=${1:?usage: pg_start DIR}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      echo "pg_start: user postgres cannot write $dir (is a parent directory private?)" >&2
      return 1
    fi
  fi
  if [[ ! -f $dir/data/PG_VERSION ]]; then
    _pg_as_owner "$AXON_PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
      --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
      echo "pg_start: initdb failed, see $dir/initdb.log:" >&2
      tail -n 20 "$dir/initdb.log" >&2
      return 1
    }
    # Tests: speed over durability, the data is thrown away after the run.
    # AXON_PG_DURABLE=1 (scripts/bench) keeps PostgreSQL's durable defaults,
    # so benchmark figures include real commits.
    local durability="fsync = off
synchronous_commit = off
full_page_writes = off"
    [[ ${AXON_PG_DURABLE:-0} == 1 ]] && durability="# durable defaults (AXON_PG_DURABLE=1)"
    _pg_as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
$durability
max_connections = 300
CONF
  fi
  _pg_as_owner mkdir -p "$dir/sock"
  # The port is chosen free just before the bind; retry if someone took it.
  local port attempt
  for attempt in 1 2 3; do
    port=$(free_port)
    if _pg_as_owner "$AXON_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" \
      -o "-p $port" -w -t 60 start >/dev/null; then
      if _pg_wait_ready "$port"; then
        export PG_PORT=$port
        export AXON_TEST_PG="host=127.0.0.1 port=$port user=postgres dbname=postgres"
        return 0
      fi
    fi
    echo "pg_start: attempt $attempt on port $port failed" >&2
    _pg_as_owner "$AXON_PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  done
  echo "pg_start: could not start PostgreSQL, see $dir/postgres.log:" >&2
  tail -n 20 "$dir/postgres.log" >&2 || true
  return 1
}

# _pg_wait_ready PORT: polls until the server answers on TCP (at most ~30 s).
_pg_wait_ready() {
  local port=$1 i
  for ((i = 0; i < 300; i++)); do
    if "$AXON_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

pg_stop() {
  local dir=${1:?usage: pg_stop DIR}
  [[ -f $dir/data/postmaster.pid ]] || return 0
  _pg_as_owner "$AXON_PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || {
    echo "pg_stop: pg_ctl stop failed for $dir/data" >&2
    return 1
  }
}
