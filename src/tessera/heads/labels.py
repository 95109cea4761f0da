"""Labels on the embedding grid: from a raster (reprojected nearest if needed) or a vector file
rasterised with stable class ids."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tessera.errors import LabelError
from tessera.grid import Grid

NO_LABEL = -1  # "unlabelled" in label arrays and class maps; every other integer is a class id


def _onto_grid(path: str | os.PathLike, grid: Grid, dtype, fill) -> np.ndarray:
    """Band 1 of a raster on ``grid``, nearest neighbour from any grid or CRS; ``fill`` where the
    raster has no data (its own nodata value) or does not reach."""
    import rasterio
    from rasterio.warp import Resampling, reproject

    with rasterio.open(path) as src:
        if src.crs is None:
            raise LabelError(f"{path} has no CRS; labels must be georeferenced")
        if src.count != 1:
            raise LabelError(
                f"{path} has {src.count} bands; labels are one band — take the one you mean "
                "(gdal_translate -b N in.tif labels.tif)"
            )
        out = np.full(grid.shape, fill, dtype or src.dtypes[0])
        reproject(
            rasterio.band(src, 1),
            out,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            resampling=Resampling.nearest,
            src_nodata=src.nodata,
            dst_nodata=fill,
        )
    return out


def read_label_raster(path: str | os.PathLike, grid: Grid) -> np.ndarray:
    """(H, W) int32 class ids on ``grid`` (nearest neighbour from another grid or CRS), ``NO_LABEL``
    where unlabelled: the raster's own nodata value, or 0 in a raster that declares none."""
    import rasterio

    with rasterio.open(path) as src:
        nodata = src.nodata
        if not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
            raise LabelError(
                f"{path} holds {src.dtypes[0]} values; class labels must be integers "
                "(for continuous targets use --task regression)"
            )
    unlabelled = 0 if nodata is None else int(nodata)
    # Reproject in int64 with a fill no class id can take, then map both "unlabelled" marks to -1.
    fill = np.iinfo(np.int64).min
    out = _onto_grid(path, grid, np.int64, fill)
    out[(out == fill) | (out == unlabelled)] = NO_LABEL
    if not (out != NO_LABEL).any():
        raise LabelError(f"{path} has no labels inside the region; check the file covers the area and year")
    return out.astype(np.int32)


def read_legend(path: str | os.PathLike) -> dict[int, str]:
    """Class names for a label raster, if it has a legend beside it: ``NAME.json`` or the folder's
    ``legend.json`` — a list of {"id", "name"} (as ``tessera simulate`` writes) or {"id": "name"}."""
    path = Path(path)
    for candidate in (path.with_suffix(".json"), path.with_name("legend.json")):
        if not candidate.is_file():
            continue
        try:
            doc = json.loads(candidate.read_text())
            if isinstance(doc, list):
                return {int(c["id"]): str(c["name"]) for c in doc}
            return {int(k): str(v) for k, v in doc.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LabelError(f"legend {candidate} is not a list of {{id, name}} or an id → name map ({exc})") from exc
    return {}


def read_value_raster(path: str | os.PathLike, grid: Grid) -> np.ndarray:
    """(H, W) float32 target values on ``grid`` (nearest from any grid or CRS); NaN where the
    raster has no data or does not reach."""
    out = _onto_grid(path, grid, np.float32, np.nan)
    if np.isnan(out).all():
        raise LabelError(f"{path} has no values inside the region; check the file covers the area")
    return out


def rasterize_values(path: str | os.PathLike, grid: Grid, column: str) -> np.ndarray:
    """A numeric column of a vector file → (H, W) float32 on ``grid``, NaN outside features."""
    from rasterio.features import rasterize

    gdf = _read_vector(path, column).to_crs(grid.crs)
    if not np.issubdtype(gdf[column].dtype, np.number):
        raise LabelError(f"column {column!r} of {path} is not numeric; regression needs numbers")
    shapes = [(g, float(v)) for g, v in zip(gdf.geometry, gdf[column], strict=True) if g is not None and np.isfinite(v)]
    out = rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=np.nan, dtype="float32")
    if np.isnan(out).all():
        raise LabelError(f"no labelled feature of {path} falls inside the region")
    return out


def _read_vector(path, column: str):
    try:
        import geopandas as gpd
    except ImportError as exc:
        raise LabelError("vector labels need geopandas (`pip install geopandas`)") from exc
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio's DataSourceError, shapely's GEOSException (an unclosed ring), …
        raise LabelError(
            f"{path} is not a readable vector file ({str(exc).splitlines()[0]}); check it opens in QGIS"
        ) from exc
    if column not in gdf.columns:
        raise LabelError(f"{path} has no column {column!r}; it has {sorted(c for c in gdf.columns if c != 'geometry')}")
    if gdf.crs is None:
        raise LabelError(f"{path} has no CRS; give the file one (GeoJSON is EPSG:4326 by definition)")
    return gdf


def rasterize_labels(path: str | os.PathLike, grid: Grid, column: str) -> tuple[np.ndarray, dict[str, int]]:
    """Vector labels (GeoJSON, GeoPackage, Shapefile) → (H, W) class ids on ``grid`` and the
    legend. Ids are 1… in sorted order of the class names, so they are stable across runs;
    features with no class are left unlabelled."""
    from rasterio.features import rasterize

    gdf = _read_vector(path, column).to_crs(grid.crs)
    # A feature with no class (null, NaN, empty) is unlabelled, never a class named "nan" or "".
    given = gdf[column].notna() & (gdf[column].astype(str).str.strip() != "")
    gdf = gdf[given]
    if gdf.empty:
        raise LabelError(f"no feature of {path} has a value in {column!r}; every one is unlabelled")
    names = sorted(map(str, gdf[column].unique()))
    legend = {n: i + 1 for i, n in enumerate(names)}
    shapes = [(geom, legend[str(v)]) for geom, v in zip(gdf.geometry, gdf[column], strict=True) if geom is not None]
    out = rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=NO_LABEL, dtype="int32")
    if not (out != NO_LABEL).any():
        raise LabelError(f"no labelled feature of {path} falls inside the region")
    return out, legend


def write_legend(path: Path, legend: dict[str, int]) -> None:
    path.write_text(json.dumps(legend, indent=1))
