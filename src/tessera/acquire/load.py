"""Reading items onto the cube grid (odc-stac) and turning them into cube values: S2 bands in the
published order with the baseline-04.00 offset removed once, SCL masks, S1 gamma0 in the
published int16 dB form; per-date mosaics where the first valid pixel wins."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from tessera import sensors
from tessera.acquire.catalogs import AcquireError, s1_asset_keys, s2_asset_keys
from tessera.grid import Grid

if TYPE_CHECKING:
    import pystac
    from odc.geo.geobox import GeoBox

BOA_OFFSET = 1000  # DN added from processing baseline 04.00 (25 Jan 2022) on; BOA_ADD_OFFSET = -1000


def geobox(grid: Grid) -> GeoBox:
    from odc.geo.geobox import GeoBox

    return GeoBox((grid.height, grid.width), grid.transform, grid.crs)


def solar_day(item: pystac.Item, lon: float) -> date:
    """The local solar date of an acquisition: UTC shifted by longitude, so one overpass is one date."""
    if item.datetime is None:  # a range-only item: its start is when it was seen
        raise AcquireError(f"item {item.id} has no acquisition time; the catalogue gives only a range")
    return (item.datetime + timedelta(hours=lon / 15.0)).date()


def needs_offset(item: pystac.Item) -> bool:
    """True when the item's DNs still carry the +1000 of baseline ≥ 04.00. Earth Search marks
    items it has already harmonised (``earthsearch:boa_offset_applied``); those are left alone."""
    p = item.properties
    if p.get("earthsearch:boa_offset_applied") is True:
        return False
    baseline = p.get("s2:processing_baseline") or p.get("sentinel:processing_baseline") or p.get("processing:version")
    if baseline is None:
        return False
    try:
        return float(baseline) >= 4.0
    except ValueError as exc:
        raise AcquireError(f"item {item.id} has processing baseline {baseline!r}, not a number like '04.00'") from exc


_RIO_CONFIGURED = False


def _configure_rio() -> None:
    """GDAL settings for COGs over HTTP: no directory listings, bounded retries of asset reads."""
    global _RIO_CONFIGURED
    if not _RIO_CONFIGURED:
        import odc.stac

        odc.stac.configure_rio(cloud_defaults=True, GDAL_HTTP_MAX_RETRY="3", GDAL_HTTP_RETRY_DELAY="0.5")
        _RIO_CONFIGURED = True


def _load(item, keys: dict[str, str], grid: Grid, resampling: dict[str, str], sign: Callable | None) -> dict:
    import odc.stac

    _configure_rio()
    try:
        ds = odc.stac.load(
            [item],
            bands=list(keys.values()),
            geobox=geobox(grid),
            groupby="id",
            chunks=None,
            resampling={keys[b]: r for b, r in resampling.items() if b in keys},
            patch_url=sign,
            fail_on_error=True,
        )
    except Exception as exc:  # rasterio / odc raise many types for unreadable assets
        raise AcquireError(f"could not read item {item.id} ({type(exc).__name__}: {exc})") from exc
    return {band: ds[key].values[0] for band, key in keys.items()}


S2_RESAMPLING = {**{b: "bilinear" for b in sensors.S2_BANDS}, "SCL": "nearest"}


def s2_valid(item: pystac.Item, grid: Grid, sign: Callable | None) -> np.ndarray:
    """(H, W) bool: pixels of the grid this item observes under a valid SCL class."""
    scl = _load(item, {"SCL": s2_asset_keys(item)["SCL"]}, grid, S2_RESAMPLING, sign)["SCL"]
    return sensors.scl_valid_mask(scl).astype(bool)


def s2_mosaic_valid(items: Sequence[pystac.Item], grid: Grid, sign: Callable | None) -> np.ndarray:
    valid = np.zeros(grid.shape, bool)
    for item in items:
        valid |= s2_valid(item, grid, sign)
    return valid


def s2_mosaic(items: Sequence[pystac.Item], grid: Grid, sign: Callable | None) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 10) uint16 bands and (H, W) uint8 mask of one date; the first item valid at a pixel
    gives its values there."""
    bands = np.zeros((*grid.shape, len(sensors.S2_BANDS)), np.uint16)
    mask = np.zeros(grid.shape, bool)
    for item in items:
        data = _load(item, s2_asset_keys(item), grid, S2_RESAMPLING, sign)
        take = sensors.scl_valid_mask(data["SCL"]).astype(bool) & ~mask
        if not take.any():
            continue
        # Bilinear reads come back as integers of the band's dtype; int32 holds DN − 1000 exactly.
        stack = np.stack([np.asarray(data[b])[take].astype(np.int32) for b in sensors.S2_BANDS], axis=-1)
        if needs_offset(item):
            stack -= BOA_OFFSET
        bands[take] = np.clip(stack, 0, np.iinfo(np.uint16).max).astype(np.uint16)
        mask |= take
    return bands, mask.astype(np.uint8)


def s1_mosaic(
    items: Sequence[pystac.Item], grid: Grid, asset_names: tuple[str, str], values: str, sign: Callable | None
) -> np.ndarray:
    """(H, W, 2) int16 VV, VH in the published dB encoding (0 = no data); first valid item wins."""
    out = np.zeros((*grid.shape, 2), np.int16)
    for item in items:
        keys = s1_asset_keys(item, asset_names)
        data = _load(item, keys, grid, {"VV": "bilinear", "VH": "bilinear"}, sign)
        enc = np.stack([encode_s1(np.asarray(data[p], np.float64), values) for p in ("VV", "VH")], axis=-1)
        take = (enc != sensors.S1_NODATA).all(axis=-1) & (out == sensors.S1_NODATA).all(axis=-1)
        out[take] = enc[take]
    return out


def encode_s1(x: np.ndarray, values: str) -> np.ndarray:
    """Catalogue values → published int16: linear power p gives dB = 10·log10(p) = 20·log10(√p)."""
    if values == "power":
        return sensors.s1_encode_amplitude(np.sqrt(np.where(x > 0, x, np.nan)))
    if values == "amplitude":
        return sensors.s1_encode_amplitude(x)
    if values == "db":
        return sensors.s1_encode_db(x)
    raise AcquireError(f"S1 values {values!r} must be power, amplitude or db")
