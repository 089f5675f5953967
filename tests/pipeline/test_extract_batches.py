"""The extract DAG's plan: a platform's day cut into batches of handles, one mapped task
each, and the batch size read from the environment and checked."""

from __future__ import annotations

from datetime import date

import pytest

from missionpulse import pipeline

DAY = date(2026, 11, 20)


@pytest.mark.parametrize("size", [1, 7, 50, 10_000])
def test_batches_cover_every_active_handle_once(size: int) -> None:
    active = [h.handle for h in pipeline.registry().handles_for("x", on=DAY)]
    batches = pipeline.plan_extract("x", DAY, batch_size=size)

    assert [h["handle"] for b in batches for h in b["handles"]] == active
    assert all(0 < len(b["handles"]) <= size for b in batches)
    assert [b["number"] for b in batches] == list(range(1, len(batches) + 1))
    assert {b["of"] for b in batches} == {len(batches)} == {-(-len(active) // size)}
    # one extraction run: the audit rows and the receipts of every batch share its id
    assert len({b["extract_run_id"] for b in batches}) == 1


def test_a_day_without_handles_is_still_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty batch lands empty files, so the load still replaces the day's partition."""
    monkeypatch.setattr(type(pipeline.registry()), "handles_for", lambda *a, **k: ())
    (batch,) = pipeline.plan_extract("youtube", DAY)
    assert batch["handles"] == [] and batch["of"] == 1


def test_batch_size_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISSIONPULSE_EXTRACT_BATCH_SIZE", raising=False)
    assert pipeline.extract_batch_size() == pipeline.DEFAULT_EXTRACT_BATCH_SIZE
    monkeypatch.setenv("MISSIONPULSE_EXTRACT_BATCH_SIZE", "3")
    assert pipeline.extract_batch_size() == 3


@pytest.mark.parametrize("bad", ["0", "-1", "ten", "2.5"])
def test_bad_batch_size_is_named(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("MISSIONPULSE_EXTRACT_BATCH_SIZE", bad)
    with pytest.raises(ValueError, match="MISSIONPULSE_EXTRACT_BATCH_SIZE must be a whole"):
        pipeline.extract_batch_size()


def test_unknown_platform_is_named_before_anything_is_mapped() -> None:
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        pipeline.plan_extract("myspace", DAY)


def test_every_batch_of_x_knows_all_the_days_missions() -> None:
    """Batch 2 of X gets every X handle of the day as ``missions`` (its replies by missions
    of batch 1 stay un-pseudonymised); extractors without the parameter get nothing."""
    from extractors import facebook, x

    batches = pipeline.plan_extract("x", DAY, batch_size=7)
    assert len(batches) > 1
    missions = pipeline._missions_of_the_day(x, "x", DAY)["missions"]
    active = pipeline.registry().handles_for("x", on=DAY)
    assert [(m.handle, m.account_id) for m in missions] == [
        (h.handle, h.platform_account_id) for h in active
    ]
    assert {h["handle"] for h in batches[1]["handles"]} < {m.handle for m in missions}
    assert pipeline._missions_of_the_day(facebook, "facebook", DAY) == {}
