"""Reading a directory in the geotessera layout (see ``geotessera``): official downloads or our
own exports, through the same reads as a store — points, regions, patches, strips."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from tessera.access.base import NODATA, OUTSIDE, VALID, Points, PointSample
from tessera.access.lonlat import as_lonlat
from tessera.access.reads import RegionReads
from tessera.access.tile_layout import (
    EMBEDDINGS_DIR,
    LANDMASKS_DIR,
    parse_tile_name,
    tile_box,
    tile_centres_of,
    tile_meets,
    tile_name,
)
from tessera.errors import AccessError
from tessera.grid import Grid, Window, check_lonlat
from tessera.quantize import dequantize


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r")
    except (ValueError, OSError, EOFError) as exc:
        raise AccessError(
            f"{path} is not a readable .npy file ({exc}); it is truncated or damaged — "
            "download or export that tile again"
        ) from exc


class Tile:
    """One tile: int8 embeddings and scales memory-mapped, its grid from the landmask GeoTIFF."""

    def __init__(self, root: Path, year: int, lon: float, lat: float) -> None:
        name = tile_name(lon, lat)
        self.name, self.lon, self.lat = name, lon, lat
        self.folder = root / EMBEDDINGS_DIR / str(year) / name
        self.landmask = root / LANDMASKS_DIR / f"{name}.tiff"

    @cached_property
    def grid(self) -> Grid:
        import rasterio

        if not self.landmask.exists():
            raise AccessError(
                f"tile {self.name} has no landmask GeoTIFF at {self.landmask} to place it "
                "on Earth; fetch the tile's landmask too"
            )
        with rasterio.open(self.landmask) as src:
            return Grid(f"EPSG:{src.crs.to_epsg()}", src.transform, src.height, src.width)

    @cached_property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        q, s = _load(self.folder / f"{self.name}.npy"), _load(self.folder / f"{self.name}_scales.npy")
        if q.ndim != 3 or s.shape != q.shape[:2] or q.shape[:2] != self.grid.shape:
            raise AccessError(
                f"tile {self.name}: embeddings {q.shape}, scales {s.shape} and landmask "
                f"{self.grid.shape} disagree; the tile is damaged"
            )
        return q, s

    @property
    def embed_dim(self) -> int:
        return int(self.arrays[0].shape[2])

    def read(self, window: Window) -> np.ndarray:
        q, s = self.arrays
        rows, cols = window.slices
        return dequantize(np.asarray(q[rows, cols]), np.asarray(s[rows, cols]))


class TileDepth:
    """A tile seen at a Matryoshka depth (its first ``depth`` bands): a ``base.Piece``."""

    def __init__(self, tile: Tile, depth: int | None) -> None:
        self.tile, self.depth = tile, depth
        self.grid = tile.grid
        self.embed_dim = depth or tile.embed_dim

    def read(self, window: Window) -> np.ndarray:
        return self.tile.read(window)[..., : self.embed_dim]


class GeotesseraReader(RegionReads):
    """A geotessera-layout directory opened for reading. Use ``open_store``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tiles: dict[int, dict[tuple[float, float], Tile]] = {}
        base = root / EMBEDDINGS_DIR
        for year_dir in sorted(p for p in base.iterdir() if p.is_dir() and p.name.isdigit()):
            found = {}
            for tile_dir in year_dir.iterdir():
                centre = parse_tile_name(tile_dir.name)
                if centre and (tile_dir / f"{tile_dir.name}.npy").exists():
                    found[centre] = Tile(root, int(year_dir.name), *centre)
            if found:
                self._tiles[int(year_dir.name)] = found

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def years(self) -> list[int]:
        return sorted(self._tiles)

    def check_year(self, year: int) -> None:
        if year not in self._tiles:
            raise AccessError(
                f"{self.root} holds no tiles for {year}; it holds {', '.join(map(str, self.years)) or 'none'}"
            )

    def embed_dim(self, year: int, depth: int | None = None) -> int:
        return depth or next(iter(self._tiles[year].values())).embed_dim

    def check_depth(self, depth: int | None) -> None:
        if depth is not None and not 0 < depth <= 128:
            raise AccessError(f"depth {depth} is not between 1 and 128")

    def pieces(self, year: int, grid: Grid, depth: int | None = None) -> list[TileDepth]:
        """Tiles whose 0.1° box meets the grid's footprint; tiles on the grid's lattice first."""
        from rasterio.warp import transform_bounds

        b = grid.bounds
        box = transform_bounds(grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top, densify_pts=21)
        hits = [t for t in self._tiles.get(year, {}).values() if tile_meets(t.lon, t.lat, box)]
        return [TileDepth(t, depth) for t in sorted(hits, key=lambda t: t.grid.crs != grid.crs)]

    def footprints(self) -> list[dict]:
        """Tiles as their 0.1° lon/lat boxes (year, bounds W,S,E,N) — for coverage plots."""
        return [
            {"year": year, "bounds": tile_box(lon, lat)} for year, tiles in self._tiles.items() for lon, lat in tiles
        ]

    def sample_year(self, points: Points, year: int, depth: int | None = None) -> PointSample:
        """One memory-mapped read per tile for all its points; ``outside`` where no tile covers."""
        from pyproj import Transformer

        self.check_year(year)
        self.check_depth(depth)
        lon, lat = as_lonlat(points)
        check_lonlat(lon, lat)
        dim = self.embed_dim(year)
        values = np.full((len(lon), dim), np.nan, np.float32)
        status = np.full(len(lon), OUTSIDE, dtype=object)
        centre_lon, centre_lat = tile_centres_of(lon, lat)
        for key in set(zip(centre_lon.tolist(), centre_lat.tolist(), strict=True)):
            tile = self._tiles[year].get(key)
            if tile is None:
                continue
            sel = np.flatnonzero((centre_lon == key[0]) & (centre_lat == key[1]))
            x, y = Transformer.from_crs("EPSG:4326", tile.grid.crs, always_xy=True).transform(lon[sel], lat[sel])
            row, col = tile.grid.pixel_of(x, y)
            inside = (row >= 0) & (row < tile.grid.height) & (col >= 0) & (col < tile.grid.width)
            q, s = tile.arrays
            idx = sel[inside]
            sc = np.asarray(s[row[inside], col[inside]])
            values[idx] = dequantize(np.asarray(q[row[inside], col[inside]]), sc)
            status[idx] = np.where(np.isfinite(sc), VALID, NODATA)  # tiles mark no data with NaN
        return PointSample(values[:, : self.embed_dim(year, depth)], status.astype(str))
