"""Perceptual hashes of profile pictures, for the policy's avatar check.

The compliance mart compares each handle's profile picture with the ministry's reference
emblem by the Hamming distance between 64-bit perceptual hashes (pHash: the signs of the
low-frequency DCT coefficients of a 32x32 greyscale image against their median). Re-encoding
or resizing a picture moves a few bits; a different picture moves about half of them.

Hashes travel as 16 lower-case hex digits, so SQL can compare them:
``bit_count(('x' || a)::bit(64) # ('x' || b)::bit(64))``.
"""

from __future__ import annotations

import hashlib
import io
from functools import cache

import numpy as np
from PIL import Image, UnidentifiedImageError

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
