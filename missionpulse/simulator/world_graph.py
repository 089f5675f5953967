"""The simulated world as Facebook Pages and Instagram professional accounts see it.

``World`` generates every platform's accounts, posts and comments the same way; this module
adds what only the Graph API platforms have, using the world's public methods and nothing
else: Graph-shaped ids that lead back to their posts without a lookup table, Facebook Page
insights per day, lifetime post insights, Instagram's counters and insights that settle only
48 hours after posting, and the ground truth for both platforms.

Ids: a post is named by a 36-bit code (its UTC day since 2000, its account's slot, its index
in the day). A Facebook post id is ``<page id>_<10**15 + code>``, a comment id is
``<post's number>_<10**15 + hash>``; an Instagram media id is ``18 * 10**15 + code`` (17
digits, like the real ones), a comment id ``17.8 * 10**15 + hash``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from missionpulse.simulator.world import (
    DAY_MS,
    HOUR_MS,
    SLOT_BITS,
    Account,
    Comment,
    Post,
    World,
    day_of,
    day_start_ms,
    rng_for,
    saturating,
    stable_int,
    summarise_day,
)

FACEBOOK = "facebook"
INSTAGRAM = "instagram"
GRAPH_PLATFORMS = (FACEBOOK, INSTAGRAM)

ID_EPOCH = date(2000, 1, 1)
_SEQ_BITS = 6
_DAY_SHIFT = SLOT_BITS + _SEQ_BITS
_CODE_LIMIT = 1 << (_DAY_SHIFT + 15)
FB_NUMBER_BASE = 10**15
IG_MEDIA_BASE = 18 * 10**15
IG_COMMENT_BASE = 178 * 10**14
_HASH_SPACE = 10**14

# Instagram's counters and insights keep settling for 48 h after a post is published.
INSIGHTS_LAG_MS = 48 * HOUR_MS
# Page insights of a day count what posts of that day and the three before it gathered.
_PAGE_INSIGHT_POST_DAYS = 4


# --- ids -------------------------------------------------------------------------------------


def post_code(post: Post) -> int:
    """The post's 36-bit code: UTC day since 2000, its account's slot, its index in the day."""
    ref = post.ref
    days = (day_of(ref.created_ms) - ID_EPOCH).days
    return (days << _DAY_SHIFT) | (ref.slot << _SEQ_BITS) | ref.seq


def fb_post_number(post: Post) -> str:
    return str(FB_NUMBER_BASE + post_code(post))


def fb_post_id(account: Account, post: Post) -> str:
    return f"{account.uid}_{fb_post_number(post)}"


def fb_comment_id(post: Post, comment: Comment) -> str:
    number = stable_int("fb-comment", comment.created_ms, comment.key) % _HASH_SPACE
    return f"{fb_post_number(post)}_{FB_NUMBER_BASE + number}"


def ig_media_id(post: Post) -> str:
    return str(IG_MEDIA_BASE + post_code(post))


def ig_comment_id(post: Post, comment: Comment) -> str:
    number = stable_int("ig-comment", post_code(post), comment.created_ms, comment.key)
    return str(IG_COMMENT_BASE + number % _HASH_SPACE)


def shortcode(post: Post) -> str:
    """An Instagram-style shortcode for permalinks (11 characters of base 64)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    number = stable_int("shortcode", post.ref.platform, post_code(post))
    return "".join(alphabet[(number >> (6 * i)) & 63] for i in range(11))


def _code_of(number: str, base: int) -> int | None:
    if not number.isdigit() or len(number) > 20:
        return None
    code = int(number) - base
    return code if 0 <= code < _CODE_LIMIT else None


# --- metrics ---------------------------------------------------------------------------------


def lagged(final: int, age_ms: int, lag_ms: int = INSIGHTS_LAG_MS) -> int:
    """A counter that settles on ``final`` exactly ``lag_ms`` after publication (cubic ease)."""
    if age_ms <= 0:
        return 0
    if age_ms >= lag_ms:
        return final
    remaining = 1.0 - age_ms / lag_ms
    return int(final * (1.0 - remaining**3))


@dataclass(frozen=True)
class MediaInsights:
    """An Instagram media's counters and insights as they stood at a moment."""

    like_count: int
    comments_count: int
    views: int
    reach: int
    saved: int
    shares: int

    def metric(self, name: str) -> int:
        """Values of the deprecated metrics (shown before their deprecation date) included."""
        legacy = {"impressions": self.views, "plays": self.views, "video_views": self.views}
        if name in legacy:
            return legacy[name]
        totals = {
            "likes": self.like_count,
            "comments": self.comments_count,
            "total_interactions": self.like_count + self.comments_count + self.saved + self.shares,
        }
        return totals[name] if name in totals else int(getattr(self, name))


@dataclass(frozen=True)
class PostInsights:
    """A Facebook post's lifetime insights at a moment."""

    media_views: int
    unique_views: int
    clicks: int

    def metric(self, name: str) -> int:
        values = {
            "post_media_view": self.media_views,
            "post_total_media_view_unique": self.unique_views,
            "post_clicks": self.clicks,
            "post_impressions": self.media_views,
            "post_impressions_unique": self.unique_views,
        }
        return values[name]


class GraphWorld:
    """Facebook and Instagram views of a ``World``: lookups by Graph id, insights, counters."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._page_day = lru_cache(maxsize=20_000)(self._page_day_values)

    # lookups

    def account(self, platform: str, key: str) -> Account | None:
        """An account by its id, or (Facebook Pages only) by its username."""
        found = self.world.account_by_uid(platform, key)
        if found is None and platform == FACEBOOK and not key.isdigit():
            found = self.world.account_by_handle(platform, key)
        return found

    def account_of(self, post: Post) -> Account:
        account = self.world.account_by_slot(post.ref.platform, post.ref.slot)
        assert account is not None  # every post belongs to an account
        return account

    def post_by_code(self, platform: str, code: int) -> Post | None:
        seq = code & ((1 << _SEQ_BITS) - 1)
        slot = (code >> _SEQ_BITS) & ((1 << SLOT_BITS) - 1)
        account = self.world.account_by_slot(platform, slot)
        if account is None:
            return None
        posts = self.world.posts_on(account, ID_EPOCH + timedelta(days=code >> _DAY_SHIFT))
        return posts[seq] if seq < len(posts) else None

    def fb_post(self, post_id: str) -> Post | None:
        """The Facebook post named ``<page id>_<number>``, if it exists."""
        page_id, _, number = post_id.partition("_")
        account = self.world.account_by_uid(FACEBOOK, page_id)
        code = _code_of(number, FB_NUMBER_BASE)
        if account is None or code is None:
            return None
        post = self.post_by_code(FACEBOOK, code)
        return post if post is not None and post.ref.slot == account.slot else None

    def ig_media(self, media_id: str) -> Post | None:
        code = _code_of(media_id, IG_MEDIA_BASE)
        return self.post_by_code(INSTAGRAM, code) if code is not None else None

    def posts_between(self, account: Account, lower_ms: int, upper_ms: int) -> Iterator[Post]:
        """The account's posts created in [lower_ms, upper_ms), newest first, day by day
        (lazily: a first page of an unbounded listing generates only the days it shows)."""
        lower_ms = max(lower_ms, account.created_ms)
        day = day_of(upper_ms - 1)
        while upper_ms > lower_ms and day_start_ms(day) + DAY_MS > lower_ms:
            for post in reversed(self.world.posts_on(account, day)):
                if lower_ms <= post.created_ms < upper_ms:
                    yield post
            day -= timedelta(days=1)

    def comments_until(self, post: Post, now_ms: int) -> list[Comment]:
        return [c for c in self.world.comments_of(post) if c.created_ms <= now_ms]

    # Instagram

    def media_insights(self, post: Post, now_ms: int) -> MediaInsights:
        """Counters and insights of an Instagram media at ``now_ms``: they settle after 48 h."""
        age = now_ms - post.created_ms
        roll = stable_int("ig-insights", post_code(post))
        reach_share = 0.55 + (roll % 300) / 1000
        saved_share = 0.02 + ((roll >> 10) % 60) / 1000
        views = lagged(post.views, age)
        return MediaInsights(
            like_count=lagged(post.likes, age),
            comments_count=len(self.comments_until(post, now_ms)),
            views=views,
            reach=int(views * reach_share),
            saved=int(lagged(post.likes, age) * saved_share),
            shares=lagged(post.shares, age),
        )

    # Facebook

    def post_insights(self, post: Post, now_ms: int) -> PostInsights:
        age = now_ms - post.created_ms
        views = saturating(post.views, age, 5.0)
        return PostInsights(
            media_views=views,
            unique_views=int(views * 0.71),
            clicks=int(saturating(post.likes, age, 3.0) * 0.4),
        )

    def page_day(self, account: Account, day: date, now_ms: int) -> dict[str, int]:
        """The Page's insights for the UTC ``day`` as known at ``now_ms`` (final once over)."""
        end = day_start_ms(day) + DAY_MS
        return self._page_day(account.platform, account.slot, day, min(end, now_ms))

    def _page_day_values(
        self, platform: str, slot: int, day: date, until_ms: int
    ) -> dict[str, int]:
        account = self.world.account_by_slot(platform, slot)
        assert account is not None
        start = day_start_ms(day)
        recent = [
            post
            for back in range(_PAGE_INSIGHT_POST_DAYS)
            for post in self.world.posts_on(account, day - timedelta(days=back))
            if post.created_ms < until_ms
        ]

        def gained(final: int, created_ms: int, half_life_h: float) -> int:
            return saturating(final, until_ms - created_ms, half_life_h) - saturating(
                final, start - created_ms, half_life_h
            )

        post_views = sum(gained(p.views, p.created_ms, 5.0) for p in recent)
        reactions = sum(gained(p.likes, p.created_ms, 3.0) for p in recent)
        shares = sum(gained(p.shares, p.created_ms, 3.0) for p in recent)
        comments = sum(
            1 for c in self.world.comments_on(account, day) if start <= c.created_ms < until_ms
        )
        rng = rng_for("page-insights", account.handle.lower(), day.isoformat())
        share_of_day = (until_ms - start) / DAY_MS
        followers = self.world.followers_at(account, until_ms)
        growth = max(0, followers - self.world.followers_at(account, start))
        unfollows = int(followers * rng.uniform(0.00003, 0.0002) * share_of_day)
        page_views = int(followers * rng.uniform(0.004, 0.015) * share_of_day)
        views = post_views + page_views
        follows = growth + unfollows
        return {
            "page_media_view": views,
            "page_total_media_view_unique": int(views * rng.uniform(0.55, 0.75)),
            "page_follows": followers,
            "page_daily_follows": follows,
            "page_daily_follows_unique": int(follows * 0.97),
            "page_daily_unfollows_unique": unfollows,
            "page_post_engagements": reactions + comments + shares,
            "page_video_views": int(post_views * rng.uniform(0.05, 0.2)),
            # the names these replaced, served until their deprecation date
            "page_impressions": int(views * 1.15),
            "page_impressions_unique": int(views * 0.7),
            "page_fans": int(followers * 0.93),
            "page_fan_adds": follows,
            "page_fan_adds_unique": int(follows * 0.97),
        }


@lru_cache(maxsize=4)
def graph_world(world: World) -> GraphWorld:
    """The (cached) Graph view of a world."""
    return GraphWorld(world)


# --- ground truth ----------------------------------------------------------------------------


def account_truth(
    world: World, accounts: Iterable[Account], day: date, as_of_ms: int
) -> dict[str, Any]:
    """Counts for ``accounts`` on ``day`` as of ``as_of_ms`` (the pipeline's definitions)."""
    active = [a for a in accounts if a.exists and a.spec.active_on(day)]
    posts = sum(
        1
        for account in active
        for post in world.posts_on(account, day)
        if post.created_ms <= as_of_ms
    )
    comments = [
        comment
        for account in active
        for comment in world.comments_on(account, day)
        if comment.created_ms <= as_of_ms
    ]
    return summarise_day(len(active), posts, comments, lambda c: c.by_mission)


def platform_truth(
    world: World,
    platform: str,
    day: date,
    as_of_ms: int,
    handles: Collection[str] | None = None,
) -> dict[str, Any]:
    """The platform's truth, for every handle or only for ``handles`` (case-insensitive)."""
    wanted = None if handles is None else {h.lower() for h in handles}
    accounts = [a for a in world.accounts(platform) if wanted is None or a.handle.lower() in wanted]
    return account_truth(world, accounts, day, as_of_ms)


def facebook_truth(world: World, day: date, as_of_ms: int) -> dict[str, Any]:
    return platform_truth(world, FACEBOOK, day, as_of_ms)


def instagram_truth(world: World, day: date, as_of_ms: int) -> dict[str, Any]:
    """Instagram's truth over the accounts the Graph API can reach: it finds an Instagram
    account only by its id, so handles without ``platform_account_id`` in the registry are
    left out (the extractor reports them as failed, with how to add the id)."""
    reachable = [a.handle for a in world.accounts(INSTAGRAM) if a.spec.platform_account_id]
    return platform_truth(world, INSTAGRAM, day, as_of_ms, reachable)
