"""The v2 students' inputs, as published: every valid date of a pixel, padded or thinned to a
length bin, batched by bin. Deterministic (no random date draws), NumPy only.

Per pixel and sensor, n valid dates give the sequence length B = the smallest multiple of 8 that
is ≥ n, at most 256 (0 when n = 0). The valid dates, in their original order, are indexed by
:func:`pad_pattern`. A sensor with no valid date contributes one all-zero token; a pixel with no
valid date on either sensor has no embedding. S1 is standardised per orbit direction, then the
ascending frames are followed by the descending ones (not re-sorted by date).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera import sensors

BIN_STEP = 8
MAX_LEN = 256


def bin_length(n: np.ndarray | int, max_len: int = MAX_LEN) -> np.ndarray:
    """Sequence length for ``n`` valid dates: 0, or the smallest multiple of 8 ≥ n, capped."""
    n = np.asarray(n, dtype=np.int64)
    return np.where(n <= 0, 0, np.minimum(-(-n // BIN_STEP) * BIN_STEP, max_len))


def pad_pattern(n: int, length: int) -> np.ndarray:
    """Which of a pixel's ``n`` valid dates fill each of ``length`` positions: (length,) int64.

    n ≥ length: evenly spaced picks (``linspace`` truncated); otherwise all n, then the
    ``length − n`` extra positions repeat the middle date of each of ``length − n`` consecutive
    groups (``array_split``) when there are at most n of them, else cycle through the dates.
    """
    if n <= 0:
        return np.zeros(length, np.int64)
    if n >= length:
        return np.linspace(0, n - 1, length).astype(np.int64)
    extra = length - n
    fill = [g[len(g) // 2] for g in np.array_split(np.arange(n), extra)] if extra <= n else np.arange(extra) % n
    return np.concatenate([np.arange(n), np.asarray(fill, np.int64)])


def date_indices(valid: np.ndarray, length: int) -> np.ndarray:
    """(N, T) bool → (N, length) int64 time indices, each pixel's valid dates by
    :func:`pad_pattern`. Every pixel must have a number of valid dates that bins to ``length``."""
    n_pix = len(valid)
    out = np.zeros((n_pix, length), np.int64)
    if n_pix == 0 or length == 0:
        return out
    counts = valid.sum(axis=1)
    valid_first = np.argsort(~valid, axis=1, kind="stable")  # valid dates first, in date order
    for n in np.unique(counts):
        rows = np.flatnonzero(counts == n)
        out[rows] = valid_first[rows][:, pad_pattern(int(n), length)]
    return out


@dataclass(frozen=True)
class TokenGroup:
    """Pixels sharing one (S2 length, S1 length) bin: ``pixels`` index the ``ok`` pixels of the
    block (0…ok.sum()−1); ``s2`` (G, L2, 11) and ``s1`` (G, L1, 3) float32 tokens."""

    pixels: np.ndarray
    s2: np.ndarray
    s1: np.ndarray


@dataclass(frozen=True)
class BinnedTokens:
    """A block's student inputs: its groups and ``ok`` (N,) — pixels with any valid date."""

    groups: list[TokenGroup]
    ok: np.ndarray

    @property
    def pixels(self) -> int:
        return int(self.ok.sum())


def _standardize(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((values.astype(np.float32) - mean) / (std + np.float32(sensors.NORM_EPS))).astype(np.float32)


def _sensor_tokens(
    values: np.ndarray,
    doy: np.ndarray,
    valid: np.ndarray,
    length: int,
    norm: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """(G, T, C) values (standardised, or raw with their ``norm``), (G, T) DOY, (G, T) valid →
    (G, max(length, 1), C + 1) tokens."""
    g, _, c = values.shape
    if length == 0:  # the sensor saw nothing: one all-zero token, DOY 0 included
        return np.zeros((g, 1, c + 1), np.float32)
    idx = date_indices(valid, length)
    rows = np.arange(g)[:, None]
    picked = values[rows, idx] if norm is None else _standardize(values[rows, idx], *norm)
    return np.concatenate([picked, doy[rows, idx][..., None].astype(np.float32)], axis=-1)


def student_tokens(
    s2_bands: np.ndarray,
    s2_mask: np.ndarray,
    s2_doy: np.ndarray,
    s1_ascending: np.ndarray,
    ascending_doy: np.ndarray,
    s1_descending: np.ndarray,
    descending_doy: np.ndarray,
    max_len: int = MAX_LEN,
) -> BinnedTokens:
    """Tokens of N pixels, grouped by bin.

    s2_bands (T, N, 10) DN, s2_mask (T, N) (1 = valid), s2_doy (T,); s1_ascending (Ta, N, 2)
    and s1_descending (Td, N, 2) in the int16 dB encoding (0 = no data) with their DOYs. Time
    leads, as a cube window reshaped to (T, H·W, C).
    """
    n_pix = s2_mask.shape[1]
    s2_valid = np.asarray(s2_mask).T == 1
    s2 = np.moveaxis(s2_bands, 0, 1)  # (N, T, 10) view, standardised once gathered
    s2_days = np.broadcast_to(np.asarray(s2_doy, np.float32), (n_pix, len(s2_doy)))
    parts = [
        (np.moveaxis(v, 0, 1), np.asarray(d, np.float32), m, sd)
        for v, d, m, sd in (
            (s1_ascending, ascending_doy, sensors.S1_ASC_MEAN_V2, sensors.S1_ASC_STD_V2),
            (s1_descending, descending_doy, sensors.S1_DESC_MEAN_V2, sensors.S1_DESC_STD_V2),
        )
        if len(d)
    ]
    if parts:
        s1_valid = np.concatenate([np.any(v != sensors.S1_NODATA, axis=-1) for v, *_ in parts], axis=1)
        s1 = np.concatenate([_standardize(v, m, sd) for v, _, m, sd in parts], axis=1)
        s1_days = np.broadcast_to(np.concatenate([d for _, d, *_ in parts]), s1_valid.shape)
    else:
        s1_valid = np.zeros((n_pix, 0), bool)
        s1 = np.zeros((n_pix, 0, len(sensors.S1_BANDS)), np.float32)
        s1_days = np.zeros((n_pix, 0), np.float32)

    len2 = bin_length(s2_valid.sum(axis=1), max_len)
    len1 = bin_length(s1_valid.sum(axis=1), max_len)
    ok = (len2 > 0) | (len1 > 0)
    order = np.cumsum(ok) - 1  # position of each ok pixel among the ok pixels
    key = len2 * (max_len + 1) + len1
    groups = []
    for k in np.unique(key[ok]):
        rows = np.flatnonzero(ok & (key == k))
        l2, l1 = divmod(int(k), max_len + 1)
        groups.append(
            TokenGroup(
                order[rows],
                _sensor_tokens(s2[rows], s2_days[rows], s2_valid[rows], l2, (sensors.S2_MEAN_V2, sensors.S2_STD_V2)),
                _sensor_tokens(s1[rows], s1_days[rows], s1_valid[rows], l1),
            )
        )
    return BinnedTokens(groups, ok)
