import dataclasses

import pytest

from tessera.errors import ConfigError
from tessera.simulate import simulate
from tessera.simulate.family import FAMILIES, check_frozen, family
from tests.tessera_cli import run_tessera


def test_families_never_share_a_seed():
    seeds = [c.seed for f in FAMILIES.values() for c in f.configs()]
    assert len(seeds) == len(set(seeds))


def test_scenes_draw_their_own_place_and_regime():
    configs = family("dev").configs()
    assert len({c.regime for c in configs}) == len(configs)
    assert len({(c.lat, c.lon) for c in configs}) == len(configs)
    assert family("dev").config(1) == family("dev").config(1)


def test_the_frozen_test_family_is_the_recorded_one():
    f = family("test")
    check_frozen("test", 3, simulate(f.config(3)))  # the simulator still makes what was frozen
    other = simulate(dataclasses.replace(f.config(3), seed=f.config(3).seed + 1))
    with pytest.raises(ConfigError, match="frozen"):
        check_frozen("test", 3, other)


def test_unknown_family_and_index_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown scene family"):
        family("holdout")
    with pytest.raises(ConfigError, match="scenes 0–"):
        family("test").config(99)


def test_the_cli_makes_a_family_scene(tmp_path):
    import json

    r = run_tessera("simulate", tmp_path / "d", "--family", "dev", "--index", "2")
    assert r.returncode == 0, r.stderr
    recorded = json.loads((tmp_path / "d" / "scene.json").read_text())
    assert recorded["seed"] == family("dev").config(2).seed
    bad = run_tessera("simulate", tmp_path / "e", "--family", "x")
    assert bad.returncode == 2 and "unknown scene family" in bad.stderr + bad.stdout and "Traceback" not in bad.stderr
