"""A synthetic but physically plausible Sentinel-1/2 cube generator with ground truth.

Our test bed and the quickstart's data. Ten land-cover classes with distinct phenology are laid
out as fields, stands, lakes and a town; Sentinel-2 sees them through per-pixel clouds and shadows
every 5 days, Sentinel-1 through speckle every 6 or 12 days in each orbit direction.

>>> scene = simulate(SimulationConfig(height=64, width=64, seed=1))   # doctest: +SKIP
>>> scene.cube.s2_bands.shape, scene.classes.shape                    # doctest: +SKIP
((61, 64, 64, 10), (64, 64))
"""

from tessera.simulate.classes import CLASS_NAMES, CLASSES, N_CLASSES
from tessera.simulate.scene import (
    SimulatedScene,
    SimulationConfig,
    is_scene,
    open_scene_cube,
    read_labels,
    simulate,
    write_scene,
)

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "N_CLASSES",
    "SimulatedScene",
    "SimulationConfig",
    "is_scene",
    "open_scene_cube",
    "read_labels",
    "simulate",
    "write_scene",
]
