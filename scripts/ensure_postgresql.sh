#!/usr/bin/env bash
# PostgreSQL's server binaries for the warehouse tests (tests/test_e2e_postgres.py), which
# start their own throw-away cluster on 127.0.0.1 (tests/postgres.py). `make test` runs this.
#
# Found (/usr/lib/postgresql/*/bin/pg_ctl, or pg_ctl on PATH): nothing to do.
# Missing, as root with apt-get (CI, a fresh Debian machine): install Debian's `postgresql`
#   package, without the default "main" cluster the package would create and start on
#   port 5432 (the tests need none; nothing is left running).
# Missing otherwise: say how to get it and go on; the Postgres tests then skip (CI=true:
#   they fail).
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || command -v pg_ctl >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: PostgreSQL's server is not installed, so the Postgres tests will be skipped." >&2
  echo "      Install it with: sudo apt-get install postgresql (or run make test as root)." >&2
  exit 0
fi
echo "Installing PostgreSQL from Debian's packages for the warehouse tests..."
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/tap-hibob-tests.conf
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
