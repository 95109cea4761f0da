"""Embeddings over areas: regions (mosaicked across blocks and UTM zones), patches, strips.

A region in a zone's own CRS at 10 m lies on that zone's lattice, so its pixels are copied
exactly, with no resampling. Pixels from other zones (or any read into another CRS) are
warped with nearest-neighbour resampling — embeddings are not averaged, since a mean of two
pixels' vectors is nobody's embedding. Where zones overlap, the target's own zone wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from affine import Affine

from tessera.access.base import Piece, Reader, Region
from tessera.errors import AccessError
from tessera.grid import BBox, Grid, Window, check_lonlat, lonlat_to, target_grid, utm_zone_numbers
from tessera.store import Zone, northern_grid

__all__ = ["MAX_REGION_BYTES", "Region", "iter_region", "read_grid", "read_patch", "read_region", "target_grid"]

MAX_REGION_BYTES = 8 << 30  # beyond this, read with iter_region


def _bounds(grid: Grid) -> tuple[float, float, float, float]:
    b = grid.bounds
    return b.left, b.bottom, b.right, b.top


def _lattice_window(grid: Grid, lattice: Grid) -> Window | None:
    """``grid`` as a window of ``lattice``, if it is one (same CRS and pixel size, whole-
    pixel offset); the window may reach outside the lattice's grid."""
    if grid.crs.startswith("EPSG:327") and grid.epsg - 100 == lattice.epsg:
        grid = northern_grid(grid)  # EPSG:327NN is EPSG:326NN shifted by 10 000 km: same pixels
    t, z = grid.transform, lattice.transform
    if grid.crs != lattice.crs or (t.a, t.e) != (z.a, z.e):
        return None
    col, row = (t.c - z.c) / t.a, (z.f - t.f) / -t.e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return Window(round(row), round(col), grid.height, grid.width)


def read_padded(piece: Piece, window: Window) -> np.ndarray:
    """``piece.read`` of a window that may reach outside the piece: NaN there."""
    inside = window.intersection(Window(0, 0, *piece.grid.shape))
    if inside == window:
        return piece.read(window)  # no padding: skip a whole-region copy
    out = np.full((window.height, window.width, piece.embed_dim), np.nan, np.float32)
    if inside is not None:
        r0, c0 = inside.row - window.row, inside.col - window.col
        out[r0 : r0 + inside.height, c0 : c0 + inside.width] = piece.read(inside)
    return out


def _fill(out: np.ndarray, vals: np.ndarray) -> None:
    """First valid wins: copy ``vals`` only where ``out`` has no data yet."""
    empty = np.isnan(out).all(axis=-1) & ~np.isnan(vals).any(axis=-1)
    out[empty] = vals[empty]


def _warp(piece: Piece, grid: Grid) -> np.ndarray | None:
    """The piece's pixels warped onto ``grid`` (nearest), or None where it holds none."""
    from rasterio.warp import Resampling, reproject, transform_bounds

    sg = piece.grid
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
    src = piece.read(win)
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


def check_region_size(grid: Grid, dim: int, command: str = "read", years: int = 1) -> None:
    """Refuse, before anything is read, a region whose array alone would pass ``MAX_REGION_BYTES``,
    or whose ``command`` (a key of ``budget.PEAK``) would need more memory than is usable."""
    from tessera.access.budget import check_peak

    need = grid.height * grid.width * dim * 4 * years
    if need <= MAX_REGION_BYTES:
        check_peak(grid, dim, command, years)
    else:
        raise AccessError(
            f"a {grid.height} × {grid.width} px region of {dim} bands needs {need / 2**30:.1f} GiB "
            f"(the limit is {MAX_REGION_BYTES / 2**30:.0f} GiB); read a smaller bbox, or read it in "
            "strips with iter_region"
        )


def read_grid(store: Reader, grid: Grid, year: int, depth: int | None = None) -> Region:
    """Embeddings on any grid, from the reader's pieces in priority order: exact copies from
    pieces on the grid's lattice, nearest-neighbour warps from the others."""
    store.check_year(year)
    store.check_depth(depth)
    dim = store.embed_dim(year, depth)
    check_region_size(grid, dim)
    pieces = store.pieces(year, grid, depth)
    out: np.ndarray | None = None
    for piece in pieces:
        win = _lattice_window(grid, piece.grid)
        vals = read_padded(piece, win) if win is not None else _warp(piece, grid)
        if vals is not None:
            if out is None:
                out = vals  # the first piece fills an empty mosaic as it is
            else:
                _fill(out, vals)
    if out is None:
        out = np.full((grid.height, grid.width, dim), np.nan, np.float32)
    return Region(out, grid)


def read_region(
    store: Reader,
    bbox: BBox,
    year: int,
    crs: str | None = None,
    resolution: float | None = None,
    depth: int | None = None,
) -> Region:
    """Embeddings over a lon/lat bbox, mosaicked across blocks and zones (see ``target_grid``)."""
    return read_grid(store, target_grid(bbox, crs, resolution), year, depth)


def iter_region(
    store: Reader,
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


def read_patch(store: Reader, lon: float, lat: float, year: int, size_px: int, depth: int | None = None) -> Region:
    """A ``size_px`` square centred on a point, on its zone's 10 m lattice (no resampling)."""
    if size_px <= 0:
        raise AccessError(f"size_px must be positive, got {size_px}")
    check_lonlat(np.array([lon]), np.array([lat]))
    zone = Zone(int(utm_zone_numbers(lon)))
    zg = zone.grid()
    rows, cols = zg.pixel_of(*lonlat_to(zone.epsg, np.array([lon]), np.array([lat])))
    win = Window(int(rows[0]) - size_px // 2, int(cols[0]) - size_px // 2, size_px, size_px)
    grid = Grid(zg.crs, zg.transform @ Affine.translation(win.col, win.row), size_px, size_px)
    return read_grid(store, grid, year, depth)
