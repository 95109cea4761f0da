"""What each map layer shows, as pure functions on embedding arrays, and how its values become
colours. The explorer applies them once to its whole working area; ``tessera tiles`` applies them
to each tile's window of the store. Either way the values are reprojected to the tile and only
then coloured, so a legend's numbers are the store's numbers.

Similarity is the cosine of *centred* embeddings: every embedding of a region shares a large
common direction, so raw cosines crowd near 1 and say little; subtracting the region's mean (as
the PCA does) spreads them over [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from tessera.errors import ExploreError
from tessera.heads.confidence import ROWS_PER_CHUNK  # one chunk size for heads and similarity

#: The colour ramp (a matplotlib colormap) and value range of each continuous layer.
RAMPS = {
    "similar": "magma",
    "confidence": "viridis",
    "change": "inferno",
    "quality": "cividis",
    "applicability": "plasma",
}
#: Class colours where a head's legend brings none (matplotlib's tab10, the CLI maps' colours).
TAB10 = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


@cache
def ramp_lut(name: str) -> np.ndarray:
    """(256, 4) uint8 RGBA of a matplotlib colormap."""
    import matplotlib

    return (matplotlib.colormaps[name](np.linspace(0, 1, 256)) * 255).round().astype(np.uint8)


def ramp_rgba(values: np.ndarray, lo: float, hi: float, name: str, below: float | None = None) -> np.ndarray:
    """(H, W) float → (H, W, 4) uint8 on the ramp ``name`` from ``lo`` to ``hi``; NaN (and values
    under ``below``, when given) transparent."""
    span = max(hi - lo, 1e-12)
    idx = np.clip((np.nan_to_num(values, nan=lo) - lo) / span * 255, 0, 255).astype(np.uint8)
    rgba = ramp_lut(name)[idx]
    hide = np.isnan(values) if below is None else ~(values >= below)
    rgba[hide] = 0
    return rgba


def hex_rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    if len(c) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in c):
        raise ExploreError(f"colour {colour!r} is not #rrggbb")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def class_rgba(classes: np.ndarray, colours: dict[int, str]) -> np.ndarray:
    """(H, W) class ids (-1 = none) → (H, W, 4) uint8 in each class's colour, none transparent."""
    lut = np.zeros((max([*colours, 0]) + 2, 4), np.uint8)
    for cid, colour in colours.items():
        lut[cid + 1] = (*hex_rgb(colour), 255)
    return lut[np.clip(classes.astype(np.int64) + 1, 0, len(lut) - 1)]


def default_colours(legend: dict[int, str]) -> dict[int, str]:
    return {cid: TAB10[i % len(TAB10)] for i, cid in enumerate(sorted(legend))}


@dataclass(frozen=True)
class PcaBasis:
    """The first three principal components of a sample of embeddings, and the 2nd–98th percentile
    stretch of each, so every tile of a layer is coloured alike."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (3, D)
    lo: np.ndarray  # (3,)
    hi: np.ndarray  # (3,)

    @classmethod
    def fit(cls, sample: np.ndarray, max_rows: int = 20_000) -> PcaBasis:
        """From (N, D) embeddings (NaN rows ignored)."""
        x = sample[~np.isnan(sample).any(axis=1)]
        if len(x) < 3:
            raise ExploreError("fewer than three embedded pixels to fit a PCA on; choose an area with embeddings")
        x = x[:: max(1, len(x) // max_rows)].astype(np.float64)
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        comp = vt[:3]
        proj = (x - mean) @ comp.T
        return cls(mean, comp, np.percentile(proj, 2, axis=0), np.percentile(proj, 98, axis=0))

    def rgba(self, emb: np.ndarray) -> np.ndarray:
        """(H, W, D) → (H, W, 4) uint8, no-data pixels transparent (all four channels 0)."""
        h, w, d = emb.shape
        flat = emb.reshape(-1, d)
        proj = (flat - self.mean.astype(np.float32)) @ self.components.T.astype(np.float32)
        rgb = np.clip((proj - self.lo) / np.maximum(self.hi - self.lo, 1e-12), 0, 1) * 254 + 1
        out = np.zeros((h * w, 4), np.uint8)
        ok = ~np.isnan(proj).any(axis=1)
        out[ok, :3] = rgb[ok].astype(np.uint8)  # ≥ 1: a black pixel is not taken for no data
        out[ok, 3] = 255
        return out.reshape(h, w, 4)


def by_rows(fn: Callable[..., np.ndarray], *arrays: np.ndarray, dtype: Any = np.float32, planes: int = 0) -> np.ndarray:
    """``fn`` of the same ``ROWS_PER_CHUNK`` rows of each (H, W, …) array in turn, written into one
    (H, W) or (H, W, planes) result: the temporaries stay a chunk's size, not the area's."""
    h, w = arrays[0].shape[:2]
    out = np.empty((h, w, planes) if planes else (h, w), dtype)
    for r in range(0, h, ROWS_PER_CHUNK):
        out[r : r + ROWS_PER_CHUNK] = fn(*(a[r : r + ROWS_PER_CHUNK] for a in arrays))
    return out


def centred_norms(emb: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(H, W) float32 ‖x − centre‖ of (H, W, D) embeddings, in row chunks; NaN where none."""
    c = centre.astype(np.float32)
    return by_rows(lambda x: np.linalg.norm(x - c, axis=2), emb)


def centred_similarity(
    emb: np.ndarray, query: np.ndarray, centre: np.ndarray, norms: np.ndarray | None = None
) -> np.ndarray:
    """(H, W) cosine similarity of (H, W, D) ``emb`` and ``query``, both less ``centre``; NaN where
    a pixel has no embedding. ``norms`` (``centred_norms``, kept by a caller that asks often) make
    it one matrix–vector product: (x − c)·q̂ = x·q̂ − c·q̂."""
    q = np.asarray(query, np.float32) - centre.astype(np.float32)
    qn = float(np.linalg.norm(q))
    if not np.isfinite(qn) or qn == 0:
        raise ExploreError("the query has no embedding (or is the area's mean); pick an embedded place")
    q /= qn
    if norms is None:
        norms = centred_norms(emb, centre)
    dots = emb.reshape(-1, emb.shape[-1]) @ q  # one matrix-vector product (not one per row)
    dots -= float(centre.astype(np.float32) @ q)
    with np.errstate(invalid="ignore", divide="ignore"):
        dots /= norms.reshape(-1)
    return dots.reshape(emb.shape[:2]).astype(np.float32, copy=False)


def change_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) 1 − cos between two years' (H, W, D) embeddings; NaN where either has none (the
    ``tessera change`` distance, in row chunks)."""
    from tessera.heads.change import cosine_distance

    return by_rows(cosine_distance, a, b)


def legend_ramp(name: str, lo: float, hi: float, steps: int = 5) -> list[dict]:
    """A continuous layer's legend: values and their colours."""
    lut = ramp_lut(RAMPS[name])
    vals = np.linspace(lo, hi, steps)
    return [
        {"label": f"{float(v):.3g}", "colour": "#{:02x}{:02x}{:02x}".format(*lut[int(i)][:3])}
        for v, i in zip(vals, np.linspace(0, 255, steps), strict=True)
    ]
