#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster on 127.0.0.1 for the tests.
#   eval "$(scripts/postgres.sh start)"   # exports CORDIUM_TEST_POSTGRES_URL and _DIR
#   scripts/postgres.sh stop DIR
# Uses Debian's PostgreSQL (apt-get install postgresql); as root, runs it as `postgres`.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/cordium-pg.XXXXXX)
    port=${CORDIUM_TEST_POSTGRES_PORT:-55432}
    # The first free port from there: another cluster (a developer's, a second checkout's
    # tests) may hold the default.
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg "$bin/initdb -D $dir/data -A trust -U postgres" >/dev/null
    as_pg "$bin/pg_ctl -D $dir/data -l $dir/log -w -o \"-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on\" start" >/dev/null
    echo "export CORDIUM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
    echo "export CORDIUM_TEST_POSTGRES_DIR=$dir"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    as_pg "$bin/pg_ctl -D $dir/data -m fast stop" >/dev/null || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
