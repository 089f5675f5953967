"""YouTube's share of the simulated world: channels, uploads and comment threads.

Built on ``World`` (the registry's YouTube handles, their missions and their audiences) but
with YouTube's own rhythm: most channels upload 0-3 videos a week and a few large ones about
one a day (a day holds roughly 15-40 videos across the registry); views run from hundreds to
tens of thousands, likes are 1-5% of views; comments are heavy-tailed (~1-3k a day in all),
arrive within four days of the upload, and about one thread in ten to fifteen gets a reply
from the channel itself. About a tenth of the videos have comments disabled.

Like the rest of the world everything is a pure function of (handle, day) or of the video,
seeded with ``stable_int``, so tests can ask for the truth. Identifiers have YouTube's
shapes (``UC`` + 22 characters for channels, 11 for videos, ``Ug..4AaABAg`` for comment
threads, ``<thread>.<22>`` for replies) and carry what the API needs to find the object
again without a lookup table, behind a checksum.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from missionpulse.simulator import texts
from missionpulse.simulator.texts import NEGATIVE, NEUTRAL, POSITIVE
from missionpulse.simulator.world import (
    DAY_MS,
    HOUR_MS,
    Account,
    AudienceUser,
    World,
    _poisson,
    day_of,
    day_start_ms,
    rng_for,
    saturating,
    stable_int,
    summarise_day,
)

PLATFORM = "youtube"
# A day's comments are counted on the videos of that day and the six before it.
TRAILING_DAYS = 7
COMMENT_WINDOW_MS = 96 * HOUR_MS  # top-level comments arrive up to four days after upload
REPLY_DELAY_MAX_MS = 24 * HOUR_MS
COMMENTS_DISABLED_SHARE = 0.10
HIDDEN_SUBSCRIBERS_SHARE = 0.05
MAX_VIDEOS_PER_DAY = 63  # video ids keep the video's index in its day in 6 bits
MAX_THREADS = 1 << 14  # thread ids keep the thread's index on its video in 14 bits
ID_EPOCH = date(2005, 1, 1)
_WEEKDAY_FACTOR = (1.1, 1.1, 1.1, 1.05, 1.0, 0.8, 0.75)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_THREAD_SUFFIX = "4AaABAg"
_MASK_37 = (1 << 37) - 1
_MASK_27 = (1 << 27) - 1
_MASK_18 = (1 << 18) - 1


# --- identifiers ---------------------------------------------------------------------------


def _encode(number: int, length: int) -> str:
    """``number`` in ``length`` base64url digits, most significant first."""
    return "".join(_ALPHABET[(number >> (6 * (length - 1 - i))) & 63] for i in range(length))


def _decode(text: str) -> int | None:
    number = 0
    for char in text:
        digit = _ALPHABET.find(char)
        if digit < 0:
            return None
        number = (number << 6) | digit
    return number


def _random_id(length: int, *parts: object) -> str:
    """``length`` base64url digits drawn from ``parts`` (not meant to be decoded)."""
    rng = rng_for("yt-id", *parts)
    return _encode(rng.getrandbits(6 * length), length)


def channel_id_for(account: Account) -> str:
    """The registry's channel id when it knows one, else a stable ``UC`` + 22 characters."""
    known = account.spec.platform_account_id
    if known and known.startswith("UC") and len(known) == 24:
        return known
    rng = rng_for("yt-channel-id", account.handle.lower())
    return "UC" + _encode(rng.getrandbits(126), 21) + "AQgw"[rng.randrange(4)]


def audience_channel_id(user: AudienceUser) -> str:
    """The channel id of an audience member (every YouTube commenter has one)."""
    rng = rng_for("yt-audience", user.index)
    return "UC" + _encode(rng.getrandbits(126), 21) + "AQgw"[rng.randrange(4)]


def audience_handle(user: AudienceUser) -> str:
    return "@" + user.username.replace("_", "-")


def video_number(day: date, slot: int, seq: int) -> int:
    """64 bits: a 27-bit check, then (day, channel slot, index in the day) masked by it."""
    payload = ((day - ID_EPOCH).days << 21) | (slot << 6) | seq
    check = stable_int("yt-video-check", payload) & _MASK_27
    return (check << 37) | (payload ^ (stable_int("yt-video-mask", check) & _MASK_37))


def decode_video_number(number: int) -> tuple[date, int, int] | None:
    """(day, slot, seq) of a video number, or None when the checksum does not match."""
    check = number >> 37
    payload = (number & _MASK_37) ^ (stable_int("yt-video-mask", check) & _MASK_37)
    if stable_int("yt-video-check", payload) & _MASK_27 != check:
        return None
    return ID_EPOCH + timedelta(days=payload >> 21), (payload >> 6) & 0x7FFF, payload & 0x3F


def video_id_of(number: int) -> str:
    """11 characters: the 64-bit number in the top 64 of 66 bits, as YouTube's ids are."""
    return _encode(number << 2, 11)


def video_number_of(video_id: str) -> int | None:
    value = _decode(video_id) if len(video_id) == 11 else None
    if value is None or value & 3:
        return None
    return value >> 2


def thread_id_of(number: int, index: int) -> str:
    """``Ug`` + a letter + 16 characters (video number, thread index, check) + ``4AaABAg``."""
    check = stable_int("yt-thread", number, index) & _MASK_18
    body = (number << 32) | (index << 18) | check
    return "Ug" + "wxyz"[check & 3] + _encode(body, 16) + _THREAD_SUFFIX


def decode_thread_id(thread_id: str) -> tuple[int, int] | None:
    """(video number, thread index) of a thread id, or None when it is not one of ours."""
    if len(thread_id) != 26 or not thread_id.startswith("Ug"):
        return None
    if not thread_id.endswith(_THREAD_SUFFIX):
        return None
    body = _decode(thread_id[3:19])
    if body is None:
        return None
    number, index, check = body >> 32, (body >> 18) & 0x3FFF, body & _MASK_18
    if stable_int("yt-thread", number, index) & _MASK_18 != check:
        return None
    if thread_id[2] != "wxyz"[check & 3]:
        return None
    return number, index


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    """A registry handle as a YouTube channel."""

    account: Account
    channel_id: str
    subscribers_base: int
    subscriber_growth_per_day: float
    hidden_subscribers: bool
    upload_rate: float  # videos per day
    reply_share: float  # share of comment threads the channel answers
    keywords: str

    @property
    def handle(self) -> str:
        return self.account.handle

    @property
    def slot(self) -> int:
        return self.account.slot

    @property
    def custom_url(self) -> str:
        return "@" + self.account.handle.lower()

    @property
    def uploads_playlist(self) -> str:
        return "UU" + self.channel_id[2:]

    @property
    def created_ms(self) -> int:
        return self.account.created_ms

    def visible_at(self, now_ms: int) -> bool:
        return self.account.visible_at(now_ms)


@dataclass(frozen=True)
class Video:
    """An upload, with its plan: final views and likes, how many threads it will get."""

    channel: Channel
    number: int
    seq: int
    published_ms: int
    title: str
    description: str
    language: str
    tags: tuple[str, ...]
    category_id: str
    duration_s: int
    comments_disabled: bool
    views: int
    likes: int
    thread_count: int

    @property
    def video_id(self) -> str:
        return video_id_of(self.number)


@dataclass(frozen=True)
class VideoComment:
    """A top-level comment or a reply. ``author`` None means the channel itself.

    ``language`` and ``label`` are the intended language and sentiment (ground truth; never
    on the wire)."""

    comment_id: str
    video_id: str
    parent_id: str | None
    created_ms: int
    updated_ms: int
    author: AudienceUser | None
    text: str
    language: str
    label: str
    likes: int

    @property
    def by_channel(self) -> bool:
        return self.author is None


@dataclass(frozen=True)
class Thread:
    top: VideoComment
    replies: tuple[VideoComment, ...]

    @property
    def thread_id(self) -> str:
        return self.top.comment_id


@dataclass(frozen=True)
class VideoStats:
    views: int
    likes: int
    comments: int  # top-level comments and replies that exist


# --- the YouTube world ---------------------------------------------------------------------


class YouTubeWorld:
    """The registry's YouTube channels, their uploads and comments; cached inside."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._channels = tuple(_build_channel(a) for a in world.accounts(PLATFORM))
        self._by_id = {c.channel_id: c for c in self._channels}
        self._by_handle = {c.handle.lower(): c for c in self._channels}
        self._by_slot = {c.slot: c for c in self._channels}
        self._videos_cached = lru_cache(maxsize=100_000)(self._generate_videos)
        self._threads_cached = lru_cache(maxsize=20_000)(self._generate_threads)

    # channels

    def channels(self) -> tuple[Channel, ...]:
        return self._channels

    def channel_by_id(self, channel_id: str) -> Channel | None:
        return self._by_id.get(channel_id)

    def channel_by_handle(self, handle: str) -> Channel | None:
        return self._by_handle.get(handle.removeprefix("@").lower())

    def channel_by_uploads(self, playlist_id: str) -> Channel | None:
        if not playlist_id.startswith("UU"):
            return None
        return self._by_id.get("UC" + playlist_id[2:])

    def subscribers_at(self, channel: Channel, now_ms: int) -> int:
        days = max(0.0, (now_ms - channel.created_ms) / DAY_MS)
        grown = channel.subscribers_base * math.exp(channel.subscriber_growth_per_day * days)
        return int(grown * min(1.0, 0.05 + days / 1500))

    def video_count_at(self, channel: Channel, now_ms: int) -> int:
        """The channel's public video count (a smooth estimate, as the real one is cached)."""
        days = max(0.0, (now_ms - channel.created_ms) / DAY_MS)
        return 3 + int(days * channel.upload_rate)

    def view_count_at(self, channel: Channel, now_ms: int) -> int:
        per_video = max(50, self.subscribers_at(channel, now_ms) // 4)
        return self.video_count_at(channel, now_ms) * per_video

    # videos

    def videos_on(self, channel: Channel, day: date) -> tuple[Video, ...]:
        """The channel's uploads published on the UTC ``day``, oldest first."""
        return self._videos_cached(channel.slot, day)

    def uploads(self, channel: Channel, now_ms: int) -> Iterator[Video]:
        """The channel's uploads published up to ``now_ms``, newest first."""
        day, first = day_of(now_ms), day_of(channel.created_ms)
        while day >= first:
            for video in reversed(self.videos_on(channel, day)):
                if video.published_ms <= now_ms:
                    yield video
            day -= timedelta(days=1)

    def video(self, video_id: str) -> Video | None:
        number = video_number_of(video_id)
        decoded = decode_video_number(number) if number is not None else None
        if decoded is None:
            return None
        day, slot, seq = decoded
        channel = self._by_slot.get(slot)
        if channel is None:
            return None
        videos = self.videos_on(channel, day)
        return videos[seq] if seq < len(videos) else None

    def video_stats(self, video: Video, now_ms: int) -> VideoStats:
        age = now_ms - video.published_ms
        comments = sum(
            1
            for thread in self.threads_of(video)
            for comment in (thread.top, *thread.replies)
            if comment.created_ms <= now_ms
        )
        return VideoStats(
            views=saturating(video.views, age, 36.0),
            likes=saturating(video.likes, age, 30.0),
            comments=comments,
        )

    # comments

    def threads_of(self, video: Video) -> tuple[Thread, ...]:
        """Every comment thread the video will ever get, oldest first (none if disabled)."""
        return self._threads_cached(video.number)

    def thread(self, thread_id: str) -> tuple[Video, Thread] | None:
        decoded = decode_thread_id(thread_id)
        if decoded is None:
            return None
        number, index = decoded
        video = self.video(video_id_of(number))
        if video is None:
            return None
        for thread in self.threads_of(video):
            if thread.thread_id == thread_id:
                return video, thread
        return None

    def comments_on(self, channel: Channel, day: date) -> tuple[VideoComment, ...]:
        """Comments and replies created on ``day`` on the channel's videos of the trailing
        week (the day and the six before it), oldest first."""
        start = day_start_ms(day)
        found = [
            comment
            for back in range(TRAILING_DAYS)
            for video in self.videos_on(channel, day - timedelta(days=back))
            for thread in self.threads_of(video)
            for comment in (thread.top, *thread.replies)
            if start <= comment.created_ms < start + DAY_MS
        ]
        return tuple(sorted(found, key=lambda c: (c.created_ms, c.comment_id)))

    # generation

    def _generate_videos(self, slot: int, day: date) -> tuple[Video, ...]:
        channel = self._by_slot[slot]
        account = channel.account
        if not account.exists or not account.spec.active_on(day):
            return ()
        rng = rng_for("yt-videos", account.handle.lower(), day.isoformat())
        mean = channel.upload_rate * _WEEKDAY_FACTOR[day.weekday()]
        count = min(_poisson(rng, mean), MAX_VIDEOS_PER_DAY)
        start = day_start_ms(day)
        times = sorted(start + _upload_time_ms(rng) for _ in range(count))
        return tuple(self._make_video(rng, channel, day, seq, ms) for seq, ms in enumerate(times))

    def _make_video(
        self, rng: random.Random, channel: Channel, day: date, seq: int, published_ms: int
    ) -> Video:
        theme, mission = self.world.theme, channel.account.spec.mission
        language = theme.home_language if rng.random() < 0.15 else "en"
        written = texts.post_text(rng, theme, mission, language)
        words = [w for w in written.text.split() if not w.startswith("#")]
        tags = tuple(w.lstrip("#") for w in written.text.split() if w.startswith("#"))
        title = _title(" ".join(words))
        disabled = rng.random() < COMMENTS_DISABLED_SHARE
        subscribers = self.subscribers_at(channel, published_ms)
        views = int(subscribers * rng.uniform(0.04, 0.45)) + rng.randint(60, 500)
        category_id = rng.choice(("25", "25", "25", "19", "22"))
        duration_s = max(15, min(5_400, int(math.exp(rng.gauss(math.log(150), 0.9)))))
        like_rate = rng.uniform(0.01, 0.05)
        thread_count = 0 if disabled else _thread_count(rng, channel.account.large)
        # a video that draws many comment threads has been watched by far more people than
        # comment (the thread count's heavy tail would otherwise give a small channel's video
        # more comments than views, which no platform reports); same draws in the same order
        views = max(views, thread_count * VIEWS_PER_THREAD)
        return Video(
            channel=channel,
            number=video_number(day, channel.slot, seq),
            seq=seq,
            published_ms=published_ms,
            title=title,
            description=f"{written.text}\n\n{channel.account.spec.mission.name}\n"
            f"{theme.ministry_url}",
            language=written.language,
            tags=tags,
            category_id=category_id,
            duration_s=duration_s,
            comments_disabled=disabled,
            views=views,
            likes=int(views * like_rate),
            thread_count=thread_count,
        )

    def _generate_threads(self, number: int) -> tuple[Thread, ...]:
        video = self.video(video_id_of(number))
        if video is None:
            return ()
        rng = rng_for("yt-threads", video.video_id)
        threads = [self._make_thread(rng, video, index) for index in range(video.thread_count)]
        return tuple(sorted(threads, key=lambda t: (t.top.created_ms, t.thread_id)))

    def _make_thread(self, rng: random.Random, video: Video, index: int) -> Thread:
        channel = video.channel
        created = video.published_ms + _comment_delay_ms(rng)
        top, question = self._audience_comment(
            rng, video, thread_id_of(video.number, index), None, created
        )
        replies: list[VideoComment] = []
        for _ in range(_audience_reply_count(rng)):
            reply_id = f"{top.comment_id}.{_random_id(22, top.comment_id, len(replies))}"
            at = created + _reply_delay_ms(rng)
            reply, _ = self._audience_comment(rng, video, reply_id, top, at)
            replies.append(reply)
        answer_odds = channel.reply_share * (2.0 if question else 0.7)
        if rng.random() < answer_odds:
            text, language = texts.mission_reply_text(
                rng, self.world.theme, channel.account.spec.mission
            )
            at = created + _answer_delay_ms(rng)
            replies.append(
                VideoComment(
                    comment_id=f"{top.comment_id}.{_random_id(22, top.comment_id, 'channel')}",
                    video_id=video.video_id,
                    parent_id=top.comment_id,
                    created_ms=at,
                    updated_ms=at,
                    author=None,
                    text=text,
                    language=language,
                    label=NEUTRAL,
                    likes=_comment_likes(rng) + 1,
                )
            )
        replies.sort(key=lambda c: (c.created_ms, c.comment_id))
        return Thread(top, tuple(replies))

    def _audience_comment(
        self,
        rng: random.Random,
        video: Video,
        comment_id: str,
        parent: VideoComment | None,
        created_ms: int,
    ) -> tuple[VideoComment, bool]:
        """An audience member's comment (a reply when ``parent`` is given), and whether it
        asks a question."""
        account = video.channel.account
        user = self.world.pick_audience_user(rng, account)
        if rng.random() < 0.03:
            language = "zxx"
            label = rng.choices((POSITIVE, NEUTRAL, NEGATIVE), weights=(80, 8, 12))[0]
        else:
            language = user.language
            label = rng.choices((POSITIVE, NEUTRAL, NEGATIVE), weights=(42, 40, 18))[0]
        question = language != "zxx" and label != POSITIVE and rng.random() < 0.2
        text = texts.comment_text(
            rng, self.world.theme, account.spec.mission, language, label, question
        )
        if parent is not None and parent.author is not None and rng.random() < 0.5:
            text = f"{audience_handle(parent.author)} {text}"
        edited = rng.random() < 0.03
        comment = VideoComment(
            comment_id=comment_id,
            video_id=video.video_id,
            parent_id=parent.comment_id if parent is not None else None,
            created_ms=created_ms,
            updated_ms=created_ms + (rng.randint(60_000, 2 * HOUR_MS) if edited else 0),
            author=user,
            text=text,
            language=language,
            label=label,
            likes=_comment_likes(rng),
        )
        return comment, question


@lru_cache(maxsize=4)
def youtube_world(world: World) -> YouTubeWorld:
    """The YouTube view of ``world``, shared within the process."""
    return YouTubeWorld(world)


def youtube_truth(world: World, day: date, as_of_ms: int) -> dict[str, Any]:
    """The day's counts by the pipeline's definitions (see ``truth``): channels that exist
    and are active; videos published that UTC day; comments and replies created that day
    on the channels' videos of the trailing week (none on videos with comments disabled)."""
    yt = youtube_world(world)
    channels = [c for c in yt.channels() if c.account.exists and c.account.spec.active_on(day)]
    posts = sum(
        1
        for channel in channels
        for video in yt.videos_on(channel, day)
        if video.published_ms <= as_of_ms
    )
    comments = [
        comment
        for channel in channels
        for comment in yt.comments_on(channel, day)
        if comment.created_ms <= as_of_ms
    ]
    return summarise_day(len(channels), posts, comments, lambda c: c.by_channel)


def comment_likes_at(comment: VideoComment, now_ms: int) -> int:
    return saturating(comment.likes, now_ms - comment.created_ms, 6.0)


# --- building channels ---------------------------------------------------------------------


def _build_channel(account: Account) -> Channel:
    rng = rng_for("yt-channel", account.handle.lower())
    if account.large:
        subscribers = int(rng.uniform(8_000, 120_000))
        upload_rate = rng.uniform(0.5, 1.6)
    else:
        subscribers = max(80, min(40_000, int(math.exp(rng.gauss(math.log(1_500), 0.9)))))
        dormant = rng.random() < 0.25
        upload_rate = rng.uniform(0.005, 0.04) if dormant else rng.uniform(0.06, 0.43)
    mission = account.spec.mission
    return Channel(
        account=account,
        channel_id=channel_id_for(account),
        subscribers_base=subscribers,
        subscriber_growth_per_day=rng.uniform(0.0001, 0.0008),
        hidden_subscribers=rng.random() < HIDDEN_SUBSCRIBERS_SHARE,
        upload_rate=upload_rate,
        reply_share=0.0 if rng.random() < 0.2 else rng.uniform(0.08, 0.25),
        keywords=" ".join(f'"{part}"' for part in (mission.kind, mission.city) if part),
    )


# --- distributions -------------------------------------------------------------------------


def _upload_time_ms(rng: random.Random) -> int:
    """A moment of the UTC day; uploads cluster in the hours Europe to Asia are at work."""
    hours = rng.gauss(11.0, 5.0) % 24
    return int(hours * HOUR_MS)


def _title(text: str) -> str:
    """A video title from a post text: its first sentence, at most 100 characters."""
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= 100 else first[:99].rstrip() + "\u2026"


# views at least this many times a video's comment threads (about 2.5 % of viewers start one)
VIEWS_PER_THREAD = 40


def _thread_count(rng: random.Random, large: bool) -> int:
    """Heavy-tailed: most videos get a few comments, a few get hundreds."""
    if rng.random() < (0.05 if large else 0.15):
        return 0
    median = 30.0 if large else 8.0
    count = int(math.exp(rng.gauss(math.log(median), 1.2)))
    if rng.random() < 0.01:
        count *= 8
    return min(count, 3_000)


def _audience_reply_count(rng: random.Random) -> int:
    """Most threads get no reply from the audience; a few turn into long discussions."""
    roll = rng.random()
    if roll < 0.015:
        return rng.randint(6, 40)
    if roll < 0.13:
        return rng.randint(1, 3)
    return 0


def _comment_delay_ms(rng: random.Random) -> int:
    """Most comments come in the first day; none after four days."""
    while True:
        hours = math.exp(rng.gauss(math.log(5.0), 1.3))
        if hours * HOUR_MS < COMMENT_WINDOW_MS:
            return max(30_000, int(hours * HOUR_MS))


def _reply_delay_ms(rng: random.Random) -> int:
    minutes = math.exp(rng.gauss(math.log(120), 1.2))
    return int(min(max(minutes, 1.0) * 60_000, REPLY_DELAY_MAX_MS))


def _answer_delay_ms(rng: random.Random) -> int:
    """The channel answers minutes to hours after the comment (median ~3 h, at most 24 h)."""
    minutes = math.exp(rng.gauss(math.log(180), 1.1))
    return int(min(max(minutes, 5.0) * 60_000, REPLY_DELAY_MAX_MS))


def _comment_likes(rng: random.Random) -> int:
    return max(0, int(math.exp(rng.gauss(0.0, 1.4))) - 1)
