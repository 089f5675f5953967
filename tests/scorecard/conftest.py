"""A small marts fixture for the scorecard, in its own database of the session warehouse.

The scorecard reads only ``marts``. Building the marts with dbt costs minutes, so these tests
create the few mart columns the scorecard reads, with a few rows in 2023 weeks, in a
database of their own (``scorecard_fixture``) beside the session's: nothing here can clash
with the tables dbt builds in the session database, whatever order the tests run in.
``test_fixture_columns_are_documented`` checks that every column created here is a
documented column of the dbt model of the same name, so the fixture cannot drift from the
marts unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.scorecard.support import FIXTURE_DB, MARTS, PARTIAL_DB, ROWS


def _database_url(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


def _fresh_database(admin_url: str, dbname: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"drop database if exists {dbname} with (force)")
        conn.execute(f"create database {dbname}")
    return _database_url(admin_url, dbname)


def _drop_database(admin_url: str, dbname: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"drop database if exists {dbname} with (force)")


def _create_marts(url: str, tables: list[str]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("create schema marts")
        for table in tables:
            conn.execute(f"create table marts.{table} ({MARTS[table]})")
            for row in ROWS[table]:
                marks = ", ".join(["%s"] * len(row))
                conn.execute(f"insert into marts.{table} values ({marks})", row)


@pytest.fixture(scope="module")
def marts_url(warehouse_url: str) -> Iterator[str]:
    """A database whose ``marts`` hold every mart the scorecard reads."""
    url = _fresh_database(warehouse_url, FIXTURE_DB)
    _create_marts(url, list(MARTS))
    yield url
    _drop_database(warehouse_url, FIXTURE_DB)


@pytest.fixture(scope="module")
def partial_marts_url(warehouse_url: str) -> Iterator[str]:
    """A database with only the first two marts, as an older warehouse has."""
    url = _fresh_database(warehouse_url, PARTIAL_DB)
    _create_marts(url, ["dim_missions", "fct_mission_daily_engagement"])
    yield url
    _drop_database(warehouse_url, PARTIAL_DB)
