"""A static STAC catalog with small COGs of known values, built for the acquisition tests.

ROI: ~34 × 33 px just west of 0° E at 52° N (UTM 30N). Granule A (30N) covers its west 60 %,
granule B (31N, across the zone edge) its east 60 %. Every band of an item is one constant, so
whatever resampling does inside a footprint, the expected value is known exactly.

dates (2024)  S2                                                  S1
2024-03-05    A (baseline 05.10, DN + 1000) with two SCL-9 clouds, B (05.10, DN + 1000)
2024-06-10    A only, baseline 03.01 (no offset)
2024-07-01    A (05.10), B Earth-Search style (common-name assets, offset already removed)
2024-08-01    A and B all cloud (SCL 9): < 5 % valid, skipped
2024-04-02                                                        ascending, VV 0.05 VH 0.01 (power)
2024-04-08                                                        descending, two slices (N, S)
2023-12-31    A (another year: never found)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.warp import transform, transform_bounds

from tessera import sensors
from tessera.access.region import target_grid

BBOX = (-0.006, 52.000, -0.001, 52.003)
GRID = target_grid(BBOX)
ES_NAMES = {
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B05": "rededge1",
    "B06": "rededge2",
    "B07": "rededge3",
    "B08": "nir",
    "B8A": "nir08",
    "B11": "swir16",
    "B12": "swir22",
    "SCL": "scl",
}


def value(granule: str, day: int, band_index: int) -> int:
    """The surface-reflectance DN a granule holds for a band on a date (before any offset)."""
    return (1000 if granule == "A" else 2000) + 50 * band_index + 3 * day


def footprint(granule: str) -> tuple[str, tuple[float, float, float, float]]:
    """(CRS, left, bottom, right, top) of a granule, on a 20 m lattice of its own zone."""
    b = GRID.bounds
    if granule == "A":
        left, right = b.left - 200, b.left + 0.6 * (b.right - b.left)
        return "EPSG:32630", _snap(left, b.bottom - 200, right, b.top + 200)
    w, s, e, n = transform_bounds("EPSG:32630", "EPSG:32631", b.left, b.bottom, b.right, b.top)
    return "EPSG:32631", _snap(w + 0.4 * (e - w), s - 200, e + 200, n + 200)


def _snap(left, bottom, right, top, res=20.0):
    return (
        np.floor(left / res) * res,
        np.floor(bottom / res) * res,
        np.ceil(right / res) * res,
        np.ceil(top / res) * res,
    )


# Clouds in granule A on 2024-03-05, in A's coordinates: one inside B's cover (B fills it), one
# where only A observes (stays masked). Both on A's 20 m lattice.
def clouds() -> list[tuple[float, float, float, float]]:
    _, (_left, _bottom, right, _top) = footprint("A")
    b = GRID.bounds
    y0 = _snap(0, b.bottom + 80, 0, b.bottom + 180)
    west = _snap(b.left + 40, y0[1], b.left + 100, y0[3])
    east = _snap(right - 100, y0[1], right - 40, y0[3])
    return [west, east]


def _write(path: Path, data: np.ndarray, crs: str, transform_: Affine, nodata) -> None:
    with rasterio.open(
        path,
        "w",
        driver="COG",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype.name,
        crs=crs,
        transform=transform_,
        nodata=nodata,
    ) as f:
        f.write(data[None])


def _raster(granule: str, res: float, fill, dtype, cloud_value=None, cloudy=()) -> tuple[np.ndarray, Affine, str]:
    crs, (left, bottom, right, top) = footprint(granule)
    t = Affine(res, 0, left, 0, -res, top)
    data = np.full((round((top - bottom) / res), round((right - left) / res)), fill, dtype)
    for x0, y0, x1, y1 in cloudy:
        r0, r1 = round((top - y1) / res), round((top - y0) / res)
        c0, c1 = round((x0 - left) / res), round((x1 - left) / res)
        data[r0:r1, c0:c1] = cloud_value
    return data, t, crs


def _item(root: Path, item_id: str, when: datetime, crs: str, bounds, collection: str, props: dict):
    import pystac

    w, s, e, n = transform_bounds(crs, "EPSG:4326", *bounds)
    geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    item = pystac.Item(item_id, geom, [w, s, e, n], when, {**props, "proj:epsg": int(crs[5:])}, collection=collection)
    (root / item_id).mkdir(parents=True, exist_ok=True)
    return item


def _asset(item, root: Path, key: str, data, t, crs, nodata):
    import pystac

    path = root / item.id / f"{key}.tif"
    _write(path, data, crs, t, nodata)
    item.add_asset(
        key,
        pystac.Asset(
            str(path),
            media_type=pystac.MediaType.COG,
            roles=["data"],
            extra_fields={
                "proj:shape": list(data.shape),
                "proj:transform": list(t)[:6],
                "raster:bands": [{"nodata": nodata, "data_type": data.dtype.name}],
            },
        ),
    )


def s2_item(root, granule, when, baseline, offset_applied=None, es_names=False, all_cloud=False, cloudy=(), drop=()):
    day = when.timetuple().tm_yday
    crs, bounds = footprint(granule)
    props = {"s2:processing_baseline": baseline, "eo:cloud_cover": 10.0}
    if offset_applied is not None:
        props["earthsearch:boa_offset_applied"] = offset_applied
    item = _item(root, f"S2_{granule}_{when:%Y%m%d}", when, crs, bounds, "sentinel-2-l2a", props)
    add = 1000 if float(baseline) >= 4 and not offset_applied else 0
    for k, band in enumerate(sensors.S2_BANDS):
        if band in drop:
            continue
        data, t, _ = _raster(granule, float(sensors.S2_NATIVE_RES_M[band]), value(granule, day, k) + add, np.uint16)
        _asset(item, root, ES_NAMES[band] if es_names else band, data, t, crs, 0)
    scl, t, _ = _raster(granule, 20.0, 9 if all_cloud else 4, np.uint8, cloud_value=9, cloudy=cloudy)
    _asset(item, root, "scl" if es_names else "SCL", scl, t, crs, 0)
    return item


def s1_item(root, name, when, orbit, vv, vh, rows=None):
    crs = "EPSG:32630"
    b = GRID.bounds
    bottom, top = (b.bottom - 100, b.top + 100) if rows is None else rows
    bounds = _snap(b.left - 100, bottom, b.right + 100, top, 10.0)
    item = _item(root, name, when, crs, bounds, "sentinel-1-rtc", {"sat:orbit_state": orbit})
    t = Affine(10, 0, bounds[0], 0, -10, bounds[3])
    shape = (round((bounds[3] - bounds[1]) / 10), round((bounds[2] - bounds[0]) / 10))
    for key, v in (("vv", vv), ("vh", vh)):
        _asset(item, root, key, np.full(shape, v, np.float32), t, crs, float("nan"))
    return item


def utc(y, m, d, h=10, mi=30):
    return datetime(y, m, d, h, mi, tzinfo=UTC)


def build(root: Path, drop_band: str | None = None) -> Path:
    """Write the catalog under ``root``; returns the path of ``catalog.json``."""
    import pystac

    root.mkdir(parents=True, exist_ok=True)
    cat = pystac.Catalog("tessera-test", "acquisition test catalog")
    mid = (GRID.bounds.bottom + GRID.bounds.top) / 2
    items = [
        s2_item(root, "A", utc(2024, 3, 5), "05.10", cloudy=clouds(), drop=(drop_band,) if drop_band else ()),
        s2_item(root, "B", utc(2024, 3, 5, 10, 31), "05.10"),
        s2_item(root, "A", utc(2024, 6, 10), "03.01"),
        s2_item(root, "A", utc(2024, 7, 1), "05.10"),
        s2_item(root, "B", utc(2024, 7, 1, 10, 31), "05.10", offset_applied=True, es_names=True),
        s2_item(root, "A", utc(2024, 8, 1), "05.10", all_cloud=True),
        s2_item(root, "B", utc(2024, 8, 1, 10, 31), "05.10", all_cloud=True),
        s2_item(root, "A", utc(2023, 12, 31), "05.10"),
        s1_item(root, "S1_asc_20240402", utc(2024, 4, 2, 17), "ascending", 0.05, 0.01),
        s1_item(
            root, "S1_desc_20240408_N", utc(2024, 4, 8, 6), "descending", 0.1, 0.02, rows=(mid, GRID.bounds.top + 100)
        ),
        s1_item(
            root,
            "S1_desc_20240408_S",
            utc(2024, 4, 8, 6, 1),
            "descending",
            0.2,
            0.04,
            rows=(GRID.bounds.bottom - 100, mid + 50),
        ),
    ]
    for item in items:
        cat.add_item(item)
    cat.normalize_hrefs(str(root))
    cat.make_all_asset_hrefs_relative()
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def centres_in(crs: str, rows: np.ndarray, cols: np.ndarray):
    """Cube pixel centres (rows, cols arrays) in ``crs`` coordinates."""
    xs, ys = GRID.transform * (cols + 0.5, rows + 0.5)
    if crs == GRID.crs:
        return np.asarray(xs), np.asarray(ys)
    x, y = transform(GRID.crs, crs, np.ravel(xs).tolist(), np.ravel(ys).tolist())
    return np.reshape(x, np.shape(rows)), np.reshape(y, np.shape(rows))
