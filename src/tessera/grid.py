"""Pixel grids: a CRS + affine transform + size, and windows into them.

Pure value types and functions shared by ``cube``, ``store``, ``access`` and ``acquire`` (none of
which may import each other's internals), and the geography they all need: lon/lat and bbox rules,
the UTM zone of a longitude, the grid of a bbox. No I/O here; pyproj and rasterio are imported
only where a projection is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from affine import Affine
from numpy.typing import ArrayLike

from tessera.errors import AccessError, GeoreferenceError

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

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """W, S, E, N in degrees of the box around the grid (edges densified: UTM edges curve)."""
        from rasterio.warp import transform_bounds

        b = self.bounds
        return transform_bounds(self.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top, densify_pts=21)

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


def check_lonlat(lon: ArrayLike, lat: ArrayLike) -> None:
    """Refuse anything but finite (longitude, latitude) degrees in −180…180, −90…90."""
    lon, lat = np.atleast_1d(np.asarray(lon, np.float64)), np.atleast_1d(np.asarray(lat, np.float64))
    bad = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AccessError(
            f"point {i} ({lon[i]}, {lat[i]}) is not a (longitude, latitude) in degrees "
            "(−180…180, −90…90); give coordinates in EPSG:4326, longitude first"
        )


def check_bbox(bbox: BBox) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) in degrees, validated."""
    try:
        w, s, e, n = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise AccessError(f"bbox {bbox!r} must be four numbers: min lon, min lat, max lon, max lat") from exc
    check_lonlat(np.array([w, e]), np.array([s, n]))
    if w > e:
        raise AccessError(
            f"bbox {bbox!r} has min lon > max lon: it crosses the antimeridian or is "
            "inverted; split it into boxes on each side of 180°"
        )
    if s > n:
        raise AccessError(f"bbox {bbox!r} has min lat > max lat; give min lon, min lat, max lon, max lat")
    if w == e or s == n:
        raise AccessError(f"bbox {bbox!r} is empty (zero width or height)")
    if s >= 84.0 or n <= -80.0:
        raise AccessError(
            f"bbox {bbox!r} lies wholly beyond UTM coverage (80° S … 84° N), where no store holds embeddings; "
            "give a box between those latitudes"
        )
    return w, s, e, n


def utm_zone_numbers(lon: ArrayLike) -> np.ndarray:
    """The plain 6° UTM zone (1…60) of each longitude, as the store convention's readers and
    Sentinel-2 tiling use them (no Norway/Svalbard exceptions); 180° belongs to zone 60."""
    return np.clip(np.floor((np.asarray(lon, np.float64) + 180.0) / 6.0).astype(int) + 1, 1, 60)


def nominal_zone_mask(grid: Grid, zone: int) -> np.ndarray:
    """(h, w) bool: which pixel centres of a grid on zone ``zone``'s northern UTM CRS lie in that
    zone's nominal 6° band. Zone grids are snapped outward, so neighbours overlap by up to a shard;
    a mosaic of such a store must take each pixel from its own zone.

    Meridians converge polewards, so along a column the longitude is furthest from the central
    meridian at the row furthest from the equator: a column inside the band there is inside
    everywhere, one outside at the row nearest the equator is outside everywhere, and only the
    columns in between are projected pixel by pixel.
    """
    from pyproj import Transformer

    t = grid.transform
    xs = t.c + (np.arange(grid.width) + 0.5) * t.a
    ys = t.f + (np.arange(grid.height) + 0.5) * t.e
    far = ys[np.argmax(np.abs(ys))]
    near = 0.0 if ys.min() < 0 < ys.max() else ys[np.argmin(np.abs(ys))]
    to_lonlat = Transformer.from_crs(f"EPSG:{32600 + zone}", "EPSG:4326", always_xy=True)
    lon_far, _ = to_lonlat.transform(xs, np.full_like(xs, far))
    lon_near, _ = to_lonlat.transform(xs, np.full_like(xs, near))
    inside = utm_zone_numbers(lon_far) == zone
    outside = utm_zone_numbers(lon_near) != zone
    mask = np.repeat(inside[None, :], grid.height, axis=0)
    mixed = np.flatnonzero(~inside & ~outside)
    if len(mixed):
        xx, yy = np.meshgrid(xs[mixed], ys)
        lon, _ = to_lonlat.transform(xx, yy)
        mask[:, mixed] = utm_zone_numbers(lon) == zone
    return mask


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone holding (lon, lat), e.g. 32630 for 30N, 32730 for 30S."""
    if not (-180.0 <= lon <= 180.0) or not (-80.0 <= lat <= 84.0):
        raise GeoreferenceError(f"({lon}, {lat}) is outside UTM coverage (lon −180…180, lat −80…84)")
    return (32600 if lat >= 0 else 32700) + int(utm_zone_numbers(lon))


def lonlat_to(epsg: int, lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat degrees → coordinates of ``EPSG:{epsg}`` (for a northern UTM code south of the
    equator: negative northings, as the store convention's zone grids use them)."""
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


#: The default resolution of a geographic output grid: 10 m at the equator, in degrees.
DEGREES_PER_10M = PIXEL_SIZE_M / 111_320.0


def target_grid(bbox: BBox, crs: str | None = None, resolution: float | None = None) -> Grid:
    """The grid of a lon/lat bbox: its centre's UTM zone at 10 m by default (the northern code
    EPSG:326NN, as the store convention; negative northings south of the equator), snapped outward
    to the 10 m lattice; or ``crs`` at ``resolution`` (CRS units; 10 m or ~0.0000898°)."""
    from pyproj import CRS
    from rasterio.warp import transform_bounds

    w, s, e, n = check_bbox(bbox)
    crs = crs or f"EPSG:{32600 + int(utm_zone_numbers((w + e) / 2))}"
    res = resolution or (DEGREES_PER_10M if CRS.from_user_input(crs).is_geographic else PIXEL_SIZE_M)
    left, bottom, right, top = transform_bounds("EPSG:4326", crs, w, s, e, n, densify_pts=21)
    left, bottom = math.floor(left / res) * res, math.floor(bottom / res) * res
    right, top = math.ceil(right / res) * res, math.ceil(top / res) * res
    return Grid(crs, Affine(res, 0.0, left, 0.0, -res, top), round((top - bottom) / res), round((right - left) / res))


def utm_grid(lon: float, lat: float, height: int, width: int, res: float = PIXEL_SIZE_M) -> Grid:
    """A north-up UTM grid of ``height × width`` pixels centred on (lon, lat), snapped to ``res``."""
    from pyproj import Transformer

    epsg = utm_epsg(lon, lat)
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    x, y = to_utm.transform(lon, lat)
    left = math.floor((x - width * res / 2) / res) * res
    top = math.ceil((y + height * res / 2) / res) * res
    return Grid(f"EPSG:{epsg}", Affine(res, 0.0, left, 0.0, -res, top), height, width)
