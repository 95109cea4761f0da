"""From a labelled region to a fitted head, and from a head to a map on disk: what ``tessera heads
fit`` and ``tessera heads predict`` do, callable from Python."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tessera.errors import ConfigError, LabelError
from tessera.grid import Grid
from tessera.heads.applicability import Applicability, block_groups, fit_applicability
from tessera.heads.labels import NO_LABEL
from tessera.heads.registry import Task, check_task, head_spec, task_spec
from tessera.heads.workflow import LabelledRegion


@dataclass(frozen=True)
class FittedHead:
    """A head and what it was fitted on: enough to apply it to another region or year."""

    model: Any  # a scikit-learn estimator or a UNetHead
    name: str
    task: Task
    n_labelled: int
    legend: dict[int, str]
    embed_dim: int
    applicability: Applicability | None = None  # where the head's labels reach (None: unknown)

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``save_head`` stores beside the weights."""
        return self.applicability.arrays() if self.applicability is not None else {}


def fit_head(region: LabelledRegion, head: str) -> FittedHead:
    """Fit ``head`` on every labelled pixel of ``region`` (a spatial head, the UNet, on the whole image)."""
    from tessera.heads import make_head

    spec, task = head_spec(head, region.task), task_spec(region.task)
    feats, y, rows, cols = region.pixels(("embeddings",))  # raw baselines, if read, must not thin the labels
    dim = int(region.embeddings.shape[2])
    if task.classes and len(np.unique(y)) < 2:
        raise LabelError(f"the labels hold one class only ({np.unique(y).tolist()}); a classifier needs two or more")
    if spec.spatial:
        from tessera.heads.unet import UNetHead

        model: Any = UNetHead().fit(region.embeddings, region.labels)
    else:
        model = make_head(head, task.name).fit(feats["embeddings"], y)
    folds = region.groups[rows, cols] if region.groups is not None else block_groups(rows, cols)
    aoa = fit_applicability(feats["embeddings"], folds, y if task.classes else None)
    return FittedHead(model, head, task.name, len(y), region.legend if task.classes else {}, dim, aoa)


def head_metadata(fitted: FittedHead, year: int, store: str, dataset: dict[str, str]) -> dict[str, Any]:
    """What ``save_head`` stores beside the weights, so a map names its head, labels and model."""
    import tessera

    return {
        "head": fitted.name,
        "task": fitted.task,
        "year": year,
        "store": store,
        "n_labelled": fitted.n_labelled,
        "model": dataset.get("model"),
        "dataset": dataset,
        "embed_dim": fitted.embed_dim,
        "legend": {str(k): v for k, v in fitted.legend.items()},
        "tessera": tessera.__version__,
    }


def from_metadata(model: Any, meta: dict[str, Any]) -> FittedHead:
    """A saved head (``load_head``) as a :class:`FittedHead`."""
    legend = {int(k): v for k, v in meta["legend"].items()}
    task = check_task(meta.get("task", "classification"))
    arrays = meta.get("arrays") or {}
    aoa = Applicability.from_arrays(arrays) if "aoa_train" in arrays else None
    return FittedHead(model, meta["head"], task, int(meta["n_labelled"]), legend, int(meta["embed_dim"]), aoa)


def predict_map(fitted: FittedHead, embeddings: np.ndarray) -> np.ndarray:
    """(H, W) predictions of (H, W, D) ``embeddings``: class ids with ``NO_LABEL`` (-1), or values
    with NaN, where a pixel has no embedding."""
    from tessera.heads.unet import UNetHead

    if isinstance(fitted.model, UNetHead):
        return fitted.model.predict(embeddings)
    h, w, d = embeddings.shape
    flat = embeddings.reshape(h * w, d)
    ok = ~np.isnan(flat).any(axis=1)
    pred = task_spec(fitted.task).empty(h * w)
    if ok.any():
        pred[ok] = fitted.model.predict(flat[ok])
    return pred.reshape(h, w)


def predict_with_confidence(fitted: FittedHead, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``predict_map``'s map and, for a classifier, (H, W) float32 the probability it gives each
    pixel's class (NaN where no embedding); None for a regression or a head without probabilities."""
    from tessera.heads.confidence import apply_head
    from tessera.heads.unet import UNetHead

    if isinstance(fitted.model, UNetHead):
        return fitted.model.predict_with_confidence(embeddings)
    if not task_spec(fitted.task).classes or not hasattr(fitted.model, "predict_proba"):
        return predict_map(fitted, embeddings), None
    return apply_head(fitted.model, embeddings)


def write_confidence(out: str | os.PathLike, conf: np.ndarray, grid: Grid, fitted: FittedHead) -> Path:
    """``<map>.confidence.tif`` beside a class map (float32, NaN no data), with a ``.png``."""
    from tessera.geotiff import write_cog
    from tessera.viz import save_png

    path = Path(out).with_suffix(".confidence.tif")
    tags = {"band": "probability the head gives the mapped class", "head": fitted.name}
    write_cog(path, conf.astype(np.float32)[None], grid, float("nan"), tags)
    save_png(path.with_suffix(".png"), conf, f"{fitted.name} confidence (0–1)", cmap="viridis", vmax=1.0)
    return path


def confidence_summary(conf: np.ndarray) -> str:
    known = conf[np.isfinite(conf)]
    if not known.size:
        return "no pixel mapped"
    return (
        f"the head's probability of each pixel's class, median {np.median(known):.2f}, "
        f"{np.mean(known < 0.5):.1%} of mapped pixels below 0.5"
    )


def applicability_map(fitted: FittedHead, embeddings: np.ndarray) -> np.ndarray | None:
    """(H, W) float32 dissimilarity index of every pixel to the head's training embeddings (NaN
    where no embedding), or None for a head saved without its area of applicability."""
    if fitted.applicability is None:
        return None
    h, w, d = embeddings.shape
    return fitted.applicability.index(embeddings.reshape(h * w, d)).reshape(h, w)


def write_applicability(out: str | os.PathLike, di: np.ndarray, grid: Grid, fitted: FittedHead) -> Path:
    """``<map>.aoa.tif`` beside the map: band 1 the dissimilarity index, band 2 the area of
    applicability (1 inside, 0 outside, NaN no data); with a ``.png`` of the mask."""
    from tessera.geotiff import write_cog
    from tessera.viz import save_png

    assert fitted.applicability is not None
    path = Path(out).with_suffix(".aoa.tif")
    inside = np.where(np.isnan(di), np.nan, fitted.applicability.inside(di).astype(np.float32))
    tags = {
        "bands": "dissimilarity_index, inside_aoa (1 inside, 0 outside)",
        "threshold": f"{fitted.applicability.threshold:.6f}",
        "method": "Meyer & Pebesma 2021, threshold cross-validated over the training groups",
    }
    write_cog(path, np.stack([di, inside]).astype(np.float32), grid, float("nan"), tags)
    shown = np.where(np.isnan(di), -1, inside).astype(np.int64)
    save_png(
        path.with_suffix(".png"),
        shown,
        "area of applicability",
        cmap="RdYlGn",
        legend={0: "outside (extrapolation)", 1: "inside"},
        vmax=1,
    )
    return path


def mapped_fraction(pred: np.ndarray, task: Task) -> float:
    return float(task_spec(task).labelled(pred).mean())


def write_map(out: str | os.PathLike, pred: np.ndarray, grid: Grid, fitted: FittedHead, year: int) -> Path:
    """The map as a GeoTIFF (COG) with a ``.png`` beside it; a class map also gets its ``.json``
    legend and a QGIS style (``.qml``: class names, the PNG's colours). Classes are int32 with
    -1 = no data, values float32 with NaN."""
    from tessera.atomic import atomic_file
    from tessera.geotiff import write_cog
    from tessera.viz import save_png
    from tessera.viz.qgis import write_class_style

    out = Path(out)
    tags = {"head": fitted.name, "task": fitted.task, "year": str(year), "n_labelled": str(fitted.n_labelled)}
    title = f"{fitted.name} prediction"
    if not task_spec(fitted.task).classes:
        write_cog(out, pred.astype(np.float32)[None], grid, float("nan"), tags)
        save_png(out.with_suffix(".png"), pred, title, cmap="viridis")
        return out
    legend = fitted.legend
    write_cog(out, pred.astype(np.int32)[None], grid, NO_LABEL, tags)
    with atomic_file(out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({str(k): v for k, v in legend.items()}, indent=1))
    top = max(legend) if legend else 1
    save_png(out.with_suffix(".png"), pred, title, cmap="tab10", legend=legend, vmax=top)
    write_class_style(out.with_suffix(".qml"), legend, top)  # QGIS opens the map with these colours
    return out


def write_web_map(
    path: str | os.PathLike,
    grid: Grid,
    embeddings: np.ndarray,
    pred: np.ndarray,
    fitted: FittedHead,
    di: np.ndarray | None = None,
) -> Path:
    """A self-contained web map: the embeddings' PCA false colour, the prediction and, given the
    dissimilarity index ``di``, the area of applicability (outside it shaded) as layers."""
    from tessera.viz import pca_rgb
    from tessera.viz.geo import class_rgba, rgb_rgba, value_rgba, web_map

    legend = fitted.legend
    top = max(legend) if legend else 1
    layer = class_rgba(pred, top) if task_spec(fitted.task).classes else value_rgba(pred)
    layers = {"embeddings (PCA)": rgb_rgba(pca_rgb(embeddings)), f"{fitted.name} prediction": layer}
    if di is not None and fitted.applicability is not None:
        outside = np.isfinite(di) & ~fitted.applicability.inside(di)
        shade = np.zeros((*di.shape, 4), np.uint8)
        shade[outside] = (200, 30, 30, 170)
        layers["outside the area of applicability"] = shade
    return web_map(path, grid, layers, legend=legend or None, vmax=top)


def embeddings_for_head(reader: Any, grid: Grid, year: int, fitted: FittedHead, depth: int | None = None) -> np.ndarray:
    """(H, W, D) embeddings of ``grid`` as a saved head needs them: the depth it was fitted on."""
    from tessera.access.region import read_grid

    if depth not in (None, fitted.embed_dim):
        raise ConfigError(f"the head was fitted on {fitted.embed_dim}-d embeddings; drop --depth {depth}")
    prefix = fitted.embed_dim if fitted.embed_dim < reader.embed_dim(year) else None
    emb = read_grid(reader, grid, year, prefix).data
    if emb.shape[2] != fitted.embed_dim:
        raise ConfigError(f"the store has {emb.shape[2]}-d embeddings; the head was fitted on {fitted.embed_dim}-d")
    return emb
