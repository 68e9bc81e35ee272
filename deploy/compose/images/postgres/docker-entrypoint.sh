#!/bin/sh
# Start PostgreSQL; on an empty PGDATA first make the cluster: superuser POSTGRES_USER (default postgres) with
# POSTGRES_PASSWORD (required), database POSTGRES_DB (default: the user's name), password (scram-sha-256) logins from
# anywhere, as the official image does. Arguments starting with `postgres` go to the server as given.
set -eu

if [ "${1:-postgres}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required: the password of the database's superuser}"
  user="${POSTGRES_USER:-postgres}"
  database="${POSTGRES_DB:-$user}"
  password_file="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
  initdb --username="$user" --pwfile="$password_file" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$password_file"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  if [ "$database" != postgres ]; then
    echo "CREATE DATABASE \"$database\" OWNER \"$user\"" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "docker-entrypoint.sh: made the cluster in $PGDATA (user $user, database $database)"
fi

if [ "$#" -eq 0 ]; then set -- postgres; fi
exec "$@"
