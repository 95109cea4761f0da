"""Area masks: which pixels of a grid a user wants embedded (``acquire --mask``, ``embed --mask``).

A mask is a vector file (GeoJSON, GeoPackage, Shapefile: any polygon layer GDAL reads) burnt onto
the grid — a pixel is wanted when its centre lies inside a polygon — or a raster whose non-zero,
non-nodata pixels are wanted, resampled (nearest) onto the grid. Either may be in any CRS: it is
reprojected, never refused for it. A mask selecting nothing is refused up front, naming why
(it misses the grid, or holds no area): a run over it would spend its time producing nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tessera.errors import ConfigError, InputNotFoundError
from tessera.grid import Grid, Window

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".jp2")


def _check_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"no mask file at {p}; give a GeoJSON / GeoPackage / GeoTIFF")
    return p


def _shapes(path: Path):
    import geopandas as gpd  # the geotessera extra: a missing one is reported as its install line

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # GDAL/pyogrio raise many types for unreadable files
        raise ConfigError(f"mask {path} is not a readable vector file ({type(exc).__name__}: {exc})") from exc
    if gdf.crs is None:
        raise ConfigError(f"mask {path} has no CRS; save it with one (GeoJSON is WGS84 by definition)")
    polygons = gdf[gdf.geometry.notna() & gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygons.empty:
        raise ConfigError(f"mask {path} holds no polygon; an area mask needs polygons (or a raster)")
    return polygons


def lonlat_bounds(path: str | os.PathLike) -> tuple[float, float, float, float]:
    """The mask's extent in degrees (W, S, E, N): the region ``acquire --mask`` reads."""
    p = _check_file(path)
    if p.suffix.lower() in RASTER_SUFFIXES:
        import rasterio
        from rasterio.warp import transform_bounds

        with rasterio.open(p) as src:
            if src.crs is None:
                raise ConfigError(f"mask {p} has no CRS; georeference it")
            return tuple(transform_bounds(src.crs, "EPSG:4326", *src.bounds))
    return tuple(_shapes(p).to_crs("EPSG:4326").total_bounds.tolist())


def load_mask(path: str | os.PathLike, grid: Grid) -> np.ndarray:
    """(H, W) bool on ``grid``: True where the mask wants a pixel. Refuses a mask that selects none."""
    p = _check_file(path)
    if p.suffix.lower() in RASTER_SUFFIXES:
        wanted = _raster_mask(p, grid)
    else:
        from rasterio.features import rasterize

        shapes = _shapes(p).to_crs(grid.crs)
        wanted = rasterize(
            ((g, 1) for g in shapes.geometry), out_shape=grid.shape, transform=grid.transform, fill=0, dtype="uint8"
        ).astype(bool)
    if not wanted.any():
        raise ConfigError(
            f"mask {p} selects no pixel of the {grid.height} × {grid.width} px grid on {grid.crs} (it does not "
            "overlap it, or its areas are smaller than a pixel); check the file and the region"
        )
    return wanted


def _raster_mask(path: Path, grid: Grid) -> np.ndarray:
    import rasterio
    from rasterio.warp import Resampling, reproject

    with rasterio.open(path) as src:
        if src.crs is None:
            raise ConfigError(f"mask {path} has no CRS; georeference it")
        band = src.read(1, masked=True)
        values = np.where(np.ma.getmaskarray(band), 0, (np.ma.getdata(band) != 0)).astype(np.uint8)
        out = np.zeros(grid.shape, np.uint8)
        reproject(
            values,
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            resampling=Resampling.nearest,
            src_nodata=None,
            dst_nodata=0,
        )
    return out.astype(bool)


def touched_windows(wanted: np.ndarray | None, shape: tuple[int, int], side: int) -> list[Window]:
    """Windows of ``side`` px tiling ``shape`` (row-major) that hold a wanted pixel: the chunks a
    masked run reads; every window when there is no mask."""
    h, w = shape
    out = []
    for row in range(0, h, side):
        for col in range(0, w, side):
            win = Window(row, col, min(side, h - row), min(side, w - col))
            rows, cols = win.slices
            if wanted is None or wanted[rows, cols].any():
                out.append(win)
    return out
