"""Where pixels live in the embedding store: UTM zone groups, their grids, and shard geometry.

Pure functions and value types, no I/O. The published convention keeps one group per UTM zone
number (``utm31``) in the zone's NORTHERN code (EPSG:326NN) for both hemispheres, southern
northings being stored negative (northing − 10 000 000 m), on the lattice of multiples of 10 m.
Our writer gives every zone one fixed grid spanning the whole zone, so cubes anywhere in it land
on the same pixels, can be written by different processes, and read back as one mosaic without
resampling. Other writers size a zone's grid to their data: readers take the grid from each
group's own ``spatial:transform``, never from this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from affine import Affine

from tessera.errors import GeoreferenceError
from tessera.grid import PIXEL_SIZE_M, Grid, Window

# The fixed zone grid of our writer, in metres of the northern code. Eastings span the whole
# false-easting range (Sentinel-2 tiles reach ~100 km past a zone's edges); northings run from
# 84° N (≈ 9 329 km) down to 80° S (≈ −8 883 km in the northern code).
ZONE_EASTING = (0.0, 1_000_000.0)
ZONE_NORTHING = (-9_000_000.0, 9_400_000.0)
SOUTH_OFFSET_M = 10_000_000.0  # false northing of the southern codes EPSG:327NN
INNER_CHUNK = 32  # pixels per inner-chunk side: the convention's (1, 128, 32, 32)


@dataclass(frozen=True)
class StoreLayout:
    """Shard geometry of the arrays our writer creates (readers take it from array metadata).

    A shard (``shard`` × ``shard`` px, one file per year and array) is the unit of writing: one
    block of ``tessera embed`` is the part of one shard a cube covers. Its 32 × 32 inner chunks
    (128 KiB of int8 before compression) are the unit of reading. 256 px keeps one block's model
    inputs around 250 MB on CPU; the official stores use 4096 and every reader reads both.
    """

    shard: int = 256
    chunk: int = INNER_CHUNK

    def __post_init__(self) -> None:
        if self.chunk <= 0 or self.shard <= 0 or self.shard % self.chunk:
            raise GeoreferenceError(
                f"store layout shard={self.shard}: it must be a positive multiple of the "
                f"{self.chunk}-pixel inner chunk (e.g. 256, 1024, 4096)"
            )


def depth_chunk(depth: int, layout: StoreLayout, full: int = 128) -> int:
    """Inner-chunk side of a ``depth``-band array, as the official writer sizes it: the largest
    power-of-two multiple of the 32-px chunk whose bytes stay within the full array's
    (1, 128, 32, 32) and that still divides the shard. A 16-band prefix gets 64 × 64 px: the
    sharding index costs 16 bytes per inner chunk, so narrow arrays want fewer, larger ones."""
    side, budget = layout.chunk, full * layout.chunk * layout.chunk
    while 2 * side <= layout.shard and layout.shard % (2 * side) == 0 and depth * (2 * side) ** 2 <= budget:
        side *= 2
    return side


@dataclass(frozen=True, order=True)
class Zone:
    """A UTM zone number 1–60; both hemispheres share its group and its northern EPSG code."""

    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 60:
            raise GeoreferenceError(f"UTM zone {self.number} does not exist; zones are 1–60")

    @classmethod
    def from_epsg(cls, epsg: int) -> Zone:
        if 32601 <= epsg <= 32660:
            return cls(epsg - 32600)
        if 32701 <= epsg <= 32760:
            return cls(epsg - 32700)
        raise GeoreferenceError(
            f"EPSG:{epsg} is not a WGS84 UTM zone (EPSG:326xx north, 327xx south); the store "
            "keeps one group per UTM zone, so reproject the cube onto its UTM zone first"
        )

    @classmethod
    def from_name(cls, name: str) -> Zone:
        """``"utm31"`` → Zone(31)."""
        body = name[3:]
        if not name.startswith("utm") or len(body) != 2 or not body.isdigit() or not 1 <= int(body) <= 60:
            raise GeoreferenceError(f"{name!r} is not a zone group name like 'utm31' or 'utm05'")
        return cls(int(body))

    @property
    def epsg(self) -> int:
        """The northern code, used for both hemispheres."""
        return 32600 + self.number

    @property
    def name(self) -> str:
        return f"utm{self.number:02d}"

    def grid(self) -> Grid:
        """Our writer's fixed 10 m grid of the zone: every cube and year of it lands here."""
        bottom, top = ZONE_NORTHING
        left, right = ZONE_EASTING
        res = PIXEL_SIZE_M
        return Grid(
            f"EPSG:{self.epsg}",
            Affine(res, 0.0, left, 0.0, -res, top),
            round((top - bottom) / res),
            round((right - left) / res),
        )


def northern_grid(grid: Grid) -> Grid:
    """A grid in EPSG:327NN as the same pixels in EPSG:326NN (northings − 10 000 km)."""
    if 32701 <= grid.epsg <= 32760:
        t = grid.transform
        shifted = Affine(t.a, t.b, t.c, t.d, t.e, t.f - SOUTH_OFFSET_M)
        return Grid(f"EPSG:{grid.epsg - 100}", shifted, grid.height, grid.width)
    return grid


def lattice_window(grid: Grid, zone_grid: Grid) -> Window:
    """The window ``grid`` occupies in ``zone_grid``; refuses grids off its 10 m lattice.

    Silently resampling them would shift every pixel by a fraction of its size.
    """
    grid = northern_grid(grid)
    t, z = grid.transform, zone_grid.transform
    if (t.a, -t.e) != (PIXEL_SIZE_M, PIXEL_SIZE_M) or t.b or t.d:
        raise GeoreferenceError(
            f"cube pixels are {t.a} × {-t.e} m; the embedding store holds north-up 10 m pixels, so "
            "resample the cube to 10 m first"
        )
    col, row = (t.c - z.c) / PIXEL_SIZE_M, (z.f - t.f) / PIXEL_SIZE_M
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        raise GeoreferenceError(
            f"cube origin ({t.c}, {t.f}) is not on the 10 m lattice (corners at multiples of "
            "10 m); resample the cube onto an aligned grid"
        )
    return Window(round(row), round(col), grid.height, grid.width)


def place(grid: Grid) -> tuple[Zone, Window]:
    """The zone of a cube's grid and the window it occupies in our fixed zone grid."""
    zone = Zone.from_epsg(grid.epsg)
    zg = zone.grid()
    win = lattice_window(grid, zg)
    if win.intersection(Window(0, 0, zg.height, zg.width)) != win:
        raise GeoreferenceError(f"cube window {win} lies outside the {zone.name} zone grid")
    return zone, win


def shard_of(row: int, col: int, layout: StoreLayout) -> tuple[int, int]:
    """(shard row, shard col) holding zone pixel (row, col)."""
    return row // layout.shard, col // layout.shard


def shard_window(shard: tuple[int, int], layout: StoreLayout) -> Window:
    s = layout.shard
    return Window(shard[0] * s, shard[1] * s, s, s)


def blocks(window: Window, layout: StoreLayout) -> Iterator[tuple[tuple[int, int], Window]]:
    """Split a zone window into the pieces of it each shard holds, row-major:
    ``((shard row, shard col), piece)``. Writing one piece touches exactly one shard file."""
    r0, c0 = shard_of(window.row, window.col, layout)
    r1, c1 = shard_of(window.row + window.height - 1, window.col + window.width - 1, layout)
    for r in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            piece = window.intersection(shard_window((r, c), layout))
            assert piece is not None  # every shard in the range meets the window
            yield (r, c), piece
