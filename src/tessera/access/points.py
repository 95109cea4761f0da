"""Embeddings at points: one vectorised read per UTM zone, never a read per point."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from tessera.access.reader import AccessError, StoreReader
from tessera.grid import PIXEL_SIZE_M
from tessera.store import Zone

VALID, NODATA, OUTSIDE = "valid", "nodata", "outside"


@dataclass(frozen=True)
class PointSample:
    """``values`` (N, D) float32 with NaN rows where there is no vector; ``status`` (N,) str:
    ``valid``, ``nodata`` (embedded, but no valid observation) or ``outside`` (not embedded)."""

    values: np.ndarray
    status: np.ndarray


def check_lonlat(lon: np.ndarray, lat: np.ndarray) -> None:
    bad = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AccessError(f"point {i} ({lon[i]}, {lat[i]}) is not a (longitude, latitude) in degrees "
                          "(−180…180, −90…90); give coordinates in EPSG:4326, longitude first")  # fmt: skip


def as_lonlat(points) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) arrays from an (N, 2) array, a list of pairs, a GeoJSON file or a GeoDataFrame."""
    if isinstance(points, (str, os.PathLike)):
        if str(points).lower().endswith((".geojson", ".json")):
            return _geojson_points(points)
        try:
            import geopandas as gpd
        except ImportError as exc:
            raise AccessError(f"reading {points} needs geopandas (`pip install geopandas`); "
                              "GeoJSON point files are read without it") from exc  # fmt: skip
        points = gpd.read_file(points)
    if hasattr(points, "geometry"):  # a GeoDataFrame: any CRS, any geometry → its representative point
        gdf = points.to_crs("EPSG:4326") if points.crs is not None else points
        geom = gdf.geometry.representative_point()
        return np.asarray(geom.x, np.float64), np.asarray(geom.y, np.float64)
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise AccessError(f"points must be (N, 2) longitude/latitude pairs, got shape {arr.shape}")
    return arr[:, 0], arr[:, 1]


def _geojson_points(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Point features of a GeoJSON file (RFC 7946: longitude, latitude in WGS84)."""
    import json

    try:
        doc = json.loads(open(path).read())
        feats = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
        coords = [f["geometry"]["coordinates"][:2] for f in feats]
        kinds = {f["geometry"]["type"] for f in feats}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AccessError(f"{path} is not a readable GeoJSON point file ({exc})") from exc
    if kinds - {"Point"}:
        raise AccessError(f"{path} holds {sorted(kinds)} geometries; only Point features are sampled "
                          "(install geopandas to sample representative points of other geometries)")  # fmt: skip
    arr = np.asarray(coords, np.float64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def zone_numbers(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTM zone number and hemisphere of each point (plain 6° zones, as the store uses)."""
    number = np.clip(np.floor((lon + 180.0) / 6.0).astype(int) + 1, 1, 60)
    return number, lat >= 0


def zone_pixels(zone: Zone, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row, col of each point in the zone's lattice."""
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{zone.epsg}", always_xy=True).transform(lon, lat)
    t = zone.grid().transform
    return (np.floor((t.f - np.asarray(y)) / PIXEL_SIZE_M).astype(np.int64),
            np.floor((np.asarray(x) - t.c) / PIXEL_SIZE_M).astype(np.int64))  # fmt: skip


def sample_points(store: StoreReader, points, year: int) -> PointSample:
    """Embeddings at points, grouped by zone; points outside coverage get NaN and ``outside``."""
    store.check_year(year)
    lon, lat = as_lonlat(points)
    check_lonlat(lon, lat)
    n = len(lon)
    dim = None
    values: np.ndarray | None = None
    recorded = np.zeros(n, bool)
    number, north = zone_numbers(lon, lat)
    in_utm = (lat >= -80) & (lat <= 84)
    for num, hemi in sorted(set(zip(number[in_utm].tolist(), north[in_utm].tolist(), strict=True))):
        reader = store.zone(year, Zone(num, hemi))
        if reader is None:
            continue
        sel = np.flatnonzero(in_utm & (number == num) & (north == hemi))
        rows, cols = zone_pixels(reader.group.zone, lon[sel], lat[sel])
        vals, rec = reader.points(rows, cols)
        if values is None:
            dim = vals.shape[1]
            values = np.full((n, dim), np.nan, np.float32)
        values[sel] = vals
        recorded[sel] = rec
    if values is None:
        dim = dim or 128
        values = np.full((n, dim), np.nan, np.float32)
    return PointSample(values, statuses(values, recorded))


def statuses(values: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    return np.where(~recorded, OUTSIDE, np.where(np.isnan(values).any(axis=1), NODATA, VALID))
