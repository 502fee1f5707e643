#!/usr/bin/env bash
# A local PgBouncer for benchmarks and trials: transaction pooling on 127.0.0.1:6432 in front of the PostgreSQL on
# 127.0.0.1:5432, with the pool settings of deploy/pgbouncer/pgbouncer.ini (docs/DEPLOYMENT.md, "PgBouncer").
#
#   scripts/pgbouncer_local.sh start     # installs Debian's pgbouncer first when missing (as root), then starts it
#   scripts/pgbouncer_local.sh status    # SHOW POOLS
#   scripts/pgbouncer_local.sh stop
#
# Then point the portal at it with the connect argument it needs there (no server-side prepared statements):
#   TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:6432/<db> PORTAL_DB_PGBOUNCER=1 ...
#   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:6432/<db> PORTAL_DB_PGBOUNCER=1 .venv/bin/python -m bench ...
# Every database of the server is reachable (a `*` entry), as the logged-in user. Local use only: the client side
# trusts whoever connects to 127.0.0.1:6432 with a name in the user list (postgres and $PGBOUNCER_USERS), as the
# local PostgreSQL trusts 127.0.0.1. Settings: PGBOUNCER_DIR (config, log, pid; /tmp/pgbouncer-local),
# PGBOUNCER_PORT (6432), PGBOUNCER_SERVER (127.0.0.1:5432).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${PGBOUNCER_DIR:-/tmp/pgbouncer-local}"
port="${PGBOUNCER_PORT:-6432}"
server="${PGBOUNCER_SERVER:-127.0.0.1:5432}"
users="postgres ${PGBOUNCER_USERS:-}"
ini="$dir/pgbouncer.ini"
pidfile="$dir/pgbouncer.pid"

install_if_missing() {
  command -v pgbouncer >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's pgbouncer"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  else
    echo "pgbouncer missing: run 'sudo apt-get install pgbouncer'" >&2
    exit 1
  fi
}

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

write_config() {
  mkdir -p "$dir"
  : >"$dir/userlist.txt"
  for u in $users; do printf '"%s" ""\n' "$u" >>"$dir/userlist.txt"; done
  {
    echo "[databases]"
    echo "* = host=${server%:*} port=${server##*:}"
    echo "[pgbouncer]"
    # the deployed pool settings, without what differs locally (addresses, files, authentication, console users)
    sed -n '/^\[pgbouncer\]/,$p' "$here/deploy/pgbouncer/pgbouncer.ini" | grep -v '^\[pgbouncer\]' \
      | grep -Ev '^ *(listen_addr|listen_port|unix_socket_dir|logfile|pidfile|auth_type|auth_file|admin_users|stats_users) *='
    echo "listen_addr = 127.0.0.1"
    echo "listen_port = $port"
    echo "unix_socket_dir ="
    echo "logfile = $dir/pgbouncer.log"
    echo "pidfile = $pidfile"
    echo "auth_type = trust"
    echo "auth_file = $dir/userlist.txt"
    echo "admin_users = postgres"
  } >"$ini"
}

start() {
  install_if_missing
  if running; then
    echo "pgbouncer already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"
    return
  fi
  write_config
  if [ "$(id -u)" = 0 ]; then  # pgbouncer refuses to run as root: as the postgres user
    chown -R postgres: "$dir"
    pgbouncer -d -u postgres "$ini"
  else
    pgbouncer -d "$ini"
  fi
  for _ in $(seq 1 50); do
    if pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
      echo "pgbouncer running (pid $(cat "$pidfile")) on 127.0.0.1:$port -> $server, transaction pooling; log $dir/pgbouncer.log"
      return
    fi
    sleep 0.1
  done
  echo "pgbouncer did not start; see $dir/pgbouncer.log" >&2
  exit 1
}

stop() {
  if ! running; then
    echo "pgbouncer not running (no live pid in $pidfile)"
    return
  fi
  pid="$(cat "$pidfile")"
  # SIGINT: PAUSE then SHUTDOWN (running transactions finish); SIGTERM after 5 s: at once (PgBouncer <= 1.22's
  # meaning; later versions wait for the clients on SIGTERM too, then only SIGQUIT is immediate)
  kill -INT "$pid"
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { echo "pgbouncer stopped"; return; }
    [ "$i" = 50 ] && kill -TERM "$pid" 2>/dev/null
    sleep 0.1
  done
  echo "pgbouncer (pid $pid) still running" >&2
  exit 1
}

status() {
  if ! running; then
    echo "pgbouncer not running"
    exit 3
  fi
  echo "pgbouncer running (pid $(cat "$pidfile")) on 127.0.0.1:$port"
  psql -h 127.0.0.1 -p "$port" -U postgres -X -c "SHOW POOLS" pgbouncer
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
