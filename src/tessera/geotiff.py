"""Writing GeoTIFFs, for every part that writes one (exports, maps, figures): below both
``access`` and ``viz`` so neither reaches into the other for it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tessera.atomic import atomic_file
from tessera.grid import Grid


def write_cog(
    path: str | os.PathLike,
    data: np.ndarray,
    grid: Grid,
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
    descriptions: Sequence[str] | None = None,
    colorinterp: Sequence[Any] | None = None,
) -> Path:
    """(C, H, W) ``data`` on ``grid`` as a Cloud-Optimised GeoTIFF, atomically."""
    import rasterio

    profile = {
        "driver": "COG",
        "width": grid.width,
        "height": grid.height,
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": nodata,
        "compress": "deflate",
        "blocksize": 256,
        "BIGTIFF": "IF_SAFER",
    }
    path = Path(path)
    with atomic_file(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        if descriptions:
            dst.descriptions = tuple(descriptions)
        if colorinterp:
            dst.colorinterp = colorinterp
        if tags:
            dst.update_tags(**tags)
    return path
