"""Heads on embeddings: classifiers / regressors by name, learning curves with spatial hold-out,
raw-band baseline features, labels from rasters or vector files. No torch.

>>> from tessera.heads import learning_curve, make_head
>>> pts = learning_curve({"embeddings": x, "raw bands": raw}, y, rows, cols, heads=("logistic", "rf"))  # doctest: +SKIP
"""

from tessera.heads.evaluate import (
    FRACTIONS,
    CurvePoint,
    LabelError,
    block_split,
    classification_metrics,
    learning_curve,
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
    "CurvePoint",
    "LabelError",
    "baseline_features",
    "block_split",
    "classification_metrics",
    "learning_curve",
    "make_head",
    "rasterize_labels",
    "read_label_raster",
    "regression_metrics",
    "summarise",
]
