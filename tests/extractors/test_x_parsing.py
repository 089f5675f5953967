"""Pure parts of the X extractor: query packing, pseudonyms, window rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

from extractors.common.pseudonym import Pseudonymiser
from extractors.common.window import Window
from extractors.x.extract import needs_full_archive, pseudonymise_reply, search_queries


def test_search_queries_pack_conversations_under_the_length_limit() -> None:
    ids = [str(10**18 + i) for i in range(40)]

    queries = search_queries(ids, max_chars=512)

    assert all(len(q) <= 512 for q in queries)
    packed = [term.removeprefix("conversation_id:") for q in queries for term in q.split(" OR ")]
    assert packed == ids
    assert len(queries) == 4  # 13 terms of 35 chars + 4-char separators fit in 512


def test_pseudonyms_replace_audience_ids_but_keep_the_mission() -> None:
    pseudonym = Pseudonymiser(b"k" * 32)
    reply = {"id": "1", "author_id": "555", "in_reply_to_user_id": "42", "text": "hi"}

    out = pseudonymise_reply(reply, frozenset({"42"}), pseudonym)

    assert out["author_id"].startswith("anon_") and "555" not in out["author_id"]
    assert out["in_reply_to_user_id"] == "42"
    assert out["author_id"] == pseudonymise_reply(reply, frozenset(), pseudonym)["author_id"]
    assert Pseudonymiser(b"j" * 32)("x", "555") != out["author_id"]  # keyed


def test_full_archive_only_beyond_the_recent_search_week() -> None:
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    assert not needs_full_archive(Window.for_day(date(2026, 11, 27)), now)
    assert not needs_full_archive(Window.for_day(date(2026, 11, 22)), now)
    assert needs_full_archive(Window.for_day(date(2026, 11, 21)), now)
