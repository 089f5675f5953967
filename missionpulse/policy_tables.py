"""The ministry's policy as warehouse tables, so that dbt's compliance marts read it from SQL.

``config/policy.yaml`` is loaded and validated by :mod:`missionpulse.registry`; this module
writes what the marts need into three raw tables, replaced at every run together with the
registry (one transaction), so an edited policy changes the marts at the next run without
any code change:

- ``raw.registry__policy``: one row (ministry, display-name pattern, bio link and text,
  the reference avatar's perceptual hash, thresholds);
- ``raw.registry__policy_platforms``: one row per platform (handle pattern, minimum posting
  cadence, whether verification is required, whether the platform is required);
- ``raw.registry__compliance_weights``: one row per check and its weight.

The policy's regular expressions are Python ``re`` syntax; PostgreSQL's ``~`` speaks
another dialect (``\\b`` is a backspace there, its word boundary is ``\\y``). Each pattern
is stored twice: as written (for people: the failed-check messages quote it) and translated
for PostgreSQL by :func:`postgres_regex`, which refuses what it cannot translate faithfully.
Handle patterns are also evaluated by PostgreSQL against every registry handle at load, and
a disagreement with Python stops the load, so a translation error can never score silently.
"""

from __future__ import annotations

import re
from typing import Any

from psycopg import errors as pg_errors

from extractors.common.avatar import phash_hex
from missionpulse.registry import CHECK_NAMES, Policy, Registry

# Python escapes whose meaning differs in PostgreSQL's advanced regular expressions (ARE),
# outside bracket expressions: Python word boundary \b / \B is \y / \Y in PostgreSQL.
_ESCAPES_OUTSIDE_CLASS = {"b": r"\y", "B": r"\Y"}
# Python escapes that PostgreSQL reads the same way (or as the same literal character).
_SAME_ESCAPES = frozenset("dDsSwWAZntrfv0123456789")


class PolicyRegexError(ValueError):
    """A policy pattern uses Python syntax that has no faithful PostgreSQL equivalent."""


def postgres_regex(pattern: str) -> str:
    """The Python ``re`` pattern rewritten for PostgreSQL's ``~`` operator (ARE syntax).

    Rewrites ``\\b``/``\\B`` outside brackets to ``\\y``/``\\Y`` and named groups
    ``(?P<name>...)`` to plain groups; everything else the policy needs (classes, ``\\d``
    ``\\w`` ``\\s``, ``(?:...)``, quantifiers, anchors, lookahead) is spelt the same way.
    Python's ``{,n}`` becomes ``{0,n}``. Raises PolicyRegexError for constructs PostgreSQL
    lacks or reads differently (named back-references, comments, flags other than a leading
    ``(?i)``, POSIX brackets such as ``[[:alpha:]]``, counts above 255, some escapes).
    """
    out: list[str] = []
    in_class = False
    i = 0
    leading_flags = _LEADING_FLAGS.match(pattern)
    if leading_flags:
        if set(leading_flags.group(1)) - {"i"}:
            raise PolicyRegexError(
                f"pattern {pattern!r} starts with the flags {leading_flags.group()}, which "
                "PostgreSQL reads differently (only (?i) means the same in both); use (?i) "
                "or character classes"
            )
        out.append("(?i)")
        i = leading_flags.end()
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern):
                raise PolicyRegexError(
                    f"pattern {pattern!r} ends with a lone backslash; remove it or write \\\\"
                )
            nxt = pattern[i + 1]
            if in_class and nxt == "b":
                out.append(r"\x08")  # inside brackets Python's \b is a backspace
            elif not in_class and nxt in _ESCAPES_OUTSIDE_CLASS:
                out.append(_ESCAPES_OUTSIDE_CLASS[nxt])
            elif nxt in _SAME_ESCAPES or not (nxt.isascii() and nxt.isalnum()):
                out.append(char + nxt)  # same meaning, or an escaped punctuation literal
            elif nxt in "xuU":  # \xhh, \uhhhh, \Uhhhhhhhh: same spelling in PostgreSQL
                out.append(char + nxt)
            else:
                raise PolicyRegexError(
                    f"pattern {pattern!r} uses \\{nxt}, which PostgreSQL reads differently; "
                    "write it another way (e.g. a character class)"
                )
            i += 2
            continue
        if in_class:
            if char == "[" and pattern[i + 1 : i + 2] in (":", ".", "="):
                # PostgreSQL reads [:alpha:], [.x.] and [=x=] inside brackets as classes,
                # collating elements and equivalence classes; Python as the characters
                raise PolicyRegexError(
                    f"pattern {pattern!r} has {pattern[i : i + 2]} inside brackets, which "
                    "PostgreSQL reads as a POSIX class and Python as plain characters; "
                    "list the characters instead (e.g. [A-Za-z] for [[:alpha:]])"
                )
            if char == "]" and not _class_just_opened(out):
                in_class = False
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
            i += 1
            continue
        quantifier = _BRACE_QUANTIFIER.match(pattern, i)
        if quantifier:
            out.append(_postgres_quantifier(pattern, quantifier))
            i = quantifier.end()
            continue
        if pattern.startswith("(?P<", i):
            end = pattern.find(">", i)
            if end < 0:
                raise PolicyRegexError(
                    f"pattern {pattern!r} has an unterminated (?P< group; close it with >"
                )
            out.append("(")
            i = end + 1
            continue
        if pattern.startswith(("(?P=", "(?#", "(?("), i):
            raise PolicyRegexError(
                f"pattern {pattern!r} uses {pattern[i : i + 3]}, which PostgreSQL lacks; "
                "rewrite it without named references, comments or conditionals"
            )
        scoped = _SCOPED_FLAGS.match(pattern, i)
        if scoped:
            raise PolicyRegexError(
                f"pattern {pattern!r} sets flags for a group ({scoped.group()}...), which "
                "PostgreSQL lacks; move the flags to the very start instead, e.g. (?i)"
            )
        if pattern.startswith("(?", i) and i > 0 and pattern[i + 2 : i + 3].isalpha():
            raise PolicyRegexError(
                f"pattern {pattern!r} sets flags inside the pattern; PostgreSQL allows them "
                "only at the very start; move them there"
            )
        out.append(char)
        i += 1
    return "".join(out)


# (?i) at the very start means the same in both dialects; other letters do not (Python's s
# and m are PostgreSQL's s and m with other meanings, a/L/u/x have no faithful match).
_LEADING_FLAGS = re.compile(r"\(\?([a-zA-Z]+)\)")
_SCOPED_FLAGS = re.compile(r"\(\?(?:[a-zA-Z]+-?[a-zA-Z]*|-[a-zA-Z]+):")


def anchored_postgres_regex(pattern: str) -> str:
    """The pattern translated for PostgreSQL and anchored at both ends, as Python's
    ``fullmatch`` reads it; a leading (?i) stays first, where PostgreSQL wants it."""
    translated = postgres_regex(pattern)
    flags = "(?i)" if translated.startswith("(?i)") else ""
    return f"{flags}^(?:{translated.removeprefix(flags)})$"


# Python's {m}, {m,}, {,n}, {m,n} and {,}: PostgreSQL has no {,n} (it reads it literally)
# and allows counts up to 255 only.
_BRACE_QUANTIFIER = re.compile(r"\{([0-9]*)(,?)([0-9]*)\}")
_PG_MAX_REPEAT = 255


def _postgres_quantifier(pattern: str, match: re.Match[str]) -> str:
    low_text, comma, high_text = match.groups()
    if not comma and not low_text:
        return match.group()  # "{}" is two literal characters in both dialects
    low = int(low_text) if low_text else 0
    high = int(high_text) if high_text else None
    if not comma:
        high = low
    if low > _PG_MAX_REPEAT or (high is not None and high > _PG_MAX_REPEAT):
        raise PolicyRegexError(
            f"pattern {pattern!r} repeats {match.group()}; PostgreSQL allows at most "
            f"{_PG_MAX_REPEAT} repetitions; use + or a smaller count"
        )
    if not comma:
        return f"{{{low}}}"
    return f"{{{low},}}" if high is None else f"{{{low},{high}}}"


def _class_just_opened(out: list[str]) -> bool:
    """Whether a ']' right now would be the first member of a bracket expression."""
    return bool(out) and (out[-1] == "[" or (out[-1] == "^" and len(out) > 1 and out[-2] == "["))


def normalised_link(link: str) -> str:
    """The bio link as the check matches it: lower case, without scheme, www. or final /."""
    link = re.sub(r"^[a-z][a-z0-9+.-]*://", "", link.strip().lower())
    return link.removeprefix("www.").rstrip("/")


POLICY_DDL = (
    """
    create table if not exists raw.registry__policy (
        ministry_name text not null, ministry_country text not null,
        display_name_pattern text not null, display_name_pattern_pg text not null,
        bio_required_link text not null, bio_required_link_normalised text not null,
        bio_required_text text not null,
        avatar_reference_image text not null, avatar_reference_phash text not null,
        avatar_max_hamming_distance integer not null,
        max_dormant_days integer not null, reply_time_target_hours double precision not null,
        config_sha256 text not null, loaded_at timestamptz not null default now())
    """,
    """
    create table if not exists raw.registry__policy_platforms (
        platform text primary key, handle_pattern text not null,
        handle_pattern_pg text not null, min_posts_per_week double precision not null,
        is_verification_required boolean not null, is_required boolean not null,
        config_sha256 text not null, loaded_at timestamptz not null default now())
    """,
    """
    create table if not exists raw.registry__compliance_weights (
        check_name text primary key, weight double precision not null,
        config_sha256 text not null, loaded_at timestamptz not null default now())
    """,
)


def load_policy_tables(conn: Any, reg: Registry, digest: str) -> None:
    """Replace the three policy tables with ``reg.policy`` (inside the caller's transaction).

    Raises PolicyRegexError when a pattern cannot be translated for PostgreSQL or when
    PostgreSQL and Python disagree on whether a registry handle matches its pattern.
    """
    policy = reg.policy
    for ddl in POLICY_DDL:
        conn.execute(ddl)
    display_pg = postgres_regex(policy.display_name_pattern)
    platform_rows = [
        (
            platform,
            rules.handle_pattern.pattern,
            anchored_postgres_regex(rules.handle_pattern.pattern),
            rules.min_posts_per_week,
            rules.verification_required,
            platform in policy.required_platforms,
            digest,
        )
        for platform, rules in policy.platforms.items()
    ]
    _check_runs_in_postgres(
        conn,
        {
            # {city} becomes an escaped literal in the marts; any word stands in for it here
            "display_name_pattern": display_pg.replace("{city}", "City"),
            **{f"platforms.{row[0]}.handle_pattern": str(row[2]) for row in platform_rows},
        },
    )
    for table in ("registry__policy", "registry__policy_platforms", "registry__compliance_weights"):
        conn.execute(f"delete from raw.{table}")
    conn.execute(
        """
        insert into raw.registry__policy
          (ministry_name, ministry_country, display_name_pattern, display_name_pattern_pg,
           bio_required_link, bio_required_link_normalised, bio_required_text,
           avatar_reference_image, avatar_reference_phash, avatar_max_hamming_distance,
           max_dormant_days, reply_time_target_hours, config_sha256)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            policy.ministry_name,
            policy.ministry_country,
            policy.display_name_pattern,
            display_pg,
            policy.bio_required_link,
            normalised_link(policy.bio_required_link),
            policy.bio_required_text,
            policy.avatar_reference_image.name,
            phash_hex(policy.avatar_reference_image.read_bytes()),
            policy.avatar_max_hamming_distance,
            policy.max_dormant_days,
            policy.reply_time_target_hours,
            digest,
        ),
    )
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw.registry__policy_platforms values (%s, %s, %s, %s, %s, %s, %s)",
            platform_rows,
        )
        cur.executemany(
            "insert into raw.registry__compliance_weights values (%s, %s, %s)",
            [(check, policy.compliance_weights[check], digest) for check in CHECK_NAMES],
        )
    _check_translation(conn, reg, policy)


def _check_runs_in_postgres(conn: Any, patterns: dict[str, str]) -> None:
    """PostgreSQL must accept every translated pattern: some Python syntax has no error in
    Python and one in PostgreSQL (a quantified lookahead such as ``(?=a)*``), which would
    otherwise surface only in the middle of the dbt run."""
    for key, pattern in patterns.items():
        try:
            with conn.transaction():  # a savepoint: the caller's transaction stays usable
                conn.execute("select '' ~ %s", (pattern,))
        except pg_errors.InvalidRegularExpression as error:
            raise PolicyRegexError(
                f"config/policy.yaml: {key} cannot be run by PostgreSQL "
                f"({error.diag.message_primary}; translated as {pattern!r}); rewrite the "
                "pattern in plainer syntax"
            ) from None


def _check_translation(conn: Any, reg: Registry, policy: Policy) -> None:
    """PostgreSQL must judge every registry handle's name exactly as Python does."""
    with conn.cursor() as cur:
        cur.executemany(
            "select %s, %s, %s ~ handle_pattern_pg from raw.registry__policy_platforms "
            "where platform = %s",
            [(h.platform, h.handle, h.handle, h.platform) for h in reg.handles],
            returning=True,
        )
        judged = []
        while True:
            judged.extend(cur.fetchall())
            if not cur.nextset():
                break
    disagreements = [
        f"{platform} handle {handle}: PostgreSQL says {pg}, Python says "
        f"{policy.handle_conforms(platform, handle)}"
        for platform, handle, pg in judged
        if pg != policy.handle_conforms(platform, handle)
    ]
    if disagreements:
        raise PolicyRegexError(
            "the policy's handle patterns do not translate faithfully to PostgreSQL ("
            + "; ".join(disagreements[:5])
            + "); simplify the pattern in config/policy.yaml"
        )
