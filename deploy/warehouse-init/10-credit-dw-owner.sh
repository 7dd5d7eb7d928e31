#!/usr/bin/env bash
# The warehouse database and its owner role, created on the warehouse server's first start
# (the postgres image runs /docker-entrypoint-initdb.d/*.sh once, on an empty data directory,
# as the server's superuser over its local socket). docker-compose.yml mounts this directory and
# sets the variables below; tests/test_deployment.py runs this script against a scratch database.
#
#   WAREHOUSE_DB              the warehouse database (credit_warehouse)
#   WAREHOUSE_OWNER           its owner, the role bootstrap, ingest and dbt connect as (credit_dw)
#   WAREHOUSE_OWNER_PASSWORD  that role's password (from .env; no default)
#
# The rights the project needs, and nothing more (docs/runbook.md, "Deploy with docker compose"):
# see credit_dw_owner.psql.
set -euo pipefail

: "${WAREHOUSE_DB:?WAREHOUSE_DB is not set}"
: "${WAREHOUSE_OWNER:?WAREHOUSE_OWNER is not set}"
: "${WAREHOUSE_OWNER_PASSWORD:?WAREHOUSE_OWNER_PASSWORD is not set: set it in .env (see .env.example)}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v dbname="$WAREHOUSE_DB" -v owner="$WAREHOUSE_OWNER" -v owner_password="$WAREHOUSE_OWNER_PASSWORD" \
    -f "$here/credit_dw_owner.psql"
