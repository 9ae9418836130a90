#!/usr/bin/env bash
# Make sure the PostgreSQL server the test suite uses answers at 127.0.0.1:5432 as
# user postgres (trust auth) with a database `test`. This machine kind starts one before
# each session; on a bare Debian machine this installs and configures it.
set -euo pipefail

url="postgresql://postgres@127.0.0.1:5432/test"
ready() { psql "$url" -qAtc 'SELECT 1' >/dev/null 2>&1; }
ready && exit 0

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "ensure_postgres: installing PostgreSQL" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version="$(ls /etc/postgresql | sort -V | tail -1)"
hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
  sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
  || pg_ctlcluster --skip-systemctl-redirect "$version" main reload
for _ in $(seq 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
psql "postgresql://postgres@127.0.0.1:5432/postgres" -qAtc \
  "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
  || psql "postgresql://postgres@127.0.0.1:5432/postgres" -qc "CREATE DATABASE test"
ready || { echo "ensure_postgres: PostgreSQL at $url does not answer" >&2; exit 1; }
