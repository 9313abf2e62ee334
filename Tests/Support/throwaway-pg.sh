#!/usr/bin/env bash
# A throwaway PostgreSQL for benchmarks and the demo: initdb in a temp folder, a free
# port on 127.0.0.1, a private socket directory; as the `postgres` user when run as
# root (postgres refuses root). fsync and synchronous_commit stay ON (durable), unless
# PG_FAST=1 (tests only).
#   eval "$(Tests/Support/throwaway-pg.sh start)"   # sets PGTMP and PG_URL
#   Tests/Support/throwaway-pg.sh warm "$PG_URL"  # benchmarks: WAL segments recycled, as on a running server
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
  extra="$extra ${PG_EXTRA:-}"  # more server settings, e.g. PG_EXTRA="-c wal_init_zero=off" (experiments)
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 -o \
    "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=100 -c shared_buffers=256MB -c max_wal_size=4GB -c min_wal_size=1GB $extra" start >/dev/null \
    || { cat "$dir/pg.log" >&2; exit 1; }
  echo "PGTMP=$dir"
  echo "PG_PORT=$port"
  echo "PG_URL='host=127.0.0.1 port=$port user=postgres dbname=postgres'"
  ;;
warm)
  # WAL as a server that has been running has it: segments written once and recycled
  # at a checkpoint (min_wal_size above keeps them). A fresh cluster instead creates and
  # zero-fills a 16 MB segment every ~1.5 s at 10k msgs/s, in the commit path: that was
  # the fixed-load p99 of the first run after initdb (make bench-store: 12 ms vs 5-6 ms).
  url=${2:?usage: warm URL}
  psql "$url" -qAtc "CREATE TABLE bench_wal_warmup AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 1000000) g" \
    -c "DROP TABLE bench_wal_warmup" -c "CHECKPOINT" -c "CHECKPOINT" >/dev/null
  ;;
stop)
  dir=${2:?usage: stop DIR}
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start | warm URL | stop DIR" >&2; exit 2 ;;
esac
