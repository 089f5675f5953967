"""The scale benchmark's generated registry: valid, deterministic, exactly as large as asked."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from missionpulse.registry import HANDLES_FILE, MISSIONS_FILE, POLICY_FILE, load_registry
from missionpulse.simulator.scale_registry import MAX_HANDLES, generate_registry
from missionpulse.simulator.world import World, specs_from_registry

FILES = (MISSIONS_FILE, HANDLES_FILE, POLICY_FILE)


@pytest.mark.parametrize("handles", [1, 7, 2_001])
def test_the_registry_loads_with_exactly_the_handles_asked_for(
    tmp_path: Path, handles: int
) -> None:
    generated = generate_registry(tmp_path / "config", handles, seed=3)
    registry = load_registry(generated.config_dir)  # raises RegistryError on any problem
    assert len(registry.handles) == handles == generated.total_handles
    assert len(registry.missions) == generated.missions == -(-handles // 4)
    assert Counter(h.platform for h in registry.handles) == Counter(
        {p: n for p, n in generated.handles.items() if n}
    )
    # every generated mission has every platform, but the last one may be cut short
    per_mission = Counter(h.mission_id for h in registry.handles)
    assert sorted(set(per_mission.values())) in ([4], [handles % 4, 4], [handles % 4])


def test_the_same_seed_gives_the_same_files_and_another_seed_others(tmp_path: Path) -> None:
    first = generate_registry(tmp_path / "a", 600, seed=1).config_dir
    second = generate_registry(tmp_path / "b", 600, seed=1).config_dir
    other = generate_registry(tmp_path / "c", 600, seed=2).config_dir
    for name in FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / HANDLES_FILE).read_bytes() != (other / HANDLES_FILE).read_bytes()


def test_ten_thousand_handles_keep_the_example_registrys_volume_per_handle(
    tmp_path: Path,
) -> None:
    registry = load_registry(generate_registry(tmp_path / "config", 10_000).config_dir)
    assert len(registry.handles) == 10_000
    assert len(registry.missions) == 2_500
    # The simulator's large accounts post and draw several times more: their share decides
    # the volume per handle. The example registry has 54 of 430 (12.6%).
    world = World(specs_from_registry(registry))
    accounts = [a for p in ("x", "facebook", "instagram", "youtube") for a in world.accounts(p)]
    large_share = sum(a.large for a in accounts) / len(accounts)
    assert 0.09 < large_share < 0.17, large_share
    # the naming policy is the generated scheme's: most handles follow it, some do not
    summary = registry.summary()
    non_conforming = sum(summary.non_conforming.values()) / len(registry.handles)
    assert 0.05 < non_conforming < 0.3, non_conforming
    assert len({(h.platform, h.handle.lower()) for h in registry.handles}) == 10_000


def test_too_many_handles_or_writing_over_the_base_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="out of range"):
        generate_registry(tmp_path / "config", MAX_HANDLES + 1)
    with pytest.raises(ValueError, match="out of range"):
        generate_registry(tmp_path / "config", 0)
    base = generate_registry(tmp_path / "base", 8).config_dir
    with pytest.raises(ValueError, match="base config folder"):
        generate_registry(base, 8, base_config=base)
