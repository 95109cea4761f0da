"""``tessera heads curve`` as a library call: a labelled region's learning curves, written as a
CSV of every fit and a plot, with the embeddings set against the best raw-band baseline."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from tessera.errors import ConfigError
from tessera.heads.evaluate import CurvePoint, Split, Summary, best_of, check_split, learning_curve, summarise
from tessera.heads.registry import task_spec
from tessera.heads.workflow import LabelledRegion

METRICS = {"classification": ("accuracy", "macro_f1"), "regression": ("rmse", "mae", "r2")}


def region_curve(
    region: LabelledRegion,
    heads: Sequence[str],
    fractions: Sequence[float],
    split: Split = "spatial",
    repeats: int = 3,
    depths: Sequence[int] = (),
) -> tuple[list[CurvePoint], int]:
    """Every head at every label fraction on the region's embeddings (one feature set per
    Matryoshka prefix in ``depths``, else the full vectors) and its raw-band baselines; with the
    number of labelled pixels the fits drew from."""
    split = check_split(split)
    if (split == "groups") != (region.groups is not None):
        raise ConfigError("--split groups and --groups FILE go together: give both or neither")
    if not all(0 < f <= 1 for f in fractions):
        raise ConfigError(f"label fractions {list(fractions)} must lie in (0, 1]")
    feats, y, rows, cols = region.pixels()
    groups = region.groups[rows, cols] if region.groups is not None else None
    if depths:  # a prefix of the full vectors is exactly what the prefix arrays hold
        full = feats.pop("embeddings")
        if max(depths) > full.shape[1]:
            raise ConfigError(f"--depth {max(depths)} exceeds the store's {full.shape[1]} dimensions")
        feats = {f"embeddings d{d}": full[:, :d] for d in sorted(depths)} | feats
    points = learning_curve(
        feats,
        y,
        rows,
        cols,
        heads=tuple(heads),
        fractions=fractions,
        split=split,
        repeats=repeats,
        task=region.task,
        groups=groups,
        applicability=True,
    )
    return points, len(y)


def main_metric(task: str) -> str:
    """The metric a curve is plotted and compared by."""
    return task_spec(task).metric


def write_curve(out: str | os.PathLike, points: list[CurvePoint], task: str, title: str) -> Summary:
    """``curve.csv`` (one row per fit) and ``curve.png`` in ``out``; returns the summary plotted."""
    from tessera.atomic import atomic_file
    from tessera.viz import plot_learning_curves

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    main = main_metric(task)
    metrics = (*METRICS[task], f"{main}_inside_aoa", f"{main}_outside_aoa", "outside_aoa")
    with atomic_file(out / "curve.csv") as tmp, open(tmp, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["features", "head", "split", "fraction", "repeat", "n_train", *metrics])
        for p in points:
            cells = ("" if m not in p.metrics else round(p.metrics[m], 5) for m in metrics)
            wr.writerow([p.features, p.head, p.split, p.fraction, p.repeat, p.n_train, *cells])
    acc = summarise(points, main_metric(task))
    plot_learning_curves(acc, out / "curve.png", main_metric(task), title)
    return acc


def comparison_lines(acc: Summary) -> list[str]:
    """Per fraction: embeddings' best (feature set, head) against the BEST raw-band baseline."""
    lines = []
    for fr in sorted({k[2] for k in acc}):
        emb, raw = best_of(acc, fr, "embeddings"), best_of(acc, fr, "raw")
        if emb and raw:
            ahead = "embeddings" if emb[0] > raw[0] else "raw bands"
            lines.append(
                f"{fr:>5.0%} labels: best embeddings {emb[0]:.3f} ({emb[1]}) vs best raw {raw[0]:.3f} ({raw[1]})"
                f" → {ahead} ahead by {abs(emb[0] - raw[0]):.3f}"
            )
    return lines


def applicability_lines(points: list[CurvePoint], task: str, fraction: float | None = None) -> list[str]:
    """Per fraction (or only ``fraction``) and head on the embeddings: the metric inside and
    outside the area of applicability of the training labels, and the share of test pixels
    outside it."""
    import numpy as np

    metric = main_metric(task)
    rows: dict[tuple[str, str, float], list[CurvePoint]] = {}
    for p in points:
        if "outside_aoa" in p.metrics and fraction in (None, p.fraction):
            rows.setdefault((p.features, p.head, p.fraction), []).append(p)
    lines = []
    for (feats, head, fr), ps in sorted(rows.items()):
        inside = np.nanmean([p.metrics[f"{metric}_inside_aoa"] for p in ps])
        outside = [p.metrics[f"{metric}_outside_aoa"] for p in ps]
        share = float(np.mean([p.metrics["outside_aoa"] for p in ps]))
        beyond = f"{np.nanmean(outside):.3f}" if np.isfinite(outside).any() else "— (none outside)"
        lines.append(
            f"{fr:>5.0%} labels, {feats} + {head}: {metric} inside the area of applicability {inside:.3f}, "
            f"outside {beyond} ({share:.0%} of test pixels outside)"
        )
    return lines


def headline_lines(acc: Summary, metric: str, fractions: Sequence[float] = (0.01, 0.1)) -> list[str]:
    return [
        f"{f:>11} + {h:<8} {fr:>4.0%} labels: {metric} {m:.3f} ± {sd:.3f}"
        for (f, h, fr), (m, sd) in sorted(acc.items())
        if fr in fractions
    ]
