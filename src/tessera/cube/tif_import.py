"""Import a cube from Sentinel-2 GeoTIFFs as users hold them: one multi-band file holding every
date (GEE ``toBands()``, a Theia or FORCE stack) or a folder with one file per date.

What each band is comes from, in order of precedence: the options (``bands``: the order of the
ten bands within each date; ``dates``: one date per date block or file), then the file's band
descriptions (``20240301_B4``, ``SRE_B8A``), band tags or dataset tags (``ACQUISITION_DATE``…),
then the file name (``…_20240301_…``). Nothing is guessed: a band or a date that no source names
is an error that says which option gives it. The order is then checked against reflectance
statistics (``band_order``), and the scale against L2A DN (reflectance × 10 000).

A pixel-date is valid where all ten bands are finite, none is the file's nodata value, and not
all are ≤ 0 (how composites and exports mark gaps); there is no cloud mask to read, so clouds a
file kept are observations. The files carry no Sentinel-1: the cube has none (``embed`` then
runs the optical encoder alone, as for radar-free pixels).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tessera.cube import band_order
from tessera.cube.zarr_cube import CubeChunks, CubeWriter
from tessera.errors import CubeValidationError, GeoreferenceError, InputNotFoundError
from tessera.grid import Grid, Window
from tessera.period import Period, day_of_year, parse_period
from tessera.progress import Progress
from tessera.sensors import S2_BANDS, S2_REFLECTANCE_SCALE

TIF_SUFFIXES = (".tif", ".tiff")
_DATE = re.compile(r"(?<!\d)(20\d{2})[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)")
_DATE_TAGS = ("ACQUISITION_DATE", "DATE_ACQUIRED", "SENSING_DATE", "SENSING_TIME", "DATE", "ACQUIRED")
#: Pixels sampled per date (a decimated read) for the band-order and scale checks.
SAMPLE_SIDE = 128


@dataclass(frozen=True)
class DateLayer:
    """One date: the file and its band numbers (1-based) in the published band order."""

    date: dt.date
    path: Path
    bands: tuple[int, ...]


@dataclass
class TifPlan:
    """What an import reads: the grid, the dates in the cube's order, and how values scale."""

    grid: Grid
    period: Period
    layers: list[DateLayer]
    scale: float
    nodata: float | None
    notes: list[str] = field(default_factory=list)


def find_date(text: str) -> dt.date | None:
    """The first ``YYYYMMDD`` / ``YYYY-MM-DD`` date in ``text``, or None."""
    for y, m, d in _DATE.findall(text):
        try:
            return dt.date(int(y), int(m), int(d))
        except ValueError:
            continue
    return None


def parse_dates(text: str) -> list[dt.date]:
    """``--dates 2024-03-01,2024-03-16,…`` (or ``@file`` with one date per line)."""
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise InputNotFoundError(f"--dates {text}: no file at {path}")
        text = ",".join(path.read_text().split())
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        day = find_date(part)
        if day is None:
            raise CubeValidationError(f"--dates: {part!r} is not a date; give YYYY-MM-DD")
        out.append(day)
    return out


def _tag_date(tags: dict) -> dt.date | None:
    for key, value in tags.items():
        if key.upper() in _DATE_TAGS:
            day = find_date(str(value))
            if day is not None:
                return day
    return None


def _sources(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if source.is_dir():
        found = sorted(p for p in source.iterdir() if p.suffix.lower() in TIF_SUFFIXES and p.is_file())
        if not found:
            raise InputNotFoundError(f"no .tif files in {source}; give a GeoTIFF or a folder of them")
        return found
    raise InputNotFoundError(f"no GeoTIFF or folder at {source}")


@dataclass
class _Band:
    path: Path
    index: int  # 1-based
    name: str | None
    date: dt.date | None


def _file_bands(path: Path, order: tuple[str, ...] | None) -> tuple[Grid, list[_Band], float | None, str]:
    import rasterio

    from tessera.cube.npy_import import grid_from_geotiff

    try:
        with rasterio.open(path) as src:
            descriptions = [d or "" for d in src.descriptions]
            band_tags = [src.tags(i) for i in range(1, src.count + 1)]
            file_date = _tag_date(src.tags()) or find_date(path.stem)
            nodata, dtype = src.nodata, src.dtypes[0]
    except rasterio.errors.RasterioIOError as exc:
        raise CubeValidationError(f"{path} is not a readable GeoTIFF ({exc})") from exc
    grid = grid_from_geotiff(path)
    bands = []
    for i, (text, tags) in enumerate(zip(descriptions, band_tags, strict=True), 1):
        name = order[(i - 1) % len(order)] if order else band_order.band_name(text)
        date = find_date(text) or _tag_date(tags) or file_date
        bands.append(_Band(path, i, name, date))
    if order and len(bands) % len(order):
        raise CubeValidationError(
            f"{path} has {len(bands)} bands, not a multiple of the {len(order)} named by --bands; "
            "each date needs the ten bands"
        )
    return grid, bands, nodata, dtype


def _blocks(bands: list[_Band], size: int) -> list[list[_Band]]:
    """A file's bands in consecutive date blocks of ``size`` (date-major, as exports write)."""
    return [bands[i : i + size] for i in range(0, len(bands), size)]


def plan_import(
    source: str | os.PathLike,
    year: int | str | None = None,
    dates: Sequence[dt.date] | None = None,
    bands: Sequence[str] | None = None,
    scale: float | None = None,
    check_bands: bool = True,
) -> TifPlan:
    """Work out, without reading pixels beyond a small sample, what importing ``source`` means."""
    order = band_order.check_order(bands) if bands else None
    files = _sources(Path(source))
    grid: Grid | None = None
    nodata, dtypes, every = None, set(), []
    for path in files:
        g, found, nd, dtype = _file_bands(path, order)
        if grid is None:
            grid, nodata = g, nd
        elif (g.crs, g.transform, g.shape) != (grid.crs, grid.transform, grid.shape):
            raise GeoreferenceError(
                f"{path} is on another grid ({g.crs}, {g.height}×{g.width}) than {files[0]} "
                f"({grid.crs}, {grid.height}×{grid.width}); warp every date to one grid first"
            )
        dtypes.add(dtype)
        every.append(found)
    assert grid is not None
    if any(b.name is None for f in every for b in f):
        unnamed = next(b for f in every for b in f if b.name is None)
        raise CubeValidationError(
            f"{unnamed.path} band {unnamed.index} does not say which Sentinel-2 band it is; name the "
            "order of each date's bands with --bands (e.g. --bands B2,B3,B4,B5,B6,B7,B8,B8A,B11,B12)"
        )
    if dates is not None:
        blocks = [blk for f in every for blk in (_blocks(f, 10) if len(files) == 1 else [f])]
        if len(dates) != len(blocks):
            raise CubeValidationError(
                f"--dates gives {len(dates)} dates but {source} holds {len(blocks)} "
                + ("date blocks of ten bands" if len(files) == 1 else "files (one date each)")
            )
        for blk, day in zip(blocks, dates, strict=True):
            for b in blk:
                b.date = day
    undated = next((b for f in every for b in f if b.date is None), None)
    if undated is not None:
        raise CubeValidationError(
            f"{undated.path} band {undated.index} has no date (none in its description, tags or file name); "
            "give one date per " + ("date block" if len(files) == 1 else "file") + " with --dates"
        )
    layers = _group(every)
    period = _period(year, [layer.date for layer in layers])
    layers.sort(key=lambda layer: (day_of_year(layer.date), layer.date))
    sample = _sample(layers)
    notes: list[str] = []
    scale = _scale(sample, nodata, dtypes, scale, notes)
    if check_bands:
        _check_bands(sample, layers, nodata, scale, bands is not None)
    return TifPlan(grid, period, layers, scale, nodata, notes)


def _group(every: list[list[_Band]]) -> list[DateLayer]:
    by: dict[tuple[dt.date, Path], dict[str, int]] = {}
    for f in every:
        for b in f:
            names = by.setdefault((b.date, b.path), {})  # type: ignore[arg-type]
            if b.name in names:
                raise CubeValidationError(
                    f"{b.path}: {b.name} appears twice for {b.date}: the file holds several dates; give "
                    "them with --dates (one per block of ten bands)"
                )
            names[b.name] = b.index  # type: ignore[index]
    days = [day for day, _ in by]
    repeated = sorted({d for d in days if days.count(d) > 1})
    if repeated:
        raise CubeValidationError(f"{repeated[0]} is given by two files; one file per date")
    layers = []
    for (day, path), names in by.items():
        missing = [b for b in S2_BANDS if b not in names]
        if missing:
            raise CubeValidationError(f"{path}: {day} lacks {', '.join(missing)}; TESSERA needs all ten bands")
        layers.append(DateLayer(day, path, tuple(names[b] for b in S2_BANDS)))
    return layers


def _period(year: int | str | None, days: list[dt.date]) -> Period:
    if year is None:
        spans = sorted({d.year for d in days})
        if len(spans) > 1:
            raise CubeValidationError(
                f"the dates run from {min(days)} to {max(days)}; give --year YYYY-MM for the 12 months "
                "ending in that month, or import one calendar year"
            )
        return parse_period(spans[0])
    period = parse_period(year)
    outside = [d for d in days if not period.contains(d)]
    if outside:
        raise CubeValidationError(
            f"{len(outside)} dates fall outside {period.describe()} (first {min(outside)}); give the "
            "--year the files cover"
        )
    return period


def _read(layer: DateLayer, window: Window | None = None, out_shape: tuple[int, int] | None = None) -> np.ndarray:
    """(h, w, 10) float64 of one date in the published band order."""
    import rasterio
    from rasterio.windows import Window as RioWindow

    with rasterio.open(layer.path) as src:
        win = None if window is None else RioWindow(window.col, window.row, window.width, window.height)
        shape = None if out_shape is None else (len(layer.bands), *out_shape)
        data = src.read(list(layer.bands), window=win, out_shape=shape)
    return np.moveaxis(data, 0, -1).astype(np.float64)


def _sample(layers: list[DateLayer]) -> np.ndarray:
    """A decimated read of up to eight dates spread over the year: (n, 10) float64."""
    pick = np.unique(np.linspace(0, len(layers) - 1, min(8, len(layers))).round().astype(int))
    side = SAMPLE_SIDE
    return np.concatenate([_read(layers[i], out_shape=(side, side)).reshape(-1, 10) for i in pick])


def valid_of(values: np.ndarray, nodata: float | None) -> np.ndarray:
    """(…, 10) values → (…) bool: finite, no band at ``nodata``, not all ≤ 0."""
    ok = np.isfinite(values).all(axis=-1) & (values > 0).any(axis=-1)
    if nodata is not None and np.isfinite(nodata):
        ok &= ~(values == nodata).any(axis=-1)
    return ok


def _scale(sample: np.ndarray, nodata: float | None, dtypes: set[str], given: float | None, notes: list[str]) -> float:
    """The factor to L2A DN: ``given``, else 10 000 for float reflectance 0–1, else 1; implausible
    medians (percent, 8-bit, or above any DN) refused without ``given``."""
    ok = valid_of(sample, nodata)
    if not ok.any():
        raise CubeValidationError("the files hold no valid pixel (all nodata, NaN or ≤ 0)")
    if given is not None:  # the user's word: a dark scene (water, shadow) may have a low median
        if not np.isfinite(given) or given <= 0:
            raise CubeValidationError(f"--scale {given} must be a positive number")
        return given
    med = float(np.median(sample[ok]))
    scale = 1.0
    if any(np.dtype(d).kind == "f" for d in dtypes) and np.percentile(sample[ok], 99) <= 1.5:
        scale = S2_REFLECTANCE_SCALE
        notes.append("values are reflectance 0–1: multiplied by 10 000 (L2A DN)")
        med *= scale
    wrong = band_order.implausible_dn(med, "give --scale (100 for percent) to convert")
    if wrong:
        raise CubeValidationError(wrong)
    return scale


def _check_bands(
    sample: np.ndarray,
    layers: list[DateLayer],
    nodata: float | None,
    scale: float,
    named: bool,
) -> None:
    """The statistics check, on the first file's band order (every date has the same)."""
    ok = valid_of(sample, nodata)
    medians = np.median(sample[ok], axis=0) * scale  # published order
    first = layers[0]
    # Bands in the order the file holds them: the order a user names, and the one that is wrong.
    in_file = sorted(zip(first.bands, S2_BANDS, strict=True))
    file_order = [name for _, name in in_file]
    file_medians = np.array([medians[S2_BANDS.index(n)] for n in file_order])
    how = "--bands" if named else "the band descriptions"
    try:
        band_order.check_statistics(file_medians, file_order, f"{first.path} (band order from {how})")
    except CubeValidationError as exc:
        raise CubeValidationError(f"{exc}; {band_order.suggest(file_medians)}") from None


def import_tif(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    year: int | str | None = None,
    dates: Sequence[dt.date] | None = None,
    bands: Sequence[str] | None = None,
    scale: float | None = None,
    check_bands: bool = True,
    overwrite: bool = False,
    chunks: CubeChunks = CubeChunks(),
    progress: Progress | None = None,
) -> TifPlan:
    """Convert Sentinel-2 GeoTIFFs (see the module's docstring) into a cube at ``out``, in row
    strips (a tile never sits in memory); returns the plan it followed."""
    plan = plan_import(source, year, dates, bands, scale, check_bands)
    grid, layers = plan.grid, plan.layers
    doy = np.array([day_of_year(layer.date) for layer in layers])
    years = np.array([layer.date.year for layer in layers])
    empty = np.zeros(0, np.uint16)
    strip = chunks.space
    with CubeWriter(
        out,
        grid,
        plan.period.code,
        doy,
        empty,
        empty,
        overwrite=overwrite,
        chunks=chunks,
        years={"s2": years, "ascending": empty, "descending": empty},
    ) as writer:
        for row in range(0, grid.height, strip):
            window = Window(row, 0, min(strip, grid.height - row), grid.width)
            # Date by date into uint16, so a strip costs what the cube's own chunks do, not 4× that.
            dn = np.zeros((len(layers), window.height, window.width, 10), np.uint16)
            valid = np.zeros((len(layers), window.height, window.width), bool)
            for t, layer in enumerate(layers):
                values = _read(layer, window)
                valid[t] = valid_of(values, plan.nodata)
                scaled = np.rint(np.where(valid[t][..., None], values, 0) * plan.scale)
                dn[t] = np.clip(scaled, 0, np.iinfo(np.uint16).max)
            writer.write_s2(window, dn, valid)
            if progress:
                progress("rows", row + window.height, grid.height)
    return plan
