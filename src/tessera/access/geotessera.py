"""The geotessera layout: 0.1° tiles as .npy files plus Parquet registries, as the official
``geotessera`` client (0.7.x) reads them offline from a local directory:

    OUT/global_0.1_degree_representation/{year}/grid_{lon:.2f}_{lat:.2f}/grid_{lon:.2f}_{lat:.2f}.npy
        int8 (H, W, 128)    and    ..._scales.npy float32 (H, W), NaN = no data
    OUT/global_0.1_degree_tiff_all/grid_{lon:.2f}_{lat:.2f}.tiff
        uint8 land mask (1 = embedded) carrying the tile's UTM CRS and transform
    OUT/registry.parquet     GeoParquet: year, lon, lat, hash, file_size, scales_hash, scales_size, geometry
    OUT/landmasks.parquet    lon, lat, hash, file_size
    OUT/manifest.parquet     geotessera 0.11's tile inventory (the schema ``geotessera-registry
                             file-scan`` writes), with which ``zarr-init`` / ``zarr-fill`` build an
                             official store from OUT with no network

Tiles are named by their centre (…05 offsets) and cover centre ± 0.05°; each is the box's
footprint on its centre's UTM zone lattice at 10 m. ``GeoTessera(embeddings_dir=OUT,
registry_dir=OUT)`` then reads it with no network.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tessera.access.base import Reader
from tessera.access.region import read_grid
from tessera.access.tile_layout import (
    EMBEDDINGS_DIR,
    LANDMASKS_DIR,
    parse_tile_name,
    tile_box,
    tile_centres,
    tile_grid,
    tile_name,
    tile_scales,
)
from tessera.atomic import atomic_file, no_empty_folders_on_failure
from tessera.errors import AccessError
from tessera.geotiff import write_geotiff
from tessera.grid import BBox, Grid
from tessera.quantize import quantize

__all__ = ["EMBEDDINGS_DIR", "LANDMASKS_DIR", "export_tiles", "tile_centres", "tile_grid", "write_registries"]


@dataclass(frozen=True)
class TileRecord:
    year: int
    lon: float
    lat: float
    hash: str
    file_size: int
    scales_hash: str
    scales_size: int
    landmask_hash: str
    landmask_size: int


def _save_npy(path: Path, array: np.ndarray) -> tuple[str, int]:
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)
        data = tmp.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def _save_landmask(path: Path, grid: Grid, mask: np.ndarray) -> tuple[str, int]:
    data = write_geotiff(path, mask.astype(np.uint8), grid).read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def export_tiles(store: Reader, bbox: BBox, year: int, out: str | os.PathLike) -> list[TileRecord]:
    """Write every tile of ``bbox`` holding data, then both registries (replacing earlier rows of
    the same tiles). Tiles without any embedded pixel are skipped."""
    out = Path(out)
    with no_empty_folders_on_failure(out):
        return _export_tiles(store, bbox, year, out)


def _export_tiles(store: Reader, bbox: BBox, year: int, out: Path) -> list[TileRecord]:
    records = []
    for lon, lat in tile_centres(bbox):
        grid = tile_grid(lon, lat)
        region = read_grid(store, grid, year)
        has = ~np.isnan(region.data).any(axis=-1)
        if not has.any():
            continue
        q, scales = quantize(region.data)
        scales = tile_scales(scales)
        name = tile_name(lon, lat)
        folder = out / EMBEDDINGS_DIR / str(year) / name
        h, size = _save_npy(folder / f"{name}.npy", q)
        sh, ssize = _save_npy(folder / f"{name}_scales.npy", scales)
        lh, lsize = _save_landmask(out / LANDMASKS_DIR / f"{name}.tiff", grid, has)
        records.append(TileRecord(year, lon, lat, h, size, sh, ssize, lh, lsize))
    if records:
        write_registries(out, records)
    return records


def write_registries(out: Path, records: list[TileRecord]) -> None:
    """registry.parquet (GeoParquet) and landmasks.parquet, merged with any existing rows."""
    try:
        import geopandas as gpd
        import pandas as pd
        from shapely.geometry import box
    except ImportError as exc:
        raise AccessError(
            "the geotessera layout's registries need geopandas and pyarrow (`pip install 'tessera[geotessera]'`)"
        ) from exc
    rows = pd.DataFrame(
        [
            {
                "year": r.year,
                "lon": r.lon,
                "lat": r.lat,
                "hash": r.hash,
                "file_size": r.file_size,
                "scales_hash": r.scales_hash,
                "scales_size": r.scales_size,
            }
            for r in records
        ]
    )
    masks = pd.DataFrame(
        [{"lon": r.lon, "lat": r.lat, "hash": r.landmask_hash, "file_size": r.landmask_size} for r in records]
    ).drop_duplicates(["lon", "lat"], keep="last")
    reg_path, mask_path = out / "registry.parquet", out / "landmasks.parquet"
    if reg_path.exists():
        old = pd.DataFrame(gpd.read_parquet(reg_path).drop(columns="geometry"))
        rows = pd.concat([old, rows]).drop_duplicates(["year", "lon", "lat"], keep="last")
    if mask_path.exists():
        masks = pd.concat([pd.read_parquet(mask_path), masks]).drop_duplicates(["lon", "lat"], keep="last")
    for df in (rows, masks):
        df["lon_i"] = (df["lon"] * 100).round().astype(np.int32)
        df["lat_i"] = (df["lat"] * 100).round().astype(np.int32)
    geometry = [box(*tile_box(lon, lat)) for lon, lat in zip(rows.lon, rows.lat, strict=True)]
    gdf = gpd.GeoDataFrame(rows.reset_index(drop=True), geometry=geometry, crs="EPSG:4326")
    with atomic_file(reg_path) as tmp:
        gdf.to_parquet(tmp)
    with atomic_file(mask_path) as tmp:
        masks.reset_index(drop=True).to_parquet(tmp)
    write_manifest(out)


def write_manifest(out: Path) -> None:
    """``manifest.parquet``: every tile under OUT, in the schema of geotessera 0.11's
    ``file-scan`` (year, lon, lat, directory, grid_path, scales_path, grid_mtime, scales_mtime,
    grid_size, scales_size, lon_i, lat_i; absolute paths, as that command writes them)."""
    import pandas as pd

    rows = []
    for year_dir in sorted(p for p in (out / EMBEDDINGS_DIR).iterdir() if p.is_dir() and p.name.isdigit()):
        for tile_dir in sorted(p for p in year_dir.iterdir() if p.is_dir()):
            grid, scales = tile_dir / f"{tile_dir.name}.npy", tile_dir / f"{tile_dir.name}_scales.npy"
            if not (grid.exists() and scales.exists()):
                continue
            centre = parse_tile_name(tile_dir.name)
            if centre is None:
                continue
            lon, lat = centre
            g, sc = grid.stat(), scales.stat()
            rows.append(
                {
                    "year": int(year_dir.name),
                    "lon": float(lon),
                    "lat": float(lat),
                    "directory": str(tile_dir.resolve()),
                    "grid_path": str(grid.resolve()),
                    "scales_path": str(scales.resolve()),
                    "grid_mtime": pd.Timestamp(g.st_mtime_ns, unit="ns").as_unit("us"),
                    "scales_mtime": pd.Timestamp(sc.st_mtime_ns, unit="ns").as_unit("us"),
                    "grid_size": int(g.st_size),
                    "scales_size": int(sc.st_size),
                }
            )
    df = pd.DataFrame(rows)
    df["lon_i"] = (df["lon"] * 100).round().astype(np.int32)
    df["lat_i"] = (df["lat"] * 100).round().astype(np.int32)
    with atomic_file(out / "manifest.parquet") as tmp:
        df.to_parquet(tmp)
