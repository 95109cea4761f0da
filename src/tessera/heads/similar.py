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
from tessera.grid import BBox, Grid, target_grid

if TYPE_CHECKING:
    from tessera.access.reads import RegionReads


@dataclass(frozen=True)
class Match:
    lon: float
    lat: float
    row: int
    col: int
    similarity: float


def cosine_map(data: np.ndarray, query: np.ndarray, centre: np.ndarray | None = None) -> np.ndarray:
    """(H, W) cosine similarity of each (H, W, D) embedding to ``query``, both less ``centre``
    where given; NaN where no data.

    Uncentred, embeddings that share one dominant direction (real stores do: every cosine near
    0.99) rank by noise; less the region's mean, as the PCA is, cosine measures how a pixel
    departs from the typical pixel in the same direction as the query does."""
    c = np.zeros(data.shape[-1]) if centre is None else np.asarray(centre, np.float64)
    q = np.asarray(query, np.float64) - c
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm == 0:
        raise LabelError("the query embedding is missing, zero or the region's mean; pick another point")
    x = data.astype(np.float64) - c
    with np.errstate(invalid="ignore"):
        sim = (x @ (q / norm)) / np.maximum(np.linalg.norm(x, axis=2), 1e-12)
    return sim.astype(np.float32)


def region_mean(data: np.ndarray) -> np.ndarray:
    """The mean embedding of a region's valid pixels: the centre ``cosine_map`` compares about."""
    flat = data.reshape(-1, data.shape[-1])
    ok = ~np.isnan(flat).any(axis=1)
    if not ok.any():
        raise LabelError("the region has no embedded pixel; check --bbox and --year")
    return flat[ok].astype(np.float64).mean(axis=0)


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
    similarity: np.ndarray  # (H, W) float32 centred cosine similarity, NaN where no data
    matches: list[Match]  # the most similar places, best first
    query_px: tuple[int, int] | None = None  # (row, col) of the query, where it lies in the region


def find_similar(
    store: RegionReads,
    lon: float,
    lat: float,
    year: int,
    region: BBox | Grid | None = None,
    size_px: int = 512,
    top_k: int = 10,
    separation_px: int = 10,
) -> Similarity:
    """Cosine similarity, about the region's mean, to the embedding at a point over ``region``
    (a lon/lat bbox or a grid; default: a ``size_px`` square around it) and the ``top_k`` most
    similar places, ``separation_px`` apart and away from it."""
    from rasterio.warp import transform

    from tessera.access.region import check_region_size, read_grid, read_patch

    sample = store.sample_points(np.array([[lon, lat]]), year)
    if sample.status[0] != "valid":
        raise LabelError(f"({lon}, {lat}) has no embedding in {year} ({sample.status[0]}); pick an embedded point")
    if region is None:
        found = read_patch(store, lon, lat, year, size_px)
    else:
        grid = region if isinstance(region, Grid) else target_grid(region)
        check_region_size(grid, store.embed_dim(year), "similar")
        found = read_grid(store, grid, year)
    sim = cosine_map(found.data, sample.values[0], region_mean(found.data))
    g = found.grid
    x, y = transform("EPSG:4326", g.crs, [lon], [lat])
    rows, cols = g.pixel_of(x[0], y[0])  # (row, col): the affine inverse gives (col, row)
    r, c = int(rows), int(cols)
    here = (r, c) if 0 <= r < g.height and 0 <= c < g.width else None
    return Similarity(lon, lat, year, g, sim, top_matches(sim, g, top_k, separation_px, exclude=here), here)


def write_similarity(out: str | os.PathLike, result: Similarity) -> Path:
    """The map as a float32 COG (NaN = no data), a ``.png`` and the matches as ``.csv`` beside it."""
    from tessera.atomic import atomic_file
    from tessera.geotiff import write_cog

    out = Path(out)
    tags = {"query_lon": str(result.lon), "query_lat": str(result.lat), "year": str(result.year)}
    write_cog(out, result.similarity[None], result.grid, float("nan"), tags)
    _save_picture(out.with_suffix(".png"), result)
    with atomic_file(out.with_suffix(".csv")) as tmp, open(tmp, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["rank", "lon", "lat", "similarity"])
        for i, m in enumerate(result.matches, 1):
            wr.writerow([i, f"{m.lon:.6f}", f"{m.lat:.6f}", f"{m.similarity:.4f}"])
    return out


def _save_picture(path: Path, result: Similarity) -> None:
    """The map with its colour bar, the query (white cross) and the matches (numbered rings)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tessera.atomic import atomic_file

    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    shown = ax.imshow(np.ma.masked_invalid(result.similarity), cmap="magma", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(shown, ax=ax, shrink=0.8, label="cosine similarity about the region's mean")
    for i, m in enumerate(result.matches, 1):
        ax.scatter([m.col], [m.row], s=60, facecolors="none", edgecolors="cyan", linewidths=1)
        ax.annotate(str(i), (m.col, m.row), color="cyan", fontsize=7, xytext=(4, 4), textcoords="offset points")
    if result.query_px is not None:
        ax.scatter([result.query_px[1]], [result.query_px[0]], marker="x", s=80, c="white", linewidths=2)
    ax.set_axis_off()
    ax.set_title(f"like ({result.lon:.5f}, {result.lat:.5f}) in {result.year}", fontsize=10)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
