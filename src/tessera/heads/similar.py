"""Similarity search: how much every pixel of a region looks like one place, and the places that
look most like it."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tessera.errors import LabelError
from tessera.grid import BBox, Grid

if TYPE_CHECKING:
    from tessera.access.reads import RegionReads


@dataclass(frozen=True)
class Match:
    lon: float
    lat: float
    row: int
    col: int
    similarity: float


def cosine_map(data: np.ndarray, query: np.ndarray) -> np.ndarray:
    """(H, W) cosine similarity of each (H, W, D) embedding to ``query``; NaN where no data."""
    q = np.asarray(query, np.float64)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm == 0:
        raise LabelError("the query embedding is missing or zero; pick a point that has embeddings")
    x = data.astype(np.float64)
    sim = (x @ (q / norm)) / np.maximum(np.linalg.norm(x, axis=2), 1e-12)
    return sim.astype(np.float32)


def top_matches(
    sim: np.ndarray, grid: Grid, k: int, min_separation_px: int = 10, exclude: tuple[int, int] | None = None
) -> list[Match]:
    """The ``k`` most similar pixels, each at least ``min_separation_px`` from the others and
    from ``exclude`` (the query itself), so one field does not fill the list."""
    from rasterio.warp import transform

    order = np.argsort(np.where(np.isnan(sim), -np.inf, sim), axis=None)[::-1]
    taken: list[tuple[int, int]] = [exclude] if exclude is not None else []
    picks: list[tuple[int, int]] = []
    for i in order:
        r, c = divmod(int(i), sim.shape[1])
        if np.isnan(sim[r, c]) or len(picks) == k:
            break
        if all((r - a) ** 2 + (c - b) ** 2 >= min_separation_px**2 for a, b in taken):
            taken.append((r, c))
            picks.append((r, c))
    if not picks:
        return []
    xs, ys = zip(*(grid.transform * (c + 0.5, r + 0.5) for r, c in picks), strict=True)
    lons, lats = transform(grid.crs, "EPSG:4326", list(xs), list(ys))
    return [Match(lo, la, r, c, float(sim[r, c])) for (r, c), lo, la in zip(picks, lons, lats, strict=True)]


@dataclass(frozen=True)
class Similarity:
    """How much every pixel of a region looks like the embedding at (lon, lat) in ``year``."""

    lon: float
    lat: float
    year: int
    grid: Grid
    similarity: np.ndarray  # (H, W) float32 cosine similarity, NaN where no data
    matches: list[Match]  # the most similar places, best first


def find_similar(
    store: RegionReads,
    lon: float,
    lat: float,
    year: int,
    bbox: BBox | None = None,
    size_px: int = 512,
    top_k: int = 10,
    separation_px: int = 10,
) -> Similarity:
    """Cosine similarity to the embedding at a point over ``bbox`` (default: a ``size_px`` square
    around it) and the ``top_k`` most similar places, ``separation_px`` apart and away from it."""
    from rasterio.warp import transform

    from tessera.access.region import read_patch, read_region

    sample = store.sample_points(np.array([[lon, lat]]), year)
    if sample.status[0] != "valid":
        raise LabelError(f"({lon}, {lat}) has no embedding in {year} ({sample.status[0]}); pick an embedded point")
    region = read_region(store, bbox, year) if bbox else read_patch(store, lon, lat, year, size_px)
    sim = cosine_map(region.data, sample.values[0])
    g = region.grid
    x, y = transform("EPSG:4326", g.crs, [lon], [lat])
    rows, cols = g.pixel_of(x[0], y[0])  # (row, col): the affine inverse gives (col, row)
    r, c = int(rows), int(cols)
    here = (r, c) if 0 <= r < g.height and 0 <= c < g.width else None
    return Similarity(lon, lat, year, g, sim, top_matches(sim, g, top_k, separation_px, exclude=here))


def write_similarity(out: str | os.PathLike, result: Similarity) -> Path:
    """The map as a float32 COG (NaN = no data), a ``.png`` and the matches as ``.csv`` beside it."""
    from tessera.atomic import atomic_file
    from tessera.geotiff import write_cog
    from tessera.viz import save_png

    out = Path(out)
    tags = {"query_lon": str(result.lon), "query_lat": str(result.lat), "year": str(result.year)}
    write_cog(out, result.similarity[None], result.grid, float("nan"), tags)
    title = f"cosine similarity to ({result.lon:.5f}, {result.lat:.5f})"
    save_png(out.with_suffix(".png"), np.nan_to_num(result.similarity, nan=-1.0), title, cmap="magma")
    with atomic_file(out.with_suffix(".csv")) as tmp, open(tmp, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["rank", "lon", "lat", "similarity"])
        for i, m in enumerate(result.matches, 1):
            wr.writerow([i, f"{m.lon:.6f}", f"{m.lat:.6f}", f"{m.similarity:.4f}"])
    return out
