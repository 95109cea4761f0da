"""How sure a classification head is of each pixel: the probability it gives its predicted class.

With whole fields held out, this ranks a map's errors far better than anything measured on the
embeddings alone (``benchmarks/bench_reliability.py``: AUC 0.96 on the simulator's frozen test
family, against 0.50 for ``embed --reliability``), because most errors are whole fields that sit
among another class's embeddings and only the labels show where classes overlap. ``heads predict``
writes it beside a class map; the explorer shows it as a layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ROWS_PER_CHUNK = 128  # rows of a region a head (or the explorer's similarity) sees at once: bounded temporaries


def linear_form(model: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """A standardise → logistic pipeline (the ``logistic`` head) as one affine map of the raw
    embedding to class logits, ``x @ W + b``: one matrix product per chunk instead of a scaled copy
    of it. None for any other model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        return None
    scaler, lr = model.steps[0][1], model.steps[1][1]
    if not isinstance(scaler, StandardScaler) or not isinstance(lr, LogisticRegression):
        return None
    mean = scaler.mean_ if scaler.with_mean else np.zeros(lr.coef_.shape[1])
    scale = scaler.scale_ if scaler.with_std else np.ones(lr.coef_.shape[1])
    coef = lr.coef_ / scale  # (C or 1, D)
    bias = lr.intercept_ - coef @ mean
    if coef.shape[0] == 1:  # binary: sklearn's probability is the sigmoid of one logit, softmax of (0, it)
        coef, bias = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, bias[0]])
    return coef.T.astype(np.float32), bias.astype(np.float32)


def apply_head(model: Any, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) class ids (-1 where no embedding) and (H, W) confidence (the top class's
    probability, NaN there) of a fitted classifier, ``ROWS_PER_CHUNK`` rows at a time."""
    h, w, d = emb.shape
    classes = np.full((h, w), -1, np.int32)
    conf = np.full((h, w), np.nan, np.float32)
    labels = np.asarray(model.classes_)
    linear = linear_form(model)
    for r in range(0, h, ROWS_PER_CHUNK):
        block = emb[r : r + ROWS_PER_CHUNK]
        c, p = classes[r : r + ROWS_PER_CHUNK], conf[r : r + ROWS_PER_CHUNK]
        if linear is not None:
            logits = block @ linear[0] + linear[1]  # (rows, W, C); NaN rows stay NaN
            ok = ~np.isnan(logits[..., 0])
            top = logits.argmax(axis=-1)
            with np.errstate(over="ignore", invalid="ignore"):
                spread = np.exp(logits - np.take_along_axis(logits, top[..., None], -1)).sum(axis=-1)
            c[ok], p[ok] = labels[top[ok]], 1.0 / spread[ok]
            continue
        flat = block.reshape(-1, d)
        ok = ~np.isnan(flat).any(axis=1)
        if ok.any():
            proba = model.predict_proba(flat[ok])
            c.reshape(-1)[ok] = labels[proba.argmax(axis=1)]
            p.reshape(-1)[ok] = proba.max(axis=1)
    return classes, conf
