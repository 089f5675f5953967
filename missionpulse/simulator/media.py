"""Profile pictures: the image bytes behind the CDN URLs the simulated APIs return.

The APIs hand out real-looking CDN URLs (``https://pbs.twimg.com/...``,
``https://scontent.xx.fbcdn.net/...``, ``https://yt3.ggpht.com/...``). The simulator serves
their bytes under ``/__media__/<cdn-host>/<path>``; a client in simulator mode is told that
prefix (``missionpulse.platforms.connection().media_base``) and fetches there what it would
fetch from the CDN in production.

Most accounts (``Account.avatar_conforming``) show the ministry's reference emblem as a CDN
shows an upload: resized to the URL's size and re-encoded as JPEG at a quality of its own
(its perceptual hash moves a few bits). The others show another picture: a deterministic
"old photo" of the handle (sky, ground, a figure, film grain), whose hash is far from the
emblem's. Each API says which URLs it handed out (its ``avatars()``), so no URL is guessed.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from missionpulse.simulator.faults import RATE_LIMIT, Fault
from missionpulse.simulator.messages import Request, Response
from missionpulse.simulator.world import Account, World, rng_for

MEDIA_PREFIX = "/__media__/"
DEFAULT_REFERENCE = (
    Path(__file__).resolve().parents[2] / "config" / "assets" / "reference_avatar.png"
)


@dataclass(frozen=True)
class Avatar:
    """A profile-picture URL an API hands out, whose account it shows, at what size."""

    url: str
    account: Account
    size: int


class AvatarSource(Protocol):
    def avatars(self) -> Iterable[Avatar]: ...


def media_path(url: str) -> str:
    """The simulator path serving a CDN ``url`` (``https://host/p`` -> ``/__media__/host/p``)."""
    scheme, _, rest = url.partition("://")
    return MEDIA_PREFIX + (rest if scheme else url).split("?", 1)[0]  # the query is not the path


class MediaApi:
    """The stand-in CDN: serves each avatar URL's image, 404 for any other."""

    def __init__(self, world: World, sources: Iterable[AvatarSource]) -> None:
        self.world = world
        self._sources = tuple(sources)
        self._index: dict[str, Avatar] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith(MEDIA_PREFIX)

    def avatar(self, url: str) -> Avatar | None:
        """The avatar behind a CDN URL the APIs handed out (None: not one of theirs)."""
        return self._avatars().get(media_path(url))

    def respond(self, request: Request, now: datetime) -> Response:
        found = self._avatars().get(request.path)
        if found is None:
            return _text(404, "Not Found")
        body = avatar_bytes(
            found.account.platform,
            found.account.handle.lower(),
            found.account.avatar_conforming,
            found.size,
            self.world.reference_avatar or DEFAULT_REFERENCE,
        )
        return Response(
            200,
            body,
            {"content-type": "image/jpeg", "cache-control": "max-age=1209600, no-transform"},
        )

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """How a CDN fails: 429 with ``Retry-After``, or a 5xx with a short text body."""
        if fault.kind == RATE_LIMIT:
            response = _text(429, "Too Many Requests")
            response.headers["retry-after"] = "1"
            return response
        return _text((500, 502, 503)[fault.variant % 3], "Service Unavailable")

    def _avatars(self) -> dict[str, Avatar]:
        with self._lock:
            if self._index is None:
                self._index = {
                    media_path(avatar.url): avatar
                    for source in self._sources
                    for avatar in source.avatars()
                }
            return self._index


def _text(status: int, message: str) -> Response:
    return Response(status, message.encode(), {"content-type": "text/plain; charset=utf-8"})


# --- the pictures ------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def avatar_bytes(platform: str, handle: str, conforming: bool, size: int, reference: Path) -> bytes:
    """The JPEG a CDN serves for one account's picture at ``size`` x ``size`` pixels."""
    rng = rng_for("avatar-encoding", platform, handle)
    quality = rng.randint(68, 92)
    if conforming:
        with Image.open(reference) as source:
            picture = source.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    else:
        picture = old_photo(platform, handle).resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def old_photo(platform: str, handle: str, side: int = 256) -> Image.Image:
    """A deterministic picture that is not the emblem: a faded snapshot of a building and a
    figure in front of it, different for every handle."""
    rng = rng_for("old-photo", platform, handle)
    tint = (rng.randint(150, 220), rng.randint(120, 190), rng.randint(80, 150))
    image = Image.new("RGB", (side, side), tint)
    draw = ImageDraw.Draw(image)
    horizon = rng.randint(side // 3, 2 * side // 3)
    for y in range(horizon):  # a sky that darkens upwards
        shade = int(255 * (0.45 + 0.5 * y / horizon))
        draw.line([(0, y), (side, y)], fill=(shade, shade, min(255, shade + 20)))
    ground = (rng.randint(60, 120), rng.randint(50, 100), rng.randint(30, 70))
    draw.rectangle([0, horizon, side, side], fill=ground)
    for _ in range(rng.randint(2, 4)):  # buildings on the horizon
        left = rng.randint(0, side - 40)
        width, height = rng.randint(30, 90), rng.randint(30, horizon)
        grey = rng.randint(70, 200)
        draw.rectangle(
            [left, horizon - height, left + width, horizon], fill=(grey, grey, grey - 10)
        )
    centre = rng.randint(side // 4, 3 * side // 4)  # a figure in the foreground
    head = rng.randint(18, 32)
    top = rng.randint(side // 4, side // 2)
    draw.ellipse([centre - head, top, centre + head, top + 2 * head], fill=(90, 60, 45))
    draw.rectangle(
        [centre - 2 * head, top + 2 * head, centre + 2 * head, side], fill=(30, 30, 50 + head)
    )
    noise = np.random.default_rng(rng.getrandbits(64)).normal(0.0, 18.0, (side, side, 1))
    grainy = np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(grainy, "RGB").filter(ImageFilter.GaussianBlur(1))
