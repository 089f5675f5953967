#!/usr/bin/env bash
# Entrypoint of the pipeline image. Turns the deployment's secrets (docker/.env, passed in
# by compose as plain variables) into the settings Airflow, Celery, Cosmos and MissionPulse
# read, then runs the command:
#
#   init                      migrate Airflow's metadata DB, create the platforms' pools (once per
#                             deployment and after each upgrade; compose's `airflow-init`)
#   api-server | scheduler | dag-processor | triggerer
#                             the Airflow component (`airflow <name>`)
#   worker [ARGS]             a Celery worker (`airflow celery worker`); scale with
#                             `docker compose up --scale worker=N`
#   anything else             run as is, with the same environment (`missionpulse ...`,
#                             `airflow ...`, `missionpulse-healthcheck ...`)
#
# A URL already set in the environment wins over the one built from the parts, so a
# managed Postgres or Redis can be named by its full URL instead.
set -euo pipefail

fail() {
  echo "missionpulse-entrypoint: $*" >&2
  exit 64
}

require() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || fail "$name is not set: copy docker/.env.example to docker/.env," \
      "fill it in (README, 'Deploying to production'), and start again"
    [ "${!name}" != CHANGE_ME ] || fail "$name is still the placeholder CHANGE_ME:" \
      "set a real value in docker/.env (README, 'Deploying to production')"
  done
}

require AIRFLOW_DB_PASSWORD WAREHOUSE_DB_PASSWORD REDIS_PASSWORD BI_READER_PASSWORD \
  AIRFLOW__CORE__FERNET_KEY AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY \
  MISSIONPULSE_PSEUDONYM_KEY

# Connection URLs, with every part percent-encoded (a password may hold '@', '/', ':').
eval "$(python - <<'EOF'
import os
import shlex
from urllib.parse import quote

env = os.environ


def url(scheme, user, password, host, port, path):
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{path}"


pg_host, pg_port = env.get("POSTGRES_HOST", "postgres"), env.get("POSTGRES_PORT", "5432")
meta = url("postgresql+psycopg2", env.get("AIRFLOW_DB_USER", "airflow"), env["AIRFLOW_DB_PASSWORD"],
           pg_host, pg_port, env.get("AIRFLOW_DB_NAME", "airflow"))
warehouse = url("postgresql", env.get("WAREHOUSE_DB_USER", "missionpulse"),
                env["WAREHOUSE_DB_PASSWORD"], pg_host, pg_port,
                env.get("WAREHOUSE_DB_NAME", "missionpulse"))
broker = (f"redis://:{quote(env['REDIS_PASSWORD'], safe='')}@{env.get('REDIS_HOST', 'redis')}:"
          f"{env.get('REDIS_PORT', '6379')}/0")
derived = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta,
    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta,
    "AIRFLOW__CELERY__BROKER_URL": broker,
    "MISSIONPULSE_WAREHOUSE_URL": warehouse,
}
for name, value in derived.items():
    value = env.get(name) or value
    print(f"export {name}={shlex.quote(value)}")
# Cosmos/dbt and the pipeline reach the warehouse through the same URL
print("export AIRFLOW_CONN_MISSIONPULSE_WAREHOUSE=\"$MISSIONPULSE_WAREHOUSE_URL\"")
EOF
)"

write_private() {  # write_private FILE: stdin -> FILE, mode 0600, atomically
  local tmp
  tmp="$(mktemp "$1.XXXXXX")"
  chmod 0600 "$tmp"
  cat >"$tmp"
  mv -f "$tmp" "$1"
}

prepare_files() {
  # The pipeline (re)applies bi_reader's password from this file on every run
  # (missionpulse.db.ensure_bi_reader): keep it the deployment's, which Superset uses too.
  mkdir -p "$MISSIONPULSE_STATE_DIR/warehouse"
  chmod 0700 "$MISSIONPULSE_STATE_DIR/warehouse"
  python -c 'import json, os; print(json.dumps({"user": "bi_reader", "password": os.environ["BI_READER_PASSWORD"]}))' \
    | write_private "$MISSIONPULSE_STATE_DIR/warehouse/bi_reader.json"
  # The API server's login (Airflow's simple auth manager): one admin, password from the env.
  if [ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ]; then
    export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW_ADMIN_USER:-admin}:admin"
    export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
    python -c 'import json, os; print(json.dumps({os.environ.get("AIRFLOW_ADMIN_USER", "admin"): os.environ["AIRFLOW_ADMIN_PASSWORD"]}))' \
      | write_private "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
  fi
}

command="${1:-airflow}"
case "$command" in
  missionpulse-healthcheck)
    exec "$@"  # environment only: no files written every few seconds
    ;;
  init)
    prepare_files
    echo "missionpulse-entrypoint: migrating Airflow's metadata database"
    airflow db migrate
    python -c 'from missionpulse import orchestration; print("pools:", orchestration.ensure_pools())'
    echo "missionpulse-entrypoint: Airflow's metadata is ready"
    ;;
  api-server | scheduler | dag-processor | triggerer)
    prepare_files
    exec airflow "$@"
    ;;
  worker)
    shift
    prepare_files
    exec airflow celery worker "$@"
    ;;
  *)
    prepare_files
    exec "$@"
    ;;
esac
