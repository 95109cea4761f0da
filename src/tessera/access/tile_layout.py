"""The facts of the geotessera tile layout, below both its reader (``tiles``) and its writer
(``geotessera``): folder names, tile names, and the 0.1° grid of tiles named by their centre
(…05 offsets), each covering centre ± 0.05° on its centre's UTM zone lattice at 10 m."""

from __future__ import annotations

import math
import re

import numpy as np
from numpy.typing import ArrayLike

from tessera.grid import BBox, Grid, check_bbox, target_grid

EMBEDDINGS_DIR = "global_0.1_degree_representation"
LANDMASKS_DIR = "global_0.1_degree_tiff_all"
TILE_DEG = 0.1
HALF = TILE_DEG / 2

#: The tile layout marks a pixel without an embedding by a NaN scale (the store convention's
#: +inf); it has no water value.
TILE_NODATA_SCALE = np.float32(np.nan)

_NAME = re.compile(r"^grid_(-?\d+\.\d{2})_(-?\d+\.\d{2})$")


def tile_scales(scales: np.ndarray) -> np.ndarray:
    """Scales as the tile layout stores them: any non-finite scale (no data, water) → NaN."""
    return np.where(np.isfinite(scales), scales, TILE_NODATA_SCALE).astype(np.float32)


def tile_name(lon: float, lat: float) -> str:
    """``grid_{lon:.2f}_{lat:.2f}`` of a tile centre."""
    return f"grid_{lon:.2f}_{lat:.2f}"


def parse_tile_name(name: str) -> tuple[float, float] | None:
    """The (lon, lat) centre a tile folder's name gives, or None if it names no tile."""
    m = _NAME.match(name)
    return (float(m.group(1)), float(m.group(2))) if m else None


def tile_box(lon: float, lat: float) -> tuple[float, float, float, float]:
    """A tile's lon/lat box (west, south, east, north) from its centre."""
    return lon - HALF, lat - HALF, lon + HALF, lat + HALF


def tile_centres_of(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The centres of the tiles holding each point (rounded to the names' two decimals)."""
    lon, lat = np.asarray(lon, np.float64), np.asarray(lat, np.float64)
    return np.round(np.floor(lon / TILE_DEG) * TILE_DEG + HALF, 2), np.round(
        np.floor(lat / TILE_DEG) * TILE_DEG + HALF, 2
    )


def tile_centres(bbox: BBox) -> list[tuple[float, float]]:
    """Centres of the 0.1° tiles a bbox touches, west→east, south→north."""
    w, s, e, n = check_bbox(bbox)
    lons = range(math.floor(w / TILE_DEG + 1e-9), math.ceil(e / TILE_DEG - 1e-9))
    lats = range(math.floor(s / TILE_DEG + 1e-9), math.ceil(n / TILE_DEG - 1e-9))
    return [(round(i * TILE_DEG + HALF, 2), round(j * TILE_DEG + HALF, 2)) for j in lats for i in lons]


def tile_grid(lon: float, lat: float) -> Grid:
    """A tile's pixel grid: its 0.1° box on the lattice of its centre's UTM zone, 10 m."""
    return target_grid(tile_box(lon, lat))


def tile_meets(lon: float, lat: float, bounds: tuple[float, float, float, float]) -> bool:
    """Whether the tile centred on (lon, lat) meets a lon/lat box (west, south, east, north)."""
    w, s, e, n = bounds
    return lon - HALF < e and lon + HALF > w and lat - HALF < n and lat + HALF > s
