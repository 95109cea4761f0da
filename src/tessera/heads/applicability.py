"""Where a head can be trusted: the area of applicability (AOA) of Meyer & Pebesma (2021).

A head learnt from labels in one part of embedding space says little about embeddings far from
any label. The dissimilarity index (DI) of a pixel is the distance from its embedding to the
nearest training embedding, in units of the mean distance between training embeddings (features
standardised by the training set's spread). Its threshold comes from cross-validation over the
training groups: each training pixel's DI is taken to its nearest training pixel of *another*
group (field, or 16-px block without a field layer) — how far the head had to reach during
validation — and the threshold is the largest of those within the upper whisker of their
boxplot (Q3 + 1.5 IQR), as the method's reference implementation (R ``CAST::aoa``) does. Pixels
with a DI above it are outside the AOA: the map there is an extrapolation.

The predictors are not weighted by importance: the weighting is head-specific and the method's
authors use it only where a model offers it; the embeddings' dimensions share one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.errors import LabelError

MAX_TRAIN = 3000  # training pixels kept (a stratified random sample beyond that)
CHUNK = 16384  # query pixels per distance block: CHUNK × MAX_TRAIN float32 ≈ 200 MB


@dataclass(frozen=True)
class Applicability:
    mean: np.ndarray  # (D,) of the training features
    scale: np.ndarray  # (D,) their standard deviation (1 where constant)
    train: np.ndarray  # (M, D) standardised training features
    mean_distance: float  # d̄: mean pairwise distance between training features
    threshold: float  # DI above which a pixel is outside the AOA
    train_di: np.ndarray  # (M,) cross-validated DI of the training pixels

    def index(self, x: np.ndarray) -> np.ndarray:
        """(N,) float32 dissimilarity index of (N, D) features; NaN rows give NaN."""
        out = np.full(len(x), np.nan, np.float32)
        ok = np.isfinite(x).all(axis=1)
        z = (x[ok] - self.mean) / self.scale
        out[ok] = nearest_distance(z, self.train) / self.mean_distance
        return out

    def inside(self, di: np.ndarray) -> np.ndarray:
        """(N,) bool: within the AOA (False where the DI is NaN)."""
        return np.nan_to_num(di, nan=np.inf) <= self.threshold

    def arrays(self) -> dict[str, np.ndarray]:
        """What a saved head stores (``from_arrays`` reads it back)."""
        scalars = np.array([self.mean_distance, self.threshold], np.float64)
        return {
            "aoa_mean": self.mean,
            "aoa_scale": self.scale,
            "aoa_train": self.train,
            "aoa_scalars": scalars,
            "aoa_train_di": self.train_di,
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> Applicability:
        s = np.asarray(a["aoa_scalars"], np.float64)
        return cls(
            np.asarray(a["aoa_mean"], np.float32),
            np.asarray(a["aoa_scale"], np.float32),
            np.asarray(a["aoa_train"], np.float32),
            float(s[0]),
            float(s[1]),
            np.asarray(a["aoa_train_di"], np.float32),
        )


def _sq_norms(a: np.ndarray) -> np.ndarray:
    return np.einsum("nd,nd->n", a, a)


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances between rows, without the (a, b, D) array of
    differences (``heads suggest`` measures its fields' distances the same way)."""
    return np.sqrt(np.maximum(_sq_norms(a)[:, None] + _sq_norms(b)[None, :] - 2.0 * (a @ b.T), 0.0))


def nearest_distance(z: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Distance from each row of ``z`` to its nearest row of ``train``, in blocks."""
    out = np.empty(len(z), np.float32)
    tn = _sq_norms(train)
    for i in range(0, len(z), CHUNK):
        q = z[i : i + CHUNK]
        d2 = _sq_norms(q)[:, None] + tn[None, :] - 2.0 * (q @ train.T)
        out[i : i + CHUNK] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def upper_whisker(values: np.ndarray) -> float:
    """The largest value within Q3 + 1.5 IQR (a boxplot's upper whisker)."""
    q1, q3 = np.quantile(values, [0.25, 0.75])
    within = values[values <= q3 + 1.5 * (q3 - q1)]
    return float(within.max())


def fit_applicability(
    x: np.ndarray, groups: np.ndarray, labels: np.ndarray | None = None, seed: int = 0
) -> Applicability:
    """The AOA of a head trained on (N, D) features ``x``; ``groups`` (N,) are the folds of the
    cross-validation (fields, blocks), ``labels`` keep every class in the sample."""
    x = np.asarray(x, np.float32)
    groups = np.asarray(groups)
    if len(np.unique(groups)) < 2:
        raise LabelError(
            "the area of applicability needs training labels in at least two groups (fields or "
            "blocks) to cross-validate its threshold"
        )
    pick = _sample(len(x), labels, seed)
    x, groups = x[pick], groups[pick]
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    z = ((x - mean) / scale).astype(np.float32)
    d = distances(z, z)
    off = ~np.eye(len(z), dtype=bool)
    mean_distance = float(d[off].mean())
    if not mean_distance > 0:
        raise LabelError("every training embedding is the same; the area of applicability is undefined")
    d[groups[:, None] == groups[None, :]] = np.inf  # a pixel's own group is not seen in its fold
    train_di = (d.min(axis=1) / mean_distance).astype(np.float32)
    finite = train_di[np.isfinite(train_di)]
    return Applicability(mean.astype(np.float32), scale, z, mean_distance, upper_whisker(finite), train_di)


def _sample(n: int, labels: np.ndarray | None, seed: int) -> np.ndarray:
    if n <= MAX_TRAIN:
        return np.arange(n)
    rng = np.random.default_rng([seed, 2021])
    if labels is None:
        return np.sort(rng.choice(n, MAX_TRAIN, replace=False))
    # stratified: every class keeps its share, and at least a few pixels
    picked = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(5, round(MAX_TRAIN * len(idx) / n))
        picked.append(rng.choice(idx, min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(picked))


BLOCK_STRIDE = 1_000_003  # a prime above any image width: a block's id is row block × this + column block


def block_groups(rows: np.ndarray, cols: np.ndarray, block: int = 16) -> np.ndarray:
    """Group ids of ``block``-px squares: the folds (and spatial hold-out) where no field layer
    says what belongs together; ``divmod(id, BLOCK_STRIDE)`` gives the square's row and column."""
    return (rows // block) * BLOCK_STRIDE + cols // block
