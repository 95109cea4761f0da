"""Web Mercator XYZ tiles: which ground a tile covers, how a raster on a store's grid becomes a
tile (nearest-neighbour reprojection, so a class or an embedding is never averaged), PNG bytes,
TileJSON, and a bounded cache of rendered tiles.

The tile matrix is morecantile's ``WebMercatorQuad`` (the one QGIS, Leaflet and OpenLayers use
for ``{z}/{x}/{y}`` URLs); reprojection is rasterio's; PNG encoding is Pillow's.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache

import numpy as np
from affine import Affine

from tessera.errors import NoTileError
from tessera.grid import PIXEL_SIZE_M, Grid

TILE_PX = 256
WEB_MERCATOR = "EPSG:3857"
#: Below the native zoom a tile gathers 4^k store pixels per tile pixel; reading more than this
#: many levels out would read ever larger windows for a picture no finer than one pixel.
ZOOM_OUT_LEVELS = 3
#: Above it, tiles only magnify pixels; a few levels let a user see single pixels large.
ZOOM_IN_LEVELS = 4


@cache
def _tms():
    """The tile matrix set, built once: ``morecantile.tms.get`` costs about 0.5 ms a call, and
    every tile asks for it twice."""
    import morecantile

    return morecantile.tms.get("WebMercatorQuad")


@dataclass(frozen=True)
class ZoomRange:
    native: int  # the coarsest zoom whose tile pixels are no larger than a store pixel
    min: int
    max: int

    def check(self, z: int) -> None:
        if not self.min <= z <= self.max:
            raise NoTileError(f"zoom {z} is out of range: this layer has tiles from zoom {self.min} to {self.max}")


def zoom_range(lat: float, pixel_m: float = PIXEL_SIZE_M, out_levels: int = ZOOM_OUT_LEVELS) -> ZoomRange:
    """Zooms that show pixels of ``pixel_m`` metres at latitude ``lat``: Web Mercator stretches
    ground by 1 / cos(lat), so a 10 m pixel spans 10 / cos(lat) projected metres."""
    res = pixel_m / max(math.cos(math.radians(lat)), 1e-6)
    native = int(_tms().zoom_for_res(res, max_z=24, zoom_level_strategy="upper"))
    return ZoomRange(native, max(0, native - out_levels), min(24, native + ZOOM_IN_LEVELS))


def tile_grid(z: int, x: int, y: int) -> Grid:
    """The 256 × 256 px grid of tile (z, x, y) in EPSG:3857."""
    import morecantile

    if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
        raise NoTileError(f"tile {z}/{x}/{y} does not exist (x and y run from 0 to 2^z - 1)")
    b = _tms().xy_bounds(morecantile.Tile(x, y, z))
    res = (b.right - b.left) / TILE_PX
    return Grid(WEB_MERCATOR, Affine(res, 0, b.left, 0, -res, b.top), TILE_PX, TILE_PX)


def tile_lonlat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    import morecantile

    b = _tms().bounds(morecantile.Tile(x, y, z))
    return b.left, b.bottom, b.right, b.top


def tiles_over(bounds: tuple[float, float, float, float], z: int) -> list[tuple[int, int, int]]:
    """(z, x, y) of every tile at zoom ``z`` that touches lon/lat ``bounds``."""
    return [(t.z, t.x, t.y) for t in _tms().tiles(*bounds, zooms=[z])]


def source_window(src: Grid, dst: Grid, margin: int = 2) -> tuple[slice, slice] | None:
    """The rows and columns of ``src`` that ``dst`` covers (plus a margin), or None if none."""
    from rasterio.warp import transform_bounds

    b = dst.bounds
    left, bottom, right, top = transform_bounds(dst.crs, src.crs, b.left, b.bottom, b.right, b.top, densify_pts=11)
    inv = ~src.transform
    c0, r0 = inv @ (left, top)
    c1, r1 = inv @ (right, bottom)
    r0, r1 = max(0, math.floor(r0) - margin), min(src.height, math.ceil(r1) + margin)
    c0, c1 = max(0, math.floor(c0) - margin), min(src.width, math.ceil(c1) + margin)
    if r0 >= r1 or c0 >= c1:
        return None
    return slice(r0, r1), slice(c0, c1)


def warp(values: np.ndarray, src: Grid, dst: Grid, nodata: float) -> np.ndarray:
    """(h, w) or (h, w, C) ``values`` on ``src`` → the same on ``dst`` (nearest neighbour; ``nodata``
    where ``src`` does not reach)."""
    from rasterio.warp import Resampling, reproject

    planes = values[..., None] if values.ndim == 2 else values
    out = np.full((planes.shape[2], dst.height, dst.width), nodata, planes.dtype)
    reproject(
        np.ascontiguousarray(planes.transpose(2, 0, 1)),
        out,
        src_transform=src.transform,
        src_crs=src.crs,
        src_nodata=nodata,
        dst_transform=dst.transform,
        dst_crs=dst.crs,
        dst_nodata=nodata,
        resampling=Resampling.nearest,
    )
    out = out.transpose(1, 2, 0)
    return out[..., 0] if values.ndim == 2 else out


def quiet_warp_warnings() -> None:
    """Silence, for the process that serves tiles, rasterio's "no geotransform" warning about the
    in-memory dataset it makes when a tile reaches far beyond a small source: both transforms are
    given (the tests check such edge tiles pixel by pixel). A process-wide filter, because
    ``warnings.catch_warnings`` is not thread-safe and tiles are made on many threads."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    warnings.filterwarnings("ignore", "Dataset has no geotransform", NotGeoreferencedWarning)


def encode_png(rgba: np.ndarray) -> bytes:
    """(H, W, 4) uint8 → PNG bytes (fast compression: tiles are made on demand and cached)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


EMPTY_RGBA = np.zeros((TILE_PX, TILE_PX, 4), np.uint8)


def tilejson(
    name: str, url: str, zooms: ZoomRange, bounds: tuple[float, float, float, float], attribution: str = ""
) -> dict:
    """A TileJSON 3.0.0 document for one layer (what Mapbox GL, OpenLayers and QGIS read)."""
    w, s, e, n = bounds
    return {
        "tilejson": "3.0.0",
        "name": name,
        "tiles": [url],
        "minzoom": zooms.min,
        "maxzoom": zooms.max,
        "bounds": [w, s, e, n],
        "center": [(w + e) / 2, (s + n) / 2, zooms.native],
        "attribution": attribution,
        "scheme": "xyz",
    }


class TileCache:
    """Rendered tiles by key, least recently used out first, bounded by bytes; thread-safe (the
    server renders tiles on worker threads)."""

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes, self._max = 0, max_bytes
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            png = self._items.get(key)
            if png is not None:
                self._items.move_to_end(key)
            return png

    def put(self, key: tuple, png: bytes) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = png
            self._bytes += len(png)
            while self._bytes > self._max and self._items:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old)

    def drop(self, layer: str) -> None:
        """Forget every tile of ``layer`` (its values changed: a new query, a refitted head)."""
        with self._lock:
            for key in [k for k in self._items if k[0] == layer]:
                self._bytes -= len(self._items.pop(key))
