"""Baseline features from the raw observations, so every report says what embeddings add.

Two sets, and reports compare embeddings with the better of them:

- ``baseline_features`` (78, "raw seasonal"): described below;
- ``monthly_features`` (120, "raw monthly"): each S2 band's per-pixel median of every calendar
  month, months without a valid observation filled by linear interpolation between the nearest
  observed months (around the year's end) — the per-pixel monthly composites that strong
  crop-type baselines are built on.

Per pixel: each S2 band's median over the valid observations of each season (Dec–Feb, Mar–May,
Jun–Aug, Sep–Nov), its 10th / 50th / 90th percentile over the year, and the seasonal medians of
S1 VV and VH in dB (both orbit directions pooled) — the seasonal-composite features that remote
sensing classifiers are usually given. A season without a valid observation takes the pixel's
annual median, so no pixel is dropped for a cloudy winter.
"""

from __future__ import annotations

import warnings

import numpy as np

from tessera import sensors
from tessera.cube import CubeData

SEASONS = ((335, 59), (60, 151), (152, 243), (244, 334))  # DOY ranges; the first wraps the year


def _season_masks(doy: np.ndarray) -> list[np.ndarray]:
    doy = np.asarray(doy, int)
    return [((doy >= a) | (doy <= b)) if a > b else ((doy >= a) & (doy <= b)) for a, b in SEASONS]


def _seasonal_medians(values: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """values (T, H, W, C) with NaN = invalid → (H, W, 4·C), gaps filled with the annual median."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are expected (clouds)
        annual = np.nanmedian(values, axis=0) if len(values) else np.full(values.shape[1:], np.nan)
        out = []
        for m in _season_masks(doy):
            med = np.nanmedian(values[m], axis=0) if m.any() else np.full(values.shape[1:], np.nan)
            out.append(np.where(np.isnan(med), annual, med))
    return np.concatenate(out, axis=-1)


def baseline_features(cube: CubeData) -> np.ndarray:
    """(H, W, 78) float32 raw-band features of a cube window (70 without S1: a cube with no S1
    observation has no S1 columns rather than NaN ones, which would leave no pixel complete);
    NaN where a pixel has no valid S2."""
    s2 = cube.s2_bands.astype(np.float32)
    s2[cube.s2_mask == 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pct = np.nanpercentile(s2, (10, 50, 90), axis=0) if len(s2) else np.full((3, *s2.shape[1:]), np.nan)
    parts = [_seasonal_medians(s2, cube.s2_doy), np.concatenate(list(pct), axis=-1)]
    s1_vals, s1_doy = [], []
    for orbit in ("ascending", "descending"):
        series = cube.s1(orbit)
        if len(series.doy):
            db = sensors.s1_decode_db(series.values)  # NaN where not observed
            s1_vals.append(np.where(sensors.s1_valid_mask(series.values)[..., None], db, np.nan))
            s1_doy.append(series.doy)
    if s1_vals:
        s1 = np.concatenate(s1_vals)
        if np.isfinite(s1).any():
            parts.append(_seasonal_medians(s1, np.concatenate(s1_doy)))
    return np.concatenate(parts, axis=-1).astype(np.float32)


MONTH_STARTS = np.array([1, 32, 61, 92, 122, 153, 183, 214, 245, 275, 306, 336])  # DOY (leap year)


def monthly_features(cube: CubeData) -> np.ndarray:
    """(H, W, 120) float32: 12 gap-filled monthly medians × 10 S2 bands (month-major); NaN where
    a pixel has no valid S2 observation in the year."""
    s2 = cube.s2_bands.astype(np.float32)
    s2[cube.s2_mask == 0] = np.nan
    month = np.searchsorted(MONTH_STARTS, np.asarray(cube.s2_doy, int), side="right") - 1
    h, w, c = s2.shape[1:]
    med = np.full((12, h, w, c), np.nan, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-cloud months are expected
        for m in np.unique(month):
            med[m] = np.nanmedian(s2[month == m], axis=0)
    return _fill_months(med).transpose(1, 2, 0, 3).reshape(h, w, 12 * c)


def _fill_months(med: np.ndarray) -> np.ndarray:
    """Fill NaN months by linear interpolation between the nearest observed months, cyclically
    (December's neighbour is January); vectorised over pixels and bands."""
    flat = med.reshape(12, -1)
    values = np.concatenate([flat, flat, flat])  # months −12…23: neighbours across the year's end
    seen = ~np.isnan(values)
    idx = np.arange(36)[:, None]
    prev = np.maximum.accumulate(np.where(seen, idx, -1), axis=0)[12:24]
    nxt = np.minimum.accumulate(np.where(seen, idx, 99)[::-1], axis=0)[::-1][12:24]
    ok = (prev >= 0) & (nxt < 99)
    cols = np.broadcast_to(np.arange(flat.shape[1]), prev.shape)
    vp = np.where(ok, values[np.clip(prev, 0, 35), cols], np.nan)
    vn = np.where(ok, values[np.clip(nxt, 0, 35), cols], np.nan)
    span = np.where(nxt > prev, nxt - prev, 1)
    t = (np.arange(12, 24)[:, None] - prev) / span
    return (vp + t * (vn - vp)).astype(np.float32).reshape(med.shape)


def raw_feature_sets(cube: CubeData) -> dict[str, np.ndarray]:
    """The raw-band baselines by name, each (H, W, F): what embeddings are compared with."""
    return {"raw seasonal": baseline_features(cube), "raw monthly": monthly_features(cube)}
