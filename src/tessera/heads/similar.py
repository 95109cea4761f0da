"""Similarity search: how much every pixel of a region looks like one place, and the places that
look most like it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.errors import LabelError
from tessera.grid import Grid


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
