"""Validation during pretraining: a labelled scene, its fixed pixel tokens, and a linear probe."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tessera.cube import interpolate_gaps
from tessera.errors import ConfigError
from tessera.model.sampling import N_TIMESTEPS, pool_s1, sample_tokens
from tessera.simulate import open_scene_cube, read_labels
from tessera.simulate.classes import NODATA_CLASS
from tessera.train.losses import barlow_twins_loss, cross_correlation, rankme


@dataclass(frozen=True)
class ValidationSet:
    """Fixed tokens and labels of up to ``max_pixels`` pixels of a labelled scene."""

    s2: np.ndarray  # (D, N, T, 11): D independent 40-date draws per pixel
    s1: np.ndarray  # (D, N, T, 3)
    labels: np.ndarray | None  # (N,); None for an unlabelled cube (RankMe only)
    raw: np.ndarray | None  # (N, F) gap-filled per-date raw bands: the baseline's features
    rows: np.ndarray  # (N,) pixel row, for spatial hold-out
    cols: np.ndarray  # (N,) pixel column


def load_validation(scene_dir: str | os.PathLike, max_pixels: int = 4096, seed: int = 0,
                    draws: int = 1) -> ValidationSet:  # fmt: skip
    cube = open_scene_cube(scene_dir).read()
    labels = read_labels(Path(scene_dir))["classes"].ravel()
    t, h, w, _ = cube.s2_bands.shape
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(h * w, min(max_pixels, h * w), replace=False))
    bands = cube.s2_bands.reshape(t, -1, 10)[:, pick]
    mask = cube.s2_mask.reshape(t, -1)[:, pick]
    s1, s1_doy = pool_s1(cube.s1_ascending.values, cube.s1_ascending.doy,
                         cube.s1_descending.values, cube.s1_descending.doy)  # fmt: skip
    s1 = s1.reshape(len(s1_doy), -1, 2)[:, pick]
    toks = [sample_tokens(bands, mask, cube.s2_doy, s1, s1_doy, rng, N_TIMESTEPS) for _ in range(draws)]
    raw = interpolate_gaps(bands, mask.astype(bool), cube.s2_doy, np.arange(5, 366, 15))
    raw = np.nan_to_num(raw.transpose(1, 0, 2).reshape(len(pick), -1))
    ok = toks[0].ok  # the same in every draw: it depends only on the counts of valid dates
    ok &= labels[pick] != NODATA_CLASS  # unlabelled pixels are not a class
    rows, cols = np.divmod(pick, w)
    return ValidationSet(np.stack([t.s2[ok] for t in toks]), np.stack([t.s1[ok] for t in toks]),
                         labels[pick][ok], raw[ok], rows[ok], cols[ok])  # fmt: skip


def block_split(rows: np.ndarray, cols: np.ndarray, block: int, seed: int = 0) -> np.ndarray:
    """True for pixels in a random half of ``block``-pixel squares: label those, test the others,
    so no test pixel has a labelled neighbour in its own square (spatial hold-out)."""
    ids = (rows // block) * 100_003 + cols // block
    uniq = np.unique(ids)
    chosen = np.random.default_rng(seed).permutation(uniq)[: len(uniq) // 2]
    return np.isin(ids, chosen)


def linear_probe(features: np.ndarray, labels: np.ndarray, fraction: float, seed: int = 0,
                 region: np.ndarray | None = None) -> float:  # fmt: skip
    """Accuracy of a logistic regression trained on ``fraction`` of the pixels, tested on the rest.

    At least one labelled pixel per class, as a user labelling a map would ensure. With
    ``region`` (bool per pixel), labels are drawn only inside it and accuracy is measured only
    outside it (spatial hold-out, see :func:`block_split`).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = len(labels)
    inside = np.ones(n, bool) if region is None else region
    train = (rng.random(n) < fraction * n / max(inside.sum(), 1)) & inside
    for c in np.unique(labels[inside]):
        train[rng.choice(np.flatnonzero((labels == c) & inside))] = True
    if train.all() or len(np.unique(labels[train])) < 2:
        raise ConfigError("the probe needs at least two classes and some held-out pixels")
    scaler = StandardScaler().fit(features[train])
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(features[train]), labels[train])
    test = ~train if region is None else ~inside
    return float(clf.score(scaler.transform(features[test]), labels[test]))


@torch.no_grad()
def embed_validation(model: torch.nn.Module, val: ValidationSet, batch: int = 1024) -> np.ndarray:
    """(N, embed_dim) embeddings, averaged over the set's draws (as ``tessera embed --draws``)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total = 0
    for s2, s1 in zip(val.s2, val.s1, strict=True):
        out = [model(torch.from_numpy(s2[i : i + batch]).to(device),
                     torch.from_numpy(s1[i : i + batch]).to(device)).float().cpu()
               for i in range(0, len(s2), batch)]  # fmt: skip
        total = total + torch.cat(out).numpy()
    model.train(was_training)
    return total / len(val.s2)


def evaluate(model: torch.nn.Module, val: ValidationSet, fraction: float) -> dict[str, float]:
    """RankMe; with labels the linear probe's accuracy; with two draws per pixel the label-free
    view scores (:func:`view_scores`)."""
    draws = [embed_validation(model, dataclasses.replace(val, s2=val.s2[d : d + 1], s1=val.s1[d : d + 1]))
             for d in range(len(val.s2))]  # fmt: skip
    scores = {"rankme": rankme(torch.from_numpy(draws[0]))}
    if val.labels is not None:
        scores["probe_acc"] = linear_probe(sum(draws) / len(draws), val.labels, fraction)
    if len(draws) > 1:
        scores |= view_scores(draws[0], draws[1])
    return scores


def view_scores(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """How well embeddings of two independent 40-date draws of the same pixels agree, with no
    projector (so the scores compare a checkpoint with its starting weights): ``view_loss`` is
    the Barlow Twins loss on the standardised embeddings themselves, ``view_corr`` the mean
    per-dimension correlation between the draws. Label-free: what pretraining asks of the
    encoder, measured on pixels it was not trained on."""
    za, zb = torch.from_numpy(a), torch.from_numpy(b)
    c = cross_correlation(za, zb)
    return {"view_loss": float(barlow_twins_loss(za, zb)), "view_corr": float(torch.diagonal(c).mean())}


def load_unlabelled(cube_path: str | os.PathLike, max_pixels: int = 4096, seed: int = 0, holdout: int = 0,
                    draws: int = 2) -> ValidationSet:  # fmt: skip
    """Fixed tokens (``draws`` independent 40-date draws) of up to ``max_pixels`` pixels of a
    user's cube, for label-free selection: no labels, so adaptation never touches evaluation
    labels. With ``holdout`` the pixels come from those the shards held back."""
    from tessera.cube import open_cube
    from tessera.train.shards import held_back

    cube = open_cube(cube_path)
    h, w = cube.grid.shape
    rng = np.random.default_rng(seed)
    pool = np.arange(h * w)
    if holdout:
        pool = pool[held_back(*np.divmod(pool, w), holdout)]
    pick = np.sort(rng.choice(pool, min(max_pixels, len(pool)), replace=False))
    data = cube.read()
    t = len(data.s2_doy)
    s1, s1_doy = pool_s1(data.s1_ascending.values, data.s1_ascending.doy,
                         data.s1_descending.values, data.s1_descending.doy)  # fmt: skip
    bands, mask = data.s2_bands.reshape(t, -1, 10)[:, pick], data.s2_mask.reshape(t, -1)[:, pick]
    s1 = s1.reshape(len(s1_doy), -1, 2)[:, pick]
    toks = [sample_tokens(bands, mask, data.s2_doy, s1, s1_doy, rng, N_TIMESTEPS) for _ in range(draws)]
    ok = toks[0].ok
    rows, cols = np.divmod(pick[ok], w)
    return ValidationSet(np.stack([t.s2[ok] for t in toks]), np.stack([t.s1[ok] for t in toks]), None, None,
                         rows, cols)  # fmt: skip
