"""Training samples written ahead as globally shuffled shards.

A sample is one pixel's two independent views: 40 sampled dates per sensor per view, tokenised.
Global shuffling with bounded memory: cubes are streamed window by window, each window's samples
are scattered at random over the epoch's shards (buffers flushed to part files), and each shard
is finally shuffled on its own. So every shard — and every batch read from it in order — mixes
all cubes in proportion to their size, and no batch is one tile's neighbourhood.

Layout::

    OUT/shards.json                       epochs, counts, cube list, sampling settings
    OUT/epoch_000/shard_00000.s2.npy      float32 (N, 2, 40, 11)   view 1, view 2
    OUT/epoch_000/shard_00000.s1.npy      float32 (N, 2, 40, 3)
    OUT/epoch_000/shard_00000.src.npy     int32 (N,)                index of the source cube
    OUT/epoch_000/shard_00000.pos.npy     int32 (N, 2)              pixel row, col in that cube

Plain ``.npy`` files, memory-mapped by the loader. Each epoch holds fresh draws.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tessera.atomic import atomic_dir, check_output
from tessera.cube import open_cube
from tessera.errors import ConfigError, InputNotFoundError
from tessera.model.sampling import N_TIMESTEPS, pixel_series
from tessera.progress import Progress

MANIFEST = "shards.json"
KEYS = ("s2", "s1", "src", "pos")


@dataclass(frozen=True)
class ShardConfig:
    samples_per_epoch: int = 100_000  # release: 1 M-sample shards drawn from 200 tiles at a time
    shard_size: int = 20_000  # samples per shard file (≈ 90 MB at 40 dates)
    epochs: int = 2  # epochs pre-written, each with fresh pixels and views
    min_valid: int = 10  # pixels with fewer valid dates (per sensor) are skipped
    n_timesteps: int = N_TIMESTEPS
    seed: int = 0
    window: int = 256  # pixels per side of a streamed cube window
    holdout: int = 0  # > 0: one pixel in ``holdout`` is held back (never sampled), see held_back()

    def __post_init__(self) -> None:
        if min(self.samples_per_epoch, self.shard_size, self.epochs, self.n_timesteps, self.window) <= 0:
            raise ConfigError(f"shard settings must be positive: {self}")
        if self.holdout < 0 or self.holdout == 1:
            raise ConfigError(f"holdout must be 0 (none) or ≥ 2 (one pixel in that many), got {self.holdout}")
        if self.min_valid < 1:
            raise ConfigError(f"min_valid must be ≥ 1, got {self.min_valid}")


def held_back(rows: np.ndarray, cols: np.ndarray, holdout: int) -> np.ndarray:
    """True for the pixels training never sees when one in ``holdout`` is held back: a fixed,
    scattered set (a hash of the cube position), so a label-free score measured on them during
    adaptation (``tessera adapt``) is measured on pixels the model was not trained on."""
    if holdout <= 0:
        return np.zeros(np.broadcast(rows, cols).shape, bool)
    u = np.uint64
    key = np.asarray(rows, u) * u(0x9E3779B97F4A7C15) ^ np.asarray(cols, u) * u(0xBF58476D1CE4E5B9)
    key = (key ^ (key >> u(31))) * u(0x94D049BB133111EB)  # splitmix64's finaliser: no spatial pattern
    return (key ^ (key >> u(29))) % u(holdout) == 0


def _window_samples(cube, window, keep_prob, cfg: ShardConfig, rng: np.random.Generator):
    d = cube.read(window)
    h, w = d.s2_mask.shape[1:]
    n = h * w
    pick = np.flatnonzero(rng.random(n) < keep_prob)
    rows, cols = np.divmod(pick, w)
    if cfg.holdout:
        train = ~held_back(rows + window.row, cols + window.col, cfg.holdout)
        pick, rows, cols = pick[train], rows[train], cols[train]
    if pick.size == 0:
        return None
    series = pixel_series(d, pick)
    ok = (series.s2_mask.sum(0) >= cfg.min_valid) & (series.s1_valid_count() >= cfg.min_valid)
    if not ok.any():
        return None
    series = series.take(ok)
    views = [series.tokens(rng, cfg.n_timesteps) for _ in range(2)]
    pos = np.stack([rows[ok] + window.row, cols[ok] + window.col], 1).astype(np.int32)
    return np.stack([v.s2 for v in views], 1), np.stack([v.s1 for v in views], 1), pos


def write_shards(
    cubes: list[str | os.PathLike],
    out: str | os.PathLike,
    cfg: ShardConfig = ShardConfig(),
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Write ``cfg.epochs`` epochs of shuffled two-view samples from ``cubes`` into ``out``."""
    if not cubes:
        raise InputNotFoundError("no cubes given; name at least one d-pixel cube")
    opened = [open_cube(c) for c in cubes]
    out = Path(out)
    check_output(out, overwrite, lambda p: (p / MANIFEST).is_file())
    total_px = sum(c.shape[0] * c.shape[1] for c in opened)
    keep_prob = min(1.0, cfg.samples_per_epoch / total_px)
    n_shards = max(1, math.ceil(min(cfg.samples_per_epoch, total_px) / cfg.shard_size))
    counts = []
    with atomic_dir(out) as tmp:
        for epoch in range(cfg.epochs):
            rng = np.random.default_rng([cfg.seed, epoch])
            edir = tmp / f"epoch_{epoch:03d}"
            edir.mkdir()
            parts: list[list[Path]] = [[] for _ in range(n_shards)]
            windows = [(i, w) for i, c in enumerate(opened) for w in c.iter_windows(cfg.window)]
            for done, (ci, window) in enumerate(windows, 1):
                got = _window_samples(opened[ci], window, keep_prob, cfg, rng)
                if got is not None:
                    s2, s1, pos = got
                    dest = rng.integers(0, n_shards, len(s2))
                    for k in np.unique(dest):
                        sel = dest == k
                        stem = edir / f"part_{k:05d}_{len(parts[k]):06d}"
                        np.save(f"{stem}.s2.npy", s2[sel])
                        np.save(f"{stem}.s1.npy", s1[sel])
                        np.save(f"{stem}.src.npy", np.full(int(sel.sum()), ci, np.int32))
                        np.save(f"{stem}.pos.npy", pos[sel])
                        parts[k].append(stem)
                if progress:
                    progress(f"epoch {epoch} windows", done, len(windows))
            n_epoch = 0
            for k, stems in enumerate(parts):
                arrays = (
                    {key: np.concatenate([np.load(f"{s}.{key}.npy") for s in stems]) for key in KEYS} if stems else None
                )
                if arrays is None or len(arrays["src"]) == 0:
                    continue
                order = rng.permutation(len(arrays["src"]))
                for key, value in arrays.items():
                    np.save(edir / f"shard_{k:05d}.{key}.npy", value[order])
                for s in stems:
                    for key in KEYS:
                        os.remove(f"{s}.{key}.npy")
                n_epoch += len(order)
            if n_epoch == 0:
                raise ConfigError(
                    f"no pixel has {cfg.min_valid} valid dates per sensor; lower --min-valid or check the cubes' masks"
                )
            counts.append(n_epoch)
        manifest = {"config": asdict(cfg), "cubes": [str(c) for c in cubes], "samples_per_epoch": counts}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return out
