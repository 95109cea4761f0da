"""Embeddings over areas: regions (mosaicked across blocks and UTM zones), patches, strips.

A region in a zone's own CRS at 10 m lies on that zone's lattice, so its pixels are copied
exactly, with no resampling. Pixels from other zones (or any read into another CRS) are
warped with nearest-neighbour resampling — embeddings are not averaged, since a mean of two
pixels' vectors is nobody's embedding. Where zones overlap, the target's own zone wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from affine import Affine

from tessera.access.points import check_lonlat, to_zone_xy, zone_numbers
from tessera.access.reader import AccessError, ZoneReader
from tessera.grid import PIXEL_SIZE_M, BBox, Grid, Window
from tessera.store import Zone, northern_grid

if TYPE_CHECKING:
    from tessera.access.reader import RegionReads, StoreReader

MAX_REGION_BYTES = 8 << 30  # beyond this, read with iter_region
DEGREES_PER_10M = PIXEL_SIZE_M / 111_320.0  # default resolution of geographic outputs


@dataclass(frozen=True)
class Region:
    """``data`` (H, W, D) float32 (NaN = no data) on ``grid`` (CRS, transform, size); read for
    several ``years``, (Y, H, W, D) in their order."""

    data: np.ndarray
    grid: Grid
    years: tuple[int, ...] | None = None

    @property
    def transform(self) -> Affine:
        return self.grid.transform

    @property
    def crs(self) -> str:
        return self.grid.crs


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
    return w, s, e, n


def target_grid(bbox: BBox, crs: str | None = None, resolution: float | None = None) -> Grid:
    """The output grid of a region read: the bbox's UTM zone at 10 m by default (its northern code
    EPSG:326NN, as the store convention; negative northings south of the equator), snapped outward
    to the 10 m lattice; or ``crs`` at ``resolution`` (CRS units; 10 m or ~0.0000898°)."""
    from pyproj import CRS
    from rasterio.warp import transform_bounds

    w, s, e, n = check_bbox(bbox)
    crs = crs or f"EPSG:{Zone(int(zone_numbers(np.array([(w + e) / 2]))[0])).epsg}"
    geographic = CRS.from_user_input(crs).is_geographic
    res = resolution or (DEGREES_PER_10M if geographic else PIXEL_SIZE_M)
    left, bottom, right, top = transform_bounds("EPSG:4326", crs, w, s, e, n, densify_pts=21)
    left, bottom = math.floor(left / res) * res, math.floor(bottom / res) * res
    right, top = math.ceil(right / res) * res, math.ceil(top / res) * res
    grid = Grid(crs, Affine(res, 0.0, left, 0.0, -res, top), round((top - bottom) / res), round((right - left) / res))
    return grid


def candidate_zones(store: StoreReader, grid: Grid) -> list[ZoneReader]:
    """Zone groups that may hold pixels of ``grid``: the grid's own zone first, then zones within
    one of the bbox's longitudes (Sentinel-2 tiles reach past their zone's edge)."""
    from rasterio.warp import transform_bounds

    try:
        own = Zone.from_epsg(grid.epsg)
    except Exception:
        own = None
    w, _, e, _ = transform_bounds(grid.crs, "EPSG:4326", *_bounds(grid), densify_pts=21)
    lo, hi = zone_numbers(np.array([w, e]))
    zones = [z for z in store.zones() if max(1, lo - 1) <= z.number <= min(60, hi + 1)]
    zones.sort(key=lambda z: z != own)
    return [r for z in zones if (r := store.zone(z)) is not None]


def _bounds(grid: Grid) -> tuple[float, float, float, float]:
    b = grid.bounds
    return b.left, b.bottom, b.right, b.top


def _lattice_window(grid: Grid, source: Grid) -> Window | None:
    """``grid`` as a window of ``source``'s lattice, if it is one (same CRS and pixel size, whole-
    pixel offset); the window may reach outside the source."""
    if grid.crs.startswith("EPSG:327") and grid.epsg - 100 == source.epsg:
        grid = northern_grid(grid)  # EPSG:327NN is EPSG:326NN shifted by 10 000 km: same pixels
    t, z = grid.transform, source.transform
    if grid.crs != source.crs or (t.a, t.e) != (z.a, z.e):
        return None
    col, row = (t.c - z.c) / t.a, (z.f - t.f) / -t.e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return Window(round(row), round(col), grid.height, grid.width)


def read_padded(source: Any, window: Window) -> np.ndarray:
    """``source.read`` of a window that may reach outside the source: NaN there."""
    inside = window.intersection(Window(0, 0, *source.grid.shape))
    if inside == window:
        return source.read(window)  # no padding: skip a whole-region copy
    out = np.full((window.height, window.width, source.embed_dim), np.nan, np.float32)
    if inside is not None:
        r0, c0 = inside.row - window.row, inside.col - window.col
        out[r0 : r0 + inside.height, c0 : c0 + inside.width] = source.read(inside)
    return out


def _fill(out: np.ndarray, vals: np.ndarray) -> None:
    """First valid wins: copy ``vals`` only where ``out`` has no data yet."""
    empty = np.isnan(out).all(axis=-1) & ~np.isnan(vals).any(axis=-1)
    out[empty] = vals[empty]


def _warp(source, grid: Grid) -> np.ndarray | None:
    """The source's pixels warped onto ``grid`` (nearest), or None where it holds none."""
    from rasterio.warp import Resampling, reproject, transform_bounds

    sg = source.grid
    try:
        left, bottom, right, top = transform_bounds(grid.crs, sg.crs, *_bounds(grid), densify_pts=21)
    except Exception:
        return None
    if not all(map(math.isfinite, (left, bottom, right, top))):
        return None
    z = sg.transform
    r0, r1 = math.floor((z.f - top) / -z.e) - 2, math.ceil((z.f - bottom) / -z.e) + 2
    c0, c1 = math.floor((left - z.c) / z.a) - 2, math.ceil((right - z.c) / z.a) + 2
    if r1 <= r0 or c1 <= c0:
        return None
    win = Window(r0, c0, r1 - r0, c1 - c0).intersection(Window(0, 0, *sg.shape))
    if win is None:
        return None
    src = source.read(win)
    if np.isnan(src).all():
        return None
    dst = np.full((src.shape[2], grid.height, grid.width), np.nan, np.float32)
    reproject(
        np.ascontiguousarray(src.transpose(2, 0, 1)),
        dst,
        src_transform=sg.window(win).transform,
        src_crs=sg.crs,
        src_nodata=np.nan,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        dst_nodata=np.nan,
        resampling=Resampling.nearest,
    )
    return dst.transpose(1, 2, 0)


def read_grid(store: RegionReads, grid: Grid, year: int, depth: int | None = None) -> Region:
    """Embeddings on any grid, from the reader's sources in priority order: exact copies from
    sources on the grid's lattice, nearest-neighbour warps from the others."""
    store.check_year(year)
    store.check_depth(depth)
    sources = store.sources(year, grid, depth)
    dim = store.embed_dim(year, depth)
    if grid.height * grid.width * dim * 4 > MAX_REGION_BYTES:
        raise AccessError(
            f"a {grid.height} × {grid.width} px region needs "
            f"{grid.height * grid.width * dim * 4 / 2**30:.1f} GiB; read it in strips "
            "with iter_region"
        )
    out: np.ndarray | None = None
    for source in sources:
        win = _lattice_window(grid, source.grid)
        vals = read_padded(source, win) if win is not None else _warp(source, grid)
        if vals is not None:
            if out is None:
                out = vals  # the first source fills an empty mosaic as it is
            else:
                _fill(out, vals)
    if out is None:
        out = np.full((grid.height, grid.width, dim), np.nan, np.float32)
    return Region(out, grid)


def read_region(
    store: RegionReads,
    bbox: BBox,
    year: int,
    crs: str | None = None,
    resolution: float | None = None,
    depth: int | None = None,
) -> Region:
    """Embeddings over a lon/lat bbox, mosaicked across blocks and zones (see ``target_grid``)."""
    return read_grid(store, target_grid(bbox, crs, resolution), year, depth)


def iter_region(
    store: RegionReads,
    bbox: BBox,
    year: int,
    crs: str | None = None,
    resolution: float | None = None,
    strip_rows: int = 256,
    depth: int | None = None,
) -> Iterator[Region]:
    """The same region in strips of ``strip_rows`` rows, top to bottom, for larger-than-memory work."""
    grid = target_grid(bbox, crs, resolution)
    for row in range(0, grid.height, strip_rows):
        yield read_grid(store, grid.window(Window(row, 0, min(strip_rows, grid.height - row), grid.width)), year, depth)


def read_patch(store: RegionReads, lon: float, lat: float, year: int, size_px: int, depth: int | None = None) -> Region:
    """A ``size_px`` square centred on a point, on its zone's 10 m lattice (no resampling)."""
    if size_px <= 0:
        raise AccessError(f"size_px must be positive, got {size_px}")
    check_lonlat(np.array([lon]), np.array([lat]))
    zone = Zone(int(zone_numbers(np.array([lon]))[0]))
    zg = zone.grid()
    rows, cols = zg.pixel_of(*to_zone_xy(zone, np.array([lon]), np.array([lat])))
    win = Window(int(rows[0]) - size_px // 2, int(cols[0]) - size_px // 2, size_px, size_px)
    grid = Grid(zg.crs, zg.transform @ Affine.translation(win.col, win.row), size_px, size_px)
    return read_grid(store, grid, year, depth)
