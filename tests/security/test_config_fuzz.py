"""Hostile registry and policy files: clear errors, and exact round trips through SQL.

tests/missionpulse/test_registry.py already shows that random cells and random file tails
raise nothing but RegistryError. This module fuzzes the values a hostile or careless editor
writes on purpose (quotes, semicolons, ``$$``, backslashes, NULs, bidi overrides, emoji,
huge strings, invalid and catastrophic regular expressions) and checks what the loader
says about each: the file, the line of the mission or key, the field, and what to do. What
loads is then written to a warehouse by the pipeline's own loader and must come back
byte for byte; every policy pattern that loads must be one PostgreSQL can run.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg import sql

from missionpulse import db, pipeline
from missionpulse import settings as mp_settings
from missionpulse.policy_tables import (
    PolicyRegexError,
    anchored_postgres_regex,
    postgres_regex,
)
from missionpulse.registry import (
    MAX_FIELD_CHARS,
    Registry,
    RegistryError,
    load_registry,
)

SHIPPED = mp_settings.project_root() / "config"
MISSIONS = Path("registry/missions.csv")
POLICY = Path("policy.yaml")
FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
CSV_FIELD_LIMIT = csv.field_size_limit()
# an error a person reads ends by saying what to do
WHAT_TO_DO = re.compile(r"; (?:fix|rewrite|write|list|use|remove|move|close|fill)\b")

HOSTILE_PIECES = [
    "'",
    '"',
    "''",
    ";",
    "$$",
    "$body$",
    "\\",
    "\\'",
    "\\\\",
    "%s",
    "%(name)s",
    "{}",
    "{city}",
    "--",
    "/*",
    "*/",
    "E'\\x00'",
    "'); drop table raw.registry__missions; --",
    '"; drop schema raw cascade; --',
    "${jndi:ldap://example}",
    "<script>alert(1)</script>",
    ",",
    "\x00",
    "\x1b[31m",
    "\t",
    "\n",
    "\r\n",
    "\u202e",
    "\u2066",
    "\u00a0",
    "\u200b",
    "\ufeff",
    "\u2028",
    "\u0301",
    "😀",
    "🇵🇰",
    "ß",
    "İ",
    "Côte d'Ivoire",
    "São Tomé",
    "Zürich",
    "中华人民共和国",
    "العربية",
    "עברית",
    "Москва",
    "\U0010fffd",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=12)), min_size=1, max_size=10
).map("".join)
huge_text = st.sampled_from(["x", "'", "$$", "\\", "é"]).flatmap(
    lambda piece: st.integers(150, 1_000).map(lambda n: piece * n)
)

FUZZ = settings(
    max_examples=120,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target)
    return target


# --- the registry's free-text cells -----------------------------------------------------


def write_mission_cell(config: Path, column: str, value: str, *, fresh: bool = True) -> int:
    """Put ``value`` into ``column`` of the first mission (quoted as CSV needs); its line.
    ``fresh``: the other cells come from the shipped file (hypothesis reuses one folder)."""
    path = config / MISSIONS
    with ((SHIPPED if fresh else config) / MISSIONS).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][rows[0].index(column)] = value
    buffer = io.StringIO()
    # QUOTE_ALL: with "\n" as line end, QUOTE_MINIMAL leaves a bare "\r" unquoted
    csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return 2


def test_a_bare_carriage_return_is_named_as_a_line_break(config: Path) -> None:
    """An old-Mac line end inside an unquoted cell splits the record in two."""
    path = config / MISSIONS
    lines = (SHIPPED / MISSIONS).read_text(encoding="utf-8").split("\n")
    lines[1] = lines[1].replace(",Washington,", ",Wash\rington,", 1)
    path.write_text("\n".join(lines), encoding="utf-8", newline="")
    with pytest.raises(RegistryError) as caught:
        load_registry(config)
    missions = [p for p in caught.value.problems if p.file == path]
    assert [p.line for p in missions] == [2, 3]
    assert all("line break" in p.message for p in missions), missions


@FUZZ
@given(
    column=st.sampled_from(["name", "city", "country", "region"]),
    value=st.one_of(hostile_text, huge_text),
)
def test_hostile_mission_text_loads_verbatim_or_is_named(
    config: Path, column: str, value: str
) -> None:
    line = write_mission_cell(config, column, value)
    expected = value.strip()
    try:
        registry = load_registry(config)
    except RegistryError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == config / MISSIONS, problem
            assert problem.line == line, problem  # the mission's own line
            assert problem.message.startswith(column) or "CSV" in problem.message, problem
            assert "; " in problem.message  # ... and what to do about it
        if len(value) > CSV_FIELD_LIMIT:
            return
        # refused only for a reason the rules give
        assert not expected or len(expected) > MAX_FIELD_CHARS or FORBIDDEN.search(expected), error
        return
    mission = registry.missions[0]
    assert getattr(mission, column) == expected
    assert expected and len(expected) <= MAX_FIELD_CHARS and not FORBIDDEN.search(expected)


# --- the policy's text values ----------------------------------------------------------------

POLICY_TEXT_KEYS = {
    "ministry.name": ("ministry", "name"),
    "ministry.country": ("ministry", "country"),
    "bio.required_link": ("bio", "required_link"),
    "bio.required_text": ("bio", "required_text"),
}


def set_policy_value(config: Path, dotted: str, value: str, *, fresh: bool = True) -> int:
    """Replace the value of ``dotted`` in policy.yaml by ``value`` written as YAML writes a
    string (double-quoted, escaped); returns the key's line. ``fresh``: the rest is the
    shipped file."""
    path = config / POLICY
    lines = ((SHIPPED if fresh else config) / POLICY).read_text(encoding="utf-8").splitlines()
    parent, key = dotted.split(".")
    start = next(i for i, text in enumerate(lines) if text.startswith(f"{parent}:"))
    index = next(i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith(f"{key}:"))
    scalar = yaml.safe_dump(value, default_style='"', allow_unicode=True, width=10**9)
    scalar = scalar.removesuffix("\n...\n").strip()
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index] = f"{indent}{key}: {scalar}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index + 1


@FUZZ
@given(dotted=st.sampled_from(sorted(POLICY_TEXT_KEYS)), value=st.one_of(hostile_text, huge_text))
def test_hostile_policy_text_loads_verbatim_or_is_named(
    config: Path, dotted: str, value: str
) -> None:
    line = set_policy_value(config, dotted, value)
    try:
        registry = load_registry(config)
    except RegistryError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == config / POLICY, problem
            assert problem.line == line, problem
            assert dotted in problem.message or "YAML" in problem.message, problem
        assert not value.strip() or FORBIDDEN.search(value), error
        return
    policy = registry.policy
    loaded = {
        "ministry.name": policy.ministry_name,
        "ministry.country": policy.ministry_country,
        "bio.required_link": policy.bio_required_link,
        "bio.required_text": policy.bio_required_text,
    }[dotted]
    assert loaded == value


# --- the policy's regular expressions --------------------------------------------------------

REGEX_PIECES = [
    "a",
    "Pak",
    "[A-Z]",
    "[a-z]",
    "[^a]",
    "[]a]",
    "[\\b]",
    "\\d",
    "\\w",
    "\\s",
    "\\b",
    "\\B",
    "\\A",
    "\\Z",
    "\\.",
    ".",
    "(",
    ")",
    "(?:",
    "(?P<name>",
    "(?P=name)",
    "(?=a)",
    "(?!a)",
    "(?<=a)",
    "(?i)",
    "(?s)",
    "(?i:",
    "(?#note)",
    "|",
    "*",
    "+",
    "?",
    "*?",
    "{2}",
    "{2,}",
    "{,3}",
    "{99999999999}",
    "{300}",
    "{,}",
    "{}",
    "{x}",
    "^",
    "$",
    "'",
    "$$",
    ";",
    "\\\\",
    "\\'",
    "é",
    "\\u00e9",
    "\\x41",
    "\\0",
    "\\1",
    "\\p",
    "\\N{EM DASH}",
    "[[:alpha:]]",
    "{city}",
    "(a+)+",
    "(\\w+\\s?)*",
]
regex_text = st.lists(st.sampled_from(REGEX_PIECES), min_size=1, max_size=8).map("".join)
REGEX_KEYS = ["platforms.x.handle_pattern", "platforms.youtube.handle_pattern"]
# handle-like names (what the platforms allow) to compare PostgreSQL's and Python's verdicts
PROBES = [  # never "": no platform issues an empty handle (and \B differs on it)
    "a",
    "b",
    "A",
    "P",
    "Pa",
    "Pak",
    "pak",
    "PaK",
    "Pakk",
    "PakPak",
    "PakE",
    "PakEmb",
    "PakEmbTokyo",
    "PakCGDubai",
    "pakistan.embassy.tokyo",
    "Pak_1",
    "Pak12",
    "Pak1",
    "a1",
    "1",
    "_",
    ".",
    "-",
    "a.b",
    "aaaa",
    "Paka",
    "Pak]",
]


def set_handle_pattern(config: Path, platform: str, pattern: str) -> int:
    """The shipped policy with ``pattern`` as the platform's handle_pattern; its line."""
    path = config / POLICY
    lines = (SHIPPED / POLICY).read_text(encoding="utf-8").splitlines()
    start = next(i for i, text in enumerate(lines) if text.strip() == f"{platform}:")
    index = next(i for i in range(start, len(lines)) if "handle_pattern:" in lines[i])
    scalar = yaml.safe_dump(pattern, default_style="'", allow_unicode=True, width=10**9)
    lines[index] = "    handle_pattern: " + scalar.removesuffix("\n...\n").strip()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index + 1


def compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


@FUZZ
@given(key=st.sampled_from(REGEX_KEYS), pattern=regex_text)
# found by the fuzz on 2026-11-29: its message said "put ..." instead of what to do
@example(key="platforms.x.handle_pattern", pattern="(?i:)")
def test_policy_patterns_are_usable_everywhere_or_named(
    config: Path, key: str, pattern: str
) -> None:
    platform = key.split(".")[1]
    line = set_handle_pattern(config, platform, pattern)
    started = time.monotonic()
    try:
        registry = load_registry(config)
        registry.summary()  # matches every handle against its pattern, in Python
    except RegistryError as error:
        assert [(p.file, p.line) for p in error.problems] == [(config / POLICY, line)], error
        message = error.problems[0].message
        assert message.startswith(key), message
        assert WHAT_TO_DO.search(message), message
        return
    finally:
        assert time.monotonic() - started < 5, f"{pattern!r} took too long to load"
    # what loads compiles in Python and translates for PostgreSQL
    assert compiles(pattern)
    postgres_regex(registry.policy.platforms[platform].handle_pattern.pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        "^(a+)+$",
        "^(Pak|[A-Za-z]+)*$",
        "^(?:\\w+\\s?)+$",
        "^([A-Za-z0-9]*_?)*$",
        "^Pak(?:[A-Z][a-z]*){1,}$",
    ],
)
def test_catastrophic_patterns_are_refused_before_they_run(config: Path, pattern: str) -> None:
    line = set_handle_pattern(config, "facebook", pattern)
    with pytest.raises(RegistryError) as caught:
        load_registry(config)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == (config / POLICY, line)
    assert "platforms.facebook.handle_pattern" in problem.message
    assert "exponential" in problem.message


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("^Pak(", "not a valid regular expression"),
        ("^Pak[A-Z", "not a valid regular expression"),
        ("^Pak\\p{L}+$", "not a valid regular expression"),
        ("^(?P<m>Pak)(?P=m)$", "cannot be used by the warehouse"),
        ("^Pak(?#comment)[A-Z]+$", "cannot be used by the warehouse"),
        ("^Pak\\N{EM DASH}$", "cannot be used by the warehouse"),
        ("^Pak[A-Z]{256}$", "at most 255 repetitions"),
        ("^Pak[[:alpha:]]+$", "POSIX class"),
        ("(?s)^Pak.+$", "only (?i) means the same"),
        ("^(?i:pak)[A-Z]+$", "sets flags for a group"),
        ("(" * 500 + ")" * 500, "too deeply nested"),
    ],
)
def test_unusable_patterns_name_the_key(config: Path, pattern: str, fragment: str) -> None:
    line = set_handle_pattern(config, "x", pattern)
    with pytest.raises(RegistryError) as caught:
        load_registry(config)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == (config / POLICY, line)
    assert problem.message.startswith("platforms.x.handle_pattern"), problem.message
    assert fragment in problem.message, problem.message


# --- round trip through the warehouse --------------------------------------------------------


class Scratch(str):
    """A connection string that does not show its password when hypothesis prints a
    failing example's arguments."""

    def __repr__(self) -> str:
        return "Scratch(<the module's scratch database>)"


@pytest.fixture(scope="module")
def scratch_url(warehouse_url: str) -> Iterator[str]:
    """A database of its own in the session's cluster, so that loading fuzzed registries
    never touches the registry tables the other modules read."""
    name = "missionpulse_security_fuzz"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = Scratch(psycopg.conninfo.make_conninfo(warehouse_url, dbname=name))
    db.ensure_schemas(url)
    yield url
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


valid_text = hostile_text.map(
    lambda v: FORBIDDEN.sub("", v).strip()[:MAX_FIELD_CHARS].strip()
).filter(bool)


def read_back(url: str) -> tuple[list[tuple[str, ...]], tuple[str, ...], list[tuple[str, str]]]:
    with psycopg.connect(url) as conn:
        missions = conn.execute(
            "select mission_id, name, city, country, region from raw.registry__missions "
            "order by mission_id"
        ).fetchall()
        policy = conn.execute(
            "select ministry_name, ministry_country, bio_required_link, bio_required_text, "
            "display_name_pattern from raw.registry__policy"
        ).fetchall()
        platforms = conn.execute(
            "select platform, handle_pattern from raw.registry__policy_platforms order by 1"
        ).fetchall()
    assert len(policy) == 1
    return [tuple(m) for m in missions], tuple(policy[0]), [tuple(p) for p in platforms]


@pytest.mark.integration
@settings(FUZZ, max_examples=25)  # each example loads the registry into the warehouse
@given(
    names=st.lists(valid_text, min_size=4, max_size=4),
    ministry=st.lists(valid_text, min_size=4, max_size=4),
)
def test_hostile_config_round_trips_through_the_loader_exactly(
    tmp_path_factory: pytest.TempPathFactory,
    scratch_url: str,
    names: list[str],
    ministry: list[str],
) -> None:
    config = tmp_path_factory.mktemp("fuzz") / "config"
    shutil.copytree(SHIPPED, config)
    for column, value in zip(("name", "city", "country", "region"), names, strict=True):
        write_mission_cell(config, column, value, fresh=False)
    for dotted, value in zip(sorted(POLICY_TEXT_KEYS), ministry, strict=True):
        set_policy_value(config, dotted, value, fresh=False)
    registry: Registry = load_registry(config)

    pipeline.load_registry_tables(scratch_url, registry)

    missions, policy, platforms = read_back(scratch_url)
    assert missions == sorted(
        (m.mission_id, m.name, m.city, m.country, m.region) for m in registry.missions
    )
    first = next(m for m in missions if m[0] == registry.missions[0].mission_id)
    assert first[1:] == tuple(names)
    p = registry.policy
    assert policy == (
        p.ministry_name,
        p.ministry_country,
        p.bio_required_link,
        p.bio_required_text,
        p.display_name_pattern,
    )
    assert dict(zip(sorted(POLICY_TEXT_KEYS), ministry, strict=True)) == {
        "bio.required_link": p.bio_required_link,
        "bio.required_text": p.bio_required_text,
        "ministry.country": p.ministry_country,
        "ministry.name": p.ministry_name,
    }
    assert platforms == sorted((k, v.handle_pattern.pattern) for k, v in p.platforms.items())


def check_pattern_in_postgres(folder: Path, scratch_url: str, pattern: str) -> None:
    """A pattern the loader accepts is stored exactly, PostgreSQL runs its translation (no
    SQL error) and judges handle-like names as Python does; or the load says why not."""
    config = folder / "config"
    shutil.copytree(SHIPPED, config)
    set_handle_pattern(config, "x", pattern)
    try:
        registry = load_registry(config)
    except RegistryError:
        return  # named and explained: the tests above
    try:
        pipeline.load_registry_tables(scratch_url, registry)
    except PolicyRegexError as error:
        # PostgreSQL and Python disagree on some handle: refused, naming the policy file
        assert "config/policy.yaml" in str(error), error
        return
    with psycopg.connect(scratch_url) as conn:
        stored = conn.execute(
            "select handle_pattern, handle_pattern_pg from raw.registry__policy_platforms "
            "where platform = 'x'"
        ).fetchone()
        judged = conn.execute(
            "select probe, probe ~ handle_pattern_pg from unnest(%s::text[]) as probe, "
            "raw.registry__policy_platforms where platform = 'x'",
            (PROBES,),
        ).fetchall()
    assert stored == (pattern, anchored_postgres_regex(pattern))
    policy = registry.policy
    assert {probe: ok for probe, ok in judged} == {
        probe: policy.handle_conforms("x", probe) for probe in PROBES
    }, pattern


@pytest.mark.integration
@settings(FUZZ, max_examples=60)  # each example loads the registry into the warehouse
@given(pattern=regex_text)
def test_every_loadable_pattern_runs_in_postgres_as_in_python(
    tmp_path_factory: pytest.TempPathFactory, scratch_url: str, pattern: str
) -> None:
    check_pattern_in_postgres(tmp_path_factory.mktemp("fuzz"), scratch_url, pattern)


@pytest.mark.integration
@pytest.mark.parametrize(
    "pattern",
    [
        "^Pak{,3}$",
        "^Pa{,}k$",
        "^Pak{}$",
        "^Pak{x}$",
        "^Pak{2}[a-z]{1,255}$",
        "^Pak[[:alpha:]]+$",
        "^(?i)pak\\w+$",
        "^Pak\\d{2,}$",
        "^Pak.{0,5}$",
        "^Pak[]a]+$",
        "^Pak[\\b]?$",
        "^(?:Pak|Emb)+\\Z",
        "(?i)^pak[a-z]+$",
        "(?=a){,}",
        "^Pak(?=E)*[A-Za-z]+$",
        "^Pak(?=E)\\w+$",
    ],
)
def test_edge_patterns_run_in_postgres_as_in_python(
    tmp_path: Path, scratch_url: str, pattern: str
) -> None:
    check_pattern_in_postgres(tmp_path, scratch_url, pattern)
