"""Every DAG imports, and carries tags, an owner and retries (Airflow best practice)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dagbag_has_no_import_errors_and_dags_follow_the_rules(tmp_path: Path) -> None:
    # Airflow reads its configuration at import: check in a fresh interpreter with a
    # throwaway AIRFLOW_HOME rather than configuring the test process's Airflow.
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT / "dags")!r})
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag({str(ROOT / "dags")!r})
        assert not bag.import_errors, bag.import_errors
        assert bag.dags, "no DAGs found"
        for dag_id, dag in bag.dags.items():
            assert dag.tags, f"{{dag_id}} has no tags"
            assert dag.fileloc.endswith(dag_id + ".py"), f"{{dag_id}} is not in {{dag_id}}.py"
            for task in dag.tasks:
                assert task.owner == "missionpulse-data-team", f"{{dag_id}}.{{task.task_id}} owner"
                assert task.retries >= 1, f"{{dag_id}}.{{task.task_id}} has no retries"
        print("DAGS", sorted(bag.dags))
        """
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(tmp_path / "cosmos"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "MISSIONPULSE_HOME": str(ROOT),
        # as in orchestration.configure: rendering the dbt groups runs `dbt ls`, slower than
        # Airflow's default 30 s parse budget on a busy two-core machine
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    migrate = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "missionpulse_daily" in done.stdout
