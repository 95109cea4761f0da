"""Points as lon/lat arrays, from whatever a user holds: (N, 2) arrays or pairs, GeoJSON files
(points; polygons by a point inside each, with geopandas), other vector files and GeoDataFrames.
Below every reader: it imports none of them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tessera.errors import AccessError


def as_lonlat(points: Any) -> tuple[np.ndarray, np.ndarray]:
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
        try:  # polygons (fields, plots): a representative point inside each, as for other vector files
            import geopandas as gpd
        except ImportError:
            raise AccessError(
                f"{path} holds {sorted(kinds)} geometries; only Point features are sampled "
                "(install geopandas to sample representative points of other geometries)"
            ) from None
        return as_lonlat(gpd.read_file(path))
    arr = np.asarray(coords, np.float64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]
