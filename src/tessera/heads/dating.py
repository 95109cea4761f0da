"""When a place changed: the year of the strongest break in each pixel's series of yearly
embeddings, its size, and a significance calibrated on the store's own pixels.

For a series of T unit-length yearly embeddings x_1 … x_T and a break before year k (at least
``MIN_SIDE`` years either side), the between-segment sum of squares B_k = n₁n₂/T · ‖m₁ − m₂‖² set
against the within-segment one W_k gives F_k = B_k / (W_k / (T − 2)), the statistic of a shift in
the mean with the noise level unknown. A pixel's break is the k of the largest F_k (the largest
B_k: B_k + W_k is the same for every k). A persistent change (forest to bare soil) makes it large;
crop rotation, where a field moves among a few states year after year with no lasting step,
raises W_k as much as B_k and does not.

Before the breaks are measured each year is centred on its median over the region's pixels:
what all pixels share in a year (weather, a sensor lost: Sentinel-1B after 2021) is not a change
of any of them. The statistic is measured on the leading principal axes of the series.

Significance: in a pixel whose land did not change the years are exchangeable, so the same
statistic on the pixel's years shuffled is a draw from its null, and F, a ratio of two sums of
squares of the same noise, has much the same null in every pixel. Shuffled series of the
region's own pixels (``NULL_DRAWS`` each, a sample of them for large regions) give the null
distribution; a pixel's p-value is the share of null draws at least as large, and a break is
reported where it is at most the false-alarm rate asked for: the rate on unchanged pixels,
calibrated without labels. A field whose land cover changed after years of crop rotation has a
noisy "before" and is found less often than one that changed from a steady cover.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tessera.errors import ConfigError, LabelError
from tessera.grid import BBox, Grid

if TYPE_CHECKING:
    from tessera.access.reads import RegionReads

MIN_SIDE = 2  # years on each side of a break: one odd year at an end is not a change
NULL_DRAWS = 8  # shuffles per pixel for the null
NULL_PIXELS = 100_000  # pixels sampled for the null in larger regions
PCA_DIMS = 32  # principal axes the breaks are measured on


@dataclass(frozen=True)
class Dating:
    years: tuple[int, ...]
    grid: Grid
    year: np.ndarray  # (H, W) int16 first year after the strongest break; 0 = no data
    magnitude: np.ndarray  # (H, W) float32: 1 − cos(mean before, mean after); NaN = no data
    statistic: np.ndarray  # (H, W) float32 F of the strongest break
    p_value: np.ndarray  # (H, W) float32, calibrated on shuffled years
    false_alarm: float

    @property
    def changed(self) -> np.ndarray:
        """(H, W) bool: a break significant at the asked false-alarm rate."""
        return np.nan_to_num(self.p_value, nan=1.0) <= self.false_alarm


@dataclass(frozen=True)
class DatedPatch:
    year: int
    lon: float
    lat: float
    pixels: int
    mean_magnitude: float

    @property
    def hectares(self) -> float:
        return self.pixels * 0.01


def parse_years(text: str) -> tuple[int, ...]:
    """``2017:2025`` (inclusive) or ``2017,2019,2021``."""
    try:
        if ":" in text:
            a, b = (int(v) for v in text.split(":"))
            years = tuple(range(a, b + 1))
        else:
            years = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        raise ConfigError(f"--years {text!r}: give a range like 2017:2025 or a list like 2017,2019,2021") from None
    return years


def check_years(years: Sequence[int], held: Sequence[int]) -> tuple[int, ...]:
    """The years to date over, refused in one line when the store lacks some or there are too few."""
    years = tuple(years)
    missing = sorted(set(years) - set(held))
    if missing:
        raise LabelError(
            f"the store has no embeddings for {', '.join(map(str, missing))} (it holds "
            f"{', '.join(map(str, held)) or 'none'}); narrow --years"
        )
    need = 2 * MIN_SIDE
    if len(years) < need:
        raise LabelError(
            f"dating a break needs at least {need} years ({MIN_SIDE} on each side); "
            f"got {', '.join(map(str, years))}. For two years use `tessera change --from A --to B`"
        )
    return years


def unit_series(stack: np.ndarray) -> np.ndarray:
    """(T, N, D) float32 yearly embeddings scaled to unit length (NaN rows stay NaN)."""
    x = stack.astype(np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x / norms


def year_centred(x: np.ndarray) -> np.ndarray:
    """(T, N, D) series less each year's median over the pixels: what every pixel shares in a
    year — its weather, a sensor lost (Sentinel-1B after 2021 halved the radar revisit) — is not
    a change of one of them, and left in would date a break in every pixel at once. A median, so
    the minority that did change does not move it."""
    return x - np.median(x, axis=1, keepdims=True)


def reduced(x: np.ndarray, dims: int = PCA_DIMS) -> np.ndarray:
    """(T, N, ≤dims) projection of (T, N, D) series on the leading principal axes of all their
    values: the breaks' statistics at a fraction of the cost, with the variance they measure."""
    t, n, d = x.shape
    if d <= dims:
        return x
    flat = x.reshape(t * n, d)
    rng = np.random.default_rng(0)
    sample = flat[rng.choice(len(flat), min(len(flat), 100_000), replace=False)]
    _, _, vt = np.linalg.svd(sample - sample.mean(0), full_matrices=False)
    return (flat @ vt[:dims].T).reshape(t, n, dims).astype(np.float32)


def strongest_break(x: np.ndarray, shape_of: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F, k, magnitude) of the strongest break of each (T, N, D) series: k is the index of the
    first year after it; magnitude 1 − cos of the segment means of ``shape_of`` (the series
    themselves by default)."""
    t = x.shape[0]
    if t < 2 * MIN_SIDE:
        raise LabelError(f"dating a break needs at least {2 * MIN_SIDE} years, not {t}")
    total_ss = ((x - x.mean(0)) ** 2).sum((0, 2))
    csum = np.cumsum(x, axis=0)
    best_b = np.full(x.shape[1], -1.0, np.float32)
    best_k = np.zeros(x.shape[1], np.int64)
    for k in range(MIN_SIDE, t - MIN_SIDE + 1):
        m1 = csum[k - 1] / k
        m2 = (csum[-1] - csum[k - 1]) / (t - k)
        b = (k * (t - k) / t) * ((m1 - m2) ** 2).sum(-1)
        better = b > best_b
        best_b[better], best_k[better] = b[better], k
    within = np.maximum(total_ss - best_b, 1e-12)
    f = best_b / (within / (t - 2))
    raw = np.cumsum(shape_of, axis=0) if shape_of is not None else csum
    upto = np.take_along_axis(raw, (best_k - 1)[None, :, None], 0)[0]
    before, after = upto / best_k[:, None], (raw[-1] - upto) / (t - best_k)[:, None]
    cos = (before * after).sum(-1) / np.maximum(np.linalg.norm(before, axis=-1) * np.linalg.norm(after, axis=-1), 1e-12)
    return f.astype(np.float32), best_k, (1.0 - cos).astype(np.float32)


def null_statistics(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Sorted F of the strongest break of year-shuffled copies of (a sample of) the series, each
    pixel shuffled on its own: the statistic where nothing changed, pooled over the region."""
    rng = np.random.default_rng([seed, 28])
    n = x.shape[1]
    pick = rng.choice(n, NULL_PIXELS, replace=False) if n > NULL_PIXELS else np.arange(n)
    out = []
    for _ in range(NULL_DRAWS):
        order = np.argsort(rng.random((x.shape[0], len(pick))), axis=0)
        out.append(strongest_break(np.take_along_axis(x[:, pick], order[..., None], 0))[0])
    return np.sort(np.concatenate(out))


def p_values(f: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Share of null draws at least as large as each F (with the +1 of a permutation test)."""
    above = len(null) - np.searchsorted(null, f, side="left")
    return ((above + 1) / (len(null) + 1)).astype(np.float32)


def date_series(stack: np.ndarray, false_alarm: float = 0.01, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(k, magnitude, F, p) per pixel of a (T, H, W, D) stack; k = 0 where any year lacks data."""
    if not 0 < false_alarm < 0.5:
        raise ConfigError(f"--false-alarm {false_alarm} must lie in (0, 0.5)")
    t, h, w, d = stack.shape
    x = unit_series(stack.reshape(t, h * w, d))
    ok = np.isfinite(x).all(axis=(0, 2))
    if ok.sum() < 50:
        raise LabelError(
            f"only {int(ok.sum())} pixels have embeddings in every year; dating needs more (check --bbox and --years)"
        )
    centred = reduced(year_centred(x[:, ok]))
    f, k, mag = strongest_break(centred, x[:, ok])
    p = p_values(f, null_statistics(centred, seed))
    out = []
    for values, fill in ((k, 0), (mag, np.nan), (f, np.nan), (p, np.nan)):
        full = np.full(h * w, fill, np.float32 if fill != 0 else np.int64)
        full[ok] = values
        out.append(full.reshape(h, w))
    return tuple(out)


def date_changes(
    store: RegionReads,
    region: BBox | Grid,
    years: Sequence[int],
    false_alarm: float = 0.01,
    depth: int | None = None,
    seed: int = 0,
) -> Dating:
    """Read ``region`` (a bbox in degrees, or a grid) in every year and date each pixel's
    strongest break."""
    from tessera.access.region import check_region_size, read_grid
    from tessera.grid import target_grid

    years = check_years(years, store.years)
    grid = region if isinstance(region, Grid) else target_grid(region)
    check_region_size(grid, store.embed_dim(years[0], depth), "change", years=len(years))
    stack = np.stack([read_grid(store, grid, y, depth).data for y in years])
    k, mag, f, p = date_series(stack, false_alarm, seed)
    year = np.where(k > 0, np.asarray(years)[np.clip(k, 0, len(years) - 1)], 0).astype(np.int16)
    return Dating(years, grid, year, mag, f, p, false_alarm)


def dated_patches(result: Dating, min_pixels: int = 4) -> list[DatedPatch]:
    """Connected (8-neighbour) patches of significant breaks of one year, largest first."""
    from rasterio.warp import transform
    from scipy import ndimage

    found = []
    for y in sorted(set(np.unique(result.year[result.changed]).tolist())):
        mask = result.changed & (result.year == y)
        labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
        if not n:
            continue
        ids = np.arange(1, n + 1)
        sizes = ndimage.sum_labels(mask, labels, ids).astype(int)
        keep = ids[sizes >= min_pixels]
        if not len(keep):
            continue
        means = ndimage.mean(np.nan_to_num(result.magnitude), labels, keep)
        centres = ndimage.center_of_mass(mask, labels, keep)
        xs, ys = zip(*(result.grid.transform * (c + 0.5, r + 0.5) for r, c in centres), strict=True)
        lons, lats = transform(result.grid.crs, "EPSG:4326", list(xs), list(ys))
        found += [
            DatedPatch(int(y), float(lo), float(la), int(sizes[i - 1]), float(m))
            for i, lo, la, m in zip(keep, lons, lats, means, strict=True)
        ]
    return sorted(found, key=lambda p: -p.pixels)


def write_dating(out: str | os.PathLike, result: Dating, min_pixels: int = 4) -> list[DatedPatch]:
    """``out`` (.tif COG: break year, 0 = none significant; magnitude; p-value), a ``.png`` of the
    years and a ``.csv`` of the dated patches; each whole or not at all."""
    import csv
    from pathlib import Path

    from tessera.atomic import atomic_file
    from tessera.geotiff import write_cog
    from tessera.viz import save_png

    out = Path(out)
    shown = np.where(result.changed, result.year, 0).astype(np.float32)
    bands = np.stack([shown, result.magnitude, result.p_value]).astype(np.float32)
    tags = {
        "years": f"{result.years[0]}:{result.years[-1]}",
        "false_alarm": str(result.false_alarm),
        "bands": "break_year (0 = no significant break), magnitude (1 - cos), p_value",
        "calibration": "permutation of each pixel's years, pooled over the region",
    }
    write_cog(out, bands, result.grid, float("nan"), tags)
    legend = {y: str(y) for y in result.years[MIN_SIDE : len(result.years) - MIN_SIDE + 1]}
    save_png(
        out.with_suffix(".png"),
        np.where(shown > 0, shown - result.years[0], -1).astype(np.int64),
        f"year of change ({result.years[0]}–{result.years[-1]}, false-alarm rate {result.false_alarm:g})",
        cmap="tab10",
        legend={y - result.years[0]: n for y, n in legend.items()},
        vmax=len(result.years) - 1,
    )
    patches = dated_patches(result, min_pixels)
    with atomic_file(out.with_suffix(".csv")) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["rank", "year", "lon", "lat", "pixels", "hectares", "mean_magnitude"])
        for i, p in enumerate(patches, 1):
            w.writerow(
                [i, p.year, f"{p.lon:.6f}", f"{p.lat:.6f}", p.pixels, f"{p.hectares:.2f}", f"{p.mean_magnitude:.4f}"]
            )
    return patches
