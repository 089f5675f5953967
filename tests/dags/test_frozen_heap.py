"""A day run in one process keeps its heap out of Cosmos's per-invocation gc.collect()."""

from __future__ import annotations

import gc

import pytest

from missionpulse import orchestration


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_frozen_heap_collects_first_freezes_and_releases() -> None:
    gc.unfreeze()
    _Cycle()  # garbage in a reference cycle: only a collection frees it
    with orchestration._frozen_heap():
        assert not [o for o in gc.get_objects() if type(o) is _Cycle]  # collected before
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the process's live objects, skipped by later collections
        gc.collect()
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0


def test_frozen_heap_releases_when_the_day_fails() -> None:
    with pytest.raises(RuntimeError), orchestration._frozen_heap():
        raise RuntimeError("a DAG failed")
    assert gc.get_freeze_count() == 0


def test_each_dag_run_runs_with_a_frozen_heap() -> None:
    seen: list[int] = []

    class FakeDag:
        dag_id = "transform_warehouse"
        deadline = None

        def test(self, **_: object) -> object:
            seen.append(gc.get_freeze_count())
            raise LookupError("stop before any task runs")

    with pytest.raises(LookupError):
        orchestration._test_run(FakeDag(), logical_date=None, conf={})
    assert seen and seen[0] > 0
    assert gc.get_freeze_count() == 0


def test_a_day_keeps_the_freeze_from_one_dag_run_to_the_next() -> None:
    """The collection before each later DAG run walks only what the runs before it added;
    the day's end unfreezes everything (then the next day's first collection is full)."""
    gc.unfreeze()
    with orchestration._day_heap():
        with orchestration._frozen_heap():
            first = gc.get_freeze_count()
        # not released between the day's runs (a few frozen objects die by refcount)
        assert gc.get_freeze_count() > first - 100
        added = [_Cycle() for _ in range(1000)]
        with orchestration._frozen_heap():
            assert gc.get_freeze_count() > first - 100 + len(added)
    assert gc.get_freeze_count() == 0


def test_a_failed_day_unfreezes_too() -> None:
    with pytest.raises(RuntimeError), orchestration._day_heap(), orchestration._frozen_heap():
        raise RuntimeError("a DAG failed")
    assert gc.get_freeze_count() == 0
