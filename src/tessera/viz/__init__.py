"""Pictures of embeddings and results: PCA false colour, class maps, learning curves (matplotlib)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tessera.atomic import atomic_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pca_rgb(data: np.ndarray) -> np.ndarray:
    """(H, W, D) embeddings → (H, W, 3) float in [0, 1]: the first three principal components,
    each stretched between its 2nd and 98th percentile; no-data pixels black."""
    h, w, d = data.shape
    flat = data.reshape(-1, d)
    ok = ~np.isnan(flat).any(axis=1)
    rgb = np.zeros((h * w, 3), np.float32)
    if ok.sum() >= 3:
        x = flat[ok] - flat[ok].mean(axis=0)
        _, _, vt = np.linalg.svd(x[:: max(1, len(x) // 20000)], full_matrices=False)
        comp = x @ vt[:3].T
        lo, hi = np.percentile(comp, 2, axis=0), np.percentile(comp, 98, axis=0)
        rgb[ok] = np.clip((comp - lo) / np.maximum(hi - lo, 1e-12), 0, 1)
    return rgb.reshape(h, w, 3)


def save_png(
    path: str | os.PathLike,
    image: np.ndarray,
    title: str | None = None,
    cmap: str | None = None,
    legend: dict[int, str] | None = None,
    vmax: float | None = None,
) -> Path:
    """Write an image (RGB, or a class map with ``cmap``) as PNG, atomically. Class maps share
    colours across figures when given the same ``vmax`` (the largest class id)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if cmap is not None and np.issubdtype(np.asarray(image).dtype, np.integer):
        image = np.ma.masked_less(image, 0)  # class maps: negative ids (-1) are "no data", left blank
    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    ax.imshow(image, cmap=cmap, interpolation="nearest", vmin=0 if vmax is not None else None, vmax=vmax)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        from matplotlib.patches import Patch

        cm = plt.get_cmap(cmap)
        ids = sorted(legend)
        top = vmax or (max(ids) if ids else 1)
        ax.legend(
            handles=[Patch(color=cm(i / top), label=legend[i]) for i in ids],
            fontsize=6,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            frameon=False,
        )
    return save_figure(fig, path)


def plot_learning_curves(
    summary: Mapping[Any, tuple[float, float]],  # (features, head, fraction) → (mean, sd)
    path: str | os.PathLike,
    metric: str = "accuracy",
    title: str = "",
) -> Path:
    """One line per (features, head): mean ± sd of ``metric`` against the label fraction (log x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for feats, head in sorted({(f, h) for f, h, _ in summary}):
        fr = sorted(fr for f, h, fr in summary if (f, h) == (feats, head))
        m = np.array([summary[(feats, head, x)] for x in fr])
        ax.errorbar(np.array(fr) * 100, m[:, 0], yerr=m[:, 1], marker="o", capsize=3, label=f"{feats} + {head}")
    ax.set_xscale("log")
    ax.set_xlabel("labelled pixels (% of the training half)")
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Write a matplotlib figure as PNG atomically and free it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return path
