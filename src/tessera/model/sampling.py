"""Per-pixel timestep sampling, as published: 40 valid dates, sorted by day of year.

Each pixel draws ``n`` of its valid observations — without replacement when it has at least
``n``, with replacement otherwise — and orders them by DOY. Inference uses one draw; training
takes two independent draws of the same pixel as the two Barlow Twins views. Everything is
vectorised over pixels (millions per block): no Python loop per pixel. NumPy only, so the
data-loading side never needs torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from tessera import sensors
from tessera.errors import ConfigError

if TYPE_CHECKING:
    from tessera.cube import CubeData

N_TIMESTEPS = 40  # published sequence length per sensor


def sample_indices(
    valid: np.ndarray, doy: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``n`` valid time indices per pixel, ordered by DOY.

    valid: (N, T) bool; doy: (T,). Returns (idx (N, n) int64, ok (N,) bool); ``ok`` is False for
    pixels with no valid observation (their ``idx`` is meaningless: write no-data for them).
    """
    valid = np.asarray(valid, dtype=bool)
    if valid.ndim != 2:
        raise ConfigError(f"valid must be (N, T), got shape {valid.shape}")
    if n <= 0:
        raise ConfigError(f"number of timesteps must be positive, got {n}")
    n_pix, t = valid.shape
    count = valid.sum(axis=1)
    ok = count > 0
    if t == 0:
        return np.zeros((n_pix, n), np.int64), ok
    # Random keys with invalid dates pushed last: the first `count` positions of the key order
    # are a uniformly random permutation of the pixel's valid dates.
    keys = rng.random((n_pix, t), dtype=np.float32)
    keys[~valid] = 2.0
    idx = np.zeros((n_pix, n), np.int64)

    enough = count >= n
    if enough.any():
        k = keys[enough]
        idx[enough] = np.argpartition(k, n - 1, axis=1)[:, :n] if t > n else np.argsort(k, axis=1)

    few = ok & ~enough
    if few.any():
        order = np.argsort(keys[few], axis=1)  # valid dates first, in random order
        pick = (rng.random((int(few.sum()), n)) * count[few, None]).astype(np.int64)
        idx[few] = np.take_along_axis(order, pick, axis=1)

    by_day = np.argsort(np.asarray(doy)[idx], axis=1, kind="stable")
    return np.take_along_axis(idx, by_day, axis=1), ok


@dataclass(frozen=True)
class PixelTokens:
    """Model inputs for N pixels: ``s2`` (N, n, 11), ``s1`` (N, n, 3) float32, and ``ok`` (N,)
    True where either sensor had a valid observation. A sensor without one for a pixel (an
    S2-only archive, an S1 gap, a cloudy year) is absent: all-zero tokens — standardised values
    at the band means, DOY 0 — as the v2 students' published inference feeds an absent sensor."""

    s2: np.ndarray
    s1: np.ndarray
    ok: np.ndarray


def sample_tokens(
    s2_bands: np.ndarray,
    s2_mask: np.ndarray,
    s2_doy: np.ndarray,
    s1_values: np.ndarray,
    s1_doy: np.ndarray,
    rng: np.random.Generator,
    n: int = N_TIMESTEPS,
) -> PixelTokens:
    """Sample and tokenise both sensors for N pixels.

    s2_bands (T, N, 10), s2_mask (T, N), s2_doy (T,); s1_values (T′, N, 2) with both orbit
    directions already pooled (see :func:`pool_s1`) and s1_doy (T′,). Time stays the leading
    axis so a cube window reshaped to (T, H·W, C) is used without a transpose copy.
    """
    n_pix = s2_mask.shape[1]
    pixels = np.arange(n_pix)[:, None]
    if len(s2_doy):
        idx2, ok2 = sample_indices(np.asarray(s2_mask).T.astype(bool), s2_doy, n, rng)
        s2 = sensors.s2_tokens(s2_bands[idx2, pixels], np.asarray(s2_doy)[idx2])
        s2[~ok2] = 0.0
    else:
        ok2 = np.zeros(n_pix, bool)
        s2 = np.zeros((n_pix, n, len(sensors.S2_BANDS) + 1), np.float32)
    if len(s1_doy):
        idx1, ok1 = sample_indices(sensors.s1_valid_mask(s1_values).T, s1_doy, n, rng)
        s1 = sensors.s1_tokens(s1_values[idx1, pixels], np.asarray(s1_doy)[idx1])
        s1[~ok1] = 0.0
    else:
        ok1 = np.zeros(n_pix, bool)
        s1 = np.zeros((n_pix, n, len(sensors.S1_BANDS) + 1), np.float32)
    return PixelTokens(s2, s1, ok2 | ok1)


def pool_s1(
    ascending: np.ndarray, ascending_doy: np.ndarray, descending: np.ndarray, descending_doy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pool both orbit directions into one S1 series sorted by DOY: (T_a + T_d, …, 2), (T_a + T_d,)."""
    doy = np.concatenate([ascending_doy, descending_doy])
    order = np.argsort(doy, kind="stable")
    values = np.concatenate([ascending, descending], axis=0)
    return values[order], doy[order]


@dataclass(frozen=True)
class PixelSeries:
    """Pixels of a cube window with time leading, the one form every consumer samples tokens
    from (embedding, training shards, validation): S2 (T, N, 10) with its mask and each S1 orbit
    (T′, N, 2); the transformer encoders' DOY-pooled S1 is derived from the orbits once, on use."""

    s2_bands: np.ndarray
    s2_mask: np.ndarray
    s2_doy: np.ndarray
    s1_ascending: np.ndarray
    s1_ascending_doy: np.ndarray
    s1_descending: np.ndarray
    s1_descending_doy: np.ndarray

    @cached_property
    def s1_pooled(self) -> tuple[np.ndarray, np.ndarray]:
        """Both orbits as one series sorted by DOY (:func:`pool_s1`): (T_a + T_d, N, 2), (T_a + T_d,)."""
        return pool_s1(self.s1_ascending, self.s1_ascending_doy, self.s1_descending, self.s1_descending_doy)

    def s1_valid_count(self) -> np.ndarray:
        """(N,) valid S1 dates per pixel, both orbits together."""
        return sensors.s1_valid_mask(self.s1_ascending).sum(0) + sensors.s1_valid_mask(self.s1_descending).sum(0)

    def take(self, pick: np.ndarray) -> PixelSeries:
        """The same series for a subset of pixels (indices or a bool mask)."""
        return PixelSeries(
            self.s2_bands[:, pick],
            self.s2_mask[:, pick],
            self.s2_doy,
            self.s1_ascending[:, pick],
            self.s1_ascending_doy,
            self.s1_descending[:, pick],
            self.s1_descending_doy,
        )

    def tokens(self, rng: np.random.Generator, n: int = N_TIMESTEPS) -> PixelTokens:
        """One draw of ``n`` dates per sensor and pixel (:func:`sample_tokens`)."""
        s1, s1_doy = self.s1_pooled
        return sample_tokens(self.s2_bands, self.s2_mask, self.s2_doy, s1, s1_doy, rng, n)


def pixel_series(data: CubeData, pick: np.ndarray | None = None) -> PixelSeries:
    """A cube window (:class:`tessera.cube.CubeData`) as :class:`PixelSeries`, optionally only the
    pixels ``pick`` (flat indices, row-major). Band counts come from :mod:`tessera.sensors`, so a
    sensor with no frame in the window still has its shape."""
    t, t_a, t_d = len(data.s2_doy), len(data.s1_ascending.doy), len(data.s1_descending.doy)
    n = int(np.prod(data.s2_mask.shape[1:]))
    n2, n1 = len(sensors.S2_BANDS), len(sensors.S1_BANDS)
    bands, mask = data.s2_bands.reshape(t, n, n2), data.s2_mask.reshape(t, n)
    asc, desc = data.s1_ascending.values.reshape(t_a, n, n1), data.s1_descending.values.reshape(t_d, n, n1)
    if pick is not None:
        bands, mask, asc, desc = bands[:, pick], mask[:, pick], asc[:, pick], desc[:, pick]
    return PixelSeries(bands, mask, data.s2_doy, asc, data.s1_ascending.doy, desc, data.s1_descending.doy)
