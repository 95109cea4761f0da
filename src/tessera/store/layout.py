"""Where pixels live in the embedding store: UTM zone groups, their grids, and shard geometry.

Pure functions and value types, no I/O. Every group of the store covers a whole UTM zone on one
fixed 10 m grid, so cubes anywhere in the zone land on the same pixel lattice and can be written
by different processes, and read back as one mosaic, without any resampling.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from affine import Affine

from tessera.errors import GeoreferenceError
from tessera.grid import PIXEL_SIZE_M, Grid, Window

# Zone grid extents in metres. Eastings span the whole false-easting range (Sentinel-2 tiles
# reach ~100 km beyond a zone's edges); northings cover one hemisphere each, from 80° S to 84° N.
ZONE_EASTING = (0.0, 1_000_000.0)
NORTH_NORTHING = (0.0, 9_400_000.0)
SOUTH_NORTHING = (1_000_000.0, 10_000_000.0)


@dataclass(frozen=True)
class StoreLayout:
    """Storage geometry shared by every group of a store (recorded in the root attributes).

    One shard file holds ``shard × shard`` pixels and is the unit of writing: one block of
    ``tessera embed`` = the part of one shard covered by a cube. Inside it, ``chunk × chunk``
    pixel chunks are the unit of reading: 8 × 8 × 128 int8 = 8 KiB, so a point read fetches a
    few KB (one chunk plus the shard's 4 KiB index at the default 128-pixel shard).
    """

    shard: int = 128
    chunk: int = 8

    def __post_init__(self) -> None:
        if self.chunk <= 0 or self.shard <= 0 or self.shard % self.chunk:
            raise GeoreferenceError(
                f"store layout shard={self.shard}, chunk={self.chunk}: both must be positive and "
                "the shard a multiple of the chunk"
            )

    def to_attrs(self) -> dict:
        return {"shard": self.shard, "chunk": self.chunk}

    @classmethod
    def from_attrs(cls, attrs: dict) -> StoreLayout:
        return cls(int(attrs["shard"]), int(attrs["chunk"]))


@dataclass(frozen=True)
class Zone:
    """A UTM zone: number 1–60 and hemisphere."""

    number: int
    north: bool

    @classmethod
    def from_epsg(cls, epsg: int) -> Zone:
        if 32601 <= epsg <= 32660:
            return cls(epsg - 32600, True)
        if 32701 <= epsg <= 32760:
            return cls(epsg - 32700, False)
        raise GeoreferenceError(
            f"EPSG:{epsg} is not a WGS84 UTM zone (EPSG:326xx north, 327xx south); the store "
            "keeps one group per UTM zone, so reproject the cube onto its UTM zone first"
        )

    @classmethod
    def from_name(cls, name: str) -> Zone:
        """``"utm30N"`` → Zone(30, True)."""
        body, hemi = name[3:-1], name[-1:]
        if not name.startswith("utm") or not body.isdigit() or hemi not in "NS" or not 1 <= int(body) <= 60:
            raise GeoreferenceError(f"{name!r} is not a zone group name like 'utm30N' or 'utm55S'")
        return cls(int(body), hemi == "N")

    @property
    def epsg(self) -> int:
        return (32600 if self.north else 32700) + self.number

    @property
    def name(self) -> str:
        return f"utm{self.number:02d}{'N' if self.north else 'S'}"

    def grid(self) -> Grid:
        """The zone's fixed 10 m grid: every group of this zone, every year, uses it."""
        bottom, top = NORTH_NORTHING if self.north else SOUTH_NORTHING
        left, right = ZONE_EASTING
        res = PIXEL_SIZE_M
        return Grid(f"EPSG:{self.epsg}", Affine(res, 0.0, left, 0.0, -res, top),
                    round((top - bottom) / res), round((right - left) / res))  # fmt: skip


def group_path(year: int, zone: Zone) -> str:
    """The store-relative path of a year's zone group, e.g. ``"2024/utm30N"``."""
    return f"{year}/{zone.name}"


def place(grid: Grid) -> tuple[Zone, Window]:
    """The zone of a cube's grid and the window it occupies in the zone grid.

    Refuses grids that are not 10 m, north-up and aligned to the zone lattice: silently
    resampling them would shift every pixel by a fraction of its size.
    """
    zone = Zone.from_epsg(grid.epsg)
    zg = zone.grid()
    t, z = grid.transform, zg.transform
    if (t.a, -t.e) != (PIXEL_SIZE_M, PIXEL_SIZE_M):
        raise GeoreferenceError(
            f"cube pixels are {t.a} × {-t.e} m; the embedding store holds 10 m pixels, so resample "
            "the cube to 10 m first"
        )
    col, row = (t.c - z.c) / PIXEL_SIZE_M, (z.f - t.f) / PIXEL_SIZE_M
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        raise GeoreferenceError(
            f"cube origin ({t.c}, {t.f}) is not on the 10 m lattice of {zone.name} (corners at "
            "multiples of 10 m); resample the cube onto an aligned grid"
        )
    win = Window(round(row), round(col), grid.height, grid.width)
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
