"""The policy in the warehouse: Python patterns translated for PostgreSQL, judged alike."""

from __future__ import annotations

import re

import psycopg
import pytest

from missionpulse import pipeline, settings
from missionpulse.policy_tables import PolicyRegexError, normalised_link, postgres_regex
from missionpulse.registry import load_registry


@pytest.mark.parametrize(
    ("python", "postgres"),
    [
        (r"^Pakistan\b.*\b{city}\b", r"^Pakistan\y.*\y{city}\y"),
        (r"\Bx\B", r"\Yx\Y"),
        (r"[\b]", r"[\x08]"),  # a backspace inside brackets, in both
        (r"^(?P<kind>Emb|HC)\d+$", r"^(Emb|HC)\d+$"),
        (r"^pakistan\.(embassy|hc)\.[a-z]+$", r"^pakistan\.(embassy|hc)\.[a-z]+$"),
        (r"[]a]\w\s", r"[]a]\w\s"),
    ],
)
def test_postgres_regex_translates_what_differs(python: str, postgres: str) -> None:
    assert postgres_regex(python) == postgres


@pytest.mark.parametrize("pattern", [r"(?P<a>x)(?P=a)", r"x(?#comment)", r"a(?i)b", r"\N{DASH}"])
def test_postgres_regex_refuses_what_it_cannot_translate(pattern: str) -> None:
    with pytest.raises(PolicyRegexError):
        postgres_regex(pattern)


def test_normalised_link_drops_scheme_www_and_case() -> None:
    assert normalised_link("https://www.MOFA.gov.pk/") == "mofa.gov.pk"
    assert normalised_link("mofa.gov.pk") == "mofa.gov.pk"


SAMPLE_NAMES = [
    "Pakistan Embassy Tokyo",
    "Pakistan Mission to the UN, New York",
    "Embassy of Pakistan, Tokyo",
    "Pakistani Embassy Tokyo",
    "Pakistan Embassy Tokyoite",
    "Pakistan High Commission St. John's",
    "Pakistan High Commission StX John's",
    "Pakistan – Kuala Lumpur",
    "Pakistan 🇵🇰 Embassy, Tokyo",
]
SAMPLE_CITIES = ["Tokyo", "New York", "St. John's", "Kuala Lumpur"]


@pytest.mark.integration
def test_postgres_judges_the_real_policy_as_python_does(warehouse_url: str) -> None:
    """The shipped policy, loaded by the pipeline: every registry handle, and display names
    for cities with regex metacharacters, match in PostgreSQL exactly as in Python."""
    registry = load_registry(settings.config_dir())
    pipeline.ensure_raw_tables(warehouse_url)
    pipeline.load_registry_tables(warehouse_url, registry)  # checks every handle itself
    policy = registry.policy
    with psycopg.connect(warehouse_url) as conn:
        (pattern_pg,) = conn.execute(
            "select display_name_pattern_pg from raw.registry__policy"
        ).fetchone()  # type: ignore[misc]
        for city in SAMPLE_CITIES:
            python = policy.display_name_regex(city)
            for name in SAMPLE_NAMES:
                (judged,) = conn.execute(
                    "select %s ~ replace(%s, '{city}',"
                    " regexp_replace(%s, '([^[:alnum:][:space:]])', '\\\\\\1', 'g'))",
                    (name, pattern_pg, city),
                ).fetchone()  # type: ignore[misc]
                assert judged == (python.search(name) is not None), (city, name)
        handles = conn.execute(
            "select h.platform, h.handle, h.handle ~ p.handle_pattern_pg"
            " from raw.registry__handles h join raw.registry__policy_platforms p using (platform)"
        ).fetchall()
    assert len(handles) == len(registry.handles)
    assert {(p, h): ok for p, h, ok in handles} == {
        (h.platform, h.handle): policy.handle_conforms(h.platform, h.handle)
        for h in registry.handles
    }
    assert not policy.handle_conforms("x", "PakinUSA")
    assert re.fullmatch(policy.platforms["x"].handle_pattern, "PakEmbTokyo")
