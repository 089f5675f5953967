#!/usr/bin/env bash
# Install the BI tool into its own venv (.venv-bi): Apache Superset 6.1.0 (needs SQLAlchemy < 2,
# so it cannot share the pipeline's venv), plus what the browser tests drive: the system's
# headless Chromium (Debian package `chromium`) and playwright-core from npm.
# Idempotent; `make setup-bi` runs it once and keeps a stamp. Takes about 2-3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV=.venv-bi

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c requirements/bi-constraints.txt -r requirements/bi.txt

# Browser tests: Chromium from the distribution, driven by playwright-core (no browser download).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing system package: chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "note: the BI browser tests need Chromium: sudo apt-get install chromium" >&2
  fi
fi
if ! command -v npm >/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if command -v npm >/dev/null; then
  npm install --silent --no-audit --no-fund --prefix "$VENV/browser" \
    "playwright-core@$(sed -n 's/.*"playwright-core": "\(.*\)".*/\1/p' bi/browser/package.json)"
else
  echo "note: the BI browser tests need Node.js and npm (apt-get install nodejs npm)" >&2
fi
