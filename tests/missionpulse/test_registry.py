"""Tests for the registry and policy loader: the shipped config, each error, and fuzzing."""

from __future__ import annotations

import csv
import io
import shutil
import struct
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from missionpulse import settings as mp_settings
from missionpulse.registry import (
    CHECK_NAMES,
    Problem,
    Registry,
    RegistryError,
    check_registry,
    load_registry,
)

SHIPPED = mp_settings.project_root() / "config"
MISSIONS = Path("registry/missions.csv")
HANDLES = Path("registry/handles.csv")
POLICY = Path("policy.yaml")


@pytest.fixture(scope="module")
def shipped() -> Registry:
    return load_registry(SHIPPED)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A private copy of the shipped config, for a test to break."""
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target)
    return target


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _line_of(path: Path, needle: str, *, at_start: bool = False) -> int:
    """The 1-based number of the only line containing (or starting with) ``needle``."""
    found = [
        n
        for n, line in enumerate(_lines(path), 1)
        if (line.startswith(needle) if at_start else needle in line)
    ]
    assert len(found) == 1, f"{needle!r} is on lines {found} of {path}"
    return found[0]


def _replace(path: Path, old: str, new: str) -> int:
    """Replace ``old`` on its only line; returns that line's number."""
    number = _line_of(path, old)
    lines = _lines(path)
    lines[number - 1] = lines[number - 1].replace(old, new)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return number


def _append_row(path: Path, cells: list[str]) -> int:
    """Append one CSV record; returns its line number."""
    number = len(_lines(path)) + 1
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(buffer.getvalue())
    return number


def _assert_problem(config: Path, file: Path, line: int | None, fragment: str) -> None:
    """Loading fails, and the error names ``file:line`` with ``fragment`` in its message."""
    with pytest.raises(RegistryError) as caught:
        load_registry(config)
    where = f"{config / file}:{line}: " if line is not None else f"{config / file}: "
    matches = [str(p) for p in caught.value.problems if str(p).startswith(where)]
    assert any(fragment in m for m in matches), (
        f"no problem at {where} containing {fragment!r}; got:\n{caught.value}"
    )
    assert all(str(p) in str(caught.value) for p in caught.value.problems)


# --- the shipped config -------------------------------------------------------------------


def test_shipped_config_loads_cleanly(shipped: Registry) -> None:
    assert check_registry(SHIPPED) == []
    assert 110 <= len(shipped.missions) <= 130
    assert 350 <= len(shipped.handles) <= 450
    assert {m.mission_type for m in shipped.missions} == {
        "embassy",
        "high_commission",
        "consulate_general",
        "consulate",
        "permanent_mission",
    }
    assert "Multilateral" in {m.region for m in shipped.missions}
    assert shipped.policy.avatar_reference_image.is_file()


def test_shipped_config_is_the_default(shipped: Registry, monkeypatch) -> None:
    monkeypatch.setenv("MISSIONPULSE_CONFIG_DIR", str(SHIPPED))
    assert load_registry() == shipped


def test_shipped_handles_cover_every_platform_with_realistic_gaps(shipped: Registry) -> None:
    summary = shipped.summary()
    assert summary.missions == len(shipped.missions)
    share_missing = {p: summary.missing[p] / summary.missions for p in mp_settings.PLATFORMS}
    assert 0.02 <= share_missing["x"] <= 0.08
    assert 0 < summary.missing["facebook"] <= 5
    assert 0.06 <= share_missing["instagram"] <= 0.14
    assert 0.30 <= share_missing["youtube"] <= 0.50
    for platform in mp_settings.PLATFORMS:
        share = summary.non_conforming[platform] / summary.handles[platform]
        assert 0.08 <= share <= 0.16, (platform, share)


def test_shipped_reference_avatar_is_a_64px_png() -> None:
    data = (SHIPPED / "assets/reference_avatar.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", data[16:24]) == (64, 64)


def test_shipped_weights_cover_every_check_and_add_up_to_100(shipped: Registry) -> None:
    assert set(shipped.policy.compliance_weights) == set(CHECK_NAMES)
    assert sum(shipped.policy.compliance_weights.values()) == 100


def test_closed_mission_and_retired_handle_drop_out_on_a_later_day(shipped: Registry) -> None:
    sanaa = shipped.mission("pk-emb-sanaa")
    assert sanaa.active_to is not None and not sanaa.is_active(date(2026, 1, 1))
    later = date(2026, 1, 1)
    assert all(h.mission_id != "pk-emb-sanaa" for h in shipped.handles_for("x", later))
    assert any(h.mission_id == "pk-emb-sanaa" for h in shipped.handles_for("x"))
    assert shipped.summary(later).missions == len(shipped.missions) - 1
    assert len(shipped.handles_for("youtube", later)) < len(shipped.handles_for("youtube"))


def test_lookups_explain_unknown_names(shipped: Registry) -> None:
    assert shipped.mission("pk-hc-london").name == "High Commission for Pakistan, London"
    with pytest.raises(KeyError, match="pk-emb-atlantis"):
        shipped.mission("pk-emb-atlantis")
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        shipped.handles_for("myspace")


def test_policy_helpers(shipped: Registry) -> None:
    policy = shipped.policy
    assert policy.handle_conforms("x", "PakEmbTokyo")
    assert not policy.handle_conforms("x", "PakinUSA")
    assert not policy.handle_conforms("instagram", "pakistan.embassy.rome1")
    assert policy.display_name_regex("Kuala Lumpur").search("Pakistan High Commission Kuala Lumpur")
    assert not policy.display_name_regex("Kuala Lumpur").search("High Commission, Kuala Lumpur")
    st_johns = policy.display_name_regex("St. John's")
    assert st_johns.search("Pakistan Consulate St. John's")
    assert not st_johns.search("Pakistan Consulate StX John's")


# --- missions.csv -------------------------------------------------------------------------

ROW = ["pk-emb-testville", "Embassy of Pakistan, Testville", "embassy", "Testville", "Testland"]
ROW_END = ["TL", "Europe", "2001-01-01", ""]


@pytest.mark.parametrize(
    ("cells", "fragment"),
    [
        (ROW + ["TL", "Europe", "2001-13-01", ""], "active_from '2001-13-01' is not a valid date"),
        (ROW + ["TL", "Europe", "01/02/2001", ""], "write it as YYYY-MM-DD"),
        (ROW + ["TL", "Europe", "2001-01-01", "2000-12-31"], "is before active_from"),
        (ROW[:1] + [""] + ROW[2:] + ROW_END, "name is empty"),
        (ROW[:2] + ["ambassy"] + ROW[3:] + ROW_END, "mission_type 'ambassy' is unknown"),
        (["PK Emb Testville"] + ROW[1:] + ROW_END, "is not a slug"),
        (ROW + ["Testland"] + ROW_END[1:], "not an ISO 3166-1 alpha-2 code"),
        (ROW + ROW_END + ["extra"], "has 10 cells but the header has 9"),
        (["pk-emb-washington"] + ROW[1:] + ROW_END, "already defined on line 2"),
        (ROW[:1] + ["Embassy\x00"] + ROW[2:] + ROW_END, "control character U+0000"),
        (ROW[:1] + ["Embassy\u202e"] + ROW[2:] + ROW_END, "control character U+202E"),
        (ROW[:1] + ["Embassy\nof"] + ROW[2:] + ROW_END, "control character U+000A"),
        (ROW[:1] + ["E" * 500] + ROW[2:] + ROW_END, "500 characters long"),
    ],
)
def test_mission_row_errors_name_their_line(config: Path, cells: list[str], fragment: str) -> None:
    line = _append_row(config / MISSIONS, cells)
    _assert_problem(config, MISSIONS, line, fragment)


def test_hostile_text_is_carried_verbatim(config: Path) -> None:
    name = 'Robert\'); DROP TABLE missions;-- "quoted" \\ % _'
    _append_row(
        config / MISSIONS, ROW[:1] + [name] + ROW[2:3] + ["Côte d'Ivoire"] + ROW[4:] + ROW_END
    )
    registry = load_registry(config)
    assert registry.mission("pk-emb-testville").name == name
    assert registry.mission("pk-emb-testville").city == "Côte d'Ivoire"


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (
            "mission_id,name,mission_type,city,country,country_code,active_from,active_to",
            "missing column 'region'",
        ),
        (
            "mission_id,name,mission_type,city,country,country_code,region,active_from,active_to,notes",
            "unknown column 'notes'",
        ),
        (
            "mission_id,name,name,mission_type,city,country,country_code,region,active_from,active_to",
            "column 'name' appears twice",
        ),
    ],
)
def test_header_errors_are_on_line_1(config: Path, header: str, fragment: str) -> None:
    lines = _lines(config / MISSIONS)
    (config / MISSIONS).write_text("\n".join([header, *lines[1:]]) + "\n", encoding="utf-8")
    _assert_problem(config, MISSIONS, 1, fragment)


def test_empty_missing_and_undecodable_files(config: Path) -> None:
    (config / MISSIONS).write_text("\n\n", encoding="utf-8")
    _assert_problem(config, MISSIONS, 1, "file is empty")
    (config / MISSIONS).unlink()
    _assert_problem(config, MISSIONS, None, "file not found")
    shutil.copy(SHIPPED / MISSIONS, config / MISSIONS)
    line = len(_lines(config / MISSIONS)) + 1
    with (config / MISSIONS).open("ab") as handle:
        handle.write(b"pk-emb-bad,Embassy \xff\xfe,embassy\n")
    _assert_problem(config, MISSIONS, line, "is not valid UTF-8")


def test_oversized_csv_field_is_reported_not_raised(config: Path) -> None:
    line = _append_row(config / HANDLES, ["pk-emb-washington", "x", "a" * 200_000, "", "", ""])
    _assert_problem(config, HANDLES, line, "cannot be read as CSV")


def test_unreadable_missions_do_not_flood_handles_with_unknown_missions(config: Path) -> None:
    (config / MISSIONS).write_text("", encoding="utf-8")
    problems = check_registry(config)
    assert [p.file for p in problems] == [config / MISSIONS]


# --- handles.csv --------------------------------------------------------------------------


def _h(
    mission: str,
    platform: str,
    handle: str,
    account: str = "",
    since: str = "2020-01-01",
    until: str = "",
) -> list[str]:
    """A handles.csv record."""
    return [mission, platform, handle, account, since, until]


@pytest.mark.parametrize(
    ("cells", "fragment"),
    [
        (
            _h("pk-emb-nowhere", "x", "PakEmbNowhere"),
            "mission 'pk-emb-nowhere' is not in registry/missions.csv",
        ),
        (_h("pk-emb-havana", "tiktok", "PakEmbHavana"), "platform 'tiktok' is unknown"),
        (_h("pk-emb-havana", "X", "PakEmbHavana"), "platform 'X' is unknown"),
        (_h("pk-emb-washington", "x", "PakEmbWashDC"), "already has a x handle on line 2"),
        (
            _h("pk-emb-havana", "x", "pakinusa"),
            "already registered on line 2 (mission 'pk-emb-washington')",
        ),
        (
            _h("pk-emb-havana", "x", "Pak-Emb-Havana"),
            "not a valid x handle: it must be 1-15 letters",
        ),
        (_h("pk-emb-havana", "x", "PakEmbHavanaCuba"), "not a valid x handle"),
        (_h("pk-emb-havana", "x", "@PakEmbHavana"), "drop the leading @"),
        (_h("pk-cg-zahedan", "facebook", "Pak"), "not a valid facebook handle: it must be 5-50"),
        (_h("pk-cg-herat", "instagram", "pakistan cg herat"), "not a valid instagram handle"),
        (_h("pk-cg-herat", "youtube", "ab"), "not a valid youtube handle: it must be 3-30"),
        (
            _h("pk-cg-herat", "youtube", "PakCGHerat", account="UCshort"),
            "not a valid youtube platform_account_id",
        ),
        (
            _h("pk-emb-havana", "x", "PakEmbHavana", account="12ab"),
            "not a valid x platform_account_id",
        ),
        (
            _h("pk-emb-havana", "x", "PakEmbHavana", since="2020-02-30"),
            "active_from '2020-02-30' is not a valid date",
        ),
        (_h("pk-emb-havana", "x", "PakEmbHavana", until="2019-01-01"), "is before active_from"),
        (_h("pk-emb-havana", "x", ""), "handle is empty"),
        (_h("pk-emb-havana", "x", "PakEmb'; --"), "not a valid x handle"),
    ],
)
def test_handle_row_errors_name_their_line(config: Path, cells: list[str], fragment: str) -> None:
    line = _append_row(config / HANDLES, cells)
    _assert_problem(config, HANDLES, line, fragment)


def test_non_conforming_handle_is_not_a_load_error(config: Path) -> None:
    _append_row(config / HANDLES, ["pk-emb-havana", "x", "amb_havana", "", "2020-01-01", ""])
    registry = load_registry(config)
    assert not registry.policy.handle_conforms("x", "amb_havana")
    assert "amb_havana" in {h.handle for h in registry.handles_for("x")}


# --- policy.yaml --------------------------------------------------------------------------


def _policy_problem(config: Path, old: str, new: str, fragment: str, on: str | None = None) -> None:
    """Replace ``old`` with ``new``; expect ``fragment`` on that line or on the line of ``on``."""
    line = _replace(config / POLICY, old, new)
    if on is not None:
        line = _line_of(config / POLICY, on, at_start=True)
    _assert_problem(config, POLICY, line, fragment)


@pytest.mark.parametrize(
    ("old", "new", "fragment", "on"),
    [
        (
            "required_text: Official account",
            "",
            "required key 'required_text' is missing from bio",
            "bio:",
        ),
        (
            "'^Pak(Emb|HC|CG|Con|PM)[A-Z][A-Za-z]+$'",
            "'^Pak(Emb|HC'",
            "platforms.x.handle_pattern is not a valid regular expression",
            None,
        ),
        (
            r"'^Pakistan\b.*\b{city}\b'",
            r"'^Pakistan[{city}'",
            "display_name_pattern is not a valid regular expression",
            None,
        ),
        (
            "  avatar: 10 ",
            "  avatar: -10 ",
            "compliance_weights.avatar is -10; it must be at least 0",
            None,
        ),
        (
            "  avatar: 10 ",
            "  avatar: ten ",
            "compliance_weights.avatar must be a number, not text",
            None,
        ),
        (
            "  reply_time: 10",
            "  reply_speed: 10",
            "unknown key 'reply_speed' in compliance_weights",
            None,
        ),
        (
            "  reply_time: 10",
            "  reply_speed: 10",
            "required key 'reply_time' is missing from compliance_weights",
            "compliance_weights:",
        ),
        (
            "  reply_time: 10",
            "  reply_time: 11",
            "compliance_weights add up to 101; make them add up to 100",
            "compliance_weights:",
        ),
        ("[x, facebook, instagram]", "[x, facebook, tiktok]", "unknown platform 'tiktok'", None),
        ("[x, facebook, instagram]", "[x, x]", "lists 'x' twice", None),
        ("[x, facebook, instagram]", "x", "required_platforms must be a list", None),
        ("  youtube:", "  tiktok:", "unknown key 'tiktok' in platforms", None),
        (
            "  youtube:",
            "  tiktok:",
            "required key 'youtube' is missing from platforms",
            "platforms:",
        ),
        (
            "max_hamming_distance: 10",
            "max_hamming_distance: 65",
            "it must be at least 0 and at most 64",
            None,
        ),
        (
            "max_hamming_distance: 10",
            "max_hamming_distance: 2.5",
            "must be a whole number, not a number",
            None,
        ),
        (
            "max_dormant_days: 14",
            "max_dormant_days: 0",
            "max_dormant_days is 0; it must be at least 1",
            None,
        ),
        (
            "reply_time_target_hours: 24",
            "reply_time_target_hours: .nan",
            "reply_time_target_hours is nan",
            None,
        ),
        ("reply_time_target_hours: 24", "reply_time_target_hours: 0", "it must be above 0", None),
        (
            "reply_time_target_hours: 24",
            "reply_time_target_hours: true",
            "must be a number, not true or false",
            None,
        ),
        (
            "reply_time_target_hours: 24",
            "reply_time_target_hours:",
            "must be a number, not nothing",
            None,
        ),
        (
            "required_link: mofa.gov.pk",
            "required_link: [mofa.gov.pk]",
            "bio.required_link must be text, not a list",
            None,
        ),
        (
            "required_link: mofa.gov.pk",
            'required_link: "mofa\\0.gov.pk"',
            "control character U+0000",
            None,
        ),
        ("required_link: mofa.gov.pk", "required_link: ''", "bio.required_link is empty", None),
        (
            "required_link: mofa.gov.pk",
            "required_link: !!python/object:os.system x",
            "not a value tagged 'python/object:os.system'",
            None,
        ),
        (
            "max_dormant_days: 14",
            "max_dormant_days: !!int fourteen",
            "max_dormant_days 'fourteen' is not a whole number",
            None,
        ),
        (
            "    verification_required: false",
            "    verification_required: !!bool maybe",
            "'maybe' is not true or false",
            None,
        ),
        (
            "reference_image: assets/reference_avatar.png",
            "reference_image: assets/missing.png",
            "avatar.reference_image 'assets/missing.png' not found",
            None,
        ),
        (
            "max_dormant_days: 14",
            "max_dormant_days: 14: 15",
            "is not valid YAML (mapping values are not allowed here)",
            None,
        ),
        (
            "max_dormant_days: 14",
            "max_dormant_days: 14\nmax_dormant_days: 30",
            "appears twice (first on line",
            "max_dormant_days: 30",
        ),
        ("country: Pakistan", "country: Pakistan\x07", "which YAML forbids", None),
    ],
)
def test_policy_errors_name_their_line(
    config: Path, old: str, new: str, fragment: str, on: str | None
) -> None:
    _policy_problem(config, old, new, fragment, on)


def test_one_wrong_value_is_one_problem(config: Path) -> None:
    line = _replace(config / POLICY, "[x, facebook, instagram]", "[x, [facebook]]")
    problems = check_registry(config)
    assert [(p.line, p.message) for p in problems] == [
        (line, "an entry of required_platforms must be text, not a list; fix the value")
    ]


@pytest.mark.parametrize("image", ['"assets/\\0.png"', "'" + "a" * 5000 + ".png'"])
def test_hostile_reference_image_path_is_reported(config: Path, image: str) -> None:
    line = _replace(
        config / POLICY, "reference_image: assets/reference_avatar.png", f"reference_image: {image}"
    )
    problems = check_registry(config)
    assert [p.line for p in problems] == [line]


def test_yaml_syntax_error_names_where_the_construct_began(config: Path) -> None:
    opened = _replace(config / POLICY, "max_dormant_days: 14", "max_dormant_days: [14")
    detected = _line_of(config / POLICY, "reply_time_target_hours:", at_start=True)
    _assert_problem(config, POLICY, detected, f"flow sequence started on line {opened}")


def test_empty_and_non_mapping_policy(config: Path) -> None:
    (config / POLICY).write_text("# nothing here\n", encoding="utf-8")
    _assert_problem(config, POLICY, 1, "the policy is empty")
    (config / POLICY).write_text("- x\n- facebook\n", encoding="utf-8")
    _assert_problem(config, POLICY, 1, "the policy must be a mapping")
    (config / POLICY).write_text("[" * 5000, encoding="utf-8")
    _assert_problem(config, POLICY, None, "nested too deeply")


# --- every problem at once ----------------------------------------------------------------


def test_every_problem_is_reported_at_once(config: Path) -> None:
    mission_line = _append_row(
        config / MISSIONS,
        ["pk-emb-x", "", "embassy", "X", "Y", "ZZ", "Europe", "2001-01-01", "bad"],
    )
    handle_line = _append_row(
        config / HANDLES, ["pk-emb-washington", "x", "@bad handle", "", "2020-01-01", "never"]
    )
    policy_line = _replace(config / POLICY, "max_dormant_days: 14", "max_dormant_days: -1")
    with pytest.raises(RegistryError) as caught:
        load_registry(config)
    problems = caught.value.problems
    assert all(isinstance(p, Problem) for p in problems)
    assert [(p.file.name, p.line) for p in problems] == [
        ("missions.csv", mission_line),
        ("missions.csv", mission_line),
        ("handles.csv", handle_line),
        ("handles.csv", handle_line),
        ("policy.yaml", policy_line),
    ]
    message = str(caught.value)
    assert "5 problem(s)" in message
    for problem in problems:
        assert f"{problem.file}:{problem.line}: {problem.message}" in message
    assert check_registry(config) == problems


# --- fuzzing: nothing but RegistryError ---------------------------------------------------


def _read_table(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _write_table(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def _loads_or_registry_error(config: Path) -> None:
    try:
        load_registry(config)
    except RegistryError as error:
        assert error.problems and str(error)


FUZZ = settings(
    max_examples=150,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(
    file=st.sampled_from([MISSIONS, HANDLES]),
    row=st.integers(min_value=0, max_value=5),
    column=st.integers(min_value=0, max_value=8),
    value=st.text(max_size=300),
)
def test_fuzzed_csv_cells_raise_only_registry_error(
    config: Path, file: Path, row: int, column: int, value: str
) -> None:
    pristine = _read_table(SHIPPED / file)
    rows = [list(r) for r in pristine]
    rows[row][column % len(rows[row])] = value
    _write_table(config / file, rows)
    try:
        _loads_or_registry_error(config)
    finally:
        _write_table(config / file, pristine)


@FUZZ
@given(
    file=st.sampled_from([MISSIONS, HANDLES, POLICY]),
    tail=st.binary(max_size=300),
)
def test_fuzzed_file_tails_raise_only_registry_error(config: Path, file: Path, tail: bytes) -> None:
    pristine = (SHIPPED / file).read_bytes()
    (config / file).write_bytes(pristine + tail)
    try:
        _loads_or_registry_error(config)
    finally:
        (config / file).write_bytes(pristine)
