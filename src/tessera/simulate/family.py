"""Named families of simulated scenes: one to pretrain on, one to tune on, one to test on.

A result measured on the scene a recipe was tuned on says little. Three disjoint seed ranges keep
the roles apart. Every scene draws its own regime (crop calendar, clouds, SAR noise, revisit),
field size and place (latitude 35–60° N, longitude −9–30° E, so several UTM zones):

- ``pretrain``: the broad pretraining set of the shipped checkpoint;
- ``dev``: where recipes and selection criteria may be compared and tuned;
- ``test``: frozen before anything was tuned and never tuned on. Its scenes' fingerprints are
  recorded below, so a later change to the simulator cannot silently change the test.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from tessera.errors import ConfigError
from tessera.simulate.regime import Regime
from tessera.simulate.scene import SimulatedScene, SimulationConfig


@dataclass(frozen=True)
class Family:
    name: str
    first_seed: int
    count: int  # scenes in the family
    size: int  # pixels a side

    def config(self, index: int) -> SimulationConfig:
        if not 0 <= index < self.count:
            raise ConfigError(f"family {self.name!r} has scenes 0–{self.count - 1}, not {index}")
        seed = self.first_seed + index
        rng = np.random.default_rng([seed, 4421])
        return SimulationConfig(
            height=self.size,
            width=self.size,
            seed=seed,
            lat=round(float(rng.uniform(35, 60)), 3),
            lon=round(float(rng.uniform(-9, 30)), 3),
            field_px=round(float(rng.uniform(14, 30)), 1),
            regime=Regime.drawn(seed),
        )

    def configs(self) -> list[SimulationConfig]:
        return [self.config(i) for i in range(self.count)]


FAMILIES = {
    "pretrain": Family("pretrain", 1000, 48, 96),
    "dev": Family("dev", 5000, 3, 128),
    "test": Family("test", 9000, 4, 160),
}

# sha256 of each test scene's classes, fields and S2/S1 arrays, recorded when the family was frozen.
FROZEN = {
    "test": (
        "e1303a2a9cc608369d9b4abd53347132412402ada6ada7b76eb1095426cccd23",
        "3d21aba5e6f7557b633ad3d112c3a1d992ab2d107e885c7c60033b9f58a5bf38",
        "7554fcc94afaeebf9f5cd50b706a179865f0d125e19bd74d3b43cedd88731903",
        "3db3f6d33592acbafe7e63a755c3e8b0b3dcf51a3b6b850cfb907cf46f64cc9d",
    ),
}


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise ConfigError(f"unknown scene family {name!r}; choose one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def fingerprint(scene: SimulatedScene) -> str:
    h = hashlib.sha256()
    c = scene.cube
    for a in (scene.classes, scene.field_id, c.s2_bands, c.s2_mask, c.s1_ascending.values, c.s1_descending.values):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def check_frozen(name: str, index: int, scene: SimulatedScene) -> None:
    """A one-line error if a frozen family's scene is not the one recorded when it was frozen."""
    recorded = FROZEN.get(name)
    if recorded and fingerprint(scene) != recorded[index]:
        raise ConfigError(
            f"scene {index} of the frozen {name!r} family differs from the one recorded when it "
            "was frozen: the simulator changed; results on it are not comparable"
        )
