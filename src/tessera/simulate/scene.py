"""Simulate a scene (cube + ground truth) and write/read it as a directory.

Scene directory layout::

    OUT/
      cube.zarr             the d-pixel cube (tessera.cube)
      classes.tif           uint8 land-cover class per pixel (255 = none), same grid
      canopy_height.tif     float32 metres, same grid
      fields.tif            int32 patch id (field, stand, lake…), same grid
      legend.json           class ids, names, colours
      scene.json            the SimulationConfig that made it (re-running it gives the same scene)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tessera import sensors
from tessera.atomic import atomic_dir, check_output
from tessera.cube import Cube, CubeData, cube_location, open_cube, write_cube
from tessera.cube.data import check_year
from tessera.errors import ConfigError, InputNotFoundError
from tessera.geotiff import write_geotiff
from tessera.grid import Grid, utm_grid
from tessera.progress import Progress
from tessera.simulate import render, weather
from tessera.simulate.classes import CLASS_NAMES, NODATA_CLASS, legend
from tessera.simulate.landscape import make_landscape
from tessera.simulate.regime import Regime

SCENE_MARKER = "scene.json"
# The S2 acquisition step skips dates with less than this valid fraction (DESIGN: acquire).
MIN_VALID_FRACTION = 0.05


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Same config → same scene, bit for bit."""

    height: int = 128  # pixels (10 m): 128 px = 1.28 km
    width: int = 128
    year: int = 2024
    seed: int = 0  # fixes the landscape layout; weather also depends on the year
    lon: float = 0.12  # scene centre: farmland near Cambridge, UK (UTM 31N)
    lat: float = 52.2
    field_px: float = 22.0  # typical field size in pixels (≈ 4.8 ha at 22 px)
    change_fraction: float = 0.0  # share of fields that switch crop in this year (rotation)
    regime: Regime = field(default_factory=Regime)  # climate and sensing; the default is the classic scene

    def __post_init__(self) -> None:
        if isinstance(self.regime, dict):  # read back from scene.json
            object.__setattr__(self, "regime", Regime(**self.regime))
        if not (8 <= self.height <= 20000 and 8 <= self.width <= 20000):
            raise ConfigError(f"size {self.height}×{self.width} must be 8–20000 pixels a side")
        check_year(self.year)
        if not 0.0 <= self.change_fraction <= 1.0:
            raise ConfigError(f"change_fraction {self.change_fraction} must be in [0, 1]")
        if not 4 <= self.field_px <= min(self.height, self.width) * 4:
            raise ConfigError(f"field_px {self.field_px} must be ≥ 4 pixels")


@dataclass(frozen=True)
class SimulatedScene:
    """A simulated cube and its ground truth on the same grid."""

    config: SimulationConfig
    cube: CubeData
    classes: np.ndarray  # (H, W) uint8 class id
    canopy_height: np.ndarray  # (H, W) float32 metres
    field_id: np.ndarray  # (H, W) int32
    changed: np.ndarray  # (H, W) bool: class differs from the landscape's base layout
    class_names: tuple[str, ...] = CLASS_NAMES

    @property
    def grid(self) -> Grid:
        return self.cube.grid


def simulate(
    config: SimulationConfig = SimulationConfig(),
    progress: Progress | None = None,
    land_cover: np.ndarray | None = None,
) -> SimulatedScene:
    """Simulate one year of Sentinel-1/2 observations over a synthetic landscape.

    ``progress(stage, done, total)`` is called after each date, for the CLI's progress bar;
    ``land_cover`` overrides classes (:func:`tessera.simulate.landscape.make_landscape`), as the
    multi-year histories' change events do.
    """
    report = progress or (lambda stage, done, total: None)
    shape = (config.height, config.width)
    grid = utm_grid(config.lon, config.lat, config.height, config.width)
    land = make_landscape(
        shape,
        config.seed,
        config.year,
        config.change_fraction,
        config.field_px,
        config.regime.calendar_shift_days,
        land_cover,
    )
    rng = np.random.default_rng([config.seed, config.year, 3])
    moisture = weather.soil_moisture(rng, config.year)
    sun = (int(rng.integers(3, 9)), int(rng.integers(3, 12)))
    green = render.green_spectrum(land)

    s2_doy, s2_bands, s2_mask = [], [], []
    every = config.regime.s2_revisit_days
    (s2_start,) = weather.revisit_phases(rng, every, 1)
    s2_dates = weather.revisit_dates(config.year, every, s2_start)
    for i, doy in enumerate(s2_dates):
        report("Sentinel-2", i + 1, len(s2_dates))
        cover = weather.cloud_cover_fraction(rng, int(doy), config.year, config.regime.cloudiness)
        sky = weather.clouds(rng, shape, cover, sun)
        dn, scl = render.render_s2(land, int(doy), moisture[doy - 1], sky, rng, green)
        mask = sensors.scl_valid_mask(scl)
        if mask.mean() < MIN_VALID_FRACTION:
            continue
        s2_doy.append(doy)
        s2_bands.append(dn)
        s2_mask.append(mask)

    s1 = {}
    aspect = rng.choice([-1.5, 1.5], size=shape).astype(np.float32)
    s1_every = weather.s1_revisit(config.year)
    phases = weather.revisit_phases(rng, s1_every, len(sensors.S1_ORBITS))
    for orbit, start in zip(sensors.S1_ORBITS, phases, strict=False):
        doys = weather.revisit_dates(config.year, s1_every, start)
        values = []
        for i, d in enumerate(doys):
            report(f"Sentinel-1 {orbit}", i + 1, len(doys))
            values.append(
                render.render_s1(
                    land,
                    int(d),
                    moisture[d - 1],
                    float(rng.random()),
                    orbit,
                    rng,
                    aspect if orbit == "ascending" else -aspect,
                    config.regime.speckle_looks,
                )
            )
        s1[orbit] = (np.stack(values), doys)

    cube = CubeData.from_arrays(
        grid,
        config.year,
        np.stack(s2_bands),
        np.stack(s2_mask),
        np.array(s2_doy, np.uint16),
        s1["ascending"][0],
        s1["ascending"][1],
        s1["descending"][0],
        s1["descending"][1],
    )
    return SimulatedScene(
        config=config,
        cube=cube,
        classes=land.classes,
        canopy_height=land.canopy_height,
        field_id=land.field_id,
        changed=land.classes != land.base_classes,
    )


def _write_raster(path: Path, grid: Grid, data: np.ndarray, nodata=None) -> None:
    write_geotiff(path, data, grid, nodata)


def is_scene(path: str | os.PathLike) -> bool:
    return (Path(path) / SCENE_MARKER).is_file()


def check_scene_output(out: str | os.PathLike, overwrite: bool = False) -> None:
    """Fail early (before minutes of simulation) if ``out`` cannot take a scene."""
    check_output(Path(out), overwrite, is_scene)


def write_scene(scene: SimulatedScene, out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write cube + label rasters + legend to directory ``out``, atomically."""
    out = Path(out)
    check_scene_output(out, overwrite)
    with atomic_dir(out) as tmp:
        write_cube(tmp / "cube.zarr", scene.cube)
        _write_raster(tmp / "classes.tif", scene.grid, scene.classes, nodata=NODATA_CLASS)
        _write_raster(tmp / "canopy_height.tif", scene.grid, scene.canopy_height)
        _write_raster(tmp / "fields.tif", scene.grid, scene.field_id)
        (tmp / "legend.json").write_text(json.dumps(legend(), indent=2))
        (tmp / SCENE_MARKER).write_text(json.dumps(asdict(scene.config), indent=2))
    return out


def read_labels(scene_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """The ground-truth rasters of a written scene: classes, canopy_height, fields."""
    import rasterio

    scene_dir = Path(scene_dir)
    if not is_scene(scene_dir):
        raise InputNotFoundError(f"{scene_dir} is not a simulated scene (no {SCENE_MARKER})")
    out = {}
    for name in ("classes", "canopy_height", "fields"):
        with rasterio.open(scene_dir / f"{name}.tif") as src:
            out[name] = src.read(1)
    return out


def open_scene_cube(scene_dir: str | os.PathLike) -> Cube:
    """The lazily opened cube of a written scene."""
    return open_cube(cube_location(scene_dir))
