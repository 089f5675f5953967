"""The registry of missions and handles, and the ministry's policy: loaded and validated.

The registry (``config/registry/missions.csv`` and ``handles.csv``) says which accounts
MissionPulse monitors; the policy (``config/policy.yaml``) says what the ministry expects of
them. People edit these files, so loading checks everything and reports every problem at
once, each as ``path:line: message``, in one :class:`RegistryError`; nothing downstream runs
on a registry that did not load cleanly.

Two kinds of defect are kept apart on purpose. A handle that breaks the ministry's naming
convention (``handle_pattern``) loads: that is a compliance finding, scored later. A handle
that no platform could ever issue (wrong characters or length) is a load error.
"""

from __future__ import annotations

import csv
import importlib
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from missionpulse import settings

MISSIONS_FILE = Path("registry") / "missions.csv"
HANDLES_FILE = Path("registry") / "handles.csv"
POLICY_FILE = Path("policy.yaml")

MISSION_TYPES: tuple[str, ...] = (
    "embassy",
    "high_commission",
    "consulate_general",
    "consulate",
    "permanent_mission",
)
CHECK_NAMES: tuple[str, ...] = (
    "required_platforms",
    "handle_naming",
    "display_name",
    "bio_link",
    "bio_text",
    "avatar",
    "verification",
    "posting_cadence",
    "not_dormant",
    "reply_time",
)
MISSION_COLUMNS: tuple[str, ...] = (
    "mission_id",
    "name",
    "mission_type",
    "city",
    "country",
    "country_code",
    "region",
    "active_from",
    "active_to",
)
HANDLE_COLUMNS: tuple[str, ...] = (
    "mission_id",
    "platform",
    "handle",
    "platform_account_id",
    "active_from",
    "active_to",
)
MAX_FIELD_CHARS = 200
TOTAL_WEIGHT = 100

# What each platform itself allows, as (pattern, description for the error message).
HANDLE_RULES: Mapping[str, tuple[re.Pattern[str], str]] = MappingProxyType(
    {
        "x": (re.compile(r"[A-Za-z0-9_]{1,15}"), "1-15 letters, digits or underscores"),
        "facebook": (re.compile(r"[A-Za-z0-9.]{5,50}"), "5-50 letters, digits or dots"),
        "instagram": (
            re.compile(r"[A-Za-z0-9._]{1,30}"),
            "1-30 letters, digits, dots or underscores",
        ),
        "youtube": (
            re.compile(r"[A-Za-z0-9._-]{3,30}"),
            "3-30 letters, digits, dots, underscores or hyphens (no leading @)",
        ),
    }
)
ACCOUNT_ID_RULES: Mapping[str, tuple[re.Pattern[str], str]] = MappingProxyType(
    {
        "x": (re.compile(r"[0-9]{1,20}"), "a numeric user id"),
        "facebook": (re.compile(r"[0-9]{1,20}"), "a numeric page id"),
        "instagram": (re.compile(r"[0-9]{1,20}"), "a numeric Instagram user id"),
        "youtube": (re.compile(r"UC[A-Za-z0-9_-]{22}"), "a channel id: UC + 22 characters"),
    }
)
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# C0/C1 control characters and the bidirectional overrides that can disguise text.
_FORBIDDEN_CHAR = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_YAML_TAG = "tag:yaml.org,2002:"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config file; ``line`` is None when it concerns the whole file."""

    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where}: {self.message}"


class RegistryError(ValueError):
    """The registry or policy did not load; ``problems`` lists everything found wrong."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(
            f"the registry and policy have {len(self.problems)} problem(s); "
            f"fix them and load again:\n{lines}"
        )


@dataclass(frozen=True)
class Mission:
    """A diplomatic mission; ``active_to`` is its last active day (None: still active)."""

    mission_id: str
    name: str
    mission_type: str
    city: str
    country: str
    country_code: str
    region: str
    active_from: date
    active_to: date | None

    def is_active(self, on: date) -> bool:
        return _active(self.active_from, self.active_to, on)


@dataclass(frozen=True)
class Handle:
    """A mission's account on one platform; ``active_to`` is its last active day."""

    mission_id: str
    platform: str
    handle: str
    platform_account_id: str | None
    active_from: date
    active_to: date | None

    def is_active(self, on: date) -> bool:
        return _active(self.active_from, self.active_to, on)


@dataclass(frozen=True)
class PlatformPolicy:
    """What the ministry expects of its handles on one platform."""

    handle_pattern: re.Pattern[str]
    min_posts_per_week: float
    verification_required: bool


@dataclass(frozen=True)
class Policy:
    """The ministry's social media policy, as read from ``policy.yaml``."""

    ministry_name: str
    ministry_country: str
    required_platforms: tuple[str, ...]
    platforms: Mapping[str, PlatformPolicy]
    display_name_pattern: str
    bio_required_link: str
    bio_required_text: str
    avatar_reference_image: Path
    avatar_max_hamming_distance: int
    max_dormant_days: int
    reply_time_target_hours: float
    compliance_weights: Mapping[str, float]

    def handle_conforms(self, platform: str, handle: str) -> bool:
        """Whether the whole handle matches the platform's naming convention."""
        return self.platforms[platform].handle_pattern.fullmatch(handle) is not None

    def display_name_regex(self, city: str) -> re.Pattern[str]:
        """The display-name pattern with ``{city}`` replaced by the city, matched literally."""
        return re.compile(self.display_name_pattern.replace("{city}", re.escape(city)))


@dataclass(frozen=True)
class RegistrySummary:
    """Counts for people: missions, handles, and the gaps the policy will score."""

    on: date | None
    missions: int
    handles: dict[str, int]
    non_conforming: dict[str, int]
    missing: dict[str, int]


@dataclass(frozen=True)
class Registry:
    """Missions, their handles and the policy, all validated together."""

    missions: tuple[Mission, ...]
    handles: tuple[Handle, ...]
    policy: Policy
    _by_id: Mapping[str, Mission] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = MappingProxyType({m.mission_id: m for m in self.missions})
        object.__setattr__(self, "_by_id", by_id)

    def mission(self, mission_id: str) -> Mission:
        try:
            return self._by_id[mission_id]
        except KeyError:
            raise KeyError(
                f"no mission {mission_id!r} in the registry; check the id against {MISSIONS_FILE}"
            ) from None

    def handles_for(self, platform: str, on: date | None = None) -> tuple[Handle, ...]:
        """The platform's handles; with ``on``, only those active that day at active missions."""
        if platform not in settings.PLATFORMS:
            raise ValueError(
                f"unknown platform {platform!r}; use one of {', '.join(settings.PLATFORMS)}"
            )
        return tuple(
            h
            for h in self.handles
            if h.platform == platform
            and (on is None or (h.is_active(on) and self.mission(h.mission_id).is_active(on)))
        )

    def summary(self, on: date | None = None) -> RegistrySummary:
        """Counts per platform; with ``on``, only missions and handles active that day."""
        missions = [m for m in self.missions if on is None or m.is_active(on)]
        handles: dict[str, int] = {}
        non_conforming: dict[str, int] = {}
        missing: dict[str, int] = {}
        for platform in settings.PLATFORMS:
            platform_handles = self.handles_for(platform, on)
            covered = {h.mission_id for h in platform_handles}
            handles[platform] = len(platform_handles)
            non_conforming[platform] = sum(
                not self.policy.handle_conforms(platform, h.handle) for h in platform_handles
            )
            missing[platform] = sum(m.mission_id not in covered for m in missions)
        return RegistrySummary(on, len(missions), handles, non_conforming, missing)


def load_registry(config_dir: Path | None = None) -> Registry:
    """Load and validate the registry and policy under ``config_dir`` (default: settings).

    Raises RegistryError listing every problem found in any of the three files.
    """
    config_dir = settings.config_dir() if config_dir is None else config_dir
    problems: list[Problem] = []
    missions, mission_ids = _load_missions(config_dir / MISSIONS_FILE, problems)
    handles = _load_handles(config_dir / HANDLES_FILE, mission_ids, problems)
    policy = _PolicyReader(config_dir / POLICY_FILE, problems).read(config_dir)
    if problems or policy is None:
        raise RegistryError(problems)
    return Registry(tuple(missions), tuple(handles), policy)


def check_registry(config_dir: Path | None = None) -> list[Problem]:
    """Every problem in the registry and policy; an empty list means they load cleanly."""
    try:
        load_registry(config_dir)
    except RegistryError as error:
        return error.problems
    return []


def _active(active_from: date, active_to: date | None, on: date) -> bool:
    return active_from <= on and (active_to is None or on <= active_to)


# --- reading files ---------------------------------------------------------------------


def _read_text(path: Path, problems: list[Problem]) -> str | None:
    """The file decoded as UTF-8 (a byte-order mark is dropped), or None after a problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.append(Problem(path, None, "file not found; create it or fix the config folder"))
        return None
    except OSError as error:
        problems.append(Problem(path, None, f"cannot be read ({error.strerror}); check it"))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.append(
            Problem(path, line, f"is not valid UTF-8 (byte {error.start}); save the file as UTF-8")
        )
        return None


def _control_char_problem(name: str, value: str) -> str | None:
    bad = _FORBIDDEN_CHAR.search(value)
    if bad is None:
        return None
    return (
        f"{name} contains control character U+{ord(bad.group()):04X}; "
        "remove it (most editors do not show it)"
    )


def _cell_problem(column: str, value: str) -> str | None:
    if len(value) > MAX_FIELD_CHARS:
        return f"{column} is {len(value)} characters long; the limit is {MAX_FIELD_CHARS}"
    return _control_char_problem(column, value)


@dataclass
class _Row:
    """One CSV record: its first line, and its cells (a bad cell is reported and left out)."""

    path: Path
    line: int
    cells: dict[str, str]
    problems: list[Problem]
    failed: bool = False

    def add(self, message: str) -> None:
        self.problems.append(Problem(self.path, self.line, message))
        self.failed = True

    def text(self, column: str, *, required: bool = True) -> str:
        """The cell's text; "" when it is bad (already reported) or empty."""
        if column not in self.cells:
            self.failed = True
            return ""
        value = self.cells[column]
        if required and not value:
            self.add(f"{column} is empty; fill it in")
        return value

    def day(self, column: str, *, required: bool = True) -> date | None:
        value = self.text(column, required=required)
        if not value:
            return None
        if _ISO_DATE.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:  # a month or day out of range
                pass
        self.add(f"{column} {value!r} is not a valid date; write it as YYYY-MM-DD")
        return None

    def period(self) -> tuple[date | None, date | None]:
        active_from = self.day("active_from")
        active_to = self.day("active_to", required=False)
        if active_from and active_to and active_to < active_from:
            self.add(
                f"active_to {active_to} is before active_from {active_from}; "
                "swap them or fix the dates"
            )
        return active_from, active_to


def _read_rows(path: Path, columns: tuple[str, ...], problems: list[Problem]) -> list[_Row] | None:
    """The file's records, after checking its header; None if it cannot be read."""
    text = _read_text(path, problems)
    if text is None:
        return None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[_Row] = []
    header: list[str] | None = None
    try:
        last_line = 0
        for record in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip() for cell in record]
                if not _header_ok(path, line, header, columns, problems):
                    return None
                continue
            row = _row(path, line, header, record, problems)
            if row is not None:
                rows.append(row)
    except csv.Error as error:
        problems.append(
            Problem(
                path, max(reader.line_num, 1), f"cannot be read as CSV ({error}); fix the quoting"
            )
        )
        return None
    if header is None:
        problems.append(Problem(path, 1, f"file is empty; it needs the header {','.join(columns)}"))
        return None
    return rows


def _header_ok(
    path: Path, line: int, header: list[str], columns: tuple[str, ...], problems: list[Problem]
) -> bool:
    """Report header problems; False when a column is missing (rows cannot be checked)."""
    expected = ", ".join(columns)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(Problem(path, line, f"column {name!r} appears twice; keep one"))
        elif name not in columns:
            shown = name[:40] + "..." if len(name) > 40 else name
            problems.append(
                Problem(path, line, f"unknown column {shown!r}; the columns are: {expected}")
            )
        seen.add(name)
    missing = [name for name in columns if name not in seen]
    for name in missing:
        problems.append(
            Problem(path, line, f"missing column {name!r}; the header must be: {expected}")
        )
    return not missing


def _row(
    path: Path, line: int, header: list[str], record: list[str], problems: list[Problem]
) -> _Row | None:
    if len(record) != len(header):
        problems.append(
            Problem(
                path,
                line,
                f"has {len(record)} cells but the header has {len(header)}; "
                "quote any value that contains a comma or a line break",
            )
        )
        return None
    row = _Row(path, line, {}, problems)
    for column, raw in zip(header, record, strict=True):
        value = raw.strip()
        problem = _cell_problem(column, value)
        if problem:
            row.add(problem)
        else:
            row.cells[column] = value
    return row


# --- missions and handles --------------------------------------------------------------


def _load_missions(path: Path, problems: list[Problem]) -> tuple[list[Mission], set[str] | None]:
    """Valid missions, and every mission id named (None when the file could not be read)."""
    rows = _read_rows(path, MISSION_COLUMNS, problems)
    if rows is None:
        return [], None
    missions: list[Mission] = []
    first_line: dict[str, int] = {}
    for row in rows:
        mission = _mission(row)
        mission_id = row.cells.get("mission_id", "")
        if mission_id in first_line:
            row.add(
                f"mission_id {mission_id!r} is already defined on line {first_line[mission_id]}; "
                "give each mission one row"
            )
        elif mission_id:
            first_line[mission_id] = row.line
        if mission is not None and not row.failed:
            missions.append(mission)
    return missions, set(first_line)


def _mission(row: _Row) -> Mission | None:
    mission_id = row.text("mission_id")
    if mission_id and not _SLUG.fullmatch(mission_id):
        row.add(
            f"mission_id {mission_id!r} is not a slug; use lower-case letters, digits and "
            "single hyphens, e.g. pk-emb-washington"
        )
    name = row.text("name")
    mission_type = row.text("mission_type")
    if mission_type and mission_type not in MISSION_TYPES:
        row.add(f"mission_type {mission_type!r} is unknown; use one of {', '.join(MISSION_TYPES)}")
    city, country, region = row.text("city"), row.text("country"), row.text("region")
    country_code = row.text("country_code")
    if country_code and not _COUNTRY_CODE.fullmatch(country_code):
        row.add(
            f"country_code {country_code!r} is not an ISO 3166-1 alpha-2 code; "
            "use two capital letters, e.g. PK"
        )
    active_from, active_to = row.period()
    if row.failed or active_from is None:
        return None
    return Mission(
        mission_id, name, mission_type, city, country, country_code, region, active_from, active_to
    )


def _load_handles(
    path: Path, mission_ids: set[str] | None, problems: list[Problem]
) -> list[Handle]:
    handles: list[Handle] = []
    pair_line: dict[tuple[str, str], int] = {}
    owner: dict[tuple[str, str], tuple[int, str]] = {}
    for row in _read_rows(path, HANDLE_COLUMNS, problems) or []:
        handle = _handle(row, mission_ids)
        if handle is None:
            continue
        pair = (handle.mission_id, handle.platform)
        key = (handle.platform, handle.handle.casefold())
        if pair in pair_line:
            row.add(
                f"mission {handle.mission_id!r} already has a {handle.platform} handle on line "
                f"{pair_line[pair]}; keep one row per mission and platform"
            )
        elif key in owner:
            line, other = owner[key]
            row.add(
                f"{handle.platform} handle {handle.handle!r} is already registered on line {line} "
                f"(mission {other!r}); a handle belongs to one mission"
            )
        else:
            pair_line[pair] = row.line
            owner[key] = (row.line, handle.mission_id)
            handles.append(handle)
    return handles


def _handle(row: _Row, mission_ids: set[str] | None) -> Handle | None:
    mission_id = row.text("mission_id")
    if mission_id and mission_ids is not None and mission_id not in mission_ids:
        row.add(
            f"mission {mission_id!r} is not in {MISSIONS_FILE}; add the mission there or fix the id"
        )
    platform = row.text("platform")
    if platform and platform not in settings.PLATFORMS:
        row.add(f"platform {platform!r} is unknown; use one of {', '.join(settings.PLATFORMS)}")
        platform = ""
    handle = row.text("handle")
    account_id = row.text("platform_account_id", required=False)
    if platform:
        _check_platform_value(row, platform, "handle", handle, HANDLE_RULES)
        _check_platform_value(row, platform, "platform_account_id", account_id, ACCOUNT_ID_RULES)
    active_from, active_to = row.period()
    if row.failed or active_from is None:
        return None
    return Handle(mission_id, platform, handle, account_id or None, active_from, active_to)


def _check_platform_value(
    row: _Row,
    platform: str,
    column: str,
    value: str,
    rules: Mapping[str, tuple[re.Pattern[str], str]],
) -> None:
    pattern, allowed = rules[platform]
    if value and not pattern.fullmatch(value):
        hint = "; drop the leading @" if value.startswith("@") else ""
        row.add(
            f"{column} {value!r} is not a valid {platform} {column}: it must be {allowed}{hint}"
        )


# --- policy ----------------------------------------------------------------------------

_POLICY_KEYS: tuple[str, ...] = (
    "ministry",
    "required_platforms",
    "platforms",
    "display_name_pattern",
    "bio",
    "avatar",
    "max_dormant_days",
    "reply_time_target_hours",
    "compliance_weights",
)
_PLATFORM_KEYS: tuple[str, ...] = ("handle_pattern", "min_posts_per_week", "verification_required")
_KIND_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "null": "nothing",
    "seq": "a list",
    "map": "a mapping",
}
_NEVER_MATCHES = re.compile(r"(?!)")


class _PolicyReader:
    """Reads policy.yaml node by node, so that every problem can name its line.

    A getter that finds a wrong value reports it and returns a placeholder; ``read`` returns
    None when anything was reported, so no placeholder ever reaches a Policy in use.
    """

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        self.failed = False
        self.key_lines: dict[str, int] = {}

    def add(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))
        self.failed = True

    def read(self, config_dir: Path) -> Policy | None:
        root = self.compose()
        if root is None:
            return None
        top = self.mapping(root, "", _POLICY_KEYS)
        ministry = self.mapping(top.get("ministry"), "ministry", ("name", "country"))
        bio = self.mapping(top.get("bio"), "bio", ("required_link", "required_text"))
        avatar = self.mapping(
            top.get("avatar"), "avatar", ("reference_image", "max_hamming_distance")
        )
        policy = Policy(
            ministry_name=self.text(ministry.get("name"), "ministry.name"),
            ministry_country=self.text(ministry.get("country"), "ministry.country"),
            required_platforms=self.platform_list(top.get("required_platforms")),
            platforms=MappingProxyType(self.platforms(top.get("platforms"))),
            display_name_pattern=self.display_name_pattern(top.get("display_name_pattern")),
            bio_required_link=self.text(bio.get("required_link"), "bio.required_link"),
            bio_required_text=self.text(bio.get("required_text"), "bio.required_text"),
            avatar_reference_image=self.reference_image(avatar.get("reference_image"), config_dir),
            avatar_max_hamming_distance=int(
                self.number(
                    avatar.get("max_hamming_distance"),
                    "avatar.max_hamming_distance",
                    integer=True,
                    maximum=64,
                )
            ),
            max_dormant_days=int(
                self.number(
                    top.get("max_dormant_days"), "max_dormant_days", integer=True, minimum=1
                )
            ),
            reply_time_target_hours=self.number(
                top.get("reply_time_target_hours"), "reply_time_target_hours", positive=True
            ),
            compliance_weights=MappingProxyType(self.weights(top.get("compliance_weights"))),
        )
        return None if self.failed else policy

    def compose(self) -> yaml.Node | None:
        text = _read_text(self.path, self.problems)
        if text is None:
            self.failed = True
            return None
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.reader.ReaderError as error:
            line = text[: error.position].count("\n") + 1
            self.add(
                line, f"contains character U+{error.character:04X}, which YAML forbids; remove it"
            )
            return None
        except yaml.MarkedYAMLError as error:
            self.add(*_yaml_error(error))
            return None
        except yaml.YAMLError as error:
            self.add(None, f"is not valid YAML ({error}); fix it")
            return None
        except RecursionError:
            self.add(None, "is nested too deeply to read; the policy needs only a few levels")
            return None
        if root is None:
            self.add(1, "the policy is empty; start from the shipped config/policy.yaml")
        return root

    def mapping(
        self, node: yaml.Node | None, path: str, keys: tuple[str, ...]
    ) -> dict[str, yaml.Node]:
        """The mapping's values by key; reports duplicate, unknown and missing keys."""
        name = path or "the policy"
        if node is None:  # its key is missing, which is already reported
            self.failed = True
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.add(_line(node), f"{name} must be a mapping of keys to values")
            return {}
        values: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.add(_line(key_node), f"{name} has a key that is not text; fix it")
            elif key in values:
                first = self.key_lines[_dotted(path, key)]
                self.add(
                    _line(key_node),
                    f"key {key!r} in {name} appears twice (first on line {first}); keep one",
                )
            elif key not in keys:
                self.add(
                    _line(key_node),
                    f"unknown key {key[:40]!r} in {name}; expected one of {', '.join(keys)}",
                )
            else:
                values[key] = value_node
                self.key_lines[_dotted(path, key)] = _line(key_node)
        for key in keys:
            if key not in values:
                self.add(
                    self.key_lines.get(path, 1), f"required key {key!r} is missing from {name}"
                )
        return values

    def platforms(self, node: yaml.Node | None) -> dict[str, PlatformPolicy]:
        result: dict[str, PlatformPolicy] = {}
        for platform, platform_node in self.mapping(node, "platforms", settings.PLATFORMS).items():
            path = f"platforms.{platform}"
            values = self.mapping(platform_node, path, _PLATFORM_KEYS)
            result[platform] = PlatformPolicy(
                handle_pattern=self.regex(values.get("handle_pattern"), f"{path}.handle_pattern"),
                min_posts_per_week=self.number(
                    values.get("min_posts_per_week"), f"{path}.min_posts_per_week"
                ),
                verification_required=self.flag(
                    values.get("verification_required"), f"{path}.verification_required"
                ),
            )
        return result

    def weights(self, node: yaml.Node | None) -> dict[str, float]:
        reported = len(self.problems)
        weights = {
            check: self.number(value, f"compliance_weights.{check}")
            for check, value in self.mapping(node, "compliance_weights", CHECK_NAMES).items()
        }
        total = sum(weights.values())
        if len(self.problems) == reported and not math.isclose(total, TOTAL_WEIGHT):
            self.add(
                self.key_lines.get("compliance_weights", 1),
                f"compliance_weights add up to {total:g}; make them add up to {TOTAL_WEIGHT}",
            )
        return weights

    def scalar(self, node: yaml.Node | None, name: str, kinds: tuple[str, ...]) -> object:
        """The node's value when it is a scalar of one of ``kinds`` (YAML tags), else None.

        ``kinds`` ends with the most general kind, which names the value in messages.
        """
        if node is None:  # its key is missing, which is already reported
            self.failed = True
            return None
        tag = node.tag.removeprefix(_YAML_TAG)
        wanted = _KIND_WORDS[kinds[-1]]
        if not isinstance(node, yaml.ScalarNode) or tag not in kinds:
            found = _KIND_WORDS.get(tag, f"a value tagged {tag[:40]!r}")
            self.add(_line(node), f"{name} must be {wanted}, not {found}; fix the value")
            return None
        try:
            return SafeConstructor().construct_object(node)
        except (ValueError, KeyError, yaml.YAMLError):  # an explicit tag on a bad value
            self.add(_line(node), f"{name} {node.value[:40]!r} is not {wanted}; fix the value")
            return None

    def text(self, node: yaml.Node | None, name: str) -> str:
        value = self.scalar(node, name, ("str",))
        if not isinstance(value, str):
            return ""
        problem = _control_char_problem(name, value)
        if problem:
            self.add(_line(node), problem)
        elif not value.strip():
            self.add(_line(node), f"{name} is empty; fill it in")
        return value

    def number(
        self,
        node: yaml.Node | None,
        name: str,
        *,
        integer: bool = False,
        minimum: float = 0,
        maximum: float = math.inf,
        positive: bool = False,
    ) -> float:
        value = self.scalar(node, name, ("int",) if integer else ("int", "float"))
        if not isinstance(value, int | float):
            return 0.0
        too_low = value <= 0 if positive else value < minimum
        if not math.isfinite(value) or too_low or value > maximum:
            low = "above 0" if positive else f"at least {minimum:g}"
            high = f" and at most {maximum:g}" if math.isfinite(maximum) else ""
            self.add(_line(node), f"{name} is {value}; it must be {low}{high}")
            return 0.0
        return float(value)

    def flag(self, node: yaml.Node | None, name: str) -> bool:
        return self.scalar(node, name, ("bool",)) is True

    def regex(self, node: yaml.Node | None, name: str) -> re.Pattern[str]:
        return self.compile(node, name, self.text(node, name))

    def compile(self, node: yaml.Node | None, name: str, pattern: str) -> re.Pattern[str]:
        if not pattern:  # missing or empty, which is already reported
            return _NEVER_MATCHES
        try:
            compiled = re.compile(pattern)
        except (re.error, RecursionError, OverflowError) as error:
            detail = (
                f"{error.msg} at position {error.pos}"
                if isinstance(error, re.error)
                else "too deeply nested or too large"
            )
            self.add(
                _line(node), f"{name} is not a valid regular expression ({detail}); fix the pattern"
            )
            return _NEVER_MATCHES
        problem = _pattern_hazard(pattern)
        if problem:
            self.add(_line(node), f"{name} {problem}")
            return _NEVER_MATCHES
        return compiled

    def display_name_pattern(self, node: yaml.Node | None) -> str:
        name = "display_name_pattern"
        pattern = self.text(node, name)
        self.compile(node, name, pattern.replace("{city}", "City"))
        return pattern

    def platform_list(self, node: yaml.Node | None) -> tuple[str, ...]:
        name = "required_platforms"
        if node is None:  # its key is missing, which is already reported
            return ()
        if not isinstance(node, yaml.SequenceNode):
            self.add(_line(node), f"{name} must be a list, e.g. [x, facebook]")
            return ()
        platforms: list[str] = []
        for item in node.value:
            platform = self.text(item, f"an entry of {name}")
            if not platform:  # not text, which is already reported
                continue
            if platform not in settings.PLATFORMS:
                self.add(
                    _line(item),
                    f"{name} names unknown platform {platform[:40]!r}; use "
                    f"{', '.join(settings.PLATFORMS)}",
                )
            elif platform in platforms:
                self.add(_line(item), f"{name} lists {platform!r} twice; keep one")
            else:
                platforms.append(platform)
        return tuple(platforms)

    def reference_image(self, node: yaml.Node | None, config_dir: Path) -> Path:
        reported = len(self.problems)
        value = self.text(node, "avatar.reference_image")
        path = config_dir / value
        if len(self.problems) == reported and not _is_file(path):
            self.add(
                _line(node),
                f"avatar.reference_image {value[:80]!r} not found (looked for {path}); "
                "the path is relative to the config folder",
            )
        return path


def _pattern_hazard(pattern: str) -> str | None:
    """Why a compiled policy pattern cannot be used, or None.

    Two things would only show up later, far from the policy file: a repetition nested in
    another (``(a+)+``), on which Python's backtracking matcher can take exponential time
    (a registry check that never ends), and syntax that PostgreSQL, which evaluates the
    same patterns for the compliance marts, reads differently.
    """
    from missionpulse.policy_tables import PolicyRegexError, postgres_regex

    if _has_nested_repeat(_RE_PARSER.parse(pattern), inside_repeat=False):
        return (
            "repeats a part that itself contains + or * (like (a+)+), which can take "
            "exponential time to match; rewrite it so that no repeated part holds + or *"
        )
    try:
        postgres_regex(pattern)
    except PolicyRegexError as error:
        return f"cannot be used by the warehouse: {error}"
    return None


# Python's own regex parser (private, but the only one that reads exactly what re compiles).
_RE_PARSER: Any = importlib.import_module("re._parser")
_REPEATS = frozenset(
    getattr(_RE_PARSER, name)
    for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
    if hasattr(_RE_PARSER, name)
)


def _has_nested_repeat(items: Any, *, inside_repeat: bool) -> bool:
    """Whether an unbounded repetition sits inside a repetition that can repeat it."""
    for op, value in items:
        if op in _REPEATS:
            _low, high, body = value
            if inside_repeat and high == _RE_PARSER.MAXREPEAT:
                return True
            if _has_nested_repeat(body, inside_repeat=inside_repeat or high > 1):
                return True
        elif any(_has_nested_repeat(sub, inside_repeat=inside_repeat) for sub in _parts(value)):
            return True
    return False


def _parts(value: Any) -> Any:
    """The sub-patterns inside a parsed node's argument (groups, branches, assertions)."""
    if isinstance(value, _RE_PARSER.SubPattern):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _parts(item)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, say
        return False


def _yaml_error(error: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    """The line of a YAML syntax error, and a message naming where the construct began."""
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark else None
    context = error.context or ""
    if error.context_mark and error.context_mark.line + 1 != line:
        context += f" started on line {error.context_mark.line + 1}"
    detail = ", ".join(part for part in (context, error.problem or "") if part)
    return line, f"is not valid YAML ({detail}); fix it"


def _dotted(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1
