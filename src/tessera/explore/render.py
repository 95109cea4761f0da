"""Tiles from values: a layer says what values lie under a tile (from the explorer's working area
in memory, or read from a store for that tile alone) and how to colour them; ``render`` reprojects
the values onto the tile and colours them.

Values are reprojected before they are coloured, with nearest neighbour: a class id, a similarity
or a PCA colour is never blended with its neighbours'.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from affine import Affine

from tessera.errors import NoTileError
from tessera.explore.tiles import (
    EMPTY_RGBA,
    TileCache,
    ZoomRange,
    encode_png,
    source_window,
    tile_grid,
    tile_lonlat_bounds,
    warp,
)
from tessera.grid import Grid, target_grid

Colour = Callable[[np.ndarray, dict[str, Any]], np.ndarray]  # values, request params → (H, W, 4) uint8


class Values(Protocol):
    """Where a layer's values come from."""

    bounds: tuple[float, float, float, float]  # lon/lat: tiles beyond are refused
    zooms: ZoomRange

    def under(self, tile: Grid) -> tuple[np.ndarray, Grid] | None:
        """Values on some grid covering ``tile``, or None where there are none."""
        ...


@dataclass
class Layer:
    name: str
    values: Values
    colour: Colour
    nodata: float
    version: int = 0  # bumped when the values change, so cached tiles of the old ones are not served
    legend: list[dict] = field(default_factory=list)  # {"label", "colour"?} entries for the page


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def render(layer: Layer, z: int, x: int, y: int, params: dict[str, Any], cache: TileCache | None = None) -> bytes:
    """PNG bytes of tile (z, x, y) of ``layer``; a tile that touches the layer's area but has no
    values there is transparent; one wholly outside it, or at a zoom out of range, is refused."""
    layer.values.zooms.check(z)
    dst = tile_grid(z, x, y)
    if not _overlaps(tile_lonlat_bounds(z, x, y), layer.values.bounds):
        raise NoTileError(
            f"tile {z}/{x}/{y} lies outside the layer's area {tuple(round(v, 5) for v in layer.values.bounds)}"
        )
    key = (layer.name, layer.version, z, x, y, tuple(sorted(params.items())))
    if cache is not None and (png := cache.get(key)) is not None:
        return png
    found = layer.values.under(dst)
    if found is None:
        rgba = EMPTY_RGBA
    else:
        vals, src = found
        rgba = layer.colour(warp(vals, src, dst, layer.nodata), params)
    png = encode_png(rgba)
    if cache is not None:
        cache.put(key, png)
    return png


@dataclass
class AreaValues:
    """A raster over the explorer's working area (in memory): a tile takes its window, every
    ``step``-th pixel where a tile pixel spans several of the area's."""

    data: np.ndarray  # (H, W) or (H, W, C)
    grid: Grid
    bounds: tuple[float, float, float, float]
    zooms: ZoomRange

    def under(self, tile: Grid) -> tuple[np.ndarray, Grid] | None:
        win = source_window(self.grid, tile)
        if win is None:
            return None
        rows, cols = win
        step = max(1, math.floor(tile.resolution[0] / self.grid.resolution[0] / 1.5))
        t = self.grid.transform @ Affine.translation(cols.start, rows.start) @ Affine.scale(step)
        sub = self.data[rows.start : rows.stop : step, cols.start : cols.stop : step]
        return np.ascontiguousarray(sub), Grid(self.grid.crs, t, sub.shape[0], sub.shape[1])


@dataclass
class StoreValues:
    """Values computed from a store's embeddings for each tile alone: the tile's footprint is read
    on its UTM grid (``read_grid``: exact copies on a zone's lattice, nearest warps across zones),
    at the store's 10 m, or coarser where the tile is zoomed out."""

    reader: Any
    years: tuple[int, ...]
    compute: Callable[[list[np.ndarray]], np.ndarray]  # the years' (h, w, D) embeddings → values
    bounds: tuple[float, float, float, float]
    zooms: ZoomRange
    depth: int | None = None

    def under(self, tile: Grid) -> tuple[np.ndarray, Grid] | None:
        from rasterio.warp import transform_bounds

        from tessera.access.region import read_grid

        b = tile.bounds
        w, s, e, n = transform_bounds(tile.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top)
        w, s, e, n = max(w, self.bounds[0]), max(s, self.bounds[1]), min(e, self.bounds[2]), min(n, self.bounds[3])
        if w >= e or s >= n:
            return None
        grid = target_grid((w, s, e, n))
        step = max(1, math.floor(tile.resolution[0] * math.cos(math.radians((s + n) / 2)) / grid.resolution[0]))
        if step > 1:
            grid = target_grid((w, s, e, n), grid.crs, grid.resolution[0] * step)
        embs = [read_grid(self.reader, grid, year, self.depth).data for year in self.years]
        if all(np.isnan(x).all() for x in embs):
            return None
        return self.compute(embs), grid
