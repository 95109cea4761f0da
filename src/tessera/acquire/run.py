"""``acquire``: ROI + period → search → choose dates → per-date mosaics, written date chunk by date
chunk into a d-pixel cube (nothing appears at the output until it is complete).

A period is a calendar year or any 12 months ending in a chosen month (``tessera.period``); each
date's day of year is that of its own calendar year, dates ordered by it. With an area mask only
the 256-px tiles the mask touches are read from the catalogue's assets, pixels outside it are
stored as invalid, and the mask travels with the cube (``aoi``) so ``embed`` skips them too.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tessera import sensors
from tessera.acquire.catalogs import PROFILES, AcquireError, CatalogProfile
from tessera.acquire.load import s1_mosaic, s2_mosaic, s2_mosaic_valid, solar_day
from tessera.acquire.search import search
from tessera.area_mask import touched_windows
from tessera.grid import BBox, Grid, Window, utm_epsg
from tessera.period import Period, day_of_year, parse_period
from tessera.progress import Progress

MIN_VALID = 0.05  # dates with less valid S2 coverage of the ROI are skipped
MEMORY = 2 * 2**30  # bytes of S2 bands the automatic date chunk may hold
MASK_TILE = 256  # px: with an area mask, assets are read in tiles of this side that the mask touches


@dataclass(frozen=True)
class AcquireConfig:
    catalog: str = "planetary-computer"  # a PROFILES name, a STAC API URL, or a static catalog (path/URL)
    s2_collection: str | None = None  # default: the profile's
    s1_collection: str | None = None
    s1_values: str | None = None  # power | amplitude | db; default: the profile's
    max_cloud: float | None = 90.0  # item-level eo:cloud_cover filter (S2)
    min_valid: float = MIN_VALID
    date_chunk: int | None = None  # S2 dates of bands in memory at once; None: the cube's time chunk within MEMORY
    sign: Callable[[str], str] | None = None  # URL signer; Planetary Computer's when its extra is installed
    overwrite: bool = False


@dataclass
class AcquireSummary:
    grid: Grid
    s2_items: int = 0
    s2_dates_found: int = 0
    s2_dates_kept: int = 0
    s2_valid_fraction: float = 0.0  # mean over kept dates
    s1_items: dict[str, int] = field(default_factory=dict)
    s1_dates: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    period: Period | None = None
    mask_pixels: int | None = None  # wanted pixels, with an area mask
    tiles_read: int = 1  # of tiles_total: the tiles an area mask touches
    tiles_total: int = 1


def profile_for(config: AcquireConfig) -> CatalogProfile:
    base = PROFILES.get(config.catalog) or CatalogProfile("custom", config.catalog)
    return replace(
        base,
        s2_collection=config.s2_collection or base.s2_collection,
        s1_collection=config.s1_collection or base.s1_collection,
        s1_values=config.s1_values or base.s1_values,
    )


def signer(profile: CatalogProfile, config: AcquireConfig) -> tuple[Callable | None, Callable | None]:
    if config.sign is not None or not profile.sign:
        return config.sign, None
    try:
        import planetary_computer
    except ImportError as exc:
        raise AcquireError(
            "Planetary Computer asset URLs must be signed: pip install 'tessera[planetary-computer]' "
            "(or use --stac-url earth-search)"
        ) from exc
    return planetary_computer.sign, planetary_computer.sign_inplace


def roi_bbox(path: str | os.PathLike) -> tuple[tuple[float, float, float, float], Grid | None]:
    """A ROI file → (lon/lat bbox, grid). A raster ROI gives its own grid (as the official
    stacker's ROI GeoTIFF does); a vector ROI gives only its bounds."""
    path = Path(path)
    if not path.exists():
        raise AcquireError(f"no ROI file at {path}")
    if path.suffix.lower() in (".tif", ".tiff"):
        from rasterio.warp import transform_bounds

        from tessera.cube import grid_from_geotiff

        grid = grid_from_geotiff(path)
        b = grid.bounds
        return transform_bounds(grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top), grid
    try:
        import geopandas as gpd
    except ImportError as exc:
        raise AcquireError(f"a vector ROI ({path.name}) needs geopandas: pip install geopandas") from exc

    gdf = gpd.read_file(path)
    if gdf.crs is None:
        raise AcquireError(f"ROI {path} has no CRS")
    return tuple(gdf.to_crs("EPSG:4326").total_bounds.tolist()), None


def region_grid(bbox: BBox, summary_notes: list[str]) -> Grid:
    """The cube grid of a lon/lat bbox (its centre's UTM zone, 10 m); a note where it spans two zones."""
    from tessera.grid import check_bbox, target_grid

    w, s, e, n = check_bbox(bbox)
    zones = {utm_epsg(w, (s + n) / 2), utm_epsg(e, (s + n) / 2)}
    grid = target_grid((w, s, e, n))
    if len(zones) > 1:
        names = ", ".join(f"{z % 100}{'N' if z < 32700 else 'S'}" for z in sorted(zones))
        summary_notes.append(
            f"the bbox spans UTM zones {names}; the cube uses {grid.crs} (the bbox centre's "
            "zone) and reprojects granules of the other zone onto it"
        )
    return grid


def date_chunk_for(grid: Grid) -> int:
    """Dates per write: the cube's time chunk, so no chunk is rewritten, unless that many dates of
    bands would exceed :data:`MEMORY`."""
    from tessera.cube import CubeChunks

    per_date = grid.height * grid.width * (len(sensors.S2_BANDS) * 2 + 1)
    return max(1, min(CubeChunks().time, MEMORY // per_date))


def by_day(items: list, lon: float, period: Period) -> dict:
    """Items grouped by local solar day inside the period, in the cube's date order: by day of
    year (the model's position), a window's two years interleaved (ties: the earlier date)."""
    groups = defaultdict(list)
    for item in items:
        day = solar_day(item, lon)
        if period.contains(day):
            groups[(day,)].append(item)
    return dict(sorted(groups.items(), key=lambda kv: (day_of_year(kv[0][-1]), kv[0][-1])))


def _fill(outs: tuple[np.ndarray, ...], load: Callable, tiles: list[Window], grid: Grid) -> None:
    """``outs`` (each (H, W, …)) from ``load(sub_grid)`` — a tuple of arrays, one per out — over
    the tiles an area mask touches (the whole grid: one tile); zeros elsewhere."""
    for out in outs:
        out[...] = 0
    for tile in tiles:
        got = load(grid.window(tile))
        for out, part in zip(outs, got if isinstance(got, tuple) else (got,), strict=True):
            out[tile.slices] = part


def acquire(
    bbox: BBox,
    year: int | str | Period,
    out: str | os.PathLike,
    config: AcquireConfig = AcquireConfig(),
    grid: Grid | None = None,
    progress: Progress | None = None,
    aoi: np.ndarray | None = None,
) -> AcquireSummary:
    """Search, choose and mosaic dates of ``year`` (a calendar year, or a period: ``"2025-06"``
    is July 2024 to June 2025), write the cube at ``out``. ``aoi``: (H, W) bool on ``grid``,
    the pixels wanted (``tessera.area_mask.load_mask``); the rest is neither read nor valid."""
    from tessera.atomic import check_output
    from tessera.cube import CubeWriter, is_cube

    period = parse_period(year).check_acquirable()
    check_output(Path(out), config.overwrite, is_cube)
    if (config.date_chunk is not None and config.date_chunk < 1) or not 0 <= config.min_valid <= 1:
        raise AcquireError(
            f"date_chunk must be ≥ 1 and min_valid in [0, 1] (got {config.date_chunk}, {config.min_valid})"
        )
    notes: list[str] = []
    grid = grid or region_grid(bbox, notes)
    summary = AcquireSummary(grid, notes=notes, period=period)
    if aoi is not None and aoi.shape != grid.shape:
        raise AcquireError(f"area mask {aoi.shape} does not match the grid {grid.shape}")
    tiles = touched_windows(aoi, grid.shape, MASK_TILE if aoi is not None else max(grid.shape))
    summary.tiles_read = len(tiles)
    summary.tiles_total = len(touched_windows(None, grid.shape, MASK_TILE if aoi is not None else max(grid.shape)))
    summary.mask_pixels = None if aoi is None else int(aoi.sum())
    wanted = np.ones(grid.shape, bool) if aoi is None else aoi
    profile = profile_for(config)
    location = config.catalog if config.catalog not in PROFILES else profile.url
    sign, modifier = signer(profile, config)
    lon = (bbox[0] + bbox[2]) / 2
    query = f"{profile.s2_collection} ∩ bbox {tuple(round(v, 5) for v in bbox)} in {period.describe()} at {location}"
    s2_items = search(location, profile.s2_collection, bbox, period, config.max_cloud, modifier)
    if not s2_items:
        raise AcquireError(
            f"no Sentinel-2 items found: {query}"
            + (f" with eo:cloud_cover ≤ {config.max_cloud}" if config.max_cloud is not None else "")
        )
    summary.s2_items = len(s2_items)
    days = by_day(s2_items, lon, period)
    summary.s2_dates_found = len(days)

    # Pass 1: SCL only, to keep the dates with enough valid coverage (and know the cube's dates).
    kept, fractions = [], []
    for i, (key, items) in enumerate(days.items()):
        valid = np.zeros(grid.shape, bool)
        _fill((valid,), lambda g, items=items: s2_mosaic_valid(items, g, sign), tiles, grid)
        frac = float(valid[wanted].mean())
        if frac >= config.min_valid:
            kept.append((key[-1], items))
            fractions.append(frac)
        if progress:
            progress("S2 coverage", i + 1, len(days))
    summary.s2_dates_kept = len(kept)
    summary.s2_valid_fraction = float(np.mean(fractions)) if fractions else 0.0
    if not kept:
        raise AcquireError(
            f"all {len(days)} Sentinel-2 dates have < {config.min_valid:.0%} valid pixels in the ROI; "
            "a cube needs at least one"
        )

    s1_days: dict[str, dict] = {"ascending": {}, "descending": {}}
    if profile.s1_collection:
        s1_items = search(location, profile.s1_collection, bbox, period, None, modifier)
        for orbit in s1_days:
            mine = [i for i in s1_items if i.properties.get("sat:orbit_state") == orbit]
            summary.s1_items[orbit] = len(mine)
            s1_days[orbit] = by_day(mine, lon, period)
            summary.s1_dates[orbit] = len(s1_days[orbit])
        if not s1_items:
            notes.append(f"no Sentinel-1 items in {profile.s1_collection}; the cube holds S2 only")
    else:
        notes.append(
            f"{profile.name} has no Sentinel-1 RTC collection; the cube holds S2 only (name one with --s1-collection)"
        )

    chunk = config.date_chunk or date_chunk_for(grid)
    full = Window(0, 0, *grid.shape)
    s1_keys = {o: [k[-1] for k in s1_days[o]] for o in s1_days}
    with CubeWriter(
        out,
        grid,
        period.code,
        np.array([day_of_year(d) for d, _ in kept], int),
        np.array([day_of_year(d) for d in s1_keys["ascending"]], int),
        np.array([day_of_year(d) for d in s1_keys["descending"]], int),
        overwrite=config.overwrite,
        years={
            "s2": np.array([d.year for d, _ in kept], int),
            **{o: np.array([d.year for d in s1_keys[o]], int) for o in s1_keys},
        },
        aoi=aoi,
    ) as writer:
        # Pass 2: bands for the kept dates, a few dates in memory at a time.
        for t0 in range(0, len(kept), chunk):
            part = kept[t0 : t0 + chunk]
            bands = np.empty((len(part), *grid.shape, len(sensors.S2_BANDS)), np.uint16)
            masks = np.empty((len(part), *grid.shape), np.uint8)
            for j, (_, items) in enumerate(part):
                _fill((bands[j], masks[j]), lambda g, items=items: s2_mosaic(items, g, sign), tiles, grid)
                masks[j][~wanted] = 0
            writer.write_s2(full, bands, masks, t0=t0)
            del bands, masks
            if progress:
                progress("S2 dates", min(t0 + chunk, len(kept)), len(kept))
        for orbit, groups in s1_days.items():
            for t, items in enumerate(groups.values()):
                vals = np.empty((*grid.shape, len(sensors.S1_BANDS)), np.int16)
                load = lambda g, items=items: s1_mosaic(items, g, profile.s1_assets, profile.s1_values, sign)  # noqa: E731
                _fill((vals,), load, tiles, grid)
                vals[~wanted] = 0
                writer.write_s1(orbit, full, vals[None], t0=t)
                if progress:
                    progress(f"S1 {orbit}", t + 1, len(groups))
    return summary
