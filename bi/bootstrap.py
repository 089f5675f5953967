"""Prepare Superset's metadata and load the dashboard bundle (runs in the BI venv).

Called by ``missionpulse bi start`` as ``.venv-bi/bin/python bi/bootstrap.py BUNDLE_DIR``
with ``SUPERSET_CONFIG_PATH`` and ``MISSIONPULSE_SUPERSET_HOME`` set, after
``superset db upgrade``. In one app context it:

- syncs Superset's roles and permissions (``superset init``);
- creates the admin user, or resets its password to ``MISSIONPULSE_BI_ADMIN_PASSWORD``;
- imports every YAML file of the bundle with overwrite (databases, datasets, charts,
  dashboards: the bundle is the source of truth), the warehouse's database registered with
  the URI in ``MISSIONPULSE_BI_DATABASE_URI`` (the read-only role bi_reader);
- refreshes each dataset's columns from the warehouse (a mart not built yet is reported
  and skipped), and writes what it did to ``$MISSIONPULSE_SUPERSET_HOME/import.json``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import yaml

log = logging.getLogger("missionpulse.bi.bootstrap")

ADMIN = "admin"


def bundle_contents(bundle: Path, database_uri: str) -> dict[str, str]:
    """The bundle as ``{relative path: yaml text}``, the database URI filled in."""
    contents: dict[str, str] = {}
    for path in sorted(bundle.rglob("*.yaml")):
        name = path.relative_to(bundle).as_posix()
        text = path.read_text()
        if name.startswith("databases/"):
            config = yaml.safe_load(text)
            config["sqlalchemy_uri"] = database_uri
            text = yaml.safe_dump(config, sort_keys=False)
        contents[name] = text
    return contents


def main(bundle: Path) -> int:
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import appbuilder, db, security_manager
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.connectors.sqla.models import SqlaTable

        appbuilder.add_permissions(update_perms=True)
        security_manager.sync_role_definitions()
        db.session.commit()

        password = os.environ["MISSIONPULSE_BI_ADMIN_PASSWORD"]
        user = security_manager.find_user(username=ADMIN)
        if user is None:
            role = security_manager.find_role(security_manager.auth_role_admin)
            security_manager.add_user(
                ADMIN, "MissionPulse", "Admin", "admin@missionpulse.local", role, password
            )
        else:
            security_manager.reset_password(user.id, password)
        db.session.commit()

        from flask import g

        g.user = security_manager.find_user(username=ADMIN)
        contents = bundle_contents(bundle, os.environ["MISSIONPULSE_BI_DATABASE_URI"])
        ImportAssetsCommand(contents).run()

        missing = []
        for dataset in db.session.query(SqlaTable).all():
            try:
                dataset.fetch_metadata()
            except Exception as exc:  # noqa: BLE001 - a mart not built yet must not stop start
                missing.append(f"{dataset.table_name}: {str(exc).splitlines()[0]}")
                db.session.rollback()
        db.session.commit()
        for line in missing:
            print(f"dataset not refreshed (is its mart built yet?): {line}", file=sys.stderr)
        print(f"imported {len(contents)} files from {bundle}")
        summary = {"files": len(contents), "datasets_not_refreshed": missing}
        (Path(os.environ["MISSIONPULSE_SUPERSET_HOME"]) / "import.json").write_text(
            json.dumps(summary, indent=2)
        )
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main(Path(sys.argv[1])))
