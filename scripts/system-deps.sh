#!/usr/bin/env bash
# Make sure the few system packages the project needs are present: PostgreSQL server
# binaries (for the embedded warehouse), Redis (the Celery broker of `make distributed-check`)
# and Python 3.11 with venv. On Debian/Ubuntu as
# root they are installed with apt-get; otherwise we say exactly what to install.
set -euo pipefail

have_postgres() {
  [ -n "${MISSIONPULSE_PG_BINDIR:-}" ] && [ -x "${MISSIONPULSE_PG_BINDIR}/initdb" ] && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return 0
  command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ] && return 0
  return 1
}

have_redis() {
  [ -n "${MISSIONPULSE_REDIS_SERVER:-}" ] && [ -x "${MISSIONPULSE_REDIS_SERVER}" ] && return 0
  command -v redis-server >/dev/null && return 0
  return 1
}

missing=()
have_postgres || missing+=(postgresql)
have_redis || missing+=(redis-server)
python3.11 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3.11-venv)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # Only the binaries are wanted: keep Debian from creating and starting its own cluster.
    apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
    sed -i 's/^#\?\s*create_main_cluster.*/create_main_cluster = false/' \
      /etc/postgresql-common/createcluster.conf
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

echo "MissionPulse needs these system packages: ${missing[*]}" >&2
echo "On Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
echo "(or point MISSIONPULSE_PG_BINDIR at a folder holding PostgreSQL's initdb and pg_ctl," >&2
echo " and MISSIONPULSE_REDIS_SERVER at a redis-server binary)" >&2
exit 1
