# scripts/lib/redis.sh -- sourced; a scratch Redis for tests.
# shellcheck shell=bash
#
#   redis_start DIR   start redis-server on a free loopback port, no
#                     persistence, pid/log in DIR; waits for PONG; exports
#                     AXON_TEST_REDIS=127.0.0.1:PORT.
#   redis_stop DIR    stop it (fine if it is not running).

_axon_redis_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ports.sh
source "$_axon_redis_lib_dir/ports.sh"

redis_start() {
  local dir=${1:?usage: redis_start DIR}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local port attempt i
  for attempt in 1 2 3; do
    port=$(free_port)
    if redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"; then
      for ((i = 0; i < 100; i++)); do
        if [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
          export AXON_TEST_REDIS=127.0.0.1:$port
          echo "$port" >"$dir/redis.port"
          return 0
        fi
        sleep 0.1
      done
    fi
    echo "redis_start: attempt $attempt on port $port failed" >&2
    redis_stop "$dir" || true
  done
  echo "redis_start: could not start redis-server, see $dir/redis.log" >&2
  return 1
}

redis_stop() {
  local dir=${1:?usage: redis_stop DIR}
  local pid i
  [[ -f $dir/redis.pid ]] || return 0
  pid=$(<"$dir/redis.pid")
  # Only a redis-server: a stale pid file may name a reused pid.
  if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server* ]] && kill "$pid" 2>/dev/null; then
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$dir/redis.pid"
}
