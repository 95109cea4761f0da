"""Sentinel-2 GeoTIFF time series as users' tools write them, made from a simulated cube: one
multi-band file holding every date, or a folder of one file per date, in a chosen band order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio

from tessera.cube import CubeData
from tessera.sensors import S2_BANDS

WAVELENGTH = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")


def optical_only(cube: CubeData) -> CubeData:
    """The cube as a GeoTIFF can hold it: bands zero where not valid, no Sentinel-1."""
    bands = np.where(cube.s2_mask[..., None] == 1, cube.s2_bands, 0).astype(np.uint16)
    return CubeData.from_arrays(cube.grid, cube.year, bands, cube.s2_mask, cube.s2_doy)


def dates_of(cube: CubeData) -> list[dt.date]:
    return [dt.date(cube.year, 1, 1) + dt.timedelta(days=int(d) - 1) for d in cube.s2_doy]


def _profile(cube: CubeData, count: int) -> dict:
    g = cube.grid
    return {
        "driver": "GTiff",
        "height": g.height,
        "width": g.width,
        "count": count,
        "dtype": "uint16",
        "crs": g.crs,
        "transform": g.transform,
        "nodata": 0,
    }


def in_order(bands: np.ndarray, order: Sequence[str]) -> np.ndarray:
    """(…, 10) published-order bands → the same in ``order``."""
    return bands[..., [S2_BANDS.index(b) for b in order]]


def write_stack(cube: CubeData, path: Path, order: Sequence[str] = WAVELENGTH, describe: bool = True) -> Path:
    """One file, date-major (each date's ten bands in ``order``), descriptions ``YYYYMMDD_B2``
    as GEE's ``toBands()`` names them."""
    data = in_order(cube.s2_bands, order)  # (T, H, W, 10)
    with rasterio.open(path, "w", **_profile(cube, data.shape[0] * 10)) as dst:
        for t, day in enumerate(dates_of(cube)):
            for b, name in enumerate(order):
                i = t * 10 + b + 1
                dst.write(data[t, :, :, b], i)
                if describe:
                    dst.set_band_description(i, f"{day:%Y%m%d}_B{name[1:].lstrip('0')}")
    return path


def write_folder(cube: CubeData, folder: Path, order: Sequence[str], describe: bool = False) -> Path:
    """One file per date named ``S2_YYYYMMDD_L3.tif``, bands in ``order`` (described or not);
    bands TESSERA does not read (B01, B09) get the blue band's values."""
    folder.mkdir(parents=True, exist_ok=True)
    data = in_order(cube.s2_bands, [b if b in S2_BANDS else "B02" for b in order])
    for t, day in enumerate(dates_of(cube)):
        with rasterio.open(folder / f"S2_{day:%Y%m%d}_L3.tif", "w", **_profile(cube, len(order))) as dst:
            dst.write(np.moveaxis(data[t], -1, 0))
            if describe:
                for b, name in enumerate(order, 1):
                    dst.set_band_description(b, f"SRE_{name}")
    return folder
