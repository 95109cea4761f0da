"""Embeddings at points: one vectorised read per UTM zone, never a read per point."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from tessera.access.reader import NODATA, OUTSIDE, VALID, WATER, AccessError, StoreReader
from tessera.store import Zone

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["NODATA", "OUTSIDE", "VALID", "WATER", "PointSample", "as_lonlat", "check_lonlat", "sample_points"]


# What point reads take: an (N, 2) lon/lat array or list of pairs, a GeoJSON file, a GeoDataFrame.
Points = Union[np.ndarray, Sequence[Sequence[float]], str, os.PathLike, "gpd.GeoDataFrame"]


@dataclass(frozen=True)
class PointSample:
    """``values`` (N, D) float32 with NaN rows where there is no vector; ``status`` (N,) str:
    ``valid``, ``water`` (NaN scale), ``nodata`` (+inf scale: no embedding that year) or
    ``outside`` (no zone group, or beyond its grid)."""

    values: np.ndarray
    status: np.ndarray


def check_lonlat(lon: np.ndarray, lat: np.ndarray) -> None:
    bad = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AccessError(
            f"point {i} ({lon[i]}, {lat[i]}) is not a (longitude, latitude) in degrees "
            "(−180…180, −90…90); give coordinates in EPSG:4326, longitude first"
        )


def as_lonlat(points: Points) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) arrays from an (N, 2) array, a list of pairs, a GeoJSON file or a GeoDataFrame."""
    if isinstance(points, (str, os.PathLike)):
        if str(points).lower().endswith((".geojson", ".json")):
            return _geojson_points(points)
        try:
            import geopandas as gpd
        except ImportError as exc:
            raise AccessError(
                f"reading {points} needs geopandas (`pip install geopandas`); GeoJSON point files are read without it"
            ) from exc
        points = gpd.read_file(points)
    if hasattr(points, "geometry"):  # a GeoDataFrame: any CRS, any geometry → its representative point
        gdf: Any = points
        gdf = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
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
        doc = json.loads(Path(path).read_text())
        feats = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
        coords = [f["geometry"]["coordinates"][:2] for f in feats]
        kinds = {f["geometry"]["type"] for f in feats}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AccessError(f"{path} is not a readable GeoJSON point file ({exc})") from exc
    if kinds - {"Point"}:
        raise AccessError(
            f"{path} holds {sorted(kinds)} geometries; only Point features are sampled "
            "(install geopandas to sample representative points of other geometries)"
        )
    arr = np.asarray(coords, np.float64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def zone_numbers(lon: np.ndarray) -> np.ndarray:
    """UTM zone number of each point (plain 6° zones, as the convention's readers use)."""
    return np.clip(np.floor((lon + 180.0) / 6.0).astype(int) + 1, 1, 60)


def to_zone_xy(zone: Zone, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat → the zone's northern-code coordinates (negative northings south of the equator)."""
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{zone.epsg}", always_xy=True).transform(lon, lat)
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


def sample_points(store: StoreReader, points: Points, year: int, depth: int | None = None) -> PointSample:
    """Embeddings at points, one vectorised read per zone; ``outside`` where no zone grid covers."""
    store.check_year(year)
    store.check_depth(depth)
    lon, lat = as_lonlat(points)
    check_lonlat(lon, lat)
    n = len(lon)
    values = np.full((n, store.embed_dim(year, depth)), np.nan, np.float32)
    status = np.full(n, OUTSIDE, dtype=object)
    number = zone_numbers(lon)
    for num in sorted(set(number.tolist())):
        reader = store.zone(Zone(num))
        if reader is None:
            continue
        sel = np.flatnonzero(number == num)
        rows, cols = reader.grid.pixel_of(*to_zone_xy(reader.zone, lon[sel], lat[sel]))
        values[sel], status[sel] = reader.points(rows, cols, year, depth)
    return PointSample(values, status.astype(str))
