"""Multi-year scenes with known land-cover change: the ground truth change dating is tested on.

One landscape (one seed) is simulated year after year. Every year has its own weather, traits and
crop rotation (fields switching crop at random, year by year — which is *not* change: the field is
still a field). On top of that, some Voronoi cells change for good in a known year:

- ``forest_loss``: the forest part of a cell is cleared (becomes bare);
- ``new_buildings``: an agricultural cell is built up;
- ``new_water``: an agricultural cell is flooded (a reservoir).

A change year is drawn with at least two years of the series on each side of the break, so that
"before" and "after" are both seen more than once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tessera.errors import ConfigError
from tessera.progress import Progress
from tessera.simulate.classes import AGRICULTURAL
from tessera.simulate.landscape import NO_COVER, make_landscape
from tessera.simulate.scene import SimulatedScene, SimulationConfig, simulate

FOREST = (5, 6)
BARE, BUILT_UP, WATER = 9, 8, 7
KINDS = {"forest_loss": BARE, "new_buildings": BUILT_UP, "new_water": WATER}
MIN_SIDE = 2  # years of the series on each side of a change


@dataclass(frozen=True)
class ChangeEvent:
    cell: int  # the Voronoi cell (``Landscape.cells``) that changed
    year: int  # the first year that shows the new cover
    kind: str  # a key of KINDS
    pixels: int


@dataclass(frozen=True)
class History:
    years: tuple[int, ...]
    scenes: dict[int, SimulatedScene]
    events: tuple[ChangeEvent, ...]
    change_year: np.ndarray  # (H, W) int16: the year a pixel changed for good, 0 = never
    cells: np.ndarray  # (H, W) int32 Voronoi cell per pixel

    def stable_fields(self) -> np.ndarray:
        """(H, W) int32 field id of pixels that never changed for good (crop rotation included),
        -1 elsewhere: the fields false alarms are counted on."""
        fid = self.scenes[self.years[0]].field_id
        return np.where(self.change_year == 0, fid, -1).astype(np.int32)


def plan_events(
    config: SimulationConfig, years: tuple[int, ...], share: float = 0.25, min_pixels: int = 20
) -> tuple[np.ndarray, list[ChangeEvent]]:
    """(cover override per year index as (H, W) int16 change year, events): about ``share`` of
    the cells that can change do, each in a year drawn with ``MIN_SIDE`` years either side."""
    if len(years) < 2 * MIN_SIDE:
        raise ConfigError(f"a change history needs at least {2 * MIN_SIDE} years, not {len(years)}")
    land = make_landscape((config.height, config.width), config.seed, years[0], 0.0, config.field_px)
    rng = np.random.default_rng([config.seed, 17])
    agri = np.isin(land.classes, [c.id for c in AGRICULTURAL])
    forest = np.isin(land.classes, FOREST)
    change_year = np.zeros(land.classes.shape, np.int16)
    events = []
    for cell in rng.permutation(int(land.cells.max()) + 1):
        inside = land.cells == cell
        n = int(inside.sum())
        if n == 0 or rng.random() >= share:
            continue
        if (forest & inside).sum() > 0.6 * n:
            kind, where = "forest_loss", forest & inside
        elif (agri & inside).sum() > 0.8 * n:
            kind, where = ("new_buildings" if rng.random() < 0.5 else "new_water"), agri & inside
        else:
            continue
        if where.sum() < min_pixels:
            continue
        year = years[int(rng.integers(MIN_SIDE, len(years) - MIN_SIDE + 1))]
        change_year[where] = year
        events.append(ChangeEvent(int(cell), year, kind, int(where.sum())))
    return change_year, events


def cover_in(change_year: np.ndarray, events: list[ChangeEvent], cells: np.ndarray, year: int) -> np.ndarray:
    """The ``cover`` override of ``year``: each event's new class from its year on."""
    cover = np.full(change_year.shape, NO_COVER, np.uint8)
    for e in events:
        if year >= e.year:
            cover[(cells == e.cell) & (change_year == e.year)] = KINDS[e.kind]
    return cover


def simulate_history(
    config: SimulationConfig,
    years: tuple[int, ...],
    rotation: float = 0.35,
    share: float = 0.25,
    progress: Progress | None = None,
) -> History:
    """One landscape over ``years``: yearly weather and crop rotation (``rotation`` of fields
    switch crop each year), and change events on about ``share`` of the cells."""
    years = tuple(sorted(set(years)))
    change_year, events = plan_events(config, years, share)
    cells = make_landscape((config.height, config.width), config.seed, years[0], 0.0, config.field_px).cells
    scenes = {}
    for y in years:
        cfg = dataclasses.replace(config, year=y, change_fraction=rotation)
        scenes[y] = simulate(cfg, progress, cover_in(change_year, events, cells, y))
    return History(years, scenes, tuple(events), change_year, cells)
