"""A large simulated registry (Twiplomacy scale) for the scale benchmark: deterministic, valid.

``generate_registry(out_dir, handles=10_000)`` writes a complete config folder (the registry's
``missions.csv`` and ``handles.csv``, ``policy.yaml`` and the reference avatar) that
``MISSIONPULSE_CONFIG_DIR`` can point at; the simulator serves whatever registry it is given,
so the pipeline then runs a day of ~2,500 missions on four platforms exactly as it runs the
example registry's ~125.

The missions are those of many sending countries (``fr-emb-tokyo``, "Embassy of France,
Tokyo"), each with a handle on X, Facebook, Instagram and YouTube, until the requested number
of handles is reached. Everything is drawn from a ``random.Random`` seeded by ``seed``: the
same arguments give byte-identical files.

Per-handle volumes stay those of the example registry. The simulator makes an account
"large" (several times the posts and comments) when its mission is in one of
``world.BIG_CITIES`` or by a 3% draw; every ministry has an embassy in Washington or London,
so drawing host cities uniformly would make a third of the accounts large. The generator
puts ``BIG_CITY_SHARE`` of the missions in those cities, which gives the example registry's
~12% of large accounts.

The policy is the base config's (the ministry, checks and weights unchanged), with handle
patterns for this registry's naming scheme, which ~85% of the handles follow; the others
carry the kinds of legacy names the example registry has (lower case, underscores, digits).
"""

from __future__ import annotations

import csv
import random
import re
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from missionpulse import settings
from missionpulse.registry import (
    HANDLE_COLUMNS,
    HANDLES_FILE,
    MISSION_COLUMNS,
    MISSIONS_FILE,
    POLICY_FILE,
)
from missionpulse.simulator.world import BIG_CITIES, SLOT_BITS

PLATFORM_ORDER: tuple[str, ...] = ("x", "facebook", "instagram", "youtube")
DEFAULT_HANDLES = 10_000
# Missions in the simulator's BIG_CITIES: with the 3% of other accounts it draws as large,
# about the 12.6% of large accounts of the example registry (54 of 430 handles).
BIG_CITY_SHARE = 0.10
CONFORMING_SHARE = 0.85
# The simulator keeps an account's slot in SLOT_BITS bits, per platform.
MAX_HANDLES = len(PLATFORM_ORDER) * ((1 << SLOT_BITS) - 1)

# (city, country, ISO 3166 code, region): where missions are. The BIG_CITIES are among them.
HOST_CITIES: tuple[tuple[str, str, str, str], ...] = (
    ("Washington", "United States", "US", "Americas"),
    ("New York", "United States", "US", "Multilateral"),
    ("London", "United Kingdom", "GB", "Europe"),
    ("Dubai", "United Arab Emirates", "AE", "Middle East"),
    ("Abu Dhabi", "United Arab Emirates", "AE", "Middle East"),
    ("Riyadh", "Saudi Arabia", "SA", "Middle East"),
    ("Jeddah", "Saudi Arabia", "SA", "Middle East"),
    ("Beijing", "China", "CN", "Asia-Pacific"),
    ("Kabul", "Afghanistan", "AF", "Central Asia"),
    ("Chicago", "United States", "US", "Americas"),
    ("Los Angeles", "United States", "US", "Americas"),
    ("Houston", "United States", "US", "Americas"),
    ("Ottawa", "Canada", "CA", "Americas"),
    ("Toronto", "Canada", "CA", "Americas"),
    ("Montreal", "Canada", "CA", "Americas"),
    ("Mexico City", "Mexico", "MX", "Americas"),
    ("Havana", "Cuba", "CU", "Americas"),
    ("Lima", "Peru", "PE", "Americas"),
    ("Brasilia", "Brazil", "BR", "Americas"),
    ("Sao Paulo", "Brazil", "BR", "Americas"),
    ("Buenos Aires", "Argentina", "AR", "Americas"),
    ("Santiago", "Chile", "CL", "Americas"),
    ("Bogota", "Colombia", "CO", "Americas"),
    ("Paris", "France", "FR", "Europe"),
    ("Berlin", "Germany", "DE", "Europe"),
    ("Frankfurt", "Germany", "DE", "Europe"),
    ("Rome", "Italy", "IT", "Europe"),
    ("Milan", "Italy", "IT", "Europe"),
    ("Madrid", "Spain", "ES", "Europe"),
    ("Barcelona", "Spain", "ES", "Europe"),
    ("Lisbon", "Portugal", "PT", "Europe"),
    ("Dublin", "Ireland", "IE", "Europe"),
    ("Brussels", "Belgium", "BE", "Europe"),
    ("The Hague", "Netherlands", "NL", "Europe"),
    ("Vienna", "Austria", "AT", "Europe"),
    ("Bern", "Switzerland", "CH", "Europe"),
    ("Geneva", "Switzerland", "CH", "Multilateral"),
    ("Stockholm", "Sweden", "SE", "Europe"),
    ("Oslo", "Norway", "NO", "Europe"),
    ("Copenhagen", "Denmark", "DK", "Europe"),
    ("Helsinki", "Finland", "FI", "Europe"),
    ("Warsaw", "Poland", "PL", "Europe"),
    ("Prague", "Czechia", "CZ", "Europe"),
    ("Budapest", "Hungary", "HU", "Europe"),
    ("Bucharest", "Romania", "RO", "Europe"),
    ("Sofia", "Bulgaria", "BG", "Europe"),
    ("Athens", "Greece", "GR", "Europe"),
    ("Belgrade", "Serbia", "RS", "Europe"),
    ("Sarajevo", "Bosnia and Herzegovina", "BA", "Europe"),
    ("Kyiv", "Ukraine", "UA", "Europe"),
    ("Minsk", "Belarus", "BY", "Europe"),
    ("Moscow", "Russia", "RU", "Europe"),
    ("Nicosia", "Cyprus", "CY", "Europe"),
    ("Ankara", "Turkey", "TR", "Europe"),
    ("Istanbul", "Turkey", "TR", "Europe"),
    ("Baku", "Azerbaijan", "AZ", "Central Asia"),
    ("Astana", "Kazakhstan", "KZ", "Central Asia"),
    ("Almaty", "Kazakhstan", "KZ", "Central Asia"),
    ("Tashkent", "Uzbekistan", "UZ", "Central Asia"),
    ("Bishkek", "Kyrgyzstan", "KG", "Central Asia"),
    ("Dushanbe", "Tajikistan", "TJ", "Central Asia"),
    ("Ashgabat", "Turkmenistan", "TM", "Central Asia"),
    ("Tehran", "Iran", "IR", "Middle East"),
    ("Baghdad", "Iraq", "IQ", "Middle East"),
    ("Kuwait City", "Kuwait", "KW", "Middle East"),
    ("Doha", "Qatar", "QA", "Middle East"),
    ("Manama", "Bahrain", "BH", "Middle East"),
    ("Muscat", "Oman", "OM", "Middle East"),
    ("Amman", "Jordan", "JO", "Middle East"),
    ("Beirut", "Lebanon", "LB", "Middle East"),
    ("Damascus", "Syria", "SY", "Middle East"),
    ("Sanaa", "Yemen", "YE", "Middle East"),
    ("Cairo", "Egypt", "EG", "Africa"),
    ("Tripoli", "Libya", "LY", "Africa"),
    ("Tunis", "Tunisia", "TN", "Africa"),
    ("Algiers", "Algeria", "DZ", "Africa"),
    ("Rabat", "Morocco", "MA", "Africa"),
    ("Khartoum", "Sudan", "SD", "Africa"),
    ("Addis Ababa", "Ethiopia", "ET", "Africa"),
    ("Nairobi", "Kenya", "KE", "Africa"),
    ("Kampala", "Uganda", "UG", "Africa"),
    ("Kigali", "Rwanda", "RW", "Africa"),
    ("Dar es Salaam", "Tanzania", "TZ", "Africa"),
    ("Maputo", "Mozambique", "MZ", "Africa"),
    ("Harare", "Zimbabwe", "ZW", "Africa"),
    ("Pretoria", "South Africa", "ZA", "Africa"),
    ("Abuja", "Nigeria", "NG", "Africa"),
    ("Accra", "Ghana", "GH", "Africa"),
    ("Dakar", "Senegal", "SN", "Africa"),
    ("Abidjan", "Côte d'Ivoire", "CI", "Africa"),
    ("Djibouti", "Djibouti", "DJ", "Africa"),
    ("Port Louis", "Mauritius", "MU", "Africa"),
    ("New Delhi", "India", "IN", "Asia-Pacific"),
    ("Mumbai", "India", "IN", "Asia-Pacific"),
    ("Colombo", "Sri Lanka", "LK", "Asia-Pacific"),
    ("Kathmandu", "Nepal", "NP", "Asia-Pacific"),
    ("Dhaka", "Bangladesh", "BD", "Asia-Pacific"),
    ("Male", "Maldives", "MV", "Asia-Pacific"),
    ("Yangon", "Myanmar", "MM", "Asia-Pacific"),
    ("Bangkok", "Thailand", "TH", "Asia-Pacific"),
    ("Hanoi", "Vietnam", "VN", "Asia-Pacific"),
    ("Jakarta", "Indonesia", "ID", "Asia-Pacific"),
    ("Kuala Lumpur", "Malaysia", "MY", "Asia-Pacific"),
    ("Singapore", "Singapore", "SG", "Asia-Pacific"),
    ("Manila", "Philippines", "PH", "Asia-Pacific"),
    ("Bandar Seri Begawan", "Brunei", "BN", "Asia-Pacific"),
    ("Shanghai", "China", "CN", "Asia-Pacific"),
    ("Guangzhou", "China", "CN", "Asia-Pacific"),
    ("Hong Kong", "China", "HK", "Asia-Pacific"),
    ("Seoul", "South Korea", "KR", "Asia-Pacific"),
    ("Tokyo", "Japan", "JP", "Asia-Pacific"),
    ("Osaka", "Japan", "JP", "Asia-Pacific"),
    ("Canberra", "Australia", "AU", "Asia-Pacific"),
    ("Sydney", "Australia", "AU", "Asia-Pacific"),
    ("Wellington", "New Zealand", "NZ", "Asia-Pacific"),
)

# (mission_type, weight, word in the mission's name, abbreviation for handles and ids)
MISSION_KINDS: tuple[tuple[str, int, str, str], ...] = (
    ("embassy", 58, "Embassy", "Emb"),
    ("high_commission", 8, "High Commission", "HC"),
    ("consulate_general", 26, "Consulate General", "CG"),
    ("consulate", 5, "Consulate", "Con"),
    ("permanent_mission", 3, "Permanent Mission", "PM"),
)

# Handle patterns for this registry's scheme (sending country code + kind + host city).
HANDLE_PATTERNS: dict[str, str] = {
    "x": r"^[A-Z]{2}(Emb|HC|CG|Con|PM)[A-Z][A-Za-z]*$",
    "facebook": r"^[A-Z]{2}(Embassy|HighCommission|ConsulateGeneral|Consulate|Mission)"
    r"[A-Z][A-Za-z]*$",
    "instagram": r"^[a-z]{2}\.(embassy|hc|cg|consulate|mission)\.[a-z]+$",
    "youtube": r"^[A-Z]{2}(Embassy|HC|CG|Consulate|Mission)[A-Z][A-Za-z]*$",
}
_LONG_KIND = {"Emb": "Embassy", "HC": "HighCommission", "CG": "ConsulateGeneral"}
_LONG_KIND |= {"Con": "Consulate", "PM": "Mission"}
_IG_KIND = {"Emb": "embassy", "HC": "hc", "CG": "cg", "Con": "consulate", "PM": "mission"}
_YT_KIND = {"Emb": "Embassy", "HC": "HC", "CG": "CG", "Con": "Consulate", "PM": "Mission"}
# The longest handle each platform allows (registry.HANDLE_RULES).
_MAX_LENGTH = {"x": 15, "facebook": 50, "instagram": 30, "youtube": 30}


@dataclass(frozen=True)
class GeneratedRegistry:
    """What ``generate_registry`` wrote: the config folder and its counts."""

    config_dir: Path
    missions: int
    handles: dict[str, int]
    seed: int

    @property
    def total_handles(self) -> int:
        return sum(self.handles.values())


@dataclass(frozen=True)
class _Sender:
    name: str
    code: str  # ISO 3166 alpha-2, the prefix of ids and handles


def generate_registry(
    out_dir: Path,
    handles: int = DEFAULT_HANDLES,
    *,
    seed: int = 0,
    base_config: Path | None = None,
) -> GeneratedRegistry:
    """Write a registry of exactly ``handles`` handles, and its policy, into ``out_dir``.

    ``base_config`` (default: the configured config folder) gives the policy and the
    reference avatar. ``out_dir`` is created; files already there are overwritten.
    """
    if not 1 <= handles <= MAX_HANDLES:
        raise ValueError(
            f"--handles {handles} is out of range: the simulator serves 1 to {MAX_HANDLES:,} "
            f"handles ({(1 << SLOT_BITS) - 1:,} per platform); ask for fewer"
        )
    base = (base_config or settings.config_dir()).resolve()
    out_dir = out_dir.resolve()
    if out_dir == base:
        raise ValueError(
            f"the output folder {out_dir} is the base config folder; write the generated "
            "registry somewhere else (it would overwrite the ministry's own files)"
        )
    rng = random.Random(seed)
    mission_count = -(-handles // len(PLATFORM_ORDER))
    missions = _missions(rng, mission_count)
    handle_rows = _handles(rng, missions, handles)
    (out_dir / MISSIONS_FILE).parent.mkdir(parents=True, exist_ok=True)
    _write_csv(out_dir / MISSIONS_FILE, MISSION_COLUMNS, missions)
    _write_csv(out_dir / HANDLES_FILE, HANDLE_COLUMNS, handle_rows)
    _write_policy(base, out_dir, handles)
    counts = {p: sum(1 for row in handle_rows if row["platform"] == p) for p in PLATFORM_ORDER}
    return GeneratedRegistry(out_dir, len(missions), counts, seed)


# --- missions -------------------------------------------------------------------------------


def _senders() -> list[_Sender]:
    """Sending countries: every host country of HOST_CITIES once (in table order)."""
    seen: dict[str, _Sender] = {}
    for _, country, code, region in HOST_CITIES:
        if region != "Multilateral" and code not in seen and code != "HK":
            seen[code] = _Sender(country, code)
    return list(seen.values())


def _missions(rng: random.Random, count: int) -> list[dict[str, str]]:
    senders = _senders()
    big = [c for c in HOST_CITIES if c[0] in BIG_CITIES]
    other = [c for c in HOST_CITIES if c[0] not in BIG_CITIES]
    kinds = [k for k, *_ in MISSION_KINDS]
    weights = [w for _, w, *_ in MISSION_KINDS]
    missions: list[dict[str, str]] = []
    taken: set[str] = set()
    for number in range(count):
        sender = senders[number % len(senders)]
        while True:
            pool = big if rng.random() < BIG_CITY_SHARE else other
            city, country, code, region = rng.choice(pool)
            if code == sender.code:
                continue  # a country has no mission in itself
            kind = "permanent_mission" if region == "Multilateral" else _pick(rng, kinds, weights)
            if kind == "permanent_mission" and region != "Multilateral":
                kind = "embassy"
            base_id = f"{sender.code.lower()}-{_abbr(kind).lower()}-{_slug(city)}"
            mission_id, suffix = base_id, 2
            while mission_id in taken:  # a second consulate in the same city, say
                mission_id, suffix = f"{base_id}-{suffix}", suffix + 1
            break
        taken.add(mission_id)
        founded = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 65 * 365))
        missions.append(
            {
                "mission_id": mission_id,
                "name": f"{_kind_word(kind)} of {sender.name}, {city}",
                "mission_type": kind,
                "city": city,
                "country": country,
                "country_code": code,
                "region": region,
                "active_from": founded.isoformat(),
                "active_to": "",
            }
        )
    return missions


def _pick(rng: random.Random, items: list[str], weights: list[int]) -> str:
    return rng.choices(items, weights=weights)[0]


def _kind_word(kind: str) -> str:
    return next(word for k, _, word, _ in MISSION_KINDS if k == kind)


def _abbr(kind: str) -> str:
    return next(abbr for k, _, _, abbr in MISSION_KINDS if k == kind)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text))


# --- handles --------------------------------------------------------------------------------


def _handles(
    rng: random.Random, missions: list[dict[str, str]], total: int
) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    used: dict[str, set[str]] = {p: set() for p in PLATFORM_ORDER}
    account_ids: set[str] = set()
    for mission in missions:
        for platform in PLATFORM_ORDER:
            if len(rows) == total:
                return rows
            handle = _unique(_handle_name(rng, platform, mission), platform, used[platform])
            opened = max(
                date.fromisoformat(mission["active_from"]),
                date(2009, 1, 1) + timedelta(days=rng.randrange(0, 14 * 365)),
            )
            rows.append(
                {
                    "mission_id": mission["mission_id"],
                    "platform": platform,
                    "handle": handle,
                    "platform_account_id": _account_id(rng, platform, account_ids),
                    "active_from": opened.isoformat(),
                    "active_to": "",
                }
            )
    return rows


def _handle_name(rng: random.Random, platform: str, mission: dict[str, str]) -> str:
    code = mission["mission_id"][:2]
    abbr = _abbr(mission["mission_type"])
    city = _camel(mission["city"])
    if rng.random() < CONFORMING_SHARE:
        names = {
            "x": f"{code.upper()}{abbr}{city}",
            "facebook": f"{code.upper()}{_LONG_KIND[abbr]}{city}",
            "instagram": f"{code}.{_IG_KIND[abbr]}.{city.lower()}",
            "youtube": f"{code.upper()}{_YT_KIND[abbr]}{city}",
        }
    else:  # legacy names that break the convention, as real registries have
        names = {
            "x": f"{code.upper()}in{city}_{rng.randint(1, 99)}",
            "facebook": f"{_kind_word(mission['mission_type']).replace(' ', '')}Of{code.upper()}"
            f"{city}{rng.randint(1, 9)}",
            "instagram": f"{code}_{abbr.lower()}_{city.lower()}",
            "youtube": f"{code.lower()}-{abbr.lower()}-{city.lower()}",
        }
    return names[platform][: _MAX_LENGTH[platform]]


def _unique(name: str, platform: str, used: set[str]) -> str:
    """``name``, or ``name`` with a number that makes it unique (case-insensitively)."""
    limit = _MAX_LENGTH[platform]
    candidate, number = name, 2
    while candidate.lower() in used:
        tail = str(number)
        candidate, number = name[: limit - len(tail)] + tail, number + 1
    used.add(candidate.lower())
    return candidate


def _account_id(rng: random.Random, platform: str, taken: set[str]) -> str:
    """A platform account id shaped like the real ones (YouTube: none; the API resolves it)."""
    if platform == "youtube":
        return ""
    while True:
        if platform == "instagram":
            value = str(17841400000000000 + rng.randrange(10**11))
        elif platform == "facebook":
            value = str(rng.randrange(10**14, 10**16))
        else:
            value = str(rng.randrange(10**17, 2 * 10**18))
        if value not in taken:
            taken.add(value)
            return value


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# --- policy ---------------------------------------------------------------------------------


def _write_policy(base: Path, out_dir: Path, handles: int) -> None:
    """The base policy with this registry's handle patterns; its avatar copied beside it."""
    policy: dict[str, Any] = yaml.safe_load((base / POLICY_FILE).read_text(encoding="utf-8"))
    for platform, pattern in HANDLE_PATTERNS.items():
        policy["platforms"][platform]["handle_pattern"] = pattern
    reference = policy["avatar"]["reference_image"]
    source = base / reference
    target = out_dir / reference
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    header = (
        f"# Generated by missionpulse.simulator.scale_registry: a simulated registry of "
        f"{handles} handles\n# for the scale benchmark (bench/scale.py). The policy is "
        f"{base / POLICY_FILE} with handle\n# patterns for the generated names. "
        "Regenerate it rather than editing it.\n"
    )
    body = yaml.safe_dump(policy, sort_keys=False, allow_unicode=True, width=100)
    (out_dir / POLICY_FILE).write_text(header + body, encoding="utf-8")
