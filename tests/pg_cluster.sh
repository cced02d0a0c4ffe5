#!/usr/bin/env bash
# pg_cluster.sh — a throwaway PostgreSQL cluster for the tests: a data
# directory and a Unix socket in a temporary directory, no TCP, owned by
# the postgres user (initdb refuses root).
#
#   tests/pg_cluster.sh start DIR   # prints the store URL on stdout
#   tests/pg_cluster.sh stop DIR    # stops the cluster and removes DIR
#   tests/pg_cluster.sh restart DIR # stops and starts it (a database restart)
set -euo pipefail
cmd=$1 dir=$2
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || { echo "pg_cluster: PostgreSQL is not installed (postgresql-15)" >&2; exit 2; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
ctl() { as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 "$@" >/dev/null; }

case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    as_pg "$BIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
    ctl -o "-k $dir -c listen_addresses= -c fsync=on -c max_connections=200" start
    echo "postgresql:///postgres?host=$dir&user=postgres" ;;
  restart)
    ctl -m fast stop
    ctl -o "-k $dir -c listen_addresses= -c fsync=on -c max_connections=200" start ;;
  stop)
    ctl -m fast stop 2>/dev/null || true
    rm -rf "$dir" ;;
  *) echo "usage: pg_cluster.sh start|stop|restart DIR" >&2; exit 2 ;;
esac
