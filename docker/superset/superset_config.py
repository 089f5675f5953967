"""Superset's configuration in the production stack (``SUPERSET_CONFIG_PATH``).

Unlike ``bi/superset_config.py`` (the local, single-user instance on SQLite), everything
comes from the environment that compose passes in from docker/.env: the metadata in its own
PostgreSQL database and role, the secret key, Redis for caches and filter state. The
warehouse itself is registered by ``bi/bootstrap.py`` from the dashboard bundle, with the
read-only role bi_reader.
"""

import os
from urllib.parse import quote


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(
            f"{name} is not set: copy docker/.env.example to docker/.env and fill it in"
        )
    return value


def _url(scheme: str, user: str, password: str, host: str, port: str, path: str) -> str:
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{path}"


SECRET_KEY = _required("SUPERSET_SECRET_KEY")
SQLALCHEMY_DATABASE_URI = os.environ.get("SUPERSET_DATABASE_URI") or _url(
    "postgresql+psycopg2",
    os.environ.get("SUPERSET_DB_USER", "superset"),
    _required("SUPERSET_DB_PASSWORD"),
    os.environ.get("POSTGRES_HOST", "postgres"),
    os.environ.get("POSTGRES_PORT", "5432"),
    os.environ.get("SUPERSET_DB_NAME", "superset"),
)
DATA_DIR = os.environ.get("SUPERSET_HOME", "/var/lib/superset")

_REDIS = _url(
    "redis",
    "",
    _required("REDIS_PASSWORD"),
    os.environ.get("REDIS_HOST", "redis"),
    os.environ.get("REDIS_PORT", "6379"),
    "1",  # database 0 is Airflow's Celery broker
)


def _redis_cache(prefix: str, timeout: int) -> dict:
    return {
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": _REDIS,
        "CACHE_KEY_PREFIX": f"superset_{prefix}_",
        "CACHE_DEFAULT_TIMEOUT": timeout,
    }


# Marts change with every daily run: chart data is never cached; UI state is, in Redis,
# so that every gunicorn worker and replica sees the same filters and explore state.
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
FILTER_STATE_CACHE_CONFIG = _redis_cache("filter", 86400)
EXPLORE_FORM_DATA_CACHE_CONFIG = _redis_cache("explore", 86400)

# Served behind the deployment's TLS-terminating proxy: honour its X-Forwarded-* headers.
ENABLE_PROXY_FIX = True
TALISMAN_ENABLED = os.environ.get("SUPERSET_TALISMAN_ENABLED", "True") == "True"
SESSION_COOKIE_SECURE = os.environ.get("SUPERSET_COOKIE_SECURE", "True") == "True"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
WTF_CSRF_ENABLED = True

FEATURE_FLAGS = {"DASHBOARD_NATIVE_FILTERS": True, "THUMBNAILS": False}
SUPERSET_WEBSERVER_TIMEOUT = 120
ROW_LIMIT = 50000
CONTENT_SECURITY_POLICY_WARNING = False
