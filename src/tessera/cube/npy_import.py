"""Import a cube from the official TESSERA stacker's ``.npy`` files.

The official pipeline writes one directory per tile::

    bands.npy               uint16 (T, H, W, 10)   S2 L2A DN in the published band order
    masks.npy               uint8  (T, H, W)       non-zero = valid
    doys.npy                (T,)                   day of year of each S2 date
    sar_ascending.npy       int16  (T', H, W, 2)   encoded VV, VH
    sar_ascending_doy.npy   (T',)
    sar_descending.npy      int16  (T'', H, W, 2)
    sar_descending_doy.npy  (T'',)

An orbit whose two files are both absent has no dates (an optical-only stack); one without the other
is an error.

The arrays carry no georeferencing, so a ROI GeoTIFF on the same grid supplies CRS and transform.
Arrays are memory-mapped and copied in row strips, so a full 10 980² tile never sits in memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tessera.cube.band_order import implausible_dn
from tessera.cube.data import CubeData, check_s1_shape, check_s2_shapes
from tessera.cube.zarr_cube import CubeChunks, CubeWriter
from tessera.errors import CubeValidationError, GeoreferenceError, InputNotFoundError
from tessera.geotiff import write_geotiff
from tessera.grid import Grid, Window
from tessera.progress import Progress

NPY_FILES = {
    "bands": "bands.npy",
    "masks": "masks.npy",
    "doys": "doys.npy",
    "asc": "sar_ascending.npy",
    "asc_doy": "sar_ascending_doy.npy",
    "desc": "sar_descending.npy",
    "desc_doy": "sar_descending_doy.npy",
}


def grid_from_geotiff(path: str | os.PathLike) -> Grid:
    """The grid (CRS, transform, size) of a GeoTIFF, e.g. the stacker's ROI raster."""
    import rasterio

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"no ROI GeoTIFF at {path}")
    with rasterio.open(path) as src:
        if src.crs is None:
            raise GeoreferenceError(f"{path} has no CRS; the ROI raster must be georeferenced")
        epsg = src.crs.to_epsg()
        if epsg is None:
            raise GeoreferenceError(f"{path}: CRS {src.crs} has no EPSG code; use a UTM EPSG CRS")
        return Grid(f"EPSG:{epsg}", src.transform, src.height, src.width)


def _load(directory: Path, key: str) -> np.ndarray:
    path = directory / NPY_FILES[key]
    if not path.exists():
        raise InputNotFoundError(f"{path} is missing; the stacker layout needs {NPY_FILES[key]}")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise CubeValidationError(f"{path} is not a readable .npy array ({exc})") from exc


def _load_sar(directory: Path, key: str, orbit: str, s2_shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """One orbit's series; both files absent is an optical-only stack (no dates of that orbit)."""
    there = [(directory / NPY_FILES[k]).exists() for k in (key, f"{key}_doy")]
    if not any(there):
        h, w = s2_shape[1:3] if len(s2_shape) == 4 else (0, 0)
        return np.zeros((0, h, w, 2), np.int16), np.zeros(0, np.uint16)
    return _load(directory, key), _load(directory, f"{key}_doy")


def _check_dn(bands: np.ndarray, masks: np.ndarray) -> None:
    """Refuse integer reflectance at another scale (percent, 8-bit): the model would embed it
    without complaint, as a dark and flat world. A strided sample of the valid pixels is enough.
    (Float reflectance 0–1 has its own refusal, with its own hint, where the cube is written.)"""
    if not np.issubdtype(bands.dtype, np.integer):
        return
    step = max(1, bands.shape[1] // 64), max(1, bands.shape[2] // 64)
    sample = np.asarray(bands[:, :: step[0], :: step[1]])
    valid = (np.asarray(masks[:, :: step[0], :: step[1]]) != 0)[..., None] & (sample > 0)
    if valid.any():
        wrong = implausible_dn(float(np.median(sample[valid])), "rescale bands.npy to reflectance × 10 000 (uint16)")
        if wrong:
            raise CubeValidationError(f"bands.npy: {wrong}")


def import_npy(
    directory: str | os.PathLike,
    out: str | os.PathLike,
    *,
    roi: str | os.PathLike | None = None,
    year: int,
    overwrite: bool = False,
    chunks: CubeChunks = CubeChunks(),
    progress: Progress | None = None,
) -> Path:
    """Convert a stacker output directory into a d-pixel cube at ``out``; returns ``out``.

    ``roi`` defaults to the directory's ``roi.tiff`` (what the official stacker writes) or
    ``roi.tif``. ``progress(stage, done, total)`` is called after each row strip.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputNotFoundError(f"no stacker directory at {directory}")
    arrays = {key: _load(directory, key) for key in ("bands", "masks", "doys")}
    for orbit, key in (("ascending", "asc"), ("descending", "desc")):
        arrays[key], arrays[f"{key}_doy"] = _load_sar(directory, key, orbit, arrays["bands"].shape)
    if roi is None:
        found = [p for p in (directory / "roi.tiff", directory / "roi.tif") if p.is_file()]
        if not found:
            raise InputNotFoundError(
                f"no ROI GeoTIFF in {directory} (looked for roi.tiff and roi.tif); "
                "give the stacker's ROI raster with --roi"
            )
        roi = found[0]
    grid = grid_from_geotiff(roi)
    if arrays["bands"].ndim == 4 and arrays["bands"].shape[1:3] != grid.shape:
        raise GeoreferenceError(
            f"bands.npy covers {arrays['bands'].shape[1:3]} pixels but the ROI raster is "
            f"{grid.shape}; give the ROI GeoTIFF the stacker used for this tile"
        )
    # Structure first, so a malformed stack fails before anything is created.
    n_doy = lambda key: len(np.atleast_1d(arrays[key]))  # noqa: E731
    check_s2_shapes(arrays["bands"].shape, arrays["masks"].shape, n_doy("doys"), grid.shape)
    check_s1_shape(arrays["asc"].shape, n_doy("asc_doy"), grid.shape, "ascending")
    check_s1_shape(arrays["desc"].shape, n_doy("desc_doy"), grid.shape, "descending")
    _check_dn(arrays["bands"], arrays["masks"])
    strip = chunks.space
    with CubeWriter(
        out, grid, year, arrays["doys"], arrays["asc_doy"], arrays["desc_doy"], overwrite=overwrite, chunks=chunks
    ) as writer:
        for row in range(0, grid.height, strip):
            window = Window(row, 0, min(strip, grid.height - row), grid.width)
            rows = window.slices[0]
            masks = np.asarray(arrays["masks"][:, rows])
            # The stacker's masks are "non-zero = valid"; the cube contract is strictly 0/1.
            writer.write_s2(window, np.asarray(arrays["bands"][:, rows]), masks != 0)
            writer.write_s1("ascending", window, np.asarray(arrays["asc"][:, rows]))
            writer.write_s1("descending", window, np.asarray(arrays["desc"][:, rows]))
            if progress:
                progress("rows", row + window.height, grid.height)
    return Path(out)


def write_roi_geotiff(grid: Grid, path: str | os.PathLike) -> Path:
    """A uint8 all-ones GeoTIFF on ``grid``: the stacker's ROI raster that georeferences a stack."""
    return write_geotiff(path, np.ones(grid.shape, np.uint8), grid)


def export_npy(d: CubeData, directory: str | os.PathLike) -> Path:
    """Write an in-memory cube in the stacker's ``.npy`` layout plus ``roi.tif``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_roi_geotiff(d.grid, directory / "roi.tif")
    for key, value in (
        ("bands", d.s2_bands),
        ("masks", d.s2_mask),
        ("doys", d.s2_doy),
        ("asc", d.s1_ascending.values),
        ("asc_doy", d.s1_ascending.doy),
        ("desc", d.s1_descending.values),
        ("desc_doy", d.s1_descending.doy),
    ):
        np.save(directory / NPY_FILES[key], value)
    return directory
