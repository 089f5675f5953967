"""The sentiment backfill: every audience comment scored exactly once per model version,
across reruns, a model-version change and a ``kill -9`` in the middle of a chunk.

The comments live in a fixture schema of the session warehouse (tables shaped like dbt's
``staging.stg_<platform>__comments`` / ``__profiles`` views), so no dbt run is needed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from missionpulse.sentiment_backfill import backfill
from models.sentiment.source import ENV_MODEL, load_scorer

REPO_ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2026, 11, 20, tzinfo=UTC)
X_COMMENTS = 3000
YT_COMMENTS = 400
YT_REPLIES = 40  # the missions' own replies: never scored
YT_REEXTRACTED = 100  # comments seen again the next day: scored once
TEXTS = [
    "Thank you so much for your help!",
    "This is terrible, nobody answers the phone",
    "Le consulat ouvre à neuf heures",
    "یہ بہت اچھا ہے، شکریہ",
    "yeh bohat bura service hai",
    "😂😂",
    "",
]
EXPECTED = X_COMMENTS + YT_COMMENTS


@pytest.fixture
def staging(warehouse_url: str) -> Iterator[tuple[str, str]]:
    """A schema with x and youtube comment/profile tables; yields (schema, id prefix)."""
    schema = f"bf_{uuid.uuid4().hex[:8]}"
    prefix = f"{schema}-"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
        for platform in ("x", "youtube"):
            conn.execute(
                f"create table {schema}.stg_{platform}__comments (comment_id text, "
                "comment_text text, author_key text, interval_start timestamptz)"
            )
            conn.execute(
                f"create table {schema}.stg_{platform}__profiles "
                "(platform_user_id text, interval_start timestamptz)"
            )
        with conn.cursor() as cur:
            cur.executemany(
                f"insert into {schema}.stg_x__comments values (%s, %s, %s, %s)",
                [
                    (f"{prefix}{i:05d}", TEXTS[i % len(TEXTS)], f"fan{i % 97}", DAY)
                    for i in range(X_COMMENTS)
                ],
            )
            rows = [
                (f"{prefix}yt{i:04d}", TEXTS[i % len(TEXTS)], f"fan{i % 13}", DAY)
                for i in range(YT_COMMENTS)
            ]
            rows += [
                (
                    f"{prefix}yt{i:04d}",
                    "edited: " + TEXTS[i % len(TEXTS)],
                    "fan1",
                    DAY + timedelta(1),
                )
                for i in range(YT_REEXTRACTED)
            ]
            rows += [
                (f"{prefix}reply{i:03d}", "Thank you for writing", "mission-1", DAY)
                for i in range(YT_REPLIES)
            ]
            cur.executemany(
                f"insert into {schema}.stg_youtube__comments values (%s, %s, %s, %s)", rows
            )
            cur.execute(
                f"insert into {schema}.stg_youtube__profiles values ('mission-1', %s)", [DAY]
            )
        try:
            yield schema, prefix
        finally:
            conn.execute(f"drop schema {schema} cascade")
            conn.execute(
                "delete from ml.comment_sentiment where comment_id like %s", [prefix + "%"]
            )


def _counts(url: str, prefix: str) -> dict[str, tuple[int, int]]:
    """Per model version: (rows, distinct (platform, comment_id)) of the fixture's comments."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select model_version, count(*), count(distinct (platform, comment_id)) "
            "from ml.comment_sentiment where comment_id like %s group by model_version",
            [prefix + "%"],
        ).fetchall()
    return {version: (n, distinct) for version, n, distinct in rows}


def _run(url: str, schema: str, **kwargs: object) -> int:
    result = backfill(
        url, schema=schema, platforms=("x", "youtube"), progress=False, device="cpu", **kwargs
    )
    return result.total


def test_backfill_scores_each_comment_once_with_language(
    warehouse_url: str, staging: tuple[str, str]
) -> None:
    schema, prefix = staging
    version = load_scorer().model_version
    assert _run(warehouse_url, schema, chunk_size=500) == EXPECTED
    assert _run(warehouse_url, schema, chunk_size=500) == 0
    assert _counts(warehouse_url, prefix) == {version: (EXPECTED, EXPECTED)}
    with psycopg.connect(warehouse_url) as conn:
        replies = conn.execute(
            "select count(*) from ml.comment_sentiment where comment_id like %s",
            [prefix + "reply%"],
        ).fetchone()
        languages = dict(
            conn.execute(
                "select language, bool_and(language_supported) from ml.comment_sentiment "
                "where comment_id like %s group by language",
                [prefix + "%"],
            ).fetchall()
        )
    assert replies == (0,)
    assert languages["en"] is True and languages["fr"] is True
    assert languages["ur"] is False and languages["und"] is False


def test_backfill_since_and_version_guard(warehouse_url: str, staging: tuple[str, str]) -> None:
    schema, prefix = staging
    # Only the re-extracted YouTube comments have a row on the next day.
    assert _run(warehouse_url, schema, since=(DAY + timedelta(1)).date()) == YT_REEXTRACTED
    with pytest.raises(ValueError, match="--model-version other-v9"):
        _run(warehouse_url, schema, model_version="other-v9")
    assert _run(
        warehouse_url, schema, model_version=load_scorer().model_version, since=date(2026, 1, 1)
    ) == (EXPECTED - YT_REEXTRACTED)


def test_backfill_after_model_version_change_rescores_everything_once(
    warehouse_url: str, staging: tuple[str, str]
) -> None:
    schema, prefix = staging
    version = load_scorer().model_version
    with psycopg.connect(warehouse_url) as conn:
        # Every comment already scored by an older model: none counts for the current one.
        conn.execute(
            "insert into ml.comment_sentiment (platform, comment_id, model_version, label, score) "
            "select 'x', comment_id, 'fasttext-hash-v0-old', 'neutral', 0.5 "
            f"from {schema}.stg_x__comments"
        )
    assert _run(warehouse_url, schema, chunk_size=700) == EXPECTED
    assert _run(warehouse_url, schema, chunk_size=700) == 0
    assert _counts(warehouse_url, prefix) == {
        "fasttext-hash-v0-old": (X_COMMENTS, X_COMMENTS),
        version: (EXPECTED, EXPECTED),
    }


def _backfill_process(
    url: str, schema: str, chunk_size: int, output: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MISSIONPULSE_WAREHOUSE_URL": url, "PYTHONPATH": str(REPO_ROOT)}
    env.pop(ENV_MODEL, None)
    command = [sys.executable, "-m", "missionpulse.cli", "sentiment", "backfill"]
    command += ["--schema", schema, "--platform", "x", "--platform", "youtube"]
    command += ["--chunk-size", str(chunk_size)]
    return subprocess.Popen(
        command, env=env, cwd=REPO_ROOT, stdout=output, stderr=subprocess.DEVNULL
    )


def _wait_for_no_advisory_lock(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute(
            "select count(*) from pg_locks where locktype = 'advisory'"
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, "the killed backfill's session never ended"
            time.sleep(0.2)


def test_backfill_survives_kill_9_mid_chunk(warehouse_url: str, staging: tuple[str, str]) -> None:
    """A row locked by an open transaction stops the backfill inside chunk 16 (comments
    1500-1599): 15 chunks are committed and the 16th is half inserted when it is killed."""
    schema, prefix = staging
    version = load_scorer().model_version
    blocker = psycopg.connect(warehouse_url)
    blocker.execute(
        "insert into ml.comment_sentiment (platform, comment_id, model_version, label, score) "
        "values ('x', %s, %s, 'neutral', 0.5)",
        [f"{prefix}01550", version],
    )
    process = _backfill_process(warehouse_url, schema, chunk_size=100)
    try:
        deadline = time.monotonic() + 180
        with psycopg.connect(warehouse_url, autocommit=True) as watch:
            while True:
                assert time.monotonic() < deadline, "backfill never reached the locked row"
                assert process.poll() is None, "backfill ended before it was killed"
                waiting = watch.execute(
                    "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                    "and query like '%%insert into ml.comment_sentiment%%'"
                ).fetchone()
                if waiting and waiting[0] >= 1:
                    break
                time.sleep(0.2)
        assert _counts(warehouse_url, prefix) == {version: (1500, 1500)}
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        blocker.rollback()
        blocker.close()
    # The server rolls the killed client's open chunk back, and its session (with the
    # backfill's advisory lock) ends, once the lock it waited on is gone.
    _wait_for_no_advisory_lock(warehouse_url)
    assert _counts(warehouse_url, prefix) == {version: (1500, 1500)}

    rerun = _backfill_process(warehouse_url, schema, chunk_size=100, output=subprocess.PIPE)
    stdout, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0
    summary = stdout.decode().splitlines()
    assert summary[:2] == ["x: 1500 comments scored", f"youtube: {YT_COMMENTS} comments scored"]
    assert f"{1500 + YT_COMMENTS} comments scored with {version}" in summary[-1]
    assert summary[-1].endswith(" rows/s)")
    assert _counts(warehouse_url, prefix) == {version: (EXPECTED, EXPECTED)}
    again = _backfill_process(warehouse_url, schema, chunk_size=100)
    assert again.wait(timeout=300) == 0
    assert _counts(warehouse_url, prefix) == {version: (EXPECTED, EXPECTED)}


def test_second_backfill_for_the_same_version_is_refused(
    warehouse_url: str, staging: tuple[str, str]
) -> None:
    schema, prefix = staging
    version = load_scorer().model_version
    with psycopg.connect(warehouse_url, autocommit=True) as other:
        other.execute(
            "select pg_advisory_lock(hashtext('missionpulse-sentiment-backfill'), hashtext(%s))",
            [version],
        )
        with pytest.raises(RuntimeError, match="another sentiment backfill"):
            _run(warehouse_url, schema)
    assert _counts(warehouse_url, prefix) == {}
    assert _run(warehouse_url, schema) == EXPECTED
