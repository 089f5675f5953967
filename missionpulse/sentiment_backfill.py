"""Backfill of ``ml.comment_sentiment``: score every audience comment that has no score for
the current model version, in chunks, resumable at any moment.

Why it can be killed (even ``kill -9``) and started again without double-scoring:

* each chunk is scored and inserted in one transaction, committed before the next chunk
  starts: a kill loses at most the chunk in flight, which the server rolls back;
* the rows still to do are always read from the warehouse ("no row for this version"),
  never from a local checkpoint, so a rerun resumes where the last commit left off (one
  server-side cursor per platform streams them: one pass over the staging view, however
  many chunks);
* the primary key ``(platform, comment_id, model_version)`` with ``on conflict do nothing``
  makes each comment's score for a version unique even if two runs overlap; a session
  advisory lock per version (released by the server when a killed client's connection
  drops) keeps a second run from doing the same work at the same time.

Comments come from dbt's staging views ``<schema>.stg_<platform>__comments`` (one shape for
every platform), as ``pipeline.score_comments`` reads them: the missions' own replies are
left out, and a comment extracted on several days is scored once, from its latest text.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from psycopg import sql

from missionpulse import db, settings

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 2000


@dataclass
class BackfillResult:
    """What a backfill did: rows scored per platform, time taken, rows per second."""

    model_version: str
    device: str
    scored: dict[str, int] = field(default_factory=dict)
    skipped_platforms: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.scored.values())

    @property
    def rows_per_second(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0


def _candidates(schema: str, platform: str) -> sql.Composed:
    """Distinct audience comments of a platform (latest text) with no score for the version,
    in comment id order; parameters ``since``, ``platform``, ``version``."""
    return sql.SQL(
        """
        select k.comment_id, k.comment_text
        from (
            select distinct on (c.comment_id)
                c.comment_id, coalesce(c.comment_text, '') as comment_text
            from {comments} c
            where c.comment_id is not null
              and (%(since)s::timestamptz is null or c.interval_start >= %(since)s::timestamptz)
              -- the audience's comments only: not the missions' own replies
              and not exists (
                select 1 from {profiles} p
                where p.platform_user_id = c.author_key
                  and p.interval_start = c.interval_start)
            order by c.comment_id, c.interval_start desc
        ) k
        where not exists (
            select 1 from ml.comment_sentiment s
            where s.platform = %(platform)s and s.comment_id = k.comment_id
              and s.model_version = %(version)s)
        order by k.comment_id
        """
    ).format(
        comments=sql.Identifier(schema, f"stg_{platform}__comments"),
        profiles=sql.Identifier(schema, f"stg_{platform}__profiles"),
    )


def _view_exists(conn: Any, schema: str, platform: str) -> bool:
    names = [f"{schema}.stg_{platform}__comments", f"{schema}.stg_{platform}__profiles"]
    row = conn.execute(
        "select to_regclass(%s) is not null and to_regclass(%s) is not null", names
    ).fetchone()
    return bool(row and row[0])


def insert_scores(
    conn: Any, platform: str, version: str, chunk: Sequence[tuple[str, str]], scorer: Any
) -> None:
    """Score (comment_id, text) pairs and insert them in one transaction; a comment already
    scored for ``version`` is left as it is (so a rerun or a resumed run never duplicates)."""
    predictions = scorer.predict([text for _, text in chunk], detect_language=True)
    scored_at = datetime.now(UTC)
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            insert into ml.comment_sentiment
              (platform, comment_id, model_version, label, score, scored_at,
               language, language_supported)
            values (%s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (platform, comment_id, model_version) do nothing
            """,
            [
                (
                    platform,
                    comment_id,
                    version,
                    p.label,
                    float(p.score),
                    scored_at,
                    p.language,
                    p.language_supported,
                )
                for (comment_id, _), p in zip(chunk, predictions, strict=True)
            ],
        )


def backfill(
    url: str,
    *,
    since: date | None = None,
    model_version: str | None = None,
    source: str | Path | None = None,
    platforms: Sequence[str] = settings.PLATFORMS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    schema: str = "staging",
    device: str | None = None,
    progress: bool = True,
) -> BackfillResult:
    """Score every comment with no score for the current model version (see module doc).

    ``model_version``, when given, must be the version of the model that ``source`` loads
    (a guard against backfilling under the wrong name); ``device`` defaults to ``cuda``
    when a GPU is present.
    """
    import torch
    from tqdm import tqdm

    from models.sentiment.source import default_device, load_scorer

    if chunk_size < 1:
        raise ValueError(f"chunk size must be positive, got {chunk_size}")
    device = device or default_device()
    if device == "cpu":
        torch.set_num_threads(min(2, torch.get_num_threads()))
    scorer = load_scorer(source, device=device)
    version = scorer.model_version
    if model_version and model_version != version:
        raise ValueError(
            f"--model-version {model_version} asked for, but the model loaded from "
            f"{source or 'the default source'} is {version}: point --model (or "
            "MISSIONPULSE_SENTIMENT_MODEL) at that model, or drop --model-version"
        )
    since_at = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
    result = BackfillResult(model_version=version, device=device)
    started = time.perf_counter()
    with db.connect(url, autocommit=True) as conn:
        lock = conn.execute(
            "select pg_try_advisory_lock(hashtext('missionpulse-sentiment-backfill'), "
            "hashtext(%s))",
            [version],
        ).fetchone()
        if not (lock and lock[0]):
            raise RuntimeError(
                f"another sentiment backfill for model version {version} is running; "
                "wait for it to finish (a killed one releases its lock at once)"
            )
        present = [p for p in platforms if _view_exists(conn, schema, p)]
        result.skipped_platforms = [p for p in platforms if p not in present]
        for platform in result.skipped_platforms:
            log.warning("no %s.stg_%s__comments/__profiles view: skipped", schema, platform)
        params: dict[str, Any] = {"since": since_at, "version": version}
        pending = 0
        for platform in present:
            query = sql.SQL("select count(*) from ({q}) pending").format(
                q=_candidates(schema, platform)
            )
            row = conn.execute(query, {**params, "platform": platform}).fetchone()
            pending += int(row[0]) if row else 0
        bar = tqdm(
            total=pending, unit="comments", disable=not progress, file=sys.stderr, desc=version
        )
        # One server-side cursor per platform streams the pending comments (one pass over
        # the staging view); each chunk is written and committed on the other connection.
        with bar, db.connect(url) as reader:
            for platform in present:
                done = 0
                with reader.cursor(name=f"backfill_{platform}") as cursor:
                    cursor.itersize = chunk_size
                    cursor.execute(_candidates(schema, platform), {**params, "platform": platform})
                    while chunk := cursor.fetchmany(chunk_size):
                        insert_scores(conn, platform, version, chunk, scorer)
                        done += len(chunk)
                        bar.update(len(chunk))
                reader.rollback()
                result.scored[platform] = done
    result.seconds = time.perf_counter() - started
    return result
