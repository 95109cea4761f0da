"""Per-pixel time-series maths on cube arrays: gap filling onto a regular calendar.

Raw-band baselines (a classifier on per-date bands) need every pixel on the same dates, yet each
pixel has its own cloud gaps. Linear interpolation in day of year between the nearest valid
observations, vectorised over all pixels, is what the field's baselines use.
"""

from __future__ import annotations

import numpy as np

from tessera.errors import CubeValidationError


def _fill_own_dates(values: np.ndarray, valid: np.ndarray, doy: np.ndarray) -> np.ndarray:
    t = values.shape[0]
    idx = np.arange(t)[:, None]
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=0)  # (T, N) last valid ≤ t
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(valid, idx, t), 0), axis=0), 0)
    has_prev, has_next = prev >= 0, nxt < t
    p, n = np.clip(prev, 0, t - 1), np.clip(nxt, 0, t - 1)
    d = doy.astype(np.float64)
    span = d[n] - d[p]
    w = np.where(span > 0, (d[:, None] - d[p]) / np.where(span > 0, span, 1), 0.0)
    w = np.where(has_prev & has_next, w, np.where(has_next, 1.0, 0.0))  # edge: nearest side
    vp = np.take_along_axis(values, p[..., None], axis=0)
    vn = np.take_along_axis(values, n[..., None], axis=0)
    out = (1 - w[..., None]) * vp + w[..., None] * vn
    out[~(has_prev | has_next)] = np.nan
    return out


def interpolate_gaps(
    values: np.ndarray, valid: np.ndarray, doy: np.ndarray, target_doy: np.ndarray | None = None
) -> np.ndarray:
    """Fill invalid observations by linear interpolation in time, optionally onto other dates.

    values: (T, N, C) observations; valid: (T, N) bool; doy: (T,) sorted days.
    Returns (K, N, C) float32 on ``target_doy`` (default: ``doy``). Before the first / after the
    last valid observation the nearest valid value is held; pixels with no valid observation
    are NaN.

    >>> v = np.array([[[1.0]], [[0.0]], [[3.0]]]); ok = np.array([[True], [False], [True]])
    >>> interpolate_gaps(v, ok, np.array([10, 20, 30]))[:, 0, 0].tolist()
    [1.0, 2.0, 3.0]
    """
    values = np.asarray(values, dtype=np.float32)
    valid = np.asarray(valid, dtype=bool)
    doy = np.asarray(doy)
    if values.ndim != 3 or valid.shape != values.shape[:2] or doy.shape != values.shape[:1]:
        raise CubeValidationError(
            f"interpolate_gaps needs values (T, N, C), valid (T, N), doy (T,); got "
            f"{values.shape}, {valid.shape}, {doy.shape}"
        )
    if values.shape[0] == 0:
        raise CubeValidationError("no dates to interpolate from")
    filled = _fill_own_dates(values, valid, doy)
    if target_doy is None:
        return filled.astype(np.float32)
    target = np.asarray(target_doy, dtype=np.float64)
    d = doy.astype(np.float64)
    hi = np.clip(np.searchsorted(d, target, side="left"), 1, max(len(d) - 1, 1))
    lo = hi - 1 if len(d) > 1 else hi * 0
    span = d[hi] - d[lo]
    w = np.clip(np.where(span > 0, (target - d[lo]) / np.where(span > 0, span, 1), 0), 0, 1)
    out = (1 - w)[:, None, None] * filled[lo] + w[:, None, None] * filled[hi]
    return out.astype(np.float32)
