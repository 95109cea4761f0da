"""Pixel grids: a CRS + affine transform + size, and windows into them.

Pure value types and functions shared by ``cube``, ``store`` and ``access`` (none of which may
import each other's internals). No I/O here; pyproj is imported only where a projection is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from affine import Affine
from numpy.typing import ArrayLike

from tessera.errors import GeoreferenceError

BBox = Sequence[float]  # (west, south, east, north) in degrees

#: Sentinel-2 native grid spacing, and the embedding product's.
PIXEL_SIZE_M = 10.0


@dataclass(frozen=True)
class Window:
    """A rectangle of pixels: ``row``/``col`` of the top-left pixel, ``height``/``width`` in pixels."""

    row: int
    col: int
    height: int
    width: int

    def __post_init__(self) -> None:
        if self.height <= 0 or self.width <= 0:
            raise GeoreferenceError(f"window {self} is empty: height and width must be positive pixel counts")

    @property
    def slices(self) -> tuple[slice, slice]:
        """(row slice, col slice) for indexing an (H, W, ...) array."""
        return slice(self.row, self.row + self.height), slice(self.col, self.col + self.width)

    def intersection(self, other: Window) -> Window | None:
        r0, c0 = max(self.row, other.row), max(self.col, other.col)
        r1 = min(self.row + self.height, other.row + other.height)
        c1 = min(self.col + self.width, other.col + other.width)
        if r1 <= r0 or c1 <= c0:
            return None
        return Window(r0, c0, r1 - r0, c1 - c0)


@dataclass(frozen=True)
class Bounds:
    """An axis-aligned box in a CRS's units: left, bottom, right, top."""

    left: float
    bottom: float
    right: float
    top: float


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: CRS (``"EPSG:32630"``), affine transform, height, width."""

    crs: str
    transform: Affine
    height: int
    width: int

    def __post_init__(self) -> None:
        if not self.crs:
            raise GeoreferenceError("grid has no CRS: give an EPSG code such as 'EPSG:32630'")
        if self.height <= 0 or self.width <= 0:
            raise GeoreferenceError(f"grid size {self.height}×{self.width} must be positive")
        t = self.transform
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
            raise GeoreferenceError(
                f"transform {tuple(t)[:6]} is not north-up (need a > 0, e < 0, no rotation); "
                "warp the input to a north-up grid first"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def resolution(self) -> tuple[float, float]:
        return self.transform.a, -self.transform.e

    @property
    def bounds(self) -> Bounds:
        left, top = self.transform @ (0, 0)
        right, bottom = self.transform @ (self.width, self.height)
        return Bounds(left, bottom, right, top)

    @property
    def epsg(self) -> int:
        return epsg_code(self.crs)

    def window(self, window: Window) -> Grid:
        """The sub-grid covered by ``window`` (which must lie inside this grid)."""
        full = Window(0, 0, self.height, self.width)
        if window.intersection(full) != window:
            raise GeoreferenceError(
                f"window {window} is outside the {self.height}×{self.width} grid; choose rows/cols inside it"
            )
        t = self.transform @ Affine.translation(window.col, window.row)
        return Grid(self.crs, t, window.height, window.width)

    def pixel_of(self, x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) int64 of the pixels holding CRS coordinates ``x``, ``y`` (arrays or scalars).

        The one place points become pixels: an affine inverse gives (col, row), in that order.
        """
        x, y, inv = np.asarray(x, np.float64), np.asarray(y, np.float64), ~self.transform
        cols, rows = inv.a * x + inv.b * y + inv.c, inv.d * x + inv.e * y + inv.f
        return np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)

    def to_attrs(self) -> dict:
        """JSON-ready attributes (GDAL-order transform: a, b, c, d, e, f)."""
        return {
            "crs": self.crs,
            "transform": list(self.transform)[:6],
            "height": self.height,
            "width": self.width,
        }

    @classmethod
    def from_attrs(cls, attrs: dict) -> Grid:
        if not attrs.get("crs"):
            raise GeoreferenceError("no CRS attribute: the data cannot be placed on Earth")
        try:
            transform = Affine(*[float(v) for v in attrs["transform"][:6]])
            return cls(str(attrs["crs"]), transform, int(attrs["height"]), int(attrs["width"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise GeoreferenceError(
                f"unusable grid attributes ({exc}); expected crs, transform (6 numbers), height, width"
            ) from exc


def epsg_code(crs: str) -> int:
    """The integer EPSG code of ``"EPSG:32630"``-style strings."""
    prefix, _, code = crs.partition(":")
    if prefix.upper() != "EPSG" or not code.isdigit():
        raise GeoreferenceError(f"CRS {crs!r} is not of the form 'EPSG:<code>'")
    return int(code)


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone holding (lon, lat), e.g. 32630 for 30N, 32730 for 30S.

    Uses the plain 6° zones (no Norway/Svalbard exceptions), as Sentinel-2 tiling does.
    """
    if not (-180.0 <= lon <= 180.0) or not (-80.0 <= lat <= 84.0):
        raise GeoreferenceError(f"({lon}, {lat}) is outside UTM coverage (lon −180…180, lat −80…84)")
    zone = min(math.floor((lon + 180.0) / 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def utm_grid(lon: float, lat: float, height: int, width: int, res: float = PIXEL_SIZE_M) -> Grid:
    """A north-up UTM grid of ``height × width`` pixels centred on (lon, lat), snapped to ``res``."""
    from pyproj import Transformer

    epsg = utm_epsg(lon, lat)
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    x, y = to_utm.transform(lon, lat)
    left = math.floor((x - width * res / 2) / res) * res
    top = math.ceil((y + height * res / 2) / res) * res
    return Grid(f"EPSG:{epsg}", Affine(res, 0.0, left, 0.0, -res, top), height, width)
