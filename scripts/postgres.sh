#!/usr/bin/env bash
# Make sure a PostgreSQL server is reachable for the tests, installing and
# starting it when needed (Debian, as root), and print its URL on stdout.
# Everything else goes to stderr.
set -euo pipefail

url="${ENDWELL_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
say() { echo "postgres.sh: $*" >&2; }

reachable() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

if command -v psql >/dev/null && reachable "$url"; then
  echo "$url"; exit 0
fi

if ! command -v pg_ctlcluster >/dev/null; then
  if [[ $(id -u) -ne 0 ]]; then say "PostgreSQL is not installed and this is not root"; exit 1; fi
  say "installing PostgreSQL from Debian's packages"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

if reachable "$url"; then echo "$url"; exit 0; fi

# A fresh install asks for passwords over TCP: give the test user one.
say "setting up the postgres user and the test database"
su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
su postgres -c "psql -Atq -c \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" | grep -q 1 \
  || su postgres -c "createdb test" >&2
url="postgres://postgres:postgres@127.0.0.1:5432/test"
if reachable "$url"; then echo "$url"; exit 0; fi
say "PostgreSQL is running but cannot be reached at $url"
exit 1
