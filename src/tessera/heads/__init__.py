"""Heads on embeddings: classifiers / regressors by name, learning curves with spatial hold-out,
raw-band baseline features, labels from rasters or vector files. No torch.

>>> from tessera.heads import learning_curve, make_head
>>> pts = learning_curve({"embeddings": x, "raw bands": raw}, y, rows, cols, heads=("logistic", "rf"))  # doctest: +SKIP
"""

from tessera.errors import LabelError
from tessera.heads.evaluate import (
    FRACTIONS,
    TASKS,
    CurveKey,
    CurvePoint,
    Task,
    best_of,
    block_split,
    classification_metrics,
    group_split,
    learning_curve,
    linear_probe,
    regression_metrics,
    summarise,
)
from tessera.heads.features import baseline_features
from tessera.heads.labels import rasterize_labels, read_label_raster
from tessera.heads.models import CLASSIFIERS, REGRESSORS, make_head

__all__ = [
    "CLASSIFIERS",
    "FRACTIONS",
    "REGRESSORS",
    "TASKS",
    "CurveKey",
    "CurvePoint",
    "LabelError",
    "Task",
    "baseline_features",
    "best_of",
    "block_split",
    "classification_metrics",
    "group_split",
    "learning_curve",
    "linear_probe",
    "make_head",
    "rasterize_labels",
    "read_label_raster",
    "regression_metrics",
    "summarise",
]
