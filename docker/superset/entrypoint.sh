#!/usr/bin/env bash
# Entrypoint of the Superset image: upgrade Superset's metadata (its own PostgreSQL
# database), sync roles and the admin user, import the dashboard bundle bi/dashboards/ with
# the warehouse registered as the read-only role bi_reader (bi/bootstrap.py, the same code
# `missionpulse bi start` runs locally), then serve under gunicorn. Any other command runs
# as is with the same environment (e.g. `superset fab list-users`).
set -euo pipefail

for name in SUPERSET_SECRET_KEY SUPERSET_DB_PASSWORD SUPERSET_ADMIN_PASSWORD BI_READER_PASSWORD \
  REDIS_PASSWORD; do
  if [ -z "${!name:-}" ]; then
    echo "superset-entrypoint: $name is not set: copy docker/.env.example to docker/.env," \
      "fill it in (README, 'Deploying to production'), and start again" >&2
    exit 64
  fi
  if [ "${!name}" = CHANGE_ME ]; then
    echo "superset-entrypoint: $name is still the placeholder CHANGE_ME: set a real value" \
      "in docker/.env (README, 'Deploying to production')" >&2
    exit 64
  fi
done

export MISSIONPULSE_SUPERSET_HOME="$SUPERSET_HOME"
export MISSIONPULSE_BI_ADMIN_PASSWORD="$SUPERSET_ADMIN_PASSWORD"
MISSIONPULSE_BI_DATABASE_URI="$(python - <<'PY'
import os
from urllib.parse import quote

env = os.environ
print(
    f"postgresql+psycopg2://bi_reader:{quote(env['BI_READER_PASSWORD'], safe='')}"
    f"@{env.get('POSTGRES_HOST', 'postgres')}:{env.get('POSTGRES_PORT', '5432')}"
    f"/{env.get('WAREHOUSE_DB_NAME', 'missionpulse')}"
)
PY
)"
export MISSIONPULSE_BI_DATABASE_URI

if [ "${1:-serve}" != "serve" ]; then
  exec "$@"
fi

echo "superset-entrypoint: upgrading Superset's metadata database"
superset db upgrade
echo "superset-entrypoint: importing the dashboard bundle $MISSIONPULSE_BI_BUNDLE"
# bi/bootstrap.py beside the bundle bi/dashboards/
python "$(dirname "$MISSIONPULSE_BI_BUNDLE")/bootstrap.py" "$MISSIONPULSE_BI_BUNDLE"
bind="${SUPERSET_BIND:-0.0.0.0:8088}"
echo "superset-entrypoint: serving on $bind (${SUPERSET_WORKERS:-2} workers)"
exec gunicorn \
  --bind "$bind" \
  --workers "${SUPERSET_WORKERS:-2}" \
  --worker-class gthread \
  --threads 8 \
  --timeout 120 \
  --graceful-timeout 20 \
  --access-logfile - \
  "superset.app:create_app()"
