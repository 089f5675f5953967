"""Keyed pseudonyms for audience identifiers.

Commenters are private people: their platform ids are replaced by an HMAC-SHA256 of
(platform, id) under a key from the environment before anything is written, so the
landing zone, the warehouse and the marts never hold them. The same person gets the same
pseudonym on every run (so repeat commenters can still be counted) as long as the key is
unchanged; without the key the mapping cannot be reversed or recomputed.
"""

from __future__ import annotations

import hashlib
import hmac


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError(
                "the pseudonymisation key must be at least 16 bytes; set "
                "MISSIONPULSE_PSEUDONYM_KEY to a long random secret"
            )
        self._key = key

    def __call__(self, platform: str, identifier: str) -> str:
        digest = hmac.new(self._key, f"{platform}:{identifier}".encode(), hashlib.sha256)
        return "anon_" + digest.hexdigest()[:24]
