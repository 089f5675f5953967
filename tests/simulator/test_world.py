"""The simulated world: deterministic, realistic in volume, consistent in time."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from missionpulse.registry import load_registry
from missionpulse.simulator import world as world_module
from missionpulse.simulator.texts import LANGUAGES, MissionContext
from missionpulse.simulator.world import (
    COMMENT_WINDOW_MS,
    HandleSpec,
    World,
    specs_from_registry,
    stable_int,
    world_for,
)
from tests.simulator.support import DAY


def _fingerprint(world: World, day: date) -> list[tuple[str, int, str, int]]:
    return [
        (account.handle, post.created_ms, post.text, len(world.comments_of(post)))
        for account in world.accounts("x")
        for post in world.posts_on(account, day)
    ]


def test_stable_hash_does_not_depend_on_the_process() -> None:
    # A fixed value (blake2b of the parts): Python's salted hash() would change every run.
    assert stable_int("x", "PakinUK", "2025-10-08") == 0xD636AD4B2DD8421F


def test_two_worlds_from_the_same_registry_are_identical() -> None:
    registry = load_registry()
    first = World(specs_from_registry(registry))
    second = World(specs_from_registry(registry))
    assert _fingerprint(first, DAY) == _fingerprint(second, DAY)
    comments = [
        (c.created_ms, c.text, c.language, c.label)
        for w in (first, second)
        for c in w.comments_on(w.accounts("x")[0], DAY)
    ]
    assert comments[: len(comments) // 2] == comments[len(comments) // 2 :]


def test_each_day_is_drawn_from_its_own_seed() -> None:
    world = world_for()
    today = _fingerprint(world, DAY)
    tomorrow = _fingerprint(world, DAY + timedelta(days=1))
    assert {text for _, _, text, _ in today} != {text for _, _, text, _ in tomorrow}
    per_handle = Counter(handle for handle, *_ in today)
    assert per_handle != Counter(handle for handle, *_ in tomorrow)


def test_a_day_has_realistic_x_volumes() -> None:
    world = world_for()
    accounts = world.accounts("x")
    existing = [a for a in accounts if a.exists and a.spec.active_on(DAY)]
    posts = [p for a in existing for p in world.posts_on(a, DAY)]
    comments = [c for a in existing for c in world.comments_on(a, DAY)]
    assert len(accounts) == 119
    assert [a.handle for a in accounts if not a.exists] == ["PakEmbCairo", "PakHCColombo"]
    assert 100 <= len(existing) <= 120
    assert 300 <= len(posts) <= 500
    assert 5_000 <= len(comments) <= 10_000
    per_post = sorted(
        p.comment_count
        for a in existing
        for d in range(7)
        for p in world.posts_on(a, DAY - timedelta(days=d))
    )
    assert per_post[len(per_post) // 2] <= 15  # most posts get a handful
    assert per_post[-1] >= 300  # a few get hundreds
    large = {a.handle for a in accounts if a.large}
    assert {"PakinUSA", "PakinUK", "PakistanUN_NY", "PakCG_Dubai", "PakEmbRiyadh"} <= large
    assert len(large) < 20


def test_sentiment_and_language_mix_of_the_audience() -> None:
    world = world_for()
    audience = [
        c for a in world.accounts("x") for c in world.comments_on(a, DAY) if not c.by_mission
    ]
    labels = Counter(c.label for c in audience)
    share = {label: n / len(audience) for label, n in labels.items()}
    assert 0.40 <= share["neutral"] <= 0.50
    assert 0.30 <= share["positive"] <= 0.40
    assert 0.15 <= share["negative"] <= 0.25
    languages = Counter(c.language for c in audience)
    assert set(languages) == set(LANGUAGES)
    assert languages.most_common(1)[0][0] == "en"
    assert any(c.question and c.text.endswith(("?", "؟", "？")) for c in audience)


def test_comments_follow_their_post_and_answers_follow_their_question() -> None:
    world = world_for()
    for account in world.accounts("x")[:40]:
        for post in world.posts_on(account, DAY):
            comments = world.comments_of(post)
            assert sum(1 for c in comments if c.parent is None) == post.comment_count
            for comment in comments:
                assert (
                    post.created_ms
                    < comment.created_ms
                    < post.created_ms + COMMENT_WINDOW_MS + 86_400_000
                )
            for answer in post.answers:
                assert answer.by_mission and answer.parent is not None
                assert answer.parent.question and answer.parent.answer_ms == answer.created_ms
                assert answer.created_ms > answer.parent.created_ms


def test_missions_answer_about_a_tenth_of_the_posts_that_get_questions() -> None:
    world = world_for()
    asked = answered = 0
    for account in world.accounts("x"):
        for back in range(7):
            for post in world.posts_on(account, DAY - timedelta(days=back)):
                asked += any(c.question for c in world.comments_of(post))
                answered += bool(post.answers)
    assert 0.06 <= answered / asked <= 0.16


def test_followers_grow_slowly_and_nothing_exists_before_the_account() -> None:
    world = world_for()
    account = world.account_by_handle("x", "pakinuk")
    assert account is not None
    before = world.followers_at(account, world_module.day_start_ms(DAY))
    after = world.followers_at(account, world_module.day_start_ms(DAY + timedelta(days=1)))
    assert before <= after <= before * 1.01
    created = world_module.day_of(account.created_ms)
    assert world.posts_on(account, created - timedelta(days=1)) == ()


def test_plain_handle_records_make_a_world_without_a_registry() -> None:
    specs = [
        HandleSpec(
            "m1", "x", "PakEmbTokyo", mission=MissionContext("Embassy", "embassy", "Tokyo", "Japan")
        ),
        HandleSpec("m2", "x", "PakHCLondon"),
    ]
    world = World(specs)
    assert {a.handle for a in world.accounts("x")} == {"PakEmbTokyo", "PakHCLondon"}
    posts = [
        p
        for a in world.accounts("x")
        for d in range(5)
        for p in world.posts_on(a, DAY + timedelta(days=d))
    ]
    assert posts
