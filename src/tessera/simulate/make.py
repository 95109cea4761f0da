"""``tessera simulate`` as one call: a scene (given settings, or one of a named family) on disk."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from tessera.progress import Progress
from tessera.simulate.regime import Regime
from tessera.simulate.scene import SimulatedScene, SimulationConfig, check_scene_output, simulate, write_scene


def make_scene(
    out: str | os.PathLike,
    config: SimulationConfig,
    *,
    varied: bool = False,
    family: str | None = None,
    index: int = 0,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> SimulatedScene:
    """Simulate and write one scene into ``out``. ``varied`` draws the regime from the seed;
    ``family`` makes scene ``index`` of that family instead (its fingerprint checked if frozen)."""
    from tessera.simulate.family import check_frozen
    from tessera.simulate.family import family as named

    if varied:
        config = dataclasses.replace(config, regime=Regime.drawn(config.seed))
    if family is not None:
        config = named(family).config(index)
    check_scene_output(Path(out), overwrite)
    scene = simulate(config, progress=progress)
    if family is not None:
        check_frozen(family, index, scene)
    write_scene(scene, out, overwrite=overwrite)
    return scene
