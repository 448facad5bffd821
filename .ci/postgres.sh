#!/usr/bin/env bash
# Install (Debian's postgresql, when missing) and start a private PostgreSQL cluster on loopback for the
# stackplan integration test, then print its SQLAlchemy URL on stdout:
#   export STACKPLAN_POSTGRES_URL=$(.ci/postgres.sh)
# The cluster lives in ${STACKPLAN_PG_DIR:-/tmp/stackplan-pg} (owned by the postgres user), listens on
# 127.0.0.1:${STACKPLAN_PG_PORT:-55432} with trust auth for local connections only, and holds a database
# "stackplan". Running it again reuses a running cluster. Stop: .ci/postgres.sh stop
set -euo pipefail
DIR=${STACKPLAN_PG_DIR:-/tmp/stackplan-pg}
PORT=${STACKPLAN_PG_PORT:-55432}

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing postgresql (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = stop ]; then
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2 || true
  exit 0
fi

if [ ! -f "$DIR/data/PG_VERSION" ]; then
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >&2
fi
if ! as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=200" start >&2
fi
for _ in $(seq 1 60); do
  "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q && break
  sleep 0.5
done
if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -Atc "select 1 from pg_database where datname='stackplan'" \
    | grep -q 1; then
  "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres stackplan
fi
echo "postgresql+asyncpg://postgres@127.0.0.1:$PORT/stackplan"
