"""Superset's configuration for MissionPulse (loaded through ``SUPERSET_CONFIG_PATH``).

Everything that differs per installation lives in the state dir that
``MISSIONPULSE_SUPERSET_HOME`` names (``.missionpulse/superset/``): the SQLite metadata
database and the generated SECRET_KEY. ``missionpulse bi start`` sets that variable.
"""

import os
from pathlib import Path

_HOME = Path(os.environ["MISSIONPULSE_SUPERSET_HOME"])

SECRET_KEY = (_HOME / "secret_key").read_text().strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME / 'superset.db'}?check_same_thread=false"
DATA_DIR = str(_HOME)

# Local, single-user service on 127.0.0.1: no HTTPS to enforce, no example data.
TALISMAN_ENABLED = False
SESSION_COOKIE_SECURE = False
WTF_CSRF_ENABLED = True

# Marts change with every daily run: always query the warehouse, never a stale cache.
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
FILTER_STATE_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 86400}
EXPLORE_FORM_DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 86400}

# Nothing here is reachable from outside the machine: no telemetry, no thumbnails service.
FEATURE_FLAGS = {"DASHBOARD_NATIVE_FILTERS": True, "THUMBNAILS": False}
SUPERSET_WEBSERVER_TIMEOUT = 120
ROW_LIMIT = 50000
CONTENT_SECURITY_POLICY_WARNING = False
