"""Audit a store against our faithful model: re-embed a cube, compare with the store at its pixels.

The published v1.1 store was computed for months with ``torch.nn.GRU`` in place of the
checkpoint's own cell, and nobody noticed from the numbers alone (mean cosine 0.997). An audit
says how far a store is from what the checkpoint computes, in the terms users feel: the share of
pixels whose every dimension agrees within one int8 step, the cosine of each pixel's two vectors
(mean and worst), how many of each pixel's 10 nearest neighbours survive, and how far k-means
clusters agree (adjusted Rand index). Re-embedding uses the store's own sampling seed where it
records one (a store tessera wrote), so a faithful store agrees to the int8 step.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tessera.errors import AccessError

#: Below this mean cosine a store is reported as disagreeing with the checkpoint: the GRU defect
#: of the published store gave 0.9974, a faithful int8 store gives > 0.9999.
COSINE_OK = 0.999
NEIGHBOURS = 10
CLUSTERS = 8
SAMPLE = 3000


@dataclass(frozen=True)
class AuditReport:
    pixels: int  # compared: a vector in both
    within_one_step: float  # share of pixels whose every dimension agrees within one int8 step
    cosine_mean: float
    cosine_worst: float
    neighbour_overlap: float  # mean share of each pixel's 10 nearest neighbours kept
    kmeans_ari: float  # adjusted Rand index of k-means clusterings of each
    cosine: np.ndarray  # (H, W) per-pixel cosine, NaN where not compared

    @property
    def agrees(self) -> bool:
        return self.cosine_mean >= COSINE_OK

    def verdict(self) -> str:
        if self.agrees:
            return f"the store agrees with the checkpoint ({self.within_one_step:.1%} of pixels within one int8 step)"
        return (
            f"the store disagrees with the checkpoint: mean cosine {self.cosine_mean:.4f} < {COSINE_OK} "
            f"(worst {self.cosine_worst:.4f}), {self.within_one_step:.1%} of pixels within one int8 step; "
            "it was not computed by this checkpoint's arithmetic"
        )


def _seed(store: Any) -> int:
    prov = (getattr(store, "attrs", None) or {}).get("tessera:provenance") or {}
    return int((prov.get("sampling") or {}).get("seed", 0))


def audit(store: Any, cube: str | os.PathLike, checkpoint: str | os.PathLike, seed: int | None = None) -> AuditReport:
    """Re-embed ``cube`` with ``checkpoint`` and compare with ``store`` on the cube's grid."""
    from tessera.access import open_store
    from tessera.access.region import read_grid
    from tessera.cube import open_cube
    from tessera.embed import EmbedConfig, embed_cube

    c = open_cube(cube)
    theirs = read_grid(store, c.grid, c.year).data
    with tempfile.TemporaryDirectory(prefix="tessera-audit-") as tmp:
        mine_path = Path(tmp) / "faithful.zarr"
        embed_cube(cube, checkpoint, mine_path, EmbedConfig(seed=_seed(store) if seed is None else seed))
        ours = read_grid(open_store(mine_path), c.grid, c.year).data
    if ours.shape != theirs.shape:
        raise AccessError(f"the store holds {theirs.shape[-1]}-d embeddings, the checkpoint makes {ours.shape[-1]}-d")
    return compare(ours, theirs)


def compare(ours: np.ndarray, theirs: np.ndarray) -> AuditReport:
    """The audit's figures for two (H, W, D) embeddings of the same pixels."""
    both = ~np.isnan(ours).any(-1) & ~np.isnan(theirs).any(-1)
    if not both.any():
        raise AccessError(
            "no pixel has a vector in both the store and the re-embedding; is the cube of the store's area and year?"
        )
    a, b = ours[both].astype(np.float64), theirs[both].astype(np.float64)
    # One int8 step of either pixel's quantisation (scale = max |v| / 127).
    step = np.maximum(np.abs(a).max(1), np.abs(b).max(1)) / 127.0
    within = float((np.abs(a - b).max(1) <= step * (1 + 1e-6) + 1e-7).mean())
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    cosine = np.full(both.shape, np.nan)
    cosine[both] = cos
    rng = np.random.default_rng(0)
    pick = rng.choice(len(a), min(SAMPLE, len(a)), replace=False)
    return AuditReport(
        int(both.sum()),
        within,
        float(cos.mean()),
        float(cos.min()),
        _neighbour_overlap(a[pick], b[pick]),
        _kmeans_agreement(a[pick], b[pick]),
        cosine,
    )


def _neighbours(x: np.ndarray, k: int) -> np.ndarray:
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    return np.argpartition(-sim, k, axis=1)[:, :k]


def _neighbour_overlap(a: np.ndarray, b: np.ndarray) -> float:
    k = min(NEIGHBOURS, len(a) - 1)
    if k < 1:
        return float("nan")
    na, nb = _neighbours(a, k), _neighbours(b, k)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb, strict=True)]))


def _kmeans_agreement(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    k = min(CLUSTERS, len(a))
    if k < 2:
        return float("nan")
    la = KMeans(k, n_init=3, random_state=0).fit_predict(a)
    lb = KMeans(k, n_init=3, random_state=0).fit_predict(b)
    return float(adjusted_rand_score(la, lb))


def write_audit_png(report: AuditReport, path: str | os.PathLike, title: str = "") -> Path:
    """The per-pixel cosine as a map and a histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110, layout="constrained")
    im = left.imshow(report.cosine, cmap="viridis", vmin=min(0.99, np.nanmin(report.cosine)), vmax=1.0)
    left.set_title("cosine, store vs re-embedding", fontsize=9)
    left.axis("off")
    fig.colorbar(im, ax=left, fraction=0.046)
    right.hist(report.cosine[np.isfinite(report.cosine)], bins=60, color="tab:blue")
    right.axvline(COSINE_OK, color="tab:red", ls="--", label=f"agreement line ({COSINE_OK})")
    right.set_xlabel("per-pixel cosine")
    right.set_ylabel("pixels")
    right.legend(fontsize=8)
    fig.suptitle(title or report.verdict(), fontsize=9)
    from tessera.viz import save_figure

    return save_figure(fig, path)
