"""Labels on the working area's grid: features (lon/lat GeoJSON) burnt onto its pixels, each
feature its own group so that a hold-out never splits one polygon; pixel masks turned back into
features (a similarity expansion); K-means suggestions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.errors import ExploreError
from tessera.grid import Grid

WGS84 = "EPSG:4326"
MAX_EXPAND_PX = 500_000  # an expansion larger than this is a threshold set too low, not a label


def _in_crs(features: list[dict], grid: Grid) -> list[dict]:
    from rasterio.warp import transform_geom

    return [transform_geom(WGS84, grid.crs, f["geometry"]) for f in features]


def _burn(geoms: list[dict], values: list[int] | range, grid: Grid) -> np.ndarray:
    """(H, W) int32: each geometry's value on the pixels whose centres it covers (a point: the
    pixel holding it), later geometries over earlier ones, -1 elsewhere."""
    from rasterio.features import rasterize

    shapes = list(zip(geoms, values, strict=True))
    return rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=-1, dtype="int32")


def burn_labels(features: list[dict], classes: list[int], grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(class ids, feature index) per pixel, -1 where no feature: each feature reprojected once."""
    if not features:
        return np.full(grid.shape, -1, np.int32), np.full(grid.shape, -1, np.int32)
    geoms = _in_crs(features, grid)
    return _burn(geoms, classes, grid), _burn(geoms, range(len(geoms)), grid)


def feature_mask(feature: dict, grid: Grid, valid: np.ndarray) -> np.ndarray:
    """(H, W) bool: the embedded pixels of the area a feature covers; none is refused (a polygon
    smaller than a pixel or outside the area labels nothing)."""
    try:
        mask = (_burn(_in_crs([feature], grid), [1], grid) == 1) & valid
    except (ValueError, TypeError, KeyError) as exc:
        raise ExploreError(f"the geometry cannot be placed on the map ({exc}); draw it again") from exc
    if not mask.any():
        raise ExploreError("that label covers no embedded pixel of the area; draw it over the map's data")
    return mask


def feature_pixels(feature: dict, grid: Grid, valid: np.ndarray) -> int:
    """How many embedded pixels of the area a feature covers (``feature_mask``)."""
    return int(feature_mask(feature, grid, valid).sum())


def mask_feature(mask: np.ndarray, grid: Grid) -> dict:
    """A (H, W) bool mask as one MultiPolygon geometry in lon/lat (pixel outlines, merged)."""
    from rasterio.features import shapes
    from rasterio.warp import transform_geom

    polys = [
        transform_geom(grid.crs, WGS84, geom)["coordinates"]
        for geom, v in shapes(mask.astype(np.uint8), mask=mask, transform=grid.transform)
        if v == 1
    ]
    return {"type": "MultiPolygon", "coordinates": polys}


def pixel_points(rows: np.ndarray, cols: np.ndarray, grid: Grid) -> dict:
    """Pixel centres as a MultiPoint geometry in lon/lat."""
    from rasterio.warp import transform

    t = grid.transform
    xs, ys = t.a * (cols + 0.5) + t.b * (rows + 0.5) + t.c, t.d * (cols + 0.5) + t.e * (rows + 0.5) + t.f
    lons, lats = transform(grid.crs, WGS84, list(np.atleast_1d(xs)), list(np.atleast_1d(ys)))
    return {"type": "MultiPoint", "coordinates": [[round(a, 7), round(b, 7)] for a, b in zip(lons, lats, strict=True)]}


@dataclass(frozen=True)
class Clusters:
    """K-means of the area's embeddings: a cluster id per pixel (-1 = no embedding) and, per
    cluster, its size and a spread of member pixels a user may adopt as labels of a class."""

    ids: np.ndarray  # (H, W) int32
    sizes: list[int]
    samples: list[tuple[np.ndarray, np.ndarray]]  # (rows, cols) per cluster


def kmeans(data: np.ndarray, valid: np.ndarray, k: int, per_cluster: int = 25, seed: int = 0) -> Clusters:
    """``k`` clusters fitted on up to 20 000 pixels, then every pixel assigned in row chunks."""
    from sklearn.cluster import MiniBatchKMeans

    from tessera.explore.layers import ROWS_PER_CHUNK

    if not 2 <= k <= 20:
        raise ExploreError(f"k = {k}: ask for 2 to 20 clusters")
    rows, cols = np.nonzero(valid)
    if len(rows) < k:
        raise ExploreError(f"the area has {len(rows)} embedded pixels, fewer than k = {k}")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rows), min(len(rows), 20_000), replace=False)
    model = MiniBatchKMeans(k, n_init=3, random_state=seed, batch_size=2048).fit(data[rows[pick], cols[pick]])
    ids = np.full(valid.shape, -1, np.int32)
    for r in range(0, valid.shape[0], ROWS_PER_CHUNK):
        block, ok = data[r : r + ROWS_PER_CHUNK], valid[r : r + ROWS_PER_CHUNK]
        if ok.any():
            ids[r : r + ROWS_PER_CHUNK][ok] = model.predict(block[ok])
    sizes, samples = [], []
    for c in range(k):
        rr, cc = np.nonzero(ids == c)
        sizes.append(len(rr))
        take = rng.choice(len(rr), min(len(rr), per_cluster), replace=False) if len(rr) else np.array([], int)
        samples.append((rr[take], cc[take]))
    return Clusters(ids, sizes, samples)
