"""Validation during pretraining: fixed pixel tokens of a held-out cube, scored by RankMe, the
label-free view scores and, for a labelled scene, the linear probe of ``tessera.heads.evaluate``."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tessera.cube import cube_location, open_cube
from tessera.heads.evaluate import linear_probe
from tessera.heads.labels import NO_LABEL, read_label_raster
from tessera.model.sampling import N_TIMESTEPS, pixel_series
from tessera.train.losses import barlow_twins_loss, cross_correlation, rankme

SCENE_LABELS = "classes.tif"  # a labelled scene: its cube (``cube.zarr``) and this class raster beside it


@dataclass(frozen=True)
class ValidationSet:
    """Fixed tokens and labels of up to ``max_pixels`` pixels of a cube."""

    s2: np.ndarray  # (D, N, T, 11): D independent 40-date draws per pixel
    s1: np.ndarray  # (D, N, T, 3)
    labels: np.ndarray | None  # (N,); None for an unlabelled cube (RankMe and view scores only)
    rows: np.ndarray  # (N,) pixel row, for spatial hold-out
    cols: np.ndarray  # (N,) pixel column


def _draw_tokens(
    cube_path: str | os.PathLike,
    max_pixels: int,
    seed: int,
    draws: int,
    labels: str | os.PathLike | None = None,
    holdout: int = 0,
) -> ValidationSet:
    """Tokens of up to ``max_pixels`` random pixels (with ``holdout``, of those the shards held
    back), ``draws`` date draws each, and their labels when a class raster is given."""
    cube = open_cube(cube_location(cube_path))
    h, w = cube.grid.shape
    rng = np.random.default_rng(seed)
    pool = np.arange(h * w)
    if holdout:
        from tessera.train.shards import held_back

        pool = pool[held_back(*np.divmod(pool, w), holdout)]
    pick = np.sort(rng.choice(pool, min(max_pixels, len(pool)), replace=False))
    series = pixel_series(cube.read(), pick)
    toks = [series.tokens(rng, N_TIMESTEPS) for _ in range(draws)]
    ok = toks[0].ok  # the same in every draw: it depends only on the counts of valid dates
    y = None
    if labels is not None:
        y = read_label_raster(labels, cube.grid).ravel()[pick]
        ok &= y != NO_LABEL  # unlabelled pixels are not a class
        y = y[ok]
    rows, cols = np.divmod(pick[ok], w)
    return ValidationSet(np.stack([t.s2[ok] for t in toks]), np.stack([t.s1[ok] for t in toks]), y, rows, cols)


def load_validation(
    scene_dir: str | os.PathLike, max_pixels: int = 4096, seed: int = 0, draws: int = 1
) -> ValidationSet:
    """Fixed tokens and class labels of up to ``max_pixels`` pixels of a labelled scene: a
    directory holding ``cube.zarr`` and ``classes.tif`` (as ``tessera simulate`` writes)."""
    return _draw_tokens(scene_dir, max_pixels, seed, draws, Path(scene_dir) / SCENE_LABELS)


@torch.no_grad()
def embed_validation(model: torch.nn.Module, val: ValidationSet, batch: int = 1024) -> np.ndarray:
    """(N, embed_dim) embeddings, averaged over the set's draws (as ``tessera embed --draws``)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total: np.ndarray | None = None
    for s2, s1 in zip(val.s2, val.s1, strict=True):
        out = [
            model(torch.from_numpy(s2[i : i + batch]).to(device), torch.from_numpy(s1[i : i + batch]).to(device))
            .float()
            .cpu()
            for i in range(0, len(s2), batch)
        ]
        emb = torch.cat(out).numpy()
        total = emb if total is None else total + emb
    model.train(was_training)
    assert total is not None, "a validation set holds at least one draw"
    return total / len(val.s2)


def evaluate(model: torch.nn.Module, val: ValidationSet, fraction: float) -> dict[str, float]:
    """RankMe; with labels the linear probe's accuracy; with two draws per pixel the label-free
    view scores (:func:`view_scores`)."""
    draws = [
        embed_validation(model, dataclasses.replace(val, s2=val.s2[d : d + 1], s1=val.s1[d : d + 1]))
        for d in range(len(val.s2))
    ]
    scores = {"rankme": rankme(torch.from_numpy(draws[0]))}
    if val.labels is not None:
        scores["probe_acc"] = linear_probe(np.asarray(sum(draws)) / len(draws), val.labels, fraction)
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


def load_unlabelled(
    cube_path: str | os.PathLike, max_pixels: int = 4096, seed: int = 0, holdout: int = 0, draws: int = 2
) -> ValidationSet:
    """Fixed tokens (``draws`` independent 40-date draws) of up to ``max_pixels`` pixels of a
    user's cube, for label-free selection: no labels, so adaptation never touches evaluation
    labels. With ``holdout`` the pixels come from those the shards held back."""
    return _draw_tokens(cube_path, max_pixels, seed, draws, holdout=holdout)
