"""One click's training: the labels' pixels, a head from ``tessera.heads`` (the CLI's code), and
an honest accuracy — every pixel predicted by a model fitted without its own polygon (group
k-fold over the label features), with the confusion matrix."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from tessera.errors import ExploreError
from tessera.heads.mapping import FittedHead, fit_head
from tessera.heads.workflow import LabelledRegion

HEADS = ("logistic", "knn", "rf")
FOLDS = 5


@dataclass(frozen=True)
class Evaluation:
    accuracy: float | None  # None where fewer than two features hold labels
    confusion: list[list[int]]  # rows: true class, columns: predicted, in ``classes`` order
    classes: list[int]
    features_per_class: dict[int, int]
    pixels: int
    note: str


def warm_up() -> threading.Thread:
    """Import what the first training needs (scikit-learn's models, skops), on a thread while the
    user draws: those imports take seconds, which the first click would otherwise wait for."""

    def imports() -> None:
        import sklearn.cluster
        import sklearn.ensemble
        import sklearn.linear_model
        import sklearn.model_selection
        import sklearn.neighbors  # noqa: F401
        import skops.io  # noqa: F401

    thread = threading.Thread(target=imports, name="tessera-warm-up", daemon=True)
    thread.start()
    return thread


def held_out(region: LabelledRegion, head: str) -> Evaluation:
    """Out-of-fold predictions of every labelled pixel, folds made of whole label features."""
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import GroupKFold

    from tessera.heads import make_head

    feats, y, rows, cols = region.pixels(("embeddings",))
    assert region.groups is not None
    groups = region.groups[rows, cols]
    classes = sorted(int(c) for c in np.unique(y))
    per_class = {c: len(np.unique(groups[y == c])) for c in classes}
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        return Evaluation(None, [], classes, per_class, len(y), "a held-out accuracy needs two labels or more")
    pred = np.empty_like(y)
    for train, test in GroupKFold(min(FOLDS, n_groups)).split(feats["embeddings"], y, groups):
        if len(np.unique(y[train])) < 2:  # a fold left with one class: that class is predicted
            pred[test] = y[train][0]
            continue
        pred[test] = (
            make_head(head, "classification")
            .fit(feats["embeddings"][train], y[train])
            .predict(feats["embeddings"][test])
        )
    thin = [region.legend.get(c, str(c)) for c, n in per_class.items() if n < 2]
    note = f"held out by label ({min(FOLDS, n_groups)}-fold over {n_groups} labels)" + (
        f"; {', '.join(thin)} has one label only, so it is never seen when held out" if thin else ""
    )
    cm = confusion_matrix(y, pred, labels=classes).tolist()
    return Evaluation(float((pred == y).mean()), cm, classes, per_class, len(y), note)


def train(region: LabelledRegion, head: str) -> tuple[FittedHead, Evaluation]:
    if head not in HEADS:
        raise ExploreError(f"unknown head {head!r}; choose one of {', '.join(HEADS)}")
    _, y, _, _ = region.pixels(("embeddings",))
    if len(np.unique(y)) < 2:
        named = region.legend.get(int(y[0]), str(y[0]))
        raise ExploreError(f"every label is of one class ({named}); label a second class before training")
    return fit_head(region, head), held_out(region, head)
