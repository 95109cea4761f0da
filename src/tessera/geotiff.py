"""Writing GeoTIFFs, for every part that writes one (exports, maps, figures, tile landmasks,
simulated label rasters, the stacker's ROI): below ``cube``, ``simulate``, ``access`` and ``viz``
so none reaches into another for it. Every file is written under a temporary name and renamed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tessera.atomic import Outputs, atomic_outputs
from tessera.grid import Grid


def write_cog(
    path: str | os.PathLike,
    data: np.ndarray,
    grid: Grid,
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
    descriptions: Sequence[str] | None = None,
    colorinterp: Sequence[Any] | None = None,
    outputs: Outputs | None = None,
) -> Path:
    """(C, H, W) ``data`` on ``grid`` as a Cloud-Optimised GeoTIFF, atomically (with ``outputs``:
    as one of the files that appear together)."""
    return write_geotiff(path, data, grid, nodata, tags, descriptions, colorinterp, cog=True, outputs=outputs)


def write_geotiff(
    path: str | os.PathLike,
    data: np.ndarray,
    grid: Grid,
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
    descriptions: Sequence[str] | None = None,
    colorinterp: Sequence[Any] | None = None,
    cog: bool = False,
    outputs: Outputs | None = None,
) -> Path:
    """(C, H, W) or (H, W) ``data`` on ``grid`` as a deflate-compressed GeoTIFF, atomically; a
    plain striped GTiff unless ``cog`` (small rasters other tools read whole: landmasks, labels)."""
    import rasterio

    data = data[None] if data.ndim == 2 else data
    profile: dict[str, Any] = {
        "driver": "COG" if cog else "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": nodata,
        "compress": "deflate",
    }
    if cog:
        profile |= {"blocksize": 256, "BIGTIFF": "IF_SAFER"}
    path = Path(path)
    if outputs is None:
        with atomic_outputs() as own:
            return write_geotiff(path, data, grid, nodata, tags, descriptions, colorinterp, cog, own)
    with rasterio.open(outputs.file(path, check=_reads_back), "w", **profile) as dst:
        dst.write(data)
        if descriptions:
            dst.descriptions = tuple(descriptions)
        if colorinterp:
            dst.colorinterp = colorinterp
        if tags:
            dst.update_tags(**tags)
    return path


def _reads_back(path: Path) -> None:
    """Raise unless every block of the GeoTIFF at ``path`` decodes: GDAL only warns when a write
    fails (a full disk mid-file), and closes the short file as if it were whole."""
    import rasterio

    with rasterio.open(path) as ds:
        for _, window in ds.block_windows(1):
            ds.read(window=window)
