"""The dashboard bundle (bi/dashboards/) is consistent, and reads only documented mart columns.

Fast checks without Superset: every reference between files resolves, UUIDs are unique, and
every ``alias.column`` a dataset's SQL reads exists in the dbt documentation of that mart,
so a renamed mart column fails here before a dashboard breaks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "bi" / "dashboards"
MARTS = ROOT / "dbt_project" / "models" / "marts"


def load(kind: str) -> dict[str, dict[str, Any]]:
    return {
        path.relative_to(BUNDLE).as_posix(): yaml.safe_load(path.read_text())
        for path in sorted((BUNDLE / kind).rglob("*.yaml"))
    }


DATABASES, DATASETS, CHARTS, DASHBOARDS = (
    load(kind) for kind in ("databases", "datasets", "charts", "dashboards")
)


def documented_columns() -> dict[str, set[str]]:
    columns: dict[str, set[str]] = {}
    for path in MARTS.rglob("_*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            columns[model["name"]] = {column["name"] for column in model.get("columns", [])}
    return columns


def test_metadata_declares_an_assets_bundle() -> None:
    metadata = yaml.safe_load((BUNDLE / "metadata.yaml").read_text())
    assert metadata["type"] == "assets" and metadata["version"] == "1.0.0"


def test_uuids_are_unique_and_references_resolve() -> None:
    every = [*DATABASES.values(), *DATASETS.values(), *CHARTS.values(), *DASHBOARDS.values()]
    uuids = [item["uuid"] for item in every]
    assert len(uuids) == len(set(uuids))
    database_uuids = {db["uuid"] for db in DATABASES.values()}
    dataset_uuids = {ds["uuid"] for ds in DATASETS.values()}
    assert all(ds["database_uuid"] in database_uuids for ds in DATASETS.values())
    assert all(chart["dataset_uuid"] in dataset_uuids for chart in CHARTS.values())
    chart_uuids = {chart["uuid"] for chart in CHARTS.values()}
    used = set()
    for name, dash in DASHBOARDS.items():
        cells = [
            c for c in dash["position"].values() if isinstance(c, dict) and c["type"] == "CHART"
        ]
        assert cells, name
        ids = [cell["meta"]["chartId"] for cell in cells]
        assert len(ids) == len(set(ids)), name
        for cell in cells:
            assert cell["meta"]["uuid"] in chart_uuids, (name, cell["id"])
            used.add(cell["meta"]["uuid"])
        for native in dash["metadata"].get("native_filter_configuration", []):
            for target in native["targets"]:
                if "datasetUuid" in target:
                    assert target["datasetUuid"] in dataset_uuids, (name, native["name"])
    assert used == chart_uuids, "every chart of the bundle sits on a dashboard"


def test_database_is_read_through_bi_reader() -> None:
    for database in DATABASES.values():
        assert "bi_reader" in database["sqlalchemy_uri"]
        assert not database.get("allow_dml")


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_uses_its_datasets_columns_and_metrics(name: str) -> None:
    chart = CHARTS[name]
    (dataset,) = [ds for ds in DATASETS.values() if ds["uuid"] == chart["dataset_uuid"]]
    columns = {c["column_name"] for c in dataset["columns"]}
    metrics = {m["metric_name"] for m in dataset["metrics"]}
    params = chart["params"]
    used_metrics = [*params.get("metrics", []), *([params["metric"]] if "metric" in params else [])]
    assert set(used_metrics) <= metrics, name
    used_columns = [
        *params.get("groupby", []),
        *params.get("all_columns", []),
        *([params["x_axis"]] if params.get("x_axis") else []),
    ]
    assert set(used_columns) <= columns, name


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_dataset_reads_only_documented_mart_columns(name: str) -> None:
    dataset = DATASETS[name]
    query = dataset["sql"]
    tables = dict(
        (alias, table)
        for table, alias in re.findall(r"(?:from|join)\s+marts\.(\w+)\s+as\s+(\w+)", query)
    )
    assert tables, f"{name}: reads no marts table"
    assert not re.search(r"\b(raw|ml|audit|staging)\.\w+", query), name
    documented = documented_columns()
    for alias, column in re.findall(r"\b(\w+)\.(\w+)\b", query):
        if alias not in tables:
            continue
        table = tables[alias]
        assert table in documented, f"{name}: marts.{table} has no dbt documentation"
        assert column in documented[table], f"{name}: marts.{table}.{column} is not documented"
    # every column the dataset declares is produced by its SQL
    for column in dataset["columns"]:
        assert re.search(rf"\b{column['column_name']}\b", query), (name, column["column_name"])
