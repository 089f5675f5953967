#!/usr/bin/env bash
# Creates MissionPulse's databases and roles on a fresh PostgreSQL (the official image runs
# every script in /docker-entrypoint-initdb.d once, on an empty data directory, as the
# superuser POSTGRES_USER). Idempotent, so it can also be run by hand against a managed
# PostgreSQL: `PGHOST=... PGUSER=<admin> bash docker/postgres/initdb.d/10-missionpulse.sh`.
#
#   <AIRFLOW_DB_NAME>   Airflow's metadata            owner <AIRFLOW_DB_USER>
#   <WAREHOUSE_DB_NAME> the warehouse (raw, ml, audit, marts, staging)
#                                                      owner <WAREHOUSE_DB_USER> (CREATEROLE,
#                                                      admin of bi_reader, not superuser)
#   <SUPERSET_DB_NAME>  Superset's metadata           owner <SUPERSET_DB_USER>
#   bi_reader           login role that reads the warehouse's marts and nothing else
#                       (the name the pipeline and the dashboard bundle use)
#
# No role can connect to another role's database (CONNECT revoked from PUBLIC).
# Passwords come from the environment (docker/.env) and reach SQL as psql variables,
# quoted by psql (:'var'), never pasted into the SQL text.
set -euo pipefail

for required in AIRFLOW_DB_PASSWORD WAREHOUSE_DB_PASSWORD SUPERSET_DB_PASSWORD BI_READER_PASSWORD; do
  if [ -z "${!required:-}" ]; then
    echo "10-missionpulse.sh: $required is not set: copy docker/.env.example to docker/.env" \
      "and fill in every password (see README, 'Deploying to production')" >&2
    exit 1
  fi
  if [ "${!required}" = CHANGE_ME ]; then
    echo "10-missionpulse.sh: $required is still the placeholder CHANGE_ME: set a real value" \
      "in docker/.env" >&2
    exit 1
  fi
done

psql_admin() {
  PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" \
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-${PGUSER:-postgres}}" "$@"
}

# --- roles and databases (cluster-wide), in the maintenance database
psql_admin --dbname "${POSTGRES_DB:-postgres}" \
  -v airflow_user="${AIRFLOW_DB_USER:-airflow}" -v airflow_pw="$AIRFLOW_DB_PASSWORD" \
  -v airflow_db="${AIRFLOW_DB_NAME:-airflow}" \
  -v wh_user="${WAREHOUSE_DB_USER:-missionpulse}" -v wh_pw="$WAREHOUSE_DB_PASSWORD" \
  -v wh_db="${WAREHOUSE_DB_NAME:-missionpulse}" \
  -v superset_user="${SUPERSET_DB_USER:-superset}" -v superset_pw="$SUPERSET_DB_PASSWORD" \
  -v superset_db="${SUPERSET_DB_NAME:-superset}" \
  -v bi_pw="$BI_READER_PASSWORD" <<'SQL'
-- one login role per component: created when missing, password (re)set every time
select format('create role %I', r) from unnest(array[:'airflow_user', :'wh_user',
  :'superset_user', 'bi_reader']) as r
where not exists (select 1 from pg_roles where rolname = r) \gexec

select format('alter role %I with login nosuperuser nocreatedb nocreaterole password %L',
              :'airflow_user', :'airflow_pw') \gexec
select format('alter role %I with login nosuperuser nocreatedb nocreaterole password %L',
              :'superset_user', :'superset_pw') \gexec
-- the pipeline creates or updates bi_reader on every run (missionpulse.db.ensure_bi_reader):
-- its owner needs CREATEROLE and admin rights on bi_reader, nothing more
select format('alter role %I with login nosuperuser nocreatedb createrole password %L',
              :'wh_user', :'wh_pw') \gexec
select format('alter role bi_reader with login nosuperuser nocreatedb nocreaterole '
              'noreplication nobypassrls password %L', :'bi_pw') \gexec
alter role bi_reader set default_transaction_read_only = on;
select format('grant bi_reader to %I with admin option', :'wh_user') \gexec

-- one database per component, owned by its role
select format('create database %I owner %I', d.name, d.owner)
from (values (:'airflow_db', :'airflow_user'), (:'wh_db', :'wh_user'),
             (:'superset_db', :'superset_user')) as d (name, owner)
where not exists (select 1 from pg_database where datname = d.name) \gexec
select format('revoke all on database %I from public', d)
from unnest(array[:'airflow_db', :'wh_db', :'superset_db']) as d \gexec
select format('grant connect on database %I to bi_reader', :'wh_db') \gexec
SQL

# --- inside the warehouse: the schemas the pipeline and dbt write, bi_reader's read access
psql_admin --dbname "${WAREHOUSE_DB_NAME:-missionpulse}" \
  -v wh_user="${WAREHOUSE_DB_USER:-missionpulse}" <<'SQL'
revoke create on schema public from public;
select format('create schema if not exists %I authorization %I', s, :'wh_user')
from unnest(array['raw', 'ml', 'audit', 'marts', 'staging']) as s \gexec
select format('alter schema %I owner to %I', s, :'wh_user')
from unnest(array['raw', 'ml', 'audit', 'marts', 'staging']) as s \gexec
grant usage on schema marts to bi_reader;
grant select on all tables in schema marts to bi_reader;
select format('alter default privileges for role %I in schema marts '
              'grant select on tables to bi_reader', :'wh_user') \gexec
SQL

echo "10-missionpulse.sh: databases ${AIRFLOW_DB_NAME:-airflow}, ${WAREHOUSE_DB_NAME:-missionpulse}," \
  "${SUPERSET_DB_NAME:-superset} and their roles are ready (bi_reader reads marts only)"
