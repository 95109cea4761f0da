"""Regions out to files: Cloud-Optimised GeoTIFF (float32 + NaN, or int8 + a scale band) and .npy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tessera import __version__
from tessera.access.base import Region
from tessera.access.reads import RegionReads
from tessera.atomic import Outputs, atomic_outputs
from tessera.errors import AccessError
from tessera.geotiff import write_cog
from tessera.quantize import quantize


def provenance_tags(store: RegionReads, year: int) -> dict[str, str]:
    """Dataset tags for exported files: where the numbers came from."""
    tags = {"tessera_software_version": __version__, "tessera_store": store.location, "year": str(year)}
    attrs = getattr(store, "attrs", {})
    tags["geoemb_model"] = str(attrs.get("geoemb:model"))
    tags["geoemb_build_version"] = str(attrs.get("geoemb:build_version"))
    prov = attrs.get("tessera:provenance") or {}
    model = prov.get("model") or {}
    tags["model_preset"] = str(model.get("preset"))
    tags["checkpoint_sha256"] = str(model.get("checkpoint_sha256"))
    tags["sampling"] = json.dumps(prov.get("sampling"))
    return tags


def _bands(region: Region, bands: list[int] | None) -> tuple[np.ndarray, list[int]]:
    dim = region.data.shape[2]
    idx = list(range(dim)) if bands is None else list(bands)
    if not idx or any(not 0 <= b < dim for b in idx):
        raise AccessError(f"bands {bands} must be indices 0…{dim - 1}")
    return region.data[..., idx], idx


def export_geotiff(
    region: Region,
    path: str | os.PathLike,
    tags: dict[str, str] | None = None,
    bands: list[int] | None = None,
    int8: bool = False,
    outputs: Outputs | None = None,
) -> Path:
    """Write a region as a Cloud-Optimised GeoTIFF, atomically.

    float32 with NaN for no data (default), or ``int8=True``: the published int8 values (4×
    smaller) with the per-pixel float32 scale in a companion ``<name>_scales.tif`` (NaN = no data)
    — GeoTIFF bands share one data type, so the scale cannot be a band of the int8 file.
    Band descriptions name the embedding dimensions. The files appear together, or none does.
    """
    if outputs is None:
        with atomic_outputs() as own:
            return export_geotiff(region, path, tags, bands, int8, own)
    data, idx = _bands(region, bands)
    names = [f"embedding_{b}" for b in idx]
    path = Path(path)
    if int8:
        q, scale = quantize(data)
        write_cog(
            path,
            q.transpose(2, 0, 1),
            region.grid,
            None,
            {**(tags or {}), "tessera_encoding": "int8 × per-pixel scale"},
            names,
            outputs=outputs,
        )
        write_cog(
            path.with_name(path.stem + "_scales.tif"),
            # A float GeoTIFF's no-data value is NaN here, as for the float export: +inf → NaN.
            np.where(np.isfinite(scale), scale, np.nan)[None].astype(np.float32),
            region.grid,
            float("nan"),
            {**(tags or {}), "tessera_encoding": "per-pixel scale of " + path.name},
            outputs=outputs,
        )
    else:
        write_cog(
            path,
            data.transpose(2, 0, 1).astype(np.float32, copy=False),
            region.grid,
            float("nan"),
            {**(tags or {}), "tessera_encoding": "float32"},
            names,
            outputs=outputs,
        )
    return path


def export_npy(
    region: Region,
    path: str | os.PathLike,
    tags: dict[str, str] | None = None,
    bands: list[int] | None = None,
    outputs: Outputs | None = None,
) -> Path:
    """(H, W, D) float32 ``.npy`` plus a ``.json`` sidecar with CRS, transform and provenance;
    both appear, or neither."""
    if outputs is None:
        with atomic_outputs() as own:
            return export_npy(region, path, tags, bands, own)
    data, idx = _bands(region, bands)
    path = Path(path)
    with open(outputs.file(path, check=_npy_reads_back), "wb") as f:
        np.save(f, np.ascontiguousarray(data, np.float32))
    meta = {**region.grid.to_attrs(), "bands": idx, "nodata": "NaN", **(tags or {})}
    outputs.file(path.with_suffix(".json"), check=lambda p: json.loads(p.read_text())).write_text(
        json.dumps(meta, indent=1)
    )
    return path


def _npy_reads_back(path: Path) -> None:
    """Raise unless the file holds as many bytes as its header promises."""
    arr = np.load(path, mmap_mode="r")
    del arr


def quality_bands(quality: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """(H, W, C) float32 of every quality layer's channels, and a name per channel (month
    layers: one channel per month, ``s2_month_covered_m01`` …)."""
    planes, names = [], []
    for name, layer in quality.items():
        if layer.ndim == 3:
            planes += [layer[..., m] for m in range(layer.shape[2])]
            names += [f"{name}_m{m + 1:02d}" for m in range(layer.shape[2])]
        else:
            planes.append(layer)
            names.append(name)
    return np.stack(planes, axis=-1).astype(np.float32), names


def export_quality(
    region: Region,
    path: str | os.PathLike,
    fmt: str,
    tags: dict[str, str] | None = None,
    outputs: Outputs | None = None,
) -> Path:
    """The region's quality layers beside its export: ``<name>_quality.tif`` (one float32 band per
    channel, described) or ``<name>_quality.npz`` (one array per layer). NaN: not known."""
    if region.quality is None:
        raise AccessError("this region was read without its quality layers")
    if outputs is None:
        with atomic_outputs() as own:
            return export_quality(region, path, fmt, tags, own)
    path = Path(path)
    if fmt == "tif":
        data, names = quality_bands(region.quality)
        out = path.with_name(path.stem + "_quality.tif")
        write_cog(out, data.transpose(2, 0, 1), region.grid, float("nan"), tags or {}, names, outputs=outputs)
        return out
    out = path.with_name(path.stem + "_quality.npz")
    with open(outputs.file(out, check=_npz_reads_back), "wb") as f:
        np.savez(f, **region.quality)  # type: ignore[arg-type]  # numpy's stub types **kwds like allow_pickle
    return out


def _npz_reads_back(path: Path) -> None:
    with np.load(path) as z:
        for name in z.files:
            z[name]


def export_format(out: str | os.PathLike, fmt: str | None) -> str:
    """The format a file will hold: its suffix's, and an explicit ``fmt`` must agree with it."""
    out = Path(out)
    by_suffix = {".tif": "tif", ".tiff": "tif", ".npy": "npy"}.get(out.suffix.lower())
    if fmt is not None and fmt not in ("tif", "npy"):
        raise AccessError(f"--format {fmt!r} must be tif or npy")
    if by_suffix is None:
        raise AccessError(f"{out}: name the output .tif or .npy (or use --layout geotessera for a folder)")
    if fmt is not None and fmt != by_suffix:
        raise AccessError(f"{out} ends in {out.suffix} but --format is {fmt}; make them agree")
    return by_suffix


def check_output_grid(crs: str | None, resolution: float | None) -> None:
    """Refuse an unknown output CRS or a non-positive pixel size before anything is read."""
    if resolution is not None and not resolution > 0:
        raise AccessError(f"--resolution {resolution} must be a positive pixel size in CRS units")
    if crs is not None:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(crs)
        except CRSError as exc:
            raise AccessError(f"--crs {crs!r} is not a known CRS (e.g. EPSG:4326, EPSG:32631)") from exc
