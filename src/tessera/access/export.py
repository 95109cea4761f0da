"""Regions out to files: Cloud-Optimised GeoTIFF (float32 + NaN, or int8 + a scale band) and .npy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tessera import __version__
from tessera.access.reader import AccessError, StoreReader
from tessera.access.region import Region
from tessera.atomic import atomic_file
from tessera.quantize import quantize


def provenance_tags(store: StoreReader, year: int) -> dict[str, str]:
    """Dataset tags for exported files: where the numbers came from."""
    tags = {"tessera_software_version": __version__, "tessera_store": store.location, "year": str(year)}
    for zone in store.zones(year):
        attrs = store.zone(year, zone).group.attrs
        model = attrs.get("model", {})
        tags[f"{zone.name}_model_preset"] = str(model.get("preset"))
        tags[f"{zone.name}_checkpoint_sha256"] = str(model.get("checkpoint_sha256"))
        tags[f"{zone.name}_sampling"] = json.dumps(attrs.get("sampling"))
        tags[f"{zone.name}_dataset_version"] = str(attrs.get("dataset_version"))
    return tags


def _bands(region: Region, bands: list[int] | None) -> tuple[np.ndarray, list[int]]:
    dim = region.data.shape[2]
    idx = list(range(dim)) if bands is None else list(bands)
    if not idx or any(not 0 <= b < dim for b in idx):
        raise AccessError(f"bands {bands} must be indices 0…{dim - 1}")
    return region.data[..., idx], idx


def export_geotiff(region: Region, path: str | os.PathLike, tags: dict[str, str] | None = None,
                   bands: list[int] | None = None, int8: bool = False) -> Path:  # fmt: skip
    """Write a region as a Cloud-Optimised GeoTIFF, atomically.

    float32 with NaN for no data (default), or ``int8=True``: the published int8 values (4×
    smaller) with the per-pixel float32 scale in a companion ``<name>_scales.tif`` (NaN = no data)
    — GeoTIFF bands share one data type, so the scale cannot be a band of the int8 file.
    Band descriptions name the embedding dimensions.
    """
    import rasterio

    data, idx = _bands(region, bands)
    names = [f"embedding_{b}" for b in idx]
    if int8:
        q, scale = quantize(data)
        arrays = [q.transpose(2, 0, 1)]
        dtype, nodata = "int8", None
    else:
        arrays = [data.transpose(2, 0, 1)]
        dtype, nodata = "float32", float("nan")
    path = Path(path)
    g = region.grid
    profile = {"driver": "COG", "width": g.width, "height": g.height, "count": len(idx), "dtype": dtype,
               "crs": g.crs, "transform": g.transform, "nodata": nodata, "compress": "deflate",
               "blocksize": 256, "BIGTIFF": "IF_SAFER"}  # fmt: skip
    with atomic_file(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(arrays[0].astype(dtype, copy=False))
            dst.descriptions = tuple(names)
            dst.update_tags(**(tags or {}), tessera_encoding="int8 × per-pixel scale" if int8 else "float32")
    if int8:
        scale_path = path.with_name(path.stem + "_scales.tif")
        with atomic_file(scale_path) as tmp:
            with rasterio.open(tmp, "w", **{**profile, "count": 1, "dtype": "float32", "nodata": float("nan")}) as dst:
                dst.write(scale[None].astype(np.float32))
                dst.update_tags(**(tags or {}), tessera_encoding="per-pixel scale of " + path.name)
    return path


def export_npy(region: Region, path: str | os.PathLike, tags: dict[str, str] | None = None,
               bands: list[int] | None = None) -> Path:  # fmt: skip
    """(H, W, D) float32 ``.npy`` plus a ``.json`` sidecar with CRS, transform and provenance."""
    data, idx = _bands(region, bands)
    path = Path(path)
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(data, np.float32))
    meta = {**region.grid.to_attrs(), "bands": idx, "nodata": "NaN", **(tags or {})}
    with atomic_file(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return path
