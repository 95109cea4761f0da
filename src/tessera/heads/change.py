"""Change between years: the cosine distance between a pixel's embeddings in two years, and the
largest connected patches that changed.

Embeddings of one place in two years differ a little with weather and observation gaps and a lot
when the land cover changes, so a robust threshold — the median distance plus ``k`` scaled
median absolute deviations, on the assumption that most of a region did not change — picks out
changed patches without labels. ``threshold=`` overrides it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tessera.errors import LabelError
from tessera.grid import BBox, Grid

if TYPE_CHECKING:
    from tessera.access.reads import RegionReads

MAD_TO_SIGMA = 1.4826  # a normal distribution's σ per median absolute deviation


@dataclass(frozen=True)
class ChangePatch:
    lon: float  # centroid
    lat: float
    pixels: int
    mean_distance: float
    max_distance: float

    @property
    def hectares(self) -> float:
        return self.pixels * 0.01  # 10 m pixels


@dataclass(frozen=True)
class ChangeMap:
    distance: np.ndarray  # (H, W) float32, 1 − cosine similarity in [0, 2]; NaN where a year lacks data
    grid: Grid
    threshold: float
    patches: list[ChangePatch]  # largest first


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) 1 − cos(a, b) of two (H, W, D) embedding rasters; NaN where either is missing."""
    if a.shape != b.shape:
        raise LabelError(f"the two years' rasters differ in shape: {a.shape} vs {b.shape}")
    x, y = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = 1.0 - np.einsum("hwd,hwd->hw", x, y) / norms
    d[~(norms > 0)] = np.nan
    return d.astype(np.float32)


def robust_threshold(distance: np.ndarray, k: float = 4.0) -> float:
    """median + k · 1.4826 · MAD of the finite distances."""
    d = distance[np.isfinite(distance)]
    if d.size == 0:
        raise LabelError("no pixel has embeddings in both years; check the bbox and years")
    med = float(np.median(d))
    return med + k * MAD_TO_SIGMA * float(np.median(np.abs(d - med)))


def changed_patches(
    distance: np.ndarray, grid: Grid, threshold: float, min_pixels: int = 4, top_k: int = 20
) -> list[ChangePatch]:
    """Connected (8-neighbour) patches of ``distance > threshold`` of at least ``min_pixels``,
    largest first, at most ``top_k``."""
    from rasterio.warp import transform
    from scipy import ndimage

    mask = np.nan_to_num(distance, nan=-np.inf) > threshold
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return []
    ids = np.arange(1, n + 1)
    sizes = ndimage.sum_labels(mask, labels, ids).astype(int)
    keep = ids[sizes >= min_pixels]
    keep = keep[np.argsort(-sizes[keep - 1], kind="stable")][:top_k]
    if not len(keep):
        return []
    values = np.nan_to_num(distance, nan=0.0)
    means = ndimage.mean(values, labels, keep)
    maxes = ndimage.maximum(values, labels, keep)
    centres = ndimage.center_of_mass(mask, labels, keep)
    xs, ys = zip(*(grid.transform * (c + 0.5, r + 0.5) for r, c in centres), strict=True)
    lons, lats = transform(grid.crs, "EPSG:4326", list(xs), list(ys))
    return [
        ChangePatch(float(lo), float(la), int(sizes[i - 1]), float(m), float(x))
        for i, lo, la, m, x in zip(keep, lons, lats, means, maxes, strict=True)
    ]


def change_map(
    store: RegionReads,
    bbox: BBox | Grid,
    year_from: int,
    year_to: int,
    threshold: float | None = None,
    k: float = 4.0,
    min_pixels: int = 4,
    top_k: int = 20,
    depth: int | None = None,
) -> ChangeMap:
    """Read ``bbox`` (degrees, or a grid) in both years and map where the embeddings moved."""
    from tessera.access.region import check_region_size, read_grid
    from tessera.grid import target_grid

    if year_from == year_to:
        raise LabelError(f"--from and --to are both {year_from}; give two different years")
    grid = bbox if isinstance(bbox, Grid) else target_grid(bbox)
    check_region_size(grid, store.embed_dim(year_from, depth), "change", years=2)
    a = read_grid(store, grid, year_from, depth)
    b = read_grid(store, grid, year_to, depth)
    distance = cosine_distance(a.data, b.data)
    thr = robust_threshold(distance, k) if threshold is None else float(threshold)
    return ChangeMap(distance, a.grid, thr, changed_patches(distance, a.grid, thr, min_pixels, top_k))


def write_change(out: str | os.PathLike, result: ChangeMap, year_from: int, year_to: int) -> None:
    """``out`` (.tif COG of the distance), ``.png`` beside it and ``.csv`` of the patches; each
    appears whole or not at all."""
    import csv
    from pathlib import Path

    from tessera.atomic import atomic_file
    from tessera.geotiff import write_cog
    from tessera.viz import save_png

    out = Path(out)
    tags = {
        "from": str(year_from),
        "to": str(year_to),
        "threshold": f"{result.threshold:.6f}",
        "measure": "1 - cosine similarity",
    }
    write_cog(out, result.distance[None], result.grid, float("nan"), tags)
    save_png(
        out.with_suffix(".png"),
        np.nan_to_num(result.distance, nan=0.0),
        f"embedding change {year_from} → {year_to} (1 − cos)",
        cmap="inferno",
    )
    with atomic_file(out.with_suffix(".csv")) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rank", "lon", "lat", "pixels", "hectares", "mean_distance", "max_distance"])
        for i, p in enumerate(result.patches, 1):
            w.writerow(
                [
                    i,
                    f"{p.lon:.6f}",
                    f"{p.lat:.6f}",
                    p.pixels,
                    f"{p.hectares:.2f}",
                    f"{p.mean_distance:.4f}",
                    f"{p.max_distance:.4f}",
                ]
            )
