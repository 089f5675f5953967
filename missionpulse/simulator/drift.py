"""Schema drift: the same data, but the shape an extractor must tolerate.

Platforms add fields without notice, omit optional ones, and never promise key order. With
the ``drift`` mode on, every object that has an ``id`` is rewritten deterministically: some
of the platform's optional fields are dropped, the platform's "new" fields are added, and
the keys come in reverse order. Identifiers, timestamps and counts are never touched, so
the counts an extractor lands must equal the truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from missionpulse.simulator.world import stable_int


def drift(payload: Any, optional: frozenset[str], extra: Mapping[str, Any], salt: str = "") -> Any:
    """``payload`` with drift applied to every object carrying an ``id``."""
    if isinstance(payload, list):
        return [drift(item, optional, extra, salt) for item in payload]
    if not isinstance(payload, dict):
        return payload
    out = {key: drift(value, optional, extra, salt) for key, value in payload.items()}
    if "id" in out:
        roll = stable_int("drift", salt, str(out["id"]))
        for number, field in enumerate(sorted(optional & out.keys())):
            if (roll >> number) & 1:
                del out[field]
        out.update(extra)
    return dict(reversed(list(out.items())))
