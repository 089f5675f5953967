"""Ground truth: what the simulator holds for a day, for tests and the ``simulate truth`` CLI.

Counts follow the pipeline's definitions: posts are original posts created that UTC day;
comments are replies created that day in the conversations of the handles' posts (the
audience's and the missions' own answers); profiles are the handles that exist and are
active that day. ``avatars`` says, per platform, which of those handles show the ministry's
emblem as their profile picture (handle -> conforming, and how many do). Everything is as of
``as_of`` (default: the day's production run, the next
day at 02:00 UTC), so nothing later is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from missionpulse.simulator.world import World, to_ms, world_for
from missionpulse.simulator.world_graph import account_truth, facebook_truth, instagram_truth
from missionpulse.simulator.world_youtube import youtube_truth

RUN_DELAY = timedelta(days=1, hours=2)


def default_as_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC) + RUN_DELAY


def truth(day: date, as_of: datetime | None = None, registry: Any | None = None) -> dict[str, Any]:
    """JSON-able counts per platform for ``day`` as seen at ``as_of``."""
    as_of = as_of or default_as_of(day)
    world = world_for(registry)
    return {
        "date": day.isoformat(),
        "as_of": as_of.isoformat(),
        "platforms": {
            platform: count(world, day, to_ms(as_of)) for platform, count in TRUTHS.items()
        },
        "avatars": {platform: avatar_truth(world, platform, day) for platform in TRUTHS},
    }


def avatar_truth(world: World, platform: str, day: date) -> dict[str, Any]:
    """Whether each existing, active handle's profile picture is the reference emblem
    (re-encoded by the CDN: within the policy's distance) or another picture."""
    avatars = {
        account.handle: account.avatar_conforming
        for account in world.accounts(platform)
        if account.exists and account.spec.active_on(day)
    }
    return {"conforming": sum(avatars.values()), "handles": dict(sorted(avatars.items()))}


def x_truth(world: World, day: date, as_of_ms: int) -> dict[str, Any]:
    return account_truth(world, world.accounts("x"), day, as_of_ms)


# One counting function per simulated platform: (world, day, as_of in ms) -> counts.
TRUTHS: dict[str, Callable[[World, date, int], dict[str, Any]]] = {
    "x": x_truth,
    "facebook": facebook_truth,
    "instagram": instagram_truth,
    "youtube": youtube_truth,
}


def expected_posts(day: date, registry: Any | None = None) -> dict[tuple[str, str], int]:
    """Original posts created on ``day`` per (platform, handle) of every existing, active handle."""
    world = world_for(registry)
    return {
        (account.platform, account.handle): len(world.posts_on(account, day))
        for account in world.accounts("x")
        if account.exists and account.spec.active_on(day)
    }
