"""How far to trust each pixel's embedding: how much it moves when its observations change.

A pixel seen on many clear dates has an embedding that barely depends on which dates the model
is shown or whether its radar is there; one seen through clouds on four dates does.
``embed --reliability`` embeds each pixel three more times — from two complementary random halves
of its dates, and without its Sentinel-1 — and stores

    reliability = 1 − min(1, ¼ · (m_half₁ + m_half₂) / 2 + ¾ · m_without_S1),   m = ‖e_variant − e‖ / ‖e‖

(1: the embedding holds whatever is withheld; 0: it moves as far as its own length). A variant
the pixel cannot give (nothing left once its radar is withheld) counts as a full move. The
weights were chosen on the simulator's first ``dev`` scene, where the move without radar ranked a
map's errors far better than the move between date halves. On the other dev scenes and on the
frozen ``test`` family it does not rank them (``benchmarks/bench_reliability.py``; the README's
table): it describes how stable each embedding is, not how right a map is there. Stored as ``reliability``
(uint8 per pixel and year: 0 = not computed, 1–255 the value scaled by 254), read back by every
``--quality`` path as a float in [0, 1].
"""

from __future__ import annotations

import numpy as np

from tessera.model.sampling import PixelSeries
from tessera.store import convention as cv

NAME = cv.RELIABILITY
VARIANTS = cv.RELIABILITY_DOC["variants"]
encode, decode = cv.encode_reliability, cv.decode_reliability
DATES_WEIGHT = 0.25  # of the move between date halves; the rest is the move without radar (dev scenes)


def variants(series: PixelSeries, rng: np.random.Generator) -> list[PixelSeries]:
    """The withheld-observation copies of the pixels, in ``VARIANTS`` order."""
    half2 = rng.random(series.s2_mask.shape) < 0.5
    half_a = rng.random(series.s1_ascending.shape[:2]) < 0.5
    half_d = rng.random(series.s1_descending.shape[:2]) < 0.5
    mask = series.s2_mask.astype(bool)

    def keep(s2: np.ndarray, asc: np.ndarray | None, desc: np.ndarray | None) -> PixelSeries:
        return PixelSeries(
            series.s2_bands,
            s2.astype(np.uint8),
            series.s2_doy,
            series.s1_ascending
            if asc is None
            else np.where(asc[..., None], series.s1_ascending, 0).astype(series.s1_ascending.dtype),
            series.s1_ascending_doy,
            series.s1_descending
            if desc is None
            else np.where(desc[..., None], series.s1_descending, 0).astype(series.s1_descending.dtype),
            series.s1_descending_doy,
        )

    none_a = np.zeros(series.s1_ascending.shape[:2], bool)
    none_d = np.zeros(series.s1_descending.shape[:2], bool)
    return [keep(mask & half2, half_a, half_d), keep(mask & ~half2, ~half_a, ~half_d), keep(mask, none_a, none_d)]


def score(full: np.ndarray, moved: list[np.ndarray], oks: list[np.ndarray]) -> np.ndarray:
    """(N,) reliability of (N, D) embeddings ``full`` given each variant's (N, D) embeddings and
    (N,) bool of the pixels it could embed."""
    norm = np.maximum(np.linalg.norm(full, axis=1), 1e-12)
    moves = [
        np.where(ok, np.linalg.norm(np.nan_to_num(m - full), axis=1) / norm, 1.0)
        for m, ok in zip(moved, oks, strict=True)
    ]
    return (1.0 - np.minimum(1.0, np.mean(moves, axis=0))).astype(np.float32)
