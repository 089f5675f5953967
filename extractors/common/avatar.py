"""Perceptual hashes of profile pictures, for the policy's avatar check.

The compliance mart compares each handle's profile picture with the ministry's reference
emblem by the Hamming distance between 64-bit perceptual hashes (pHash: the signs of the
low-frequency DCT coefficients of a 32x32 greyscale image against their median). Re-encoding
or resizing a picture moves a few bits; a different picture moves about half of them.

Hashes travel as 16 lower-case hex digits, so SQL can compare them:
``bit_count(('x' || a)::bit(64) # ('x' || b)::bit(64))``.

Each extractor downloads a handle's picture from the URL its API returned (``AvatarFetcher``)
and lands the hashes beside the profile, in the record's top-level ``avatar`` block.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import requests
from PIL import Image, UnidentifiedImageError

from extractors.common.errors import ExtractError

if TYPE_CHECKING:
    from extractors.common.http import ApiClient

log = logging.getLogger(__name__)

HASH_SIZE = 8
_SAMPLE = HASH_SIZE * 4


class AvatarError(ValueError):
    """The bytes are not an image that Pillow can read."""


@cache
def _dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix of size ``n`` (so ``M @ x @ M.T`` is the 2-D DCT)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0] /= np.sqrt(2.0)
    return matrix


def phash_hex(image_bytes: bytes) -> str:
    """The 64-bit perceptual hash of an image, as 16 hex digits."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            grey = image.convert("L").resize((_SAMPLE, _SAMPLE), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError) as exc:
        raise AvatarError(f"not a readable image ({len(image_bytes)} bytes): {exc}") from exc
    pixels = np.asarray(grey, dtype=np.float64)
    dct = _dct_matrix(_SAMPLE)
    coefficients = (dct @ pixels @ dct.T)[:HASH_SIZE, :HASH_SIZE]
    low = coefficients.flatten()
    bits = low > np.median(low[1:])  # the DC term is left out of the median
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:016x}"


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two hex hashes of the same length."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def sha256_hex(image_bytes: bytes) -> str:
    return hashlib.sha256(image_bytes).hexdigest()


class AvatarFetcher:
    """Downloads and hashes the profile pictures of one run, each URL once.

    ``describe`` gives the ``avatar`` block that goes into a profile's landed record:
    ``{"url", "sha256", "phash", "error"}``. A picture that cannot be downloaded or read
    leaves ``sha256``/``phash`` null and says why in ``error``; it never fails the handle.
    """

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._by_url: dict[str, dict[str, str | None]] = {}
        self.downloaded = 0
        self.failed = 0

    def describe(self, url: object, handle: str) -> dict[str, str | None]:
        if not isinstance(url, str) or not url:
            return _block(None, error="the profile carries no picture URL")
        if url not in self._by_url:
            self._by_url[url] = self._download(url, handle)
        return dict(self._by_url[url])

    def stats(self) -> dict[str, int]:
        return {"avatar_downloads": self.downloaded, "avatar_errors": self.failed}

    def _download(self, url: str, handle: str) -> dict[str, str | None]:
        try:
            image = self.client.get_media(url, handle=handle, check=phash_hex)
        except (ExtractError, requests.RequestException) as err:
            self.failed += 1
            error = self.client.redact(str(err))
            log.warning("%s: profile picture not hashed: %s", handle, error)
            return _block(url, error=error)
        self.downloaded += 1
        return _block(url, sha256=sha256_hex(image), phash=phash_hex(image))


def avatar_url(profile: Mapping[str, Any], *path: str) -> object:
    """The value at ``path`` inside a profile object (None where any step is missing)."""
    value: object = profile
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _block(
    url: str | None,
    *,
    sha256: str | None = None,
    phash: str | None = None,
    error: str | None = None,
) -> dict[str, str | None]:
    return {"url": url, "sha256": sha256, "phash": phash, "error": error}
