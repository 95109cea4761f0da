"""Evaluation as the field does it, in one place and without torch: label fractions × repeats,
group (field), spatial-block or random hold-out, accuracy / macro-F1 / per-class F1 / confusion or
RMSE / MAE / R², and the linear probe that pretraining validates with. The raw-band baselines
these compare against are ``tessera.heads.features``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

import numpy as np

from tessera.errors import ConfigError, LabelError
from tessera.heads.applicability import block_groups, fit_applicability
from tessera.heads.models import make_head

# Task, TASKS and check_task live in ``registry``; re-exported here for existing imports.
from tessera.heads.registry import TASKS as TASKS
from tessera.heads.registry import Task, task_spec
from tessera.heads.registry import check_task as check_task

FRACTIONS = (0.01, 0.05, 0.10, 0.20, 0.50, 1.00)
Split = Literal["groups", "spatial", "random"]
SPLITS: tuple[str, ...] = get_args(Split)


class CurveKey(NamedTuple):
    """What a learning-curve summary is keyed by (a plain tuple of the same values finds it too)."""

    features: str
    head: str
    fraction: float


Summary = dict[tuple[str, str, float], tuple[float, float]]  # CurveKey → (mean, sd) over repeats


def check_split(split: str) -> Split:
    """``split`` as a :data:`Split`, or a one-line error naming the choices."""
    if split not in SPLITS:
        raise ConfigError(f"split {split!r} must be groups, spatial or random")
    return split  # type: ignore[return-value]


def block_split(rows: np.ndarray, cols: np.ndarray, block: int, seed: int = 0) -> np.ndarray:
    """True for pixels in a random half of ``block``-px squares: train there, test elsewhere,
    so no test pixel has a labelled neighbour in its own square."""
    ids = block_groups(rows, cols, block)
    uniq = np.unique(ids)
    chosen = np.random.default_rng(seed).permutation(uniq)[: max(1, len(uniq) // 2)]
    return np.isin(ids, chosen)


def group_split(groups: np.ndarray, seed: int = 0) -> np.ndarray:
    """True for pixels of a random half of the groups (fields, stands): train there, test on the
    other groups, so no test pixel shares a field with a training pixel. Group ids < 0 are in
    neither half (see ``learning_curve``)."""
    uniq = np.unique(groups[groups >= 0])
    if len(uniq) < 2:
        raise LabelError(f"group hold-out needs labelled pixels in at least two groups; found {len(uniq)}")
    chosen = np.random.default_rng(seed).permutation(uniq)[: len(uniq) // 2]
    return np.isin(groups, chosen)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "per_class_f1": dict(
            zip(
                classes.tolist(),
                f1_score(y_true, y_pred, labels=classes, average=None, zero_division=0).round(4).tolist(),
                strict=True,
            )
        ),
        "confusion": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


@dataclass(frozen=True)
class CurvePoint:
    features: str
    head: str
    split: Split
    fraction: float
    repeat: int
    n_train: int
    metrics: dict


def draw_training(
    labels: np.ndarray, pool: np.ndarray, fraction: float, rng: np.random.Generator, task: Task
) -> np.ndarray:
    """Indices of ``fraction`` of the pool, with at least one pixel per class (classification)."""
    idx = np.flatnonzero(pool)
    n = round(fraction * len(idx))
    classes = task_spec(task).classes
    need = len(np.unique(labels[idx])) if classes else 2
    if n < need:
        raise LabelError(
            f"{fraction:.0%} of {len(idx)} labelled training pixels is {n} — too few to fit a head "
            f"(it needs {need}{', one per class' if classes else ''}); "
            "label more pixels or drop that fraction"
        )
    train = rng.choice(idx, min(n, len(idx)), replace=False)
    if classes:
        present = set(labels[train].tolist())
        extra = [rng.choice(idx[labels[idx] == c]) for c in np.unique(labels[idx]) if c not in present]
        train = np.concatenate([train, np.asarray(extra, int)])
    return train


def learning_curve(
    features: dict[str, np.ndarray],
    labels: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    heads: tuple[str, ...] = ("logistic",),
    fractions: Sequence[float] = FRACTIONS,
    repeats: int = 3,
    split: Split = "spatial",
    block: int = 16,
    task: Task = "classification",
    min_train: int = 2,
    groups: np.ndarray | None = None,
    applicability: bool = False,
) -> list[CurvePoint]:
    """Fit every head on every feature set at every fraction, ``repeats`` times.

    ``features`` maps a name ("embeddings", "raw bands") to (N, F) arrays of the same N labelled
    pixels. With ``split="groups"`` labels are drawn in a random half of the ``groups`` (one id
    per pixel, e.g. its field; < 0 = none: never drawn, never scored) and scored on the other
    half — the hold-out a reviewer trusts, since neighbouring pixels of one field are near
    copies; ``"spatial"`` draws in half of the ``block``-px squares and scores the other half;
    ``"random"`` scores every pixel not drawn. With ``applicability``, fits on a feature set
    named ``embeddings…`` also score the test pixels inside and outside the training labels'
    area of applicability (:mod:`tessera.heads.applicability`) apart.
    """
    classes = task_spec(task).classes
    check_split(split)
    if split == "groups" and (groups is None or len(groups) != len(labels)):
        raise ConfigError("split 'groups' needs one group id per labelled pixel (e.g. --groups fields.tif)")
    if classes and len(np.unique(labels)) < 2:
        raise LabelError(
            f"the labels hold one class only ({np.unique(labels).tolist()}); a classifier needs at least two"
        )
    out = []
    for r in range(repeats):
        test_mask: np.ndarray | None
        if groups is not None and split == "groups":
            pool = group_split(groups, seed=r)
            test_mask = ~pool & (groups >= 0)
        else:
            pool = block_split(rows, cols, block, seed=r) if split == "spatial" else np.ones(len(labels), bool)
            test_mask = ~pool if split == "spatial" else None
        for frac in fractions:
            rng = np.random.default_rng([r, int(frac * 1e6)])
            train = draw_training(labels, pool, frac, rng, task)
            if len(train) < min_train:
                raise LabelError(
                    f"{frac:.0%} of {pool.sum()} labelled pixels is {len(train)} — too few to "
                    "fit a head; label more pixels or drop that fraction"
                )
            test = np.flatnonzero(test_mask) if test_mask is not None else np.setdiff1d(np.arange(len(labels)), train)
            if len(test) == 0:
                continue
            for fname, x in features.items():
                inside = None
                if applicability and fname.startswith("embeddings"):
                    folds = groups if groups is not None and split == "groups" else block_groups(rows, cols, block)
                    aoa = fit_applicability(x[train], folds[train], labels[train] if classes else None, seed=r)
                    inside = aoa.inside(aoa.index(x[test]))
                for head in heads:
                    model = make_head(head, task, seed=r).fit(x[train], labels[train])
                    pred = model.predict(x[test])
                    m = (
                        classification_metrics(labels[test], pred, np.unique(labels))
                        if classes
                        else regression_metrics(labels[test], pred)
                    )
                    if inside is not None:
                        m |= split_by_applicability(labels[test], pred, inside, task)
                    out.append(CurvePoint(fname, head, split, frac, r, len(train), m))
    return out


def split_by_applicability(y: np.ndarray, pred: np.ndarray, inside: np.ndarray, task: Task) -> dict[str, float]:
    """The task's metric on test pixels inside and outside the area of applicability (NaN where
    none fall on a side), and the share outside."""
    metric = task_spec(task).metric
    out = {"outside_aoa": float(np.mean(~inside))}
    for side, sel in (("inside", inside), ("outside", ~inside)):
        if not sel.any():
            out[f"{metric}_{side}_aoa"] = float("nan")
        elif task_spec(task).classes:  # the classification metric is accuracy
            out[f"{metric}_{side}_aoa"] = float(np.mean(y[sel] == pred[sel]))
        else:
            out[f"{metric}_{side}_aoa"] = (
                regression_metrics(y[sel], pred[sel])[metric] if sel.sum() > 1 else float("nan")
            )
    return out


def summarise(points: list[CurvePoint], metric: str = "accuracy") -> Summary:
    """(features, head, fraction) → (mean, sd) of ``metric`` over repeats."""
    groups: dict[CurveKey, list[float]] = {}
    for p in points:
        groups.setdefault(CurveKey(p.features, p.head, p.fraction), []).append(p.metrics[metric])
    return {k: (float(np.mean(v)), float(np.std(v))) for k, v in groups.items()}


def best_of(summary: Summary, fraction: float, prefix: str) -> tuple[float, str] | None:
    """The best mean of ``summarise``'s output at ``fraction`` over every feature set named
    ``prefix…`` and every head, as (mean, "features + head"); None if there is none. Reports
    compare embeddings with the BEST raw baseline this way, never with a chosen one."""
    found = [(m, f"{f} + {h}") for (f, h, fr), (m, _) in summary.items() if fr == fraction and f.startswith(prefix)]
    return max(found) if found else None


def linear_probe(
    features: np.ndarray, labels: np.ndarray, fraction: float, seed: int = 0, region: np.ndarray | None = None
) -> float:
    """Accuracy of a logistic regression trained on ``fraction`` of the pixels, tested on the rest:
    the probe that pretraining validates with.

    At least one labelled pixel per class, as a user labelling a map would ensure. With
    ``region`` (bool per pixel, e.g. :func:`block_split`), labels are drawn only inside it and
    accuracy is measured only outside it.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = len(labels)
    inside = np.ones(n, bool) if region is None else region
    train = (rng.random(n) < fraction * n / max(inside.sum(), 1)) & inside
    for c in np.unique(labels[inside]):
        train[rng.choice(np.flatnonzero((labels == c) & inside))] = True
    if train.all() or len(np.unique(labels[train])) < 2:
        raise LabelError("the probe needs at least two classes and some held-out pixels")
    scaler = StandardScaler().fit(features[train])
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(features[train]), labels[train])
    test = ~train if region is None else ~inside
    return float(clf.score(scaler.transform(features[test]), labels[test]))
