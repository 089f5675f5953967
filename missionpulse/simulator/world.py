"""The simulated world behind every platform API: accounts, posts, comments, audiences.

Everything is a pure function of the registry's handles and the calendar: the posts of a
handle on a UTC day are drawn from a ``random.Random`` seeded by a stable hash of (platform,
handle, day), the comments on a post from a seed of the post. Nothing depends on the order
of requests, the process or Python's salted ``hash()``, so two runs (or two machines) serve
the same world, and tests can ask for the ground truth directly.

The world is platform-neutral; each platform module (``x_api`` and later others) renders
it in its own wire format. Times are UTC milliseconds since the Unix epoch throughout.

Generation is two-staged so that a timeline never pays for comments it does not show: a
handle-day's posts carry their own plan (final comment count, final metrics, and the
questions the mission will answer, with the answers), and the audience's comments on one
post are generated only when someone looks at them. Both stages are cached.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from missionpulse.simulator import texts
from missionpulse.simulator.texts import NEGATIVE, NEUTRAL, POSITIVE, MissionContext, Theme

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# Audience comments arrive up to 72 h after a post, the mission's answers up to 24 h after
# the question, so a day's comments belong to posts of that day and the four before it.
COMMENT_WINDOW_MS = 72 * HOUR_MS
ANSWER_DELAY_MAX_MS = 24 * HOUR_MS
CONVERSATION_DAYS = 5
MAX_POSTS_PER_DAY = 63  # post ids keep the post's index in the day in 6 bits
SLOT_BITS = 15  # post ids keep the account's slot in 15 bits
MISSING_SHARE = 0.02  # handles that no longer exist on the platform (renamed, suspended)
AVATAR_CONFORMING_SHARE = 0.8  # handles whose profile picture is the ministry's emblem
EMOJI_ONLY_SHARE = 0.03


@dataclass(frozen=True)
class PlatformVolume:
    """How busy a platform is next to X (the reference, 1.0): posts per day, comments per post."""

    posts: float = 1.0
    comments: float = 1.0


# Platforms not listed here behave like X; X itself must stay at 1.0 (its data is pinned).
PLATFORM_VOLUMES: dict[str, PlatformVolume] = {
    "facebook": PlatformVolume(posts=1.0, comments=1.2),
    "instagram": PlatformVolume(posts=0.75, comments=1.25),
}
BIG_CITIES = frozenset(
    {
        "Washington",
        "London",
        "New York",
        "Dubai",
        "Riyadh",
        "Beijing",
        "Jeddah",
        "Abu Dhabi",
        "Kabul",
    }
)
FOLLOWERS_REFERENCE = date(2025, 1, 1)
_WEEKDAY_FACTOR = (1.05, 1.05, 1.05, 1.0, 0.9, 0.78, 0.72)
# Approximate UTC offsets (hours) of host countries, so missions post in office hours.
_UTC_OFFSETS = {
    **dict.fromkeys(("US", "CA", "MX", "CU", "PE"), -5),
    **dict.fromkeys(("BR", "AR", "CL"), -3),
    **dict.fromkeys(("GB", "IE", "PT", "SN", "CI", "GH"), 0),
    **dict.fromkeys(("FR", "DE", "IT", "ES", "BE", "NL", "AT", "CH", "SE", "NO", "DK"), 1),
    **dict.fromkeys(("PL", "CZ", "HU", "RS", "BA", "DZ", "MA", "TN", "NG"), 1),
    **dict.fromkeys(("FI", "RO", "BG", "GR", "CY", "UA", "EG", "LY", "SD", "ZA", "ZW", "MZ"), 2),
    **dict.fromkeys(("JO", "LB", "SY", "RW"), 2),
    **dict.fromkeys(("TR", "RU", "BY", "SA", "KW", "QA", "BH", "IQ", "YE", "KE", "TZ", "ET"), 3),
    **dict.fromkeys(("UG", "DJ"), 3),
    **dict.fromkeys(("AE", "OM", "AZ", "MU"), 4),
    **dict.fromkeys(("IR", "AF"), 4),
    **dict.fromkeys(("UZ", "TJ", "TM", "MV", "KZ", "KG"), 5),
    **dict.fromkeys(("IN", "LK", "NP"), 5),
    **dict.fromkeys(("BD",), 6),
    **dict.fromkeys(("TH", "VN", "ID", "MM"), 7),
    **dict.fromkeys(("CN", "HK", "SG", "MY", "PH", "BN"), 8),
    **dict.fromkeys(("JP", "KR"), 9),
    **dict.fromkeys(("AU",), 10),
    **dict.fromkeys(("NZ",), 12),
}
# Audience members are drawn from one pool per language, more often from its head.
_POOL_STRIDE = 1_000_000
_POOL_SIZES = {
    "en": 12_000,
    "ur": 4_000,
    "ur-Latn": 6_000,
    "ar": 2_500,
    "fr": 1_500,
    "es": 1_500,
    "de": 1_500,
    "zh": 1_000,
    "tr": 1_000,
}
_POOL_LANGUAGES = tuple(_POOL_SIZES)


# --- stable randomness and time ------------------------------------------------------------


def stable_int(*parts: object) -> int:
    """A 64-bit integer from ``parts``, the same in every process (unlike ``hash()``)."""
    data = "\x1f".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def rng_for(*parts: object) -> random.Random:
    return random.Random(stable_int(*parts))


def to_ms(moment: datetime) -> int:
    """UTC epoch milliseconds (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def day_start_ms(day: date) -> int:
    return to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))


def day_of(ms: int) -> date:
    return from_ms(ms).date()


def saturating(final: int, age_ms: int, half_life_h: float) -> int:
    """A counter that grows from 0 towards ``final`` as the content ages."""
    if age_ms <= 0:
        return 0
    return int(final * (1.0 - 0.5 ** (age_ms / (half_life_h * HOUR_MS))))


# --- the world's records ---------------------------------------------------------------------


@dataclass(frozen=True)
class HandleSpec:
    """A handle to simulate, with what the world needs to know about its mission."""

    mission_id: str
    platform: str
    handle: str
    platform_account_id: str | None = None
    active_from: date | None = None
    active_to: date | None = None
    mission: MissionContext = MissionContext(name="", mission_type="", city="", country="")
    country_code: str = ""

    def active_on(self, day: date) -> bool:
        return (self.active_from is None or self.active_from <= day) and (
            self.active_to is None or day <= self.active_to
        )


@dataclass(frozen=True)
class AudienceUser:
    index: int
    uid: str
    name: str
    username: str
    language: str
    created_ms: int
    followers: int
    following: int
    posts: int
    location: str


@dataclass(frozen=True)
class Account:
    """A handle as it exists on its platform: identity, profile and behaviour."""

    spec: HandleSpec
    slot: int
    uid: str
    exists: bool
    large: bool
    created_ms: int
    display_name: str
    description: str
    website: str | None
    location: str
    verified: bool
    verified_type: str
    followers_base: int
    followers_growth_per_day: float
    following: int
    listed: int
    post_rate: float
    home_share: float
    responsiveness: float
    speaker_languages: tuple[str, ...] = field(repr=False)
    speaker_cum_weights: tuple[float, ...] = field(repr=False)
    # Whether the profile picture is the ministry's reference emblem (re-encoded by the
    # platform's CDN) rather than another picture; see ``simulator.media``.
    avatar_conforming: bool = True

    @property
    def platform(self) -> str:
        return self.spec.platform

    @property
    def handle(self) -> str:
        return self.spec.handle

    def visible_at(self, now_ms: int) -> bool:
        """Whether the platform shows the account at ``now_ms`` (exists and is active)."""
        return self.exists and self.spec.active_on(day_of(now_ms))


@dataclass(frozen=True)
class PostRef:
    platform: str
    slot: int
    created_ms: int
    seq: int


@dataclass(frozen=True)
class Comment:
    """A comment in a post's conversation, by an audience member or (answers) the mission.

    ``language`` and ``label`` are the intended language and sentiment (ground truth; never
    sent on the wire). A question the mission answers carries ``answer_ms``; an answer
    carries its question as ``parent``.
    """

    key: int
    created_ms: int
    post: PostRef
    author: AudienceUser | None
    parent: Comment | None
    text: str
    language: str
    label: str
    question: bool
    likes: int
    views: int
    answer_ms: int | None = None

    @property
    def by_mission(self) -> bool:
        return self.author is None


@dataclass(frozen=True)
class Post:
    """An original post, with its plan: final counters and the mission's answers."""

    ref: PostRef
    text: str
    topic: str
    language: str
    comment_count: int
    likes: int
    shares: int
    quotes: int
    bookmarks: int
    views: int
    questions: tuple[Comment, ...]
    answers: tuple[Comment, ...]

    @property
    def created_ms(self) -> int:
        return self.ref.created_ms


@dataclass(frozen=True)
class PostMetrics:
    likes: int
    shares: int
    quotes: int
    bookmarks: int
    views: int
    comments: int


# --- the world -----------------------------------------------------------------------------


class World:
    """All simulated platforms' data for a set of handles; cheap to build, cached inside."""

    def __init__(
        self,
        handles: Iterable[HandleSpec],
        theme: Theme | None = None,
        reference_avatar: Path | None = None,
    ) -> None:
        self.theme = theme or Theme()
        # The ministry's emblem (the policy's avatar reference image); None: the default
        # config's. Conforming accounts show it, re-encoded, as their profile picture.
        self.reference_avatar = reference_avatar
        self._accounts: dict[str, tuple[Account, ...]] = {}
        self._by_handle: dict[tuple[str, str], Account] = {}
        self._by_uid: dict[tuple[str, str], Account] = {}
        self._by_slot: dict[tuple[str, int], Account] = {}
        by_platform: dict[str, list[HandleSpec]] = {}
        for spec in handles:
            by_platform.setdefault(spec.platform, []).append(spec)
        for platform, specs in by_platform.items():
            accounts = _build_accounts(specs, self.theme)
            self._accounts[platform] = accounts
            for account in accounts:
                self._by_handle[(platform, account.handle.lower())] = account
                self._by_uid[(platform, account.uid)] = account
                self._by_slot[(platform, account.slot)] = account
        self._posts_cached = lru_cache(maxsize=50_000)(self._generate_posts)
        self._comments_cached = lru_cache(maxsize=20_000)(self._generate_comments)
        self._user_cached = lru_cache(maxsize=100_000)(self._generate_user)

    # accounts

    def accounts(self, platform: str) -> tuple[Account, ...]:
        return self._accounts.get(platform, ())

    def account_by_handle(self, platform: str, handle: str) -> Account | None:
        return self._by_handle.get((platform, handle.lower()))

    def account_by_uid(self, platform: str, uid: str) -> Account | None:
        return self._by_uid.get((platform, uid))

    def account_by_slot(self, platform: str, slot: int) -> Account | None:
        return self._by_slot.get((platform, slot))

    def followers_at(self, account: Account, now_ms: int) -> int:
        days = (now_ms - day_start_ms(FOLLOWERS_REFERENCE)) / DAY_MS
        return int(account.followers_base * math.exp(account.followers_growth_per_day * days))

    def post_count_estimate(self, account: Account, now_ms: int) -> int:
        """A smooth, growing count of everything the account ever posted (profile counters)."""
        days = max(0.0, (now_ms - account.created_ms) / DAY_MS)
        return 40 + int(days * account.post_rate * 1.15)

    # posts

    def posts_on(self, account: Account, day: date) -> tuple[Post, ...]:
        """The account's original posts created on the UTC ``day``, oldest first."""
        return self._posts_cached(account.platform, account.slot, day)

    def post(self, ref: PostRef) -> Post | None:
        account = self._by_slot.get((ref.platform, ref.slot))
        if account is None:
            return None
        for post in self.posts_on(account, day_of(ref.created_ms)):
            if post.ref == ref:
                return post
        return None

    def answers_on(self, account: Account, day: date) -> tuple[Comment, ...]:
        """The mission's own answers created on ``day`` (in conversations of recent posts)."""
        start = day_start_ms(day)
        found = [
            answer
            for back in range(CONVERSATION_DAYS)
            for post in self.posts_on(account, day - timedelta(days=back))
            for answer in post.answers
            if start <= answer.created_ms < start + DAY_MS
        ]
        return tuple(sorted(found, key=lambda c: (c.created_ms, c.key)))

    def post_metrics(self, post: Post, now_ms: int) -> PostMetrics:
        """The post's public counters as they stood at ``now_ms``."""
        age = now_ms - post.created_ms
        if age >= COMMENT_WINDOW_MS:
            comments = post.comment_count
        else:
            comments = sum(
                1 for c in self.comments_of(post) if c.parent is None and c.created_ms <= now_ms
            )
        return PostMetrics(
            likes=saturating(post.likes, age, 3.0),
            shares=saturating(post.shares, age, 3.0),
            quotes=saturating(post.quotes, age, 4.0),
            bookmarks=saturating(post.bookmarks, age, 6.0),
            views=saturating(post.views, age, 5.0),
            comments=comments,
        )

    def pinned_post(self, account: Account, now_ms: int) -> Post | None:
        """The post the account keeps pinned, if it pins one and it existed at ``now_ms``."""
        rng = rng_for("pin", account.platform, account.handle.lower())
        if rng.random() >= 0.4:
            return None
        first = max(day_of(account.created_ms), date(2023, 1, 1))
        pin_day = first + timedelta(days=rng.randrange(0, 600))
        candidates = (
            post
            for offset in range(30)
            for post in self.posts_on(account, pin_day + timedelta(days=offset))
        )
        pinned = next(candidates, None)  # the first post on or after the day it pinned
        return pinned if pinned is not None and pinned.created_ms <= now_ms else None

    # comments

    def comments_of(self, post: Post) -> tuple[Comment, ...]:
        """Every comment in the post's conversation (audience and mission), oldest first."""
        return self._comments_cached(post.ref)

    def comments_on(self, account: Account, day: date) -> tuple[Comment, ...]:
        """Every comment created on ``day`` in the conversations of the account's posts."""
        start = day_start_ms(day)
        return tuple(
            comment
            for back in range(CONVERSATION_DAYS)
            for post in self.posts_on(account, day - timedelta(days=back))
            for comment in self.comments_of(post)
            if start <= comment.created_ms < start + DAY_MS
        )

    def audience_user(self, index: int) -> AudienceUser:
        return self._user_cached(index)

    def pick_audience_user(self, rng: random.Random, account: Account) -> AudienceUser:
        """An audience member of ``account``, drawn as its posts' commenters are."""
        return self._pick_user(rng, account)

    # generation

    def _generate_posts(self, platform: str, slot: int, day: date) -> tuple[Post, ...]:
        account = self._by_slot[(platform, slot)]
        if not account.exists or not account.spec.active_on(day):
            return ()
        rng = rng_for("posts", platform, account.handle.lower(), day.isoformat())
        count = min(
            _poisson(rng, account.post_rate * _WEEKDAY_FACTOR[day.weekday()]), MAX_POSTS_PER_DAY
        )
        offset_h = _UTC_OFFSETS.get(account.spec.country_code, 0)
        start = day_start_ms(day)
        times = sorted(start + _office_time_ms(rng, offset_h) for _ in range(count))
        for i in range(1, len(times)):
            times[i] = max(times[i], times[i - 1] + 1)
        return tuple(
            self._make_post(rng, account, PostRef(platform, slot, ms, seq))
            for seq, ms in enumerate(times)
        )

    def _make_post(self, rng: random.Random, account: Account, ref: PostRef) -> Post:
        language = self.theme.home_language if rng.random() < account.home_share else "en"
        written = texts.post_text(rng, self.theme, account.spec.mission, language)
        comment_count = int(_comment_count(rng, account.large) * _volume(account.platform).comments)
        followers = self.followers_at(account, ref.created_ms)
        # Government accounts reach a few per cent of their followers per post and get
        # likes from well under one per cent of them (a busy thread draws more of both).
        views = int(followers * rng.uniform(0.02, 0.12) * (1 + comment_count / 100)) + rng.randint(
            20, 200
        )
        likes = int(views * rng.uniform(0.003, 0.012) + comment_count * rng.uniform(0.2, 0.8))
        shares = int(likes * rng.uniform(0.08, 0.3))
        questions, answers = self._plan_answers(rng, account, ref, comment_count)
        return Post(
            ref=ref,
            text=written.text,
            topic=written.topic,
            language=written.language,
            comment_count=comment_count,
            likes=likes,
            shares=shares,
            quotes=int(shares * rng.uniform(0.0, 0.1)),
            bookmarks=int(likes * rng.uniform(0.0, 0.06)),
            views=views,
            questions=questions,
            answers=answers,
        )

    def _plan_answers(
        self, rng: random.Random, account: Account, ref: PostRef, comment_count: int
    ) -> tuple[tuple[Comment, ...], tuple[Comment, ...]]:
        """The questions the mission will answer on this post, and its answers."""
        has_question = 1.0 - 0.87**comment_count
        if comment_count == 0 or rng.random() >= has_question * account.responsiveness:
            return (), ()
        threads = min(comment_count, 1 + (rng.random() < 0.3) + (rng.random() < 0.1))
        questions: list[Comment] = []
        answers: list[Comment] = []
        for _ in range(threads):
            asked_ms = ref.created_ms + _comment_delay_ms(rng)
            answer_ms = asked_ms + _answer_delay_ms(rng)
            user = self._pick_user(rng, account)
            label = NEGATIVE if rng.random() < 0.25 else NEUTRAL
            question = Comment(
                key=rng.getrandbits(21),
                created_ms=asked_ms,
                post=ref,
                author=user,
                parent=None,
                text=texts.comment_text(
                    rng, self.theme, account.spec.mission, user.language, label, True
                ),
                language=user.language,
                label=label,
                question=True,
                likes=_comment_likes(rng),
                views=rng.randint(20, 400),
                answer_ms=answer_ms,
            )
            text, language = texts.mission_reply_text(rng, self.theme, account.spec.mission)
            answers.append(
                Comment(
                    key=rng.getrandbits(21),
                    created_ms=answer_ms,
                    post=ref,
                    author=None,
                    parent=question,
                    text=text,
                    language=language,
                    label=NEUTRAL,
                    question=False,
                    likes=_comment_likes(rng),
                    views=rng.randint(20, 400),
                )
            )
            questions.append(question)
        return tuple(questions), tuple(answers)

    def _generate_comments(self, ref: PostRef) -> tuple[Comment, ...]:
        post = self.post(ref)
        if post is None:
            return ()
        account = self._by_slot[(ref.platform, ref.slot)]
        rng = rng_for("comments", ref.platform, account.handle.lower(), ref.created_ms, ref.seq)
        audience = [
            self._audience_comment(rng, account, ref)
            for _ in range(post.comment_count - len(post.questions))
        ]
        everything = [*audience, *post.questions, *post.answers]
        return tuple(sorted(everything, key=lambda c: (c.created_ms, c.key)))

    def _audience_comment(self, rng: random.Random, account: Account, ref: PostRef) -> Comment:
        user = self._pick_user(rng, account)
        if rng.random() < EMOJI_ONLY_SHARE:
            language = "zxx"
            label = rng.choices((POSITIVE, NEUTRAL, NEGATIVE), weights=(80, 8, 12))[0]
        else:
            language = user.language
            label = rng.choices((POSITIVE, NEUTRAL, NEGATIVE), weights=(35, 45, 20))[0]
        question = language != "zxx" and label != POSITIVE and rng.random() < 0.2
        return Comment(
            key=rng.getrandbits(21),
            created_ms=ref.created_ms + _comment_delay_ms(rng),
            post=ref,
            author=user,
            parent=None,
            text=texts.comment_text(
                rng, self.theme, account.spec.mission, language, label, question
            ),
            language=language,
            label=label,
            question=question,
            likes=_comment_likes(rng),
            views=rng.randint(10, 300),
        )

    def _pick_user(self, rng: random.Random, account: Account) -> AudienceUser:
        language = rng.choices(account.speaker_languages, cum_weights=account.speaker_cum_weights)[
            0
        ]
        rank = int(_POOL_SIZES[language] * rng.random() ** 2)
        return self.audience_user(_POOL_LANGUAGES.index(language) * _POOL_STRIDE + rank)

    def _generate_user(self, index: int) -> AudienceUser:
        language = _POOL_LANGUAGES[index // _POOL_STRIDE]
        rng = rng_for("audience", index)
        name, stem = texts.person_name(rng, language)
        created_ms = day_start_ms(date(2009, 1, 1)) + rng.randrange(0, 16 * 365) * DAY_MS
        created_ms += rng.randrange(DAY_MS)
        return AudienceUser(
            index=index,
            uid=_uid(rng, created_ms),
            name=name,
            username=f"{stem}_{_base36(index)}",
            language=language,
            created_ms=created_ms,
            followers=int(math.exp(rng.gauss(5.0, 1.5))),
            following=int(math.exp(rng.gauss(5.5, 1.0))),
            posts=int(math.exp(rng.gauss(6.5, 1.5))),
            location=rng.choice(
                ("", "", "Lahore", "Karachi", "Islamabad", "London", "Dubai", "Toronto")
            ),
        )


# --- building accounts -----------------------------------------------------------------------


def _build_accounts(specs: Sequence[HandleSpec], theme: Theme) -> tuple[Account, ...]:
    """One platform's accounts: stable slots, and the ~2% that no longer exist."""
    ordered = sorted(specs, key=lambda s: s.handle.lower())
    by_missing_rank = sorted(
        ordered, key=lambda s: stable_int("missing", s.platform, s.handle.lower())
    )
    missing = {s.handle.lower() for s in by_missing_rank[: round(MISSING_SHARE * len(ordered))]}
    taken: set[int] = set()
    accounts = []
    for spec in ordered:
        slot = stable_int("slot", spec.platform, spec.handle.lower()) % (1 << SLOT_BITS)
        while slot in taken:
            slot = (slot + 1) % (1 << SLOT_BITS)
        taken.add(slot)
        accounts.append(_build_account(spec, slot, spec.handle.lower() not in missing, theme))
    return tuple(accounts)


def _build_account(spec: HandleSpec, slot: int, exists: bool, theme: Theme) -> Account:
    rng = rng_for("account", spec.platform, spec.handle.lower())
    mission = spec.mission
    large = mission.city in BIG_CITIES or rng.random() < 0.03
    if spec.active_from is not None:
        created_ms = day_start_ms(spec.active_from) + rng.randrange(8 * HOUR_MS, 18 * HOUR_MS)
    else:
        created_ms = day_start_ms(date(2011, 1, 1)) + rng.randrange(0, 9 * 365) * DAY_MS
    dormant = not large and rng.random() < 0.1
    if large:
        post_rate = rng.uniform(7.0, 13.0)
        followers = int(rng.uniform(50_000, 600_000))
    else:
        post_rate = rng.uniform(0.1, 0.5) if dormant else rng.uniform(1.2, 4.0)
        followers = int(rng.uniform(2_000, 30_000))
    host_language = texts.HOST_LANGUAGES.get(spec.country_code)
    weights = {
        lang: w + (25 if lang == host_language else 0) for lang, w in texts.SPEAKER_WEIGHTS.items()
    }
    cumulative: list[float] = []
    for weight in weights.values():
        cumulative.append((cumulative[-1] if cumulative else 0.0) + weight)
    verified_roll = rng.random()
    return Account(
        spec=spec,
        slot=slot,
        uid=spec.platform_account_id or _uid(rng, created_ms),
        exists=exists,
        large=large,
        created_ms=created_ms,
        display_name=texts.display_name(rng, theme, mission, conforming=rng.random() < 0.8),
        description=texts.bio(
            rng, theme, mission, with_text=rng.random() < 0.8, with_link=rng.random() < 0.7
        ),
        website=theme.ministry_url if rng.random() < 0.6 else None,
        location=", ".join(part for part in (mission.city, mission.country) if part),
        verified=verified_roll < 0.88,
        verified_type="government"
        if verified_roll < 0.78
        else "blue"
        if verified_roll < 0.88
        else "none",
        followers_base=followers,
        followers_growth_per_day=rng.uniform(0.0002, 0.0012),
        following=rng.randint(80, 900),
        listed=int(followers * rng.uniform(0.002, 0.01)),
        post_rate=post_rate * _volume(spec.platform).posts,
        home_share=rng.uniform(0.05, 0.3),
        responsiveness=0.0 if rng.random() < 0.3 else rng.uniform(0.05, 0.3),
        speaker_languages=tuple(weights),
        speaker_cum_weights=tuple(cumulative),
        # a stream of its own, so that the draws above (and the data they pin) are unchanged
        avatar_conforming=rng_for("avatar", spec.platform, spec.handle.lower()).random()
        < AVATAR_CONFORMING_SHARE,
    )


def specs_from_registry(registry: Any) -> list[HandleSpec]:
    """HandleSpecs for every handle of a ``missionpulse.registry.Registry``."""
    specs = []
    for handle in registry.handles:
        mission = registry.mission(handle.mission_id)
        specs.append(
            HandleSpec(
                mission_id=handle.mission_id,
                platform=handle.platform,
                handle=handle.handle,
                platform_account_id=handle.platform_account_id,
                active_from=max(handle.active_from, mission.active_from),
                active_to=_earliest(handle.active_to, mission.active_to),
                mission=MissionContext(
                    mission.name, mission.mission_type, mission.city, mission.country
                ),
                country_code=mission.country_code,
            )
        )
    return specs


def theme_from_policy(policy: Any) -> Theme:
    """The default theme, with the ministry's country, bio link and bio phrase from its policy."""
    default = Theme()
    link = policy.bio_required_link
    url = link if link.startswith(("http://", "https://")) else f"https://{link}"
    if policy.ministry_country == default.country:
        return Theme(ministry_url=url, bio_text=policy.bio_required_text)
    return Theme(
        country=policy.ministry_country,
        demonym=policy.ministry_country,
        flag="",
        ministry_url=url,
        bio_text=policy.bio_required_text,
    )


def _volume(platform: str) -> PlatformVolume:
    return PLATFORM_VOLUMES.get(platform, PlatformVolume())


def _earliest(first: date | None, second: date | None) -> date | None:
    dates = [d for d in (first, second) if d is not None]
    return min(dates) if dates else None


# --- distributions -------------------------------------------------------------------------


def _poisson(rng: random.Random, mean: float) -> int:
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def _office_time_ms(rng: random.Random, utc_offset_h: int) -> int:
    """A moment of the UTC day, mostly in the mission's local office hours."""
    while True:
        ms = rng.randrange(DAY_MS)
        local_hour = (ms / HOUR_MS + utc_offset_h) % 24
        if 8 <= local_hour < 21 or rng.random() < 0.12:
            return ms


def _comment_count(rng: random.Random, large: bool) -> int:
    """Heavy-tailed: most posts get a handful of comments, a few get hundreds."""
    if rng.random() < (0.08 if large else 0.2):
        return 0
    median = 22.0 if large else 5.0
    count = int(math.exp(rng.gauss(math.log(median), 1.15)))
    if rng.random() < 0.01:
        count *= 8
    return min(count, 1_200)


def _comment_delay_ms(rng: random.Random) -> int:
    """Most comments come in the first hours; none after 72 h."""
    while True:
        hours = math.exp(rng.gauss(math.log(1.5), 1.4))
        if hours * HOUR_MS < COMMENT_WINDOW_MS:
            return max(20_000, int(hours * HOUR_MS))


def _answer_delay_ms(rng: random.Random) -> int:
    """The mission answers minutes to hours after the question (median ~1.5 h, at most 24 h)."""
    minutes = math.exp(rng.gauss(math.log(90), 1.1))
    return int(min(max(minutes, 3.0) * 60_000, ANSWER_DELAY_MAX_MS))


def _comment_likes(rng: random.Random) -> int:
    return max(0, int(math.exp(rng.gauss(0.0, 1.3))) - 1)


def _uid(rng: random.Random, created_ms: int) -> str:
    """A numeric user id shaped like the platform's: short before late 2013, snowflake after."""
    if created_ms < day_start_ms(date(2013, 11, 1)):
        return str(rng.randrange(10_000_000, 2_500_000_000))
    return str(((created_ms - 1_288_834_974_657) << 22) | rng.getrandbits(22))


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


# --- shared worlds ---------------------------------------------------------------------------


def summarise_day(
    profiles: int, posts: int, comments: Sequence[Any], by_mission: Callable[[Any], bool]
) -> dict[str, Any]:
    """The truth's counts for one platform and day, from what the world holds (every
    platform's truth function reduces to this, so the definitions cannot drift apart)."""
    audience = [c for c in comments if not by_mission(c)]
    return {
        "profiles": profiles,
        "posts": posts,
        "comments": len(comments),
        "mission_replies": len(comments) - len(audience),
        "audience_comments": len(audience),
        "comments_by_language": dict(sorted(Counter(c.language for c in audience).items())),
        "comments_by_label": dict(sorted(Counter(c.label for c in audience).items())),
    }


def world_for(registry: Any | None = None) -> World:
    """The world of ``registry`` (default: the configured one), shared within the process."""
    if registry is None:
        from missionpulse.registry import load_registry

        registry = load_registry()
    return _shared_world(
        tuple(specs_from_registry(registry)),
        theme_from_policy(registry.policy),
        registry.policy.avatar_reference_image,
    )


@lru_cache(maxsize=4)
def _shared_world(
    specs: tuple[HandleSpec, ...], theme: Theme, reference_avatar: Path | None = None
) -> World:
    return World(specs, theme, reference_avatar)
