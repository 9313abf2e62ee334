#!/usr/bin/env bash
# A throwaway PostgreSQL for benchmarks and the demo: initdb in a temp folder, a free
# port on 127.0.0.1, a private socket directory; as the `postgres` user when run as
# root (postgres refuses root). fsync and synchronous_commit stay ON (durable), unless
# PG_FAST=1 (tests only).
#   eval "$(Tests/Support/throwaway-pg.sh start)"   # sets PGTMP and PG_URL
#   Tests/Support/throwaway-pg.sh stop "$PGTMP"
set -euo pipefail
cmd=${1:-}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
start)
  dir=$(mktemp -d /tmp/smpp-pg-XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  extra=""
  [ "${PG_FAST:-0}" = 1 ] && extra="-c fsync=off"
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 -o \
    "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=100 -c shared_buffers=256MB -c max_wal_size=4GB $extra" start >/dev/null \
    || { cat "$dir/pg.log" >&2; exit 1; }
  echo "PGTMP=$dir"
  echo "PG_PORT=$port"
  echo "PG_URL='host=127.0.0.1 port=$port user=postgres dbname=postgres'"
  ;;
stop)
  dir=${2:?usage: stop DIR}
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
