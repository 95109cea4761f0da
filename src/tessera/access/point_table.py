"""Point files as tables: the points to sample and every column the user gave, so results join
back to their ids. CSV (lon/lat, longitude/latitude or x/y columns, any others kept) through
pandas; vector files (GeoJSON, GeoPackage, Shapefile; any CRS; polygons by a representative
point) through geopandas, their attributes kept."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tessera.access.lonlat import as_lonlat
from tessera.errors import AccessError

if TYPE_CHECKING:
    import pandas as pd

LON_NAMES, LAT_NAMES = ("lon", "longitude", "x"), ("lat", "latitude", "y")


def read_point_table(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """(lon (N,), lat (N,), a pandas DataFrame of the file's columns) — lon/lat in degrees."""
    path = Path(path)
    if not path.is_file():
        raise AccessError(f"no points file at {path}")
    if path.suffix.lower() == ".csv":
        return _csv(path)
    return _vector(path)


def _csv(path: Path):
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (ValueError, OSError) as exc:  # pandas' parser and empty-file errors are ValueErrors
        raise AccessError(f"{path} is not a readable CSV ({str(exc).splitlines()[0]})") from exc
    lower = {str(c).lower(): c for c in table.columns}
    lon_col = next((lower[n] for n in LON_NAMES if n in lower), None)
    lat_col = next((lower[n] for n in LAT_NAMES if n in lower), None)
    if lon_col is None or lat_col is None:
        raise AccessError(
            f"{path} needs 'lon' and 'lat' columns (or longitude/latitude, x/y); it has "
            f"{[str(c) for c in table.columns]}"
        )
    if table.empty:
        raise AccessError(f"{path} has a header but no points")
    coords = {}
    for col in (lon_col, lat_col):
        values = pd.to_numeric(table[col], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if len(bad):
            raise AccessError(
                f"{path} line {bad[0] + 2}: {col} is {table[col].iloc[bad[0]]!r}, not a number; "
                "give every point a longitude and latitude"
            )
        coords[col] = values.to_numpy(np.float64)
    return coords[lon_col], coords[lat_col], table


def _vector(path: Path):
    try:
        import geopandas as gpd
    except ImportError as exc:
        raise AccessError(
            f"reading {path} needs geopandas: pip install 'tessera[geotessera]'; or give a CSV with lon,lat columns"
        ) from exc
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise AccessError(f"{path} is not a readable vector file ({str(exc).splitlines()[0]})") from exc
    if gdf.empty:
        raise AccessError(f"{path} has no features")
    if gdf.geometry.isna().any():
        raise AccessError(f"{path} feature {int(np.flatnonzero(gdf.geometry.isna())[0])} has no geometry")
    lon, lat = as_lonlat(gdf)  # a point's own position; a representative point inside any polygon
    return lon, lat, gdf.drop(columns=gdf.geometry.name)


def sample_table(
    table: pd.DataFrame,
    lon: np.ndarray,
    lat: np.ndarray,
    status: np.ndarray,
    values: np.ndarray,
    quality: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The input table with lon/lat (if absent), status, e0 … e{D-1} and (when given) the quality
    layers appended: a column per count, one per month for month coverage (``s2_month_covered_m01``)."""
    import pandas as pd

    out = table.copy()
    lower = {str(c).lower() for c in out.columns}
    if not any(n in lower for n in LON_NAMES):
        out["lon"], out["lat"] = lon, lat
    new = {"status": status.astype(str), **{f"e{i}": values[:, i] for i in range(values.shape[1])}}
    for name, layer in (quality or {}).items():
        if layer.ndim == 2:
            new.update({f"{name}_m{m + 1:02d}": layer[:, m] for m in range(layer.shape[1])})
        else:
            new[name] = layer
    clash = [c for c in new if c in out.columns]
    if clash:
        raise AccessError(
            f"the points file already has column(s) {clash[:3]}; rename them so the embeddings can be added beside them"
        )
    return pd.concat([out.reset_index(drop=True), pd.DataFrame(new)], axis=1)


def check_table_path(path: str | os.PathLike) -> str:
    """The suffix of a points table to write (``.csv`` or ``.parquet``), or a one-line error."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise AccessError(f"--out {path} must end in .csv or .parquet")
    return suffix


def write_point_table(path: str | os.PathLike, table: pd.DataFrame) -> Path:
    """``table`` as ``.csv`` (floats in full, shortest round-trip repr) or ``.parquet``, atomically."""
    from tessera.atomic import atomic_file

    path = Path(path)
    suffix = check_table_path(path)
    with atomic_file(path) as tmp:
        if suffix == ".parquet":
            try:
                table.to_parquet(tmp, index=False)
            except ImportError as exc:
                raise AccessError("writing .parquet needs pyarrow (`pip install pyarrow`); or use .csv") from exc
        else:
            table.to_csv(tmp, index=False)
    return path
