"""Reading shards: memory-mapped, and addressed by global batch number for exact resume.

Batch ``g`` of a run is a pure function of ``g`` (and the process rank), so resuming at step
``g`` reads exactly the data an uninterrupted run would have read. Epochs are used in order and
cycled if training outlasts them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tessera.errors import ConfigError, InputNotFoundError
from tessera.train.shards import KEYS, MANIFEST


class ShardSet:
    """All epochs of a shard directory. ``batch(g, size)`` → (s2 (B, 2, T, 11), s1 (B, 2, T, 3))."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not (self.root / MANIFEST).is_file():
            raise InputNotFoundError(f"no shards at {self.root} (no {MANIFEST}); write them with `tessera shards`")
        self.manifest = json.loads((self.root / MANIFEST).read_text())
        self.epochs: list[list[tuple[np.ndarray, ...]]] = []  # per shard: s2, s1, src, pos
        for edir in sorted(self.root.glob("epoch_*")):
            shards = []
            for s2_path in sorted(edir.glob("shard_*.s2.npy")):
                stem = str(s2_path)[: -len(".s2.npy")]
                shards.append(tuple(np.load(f"{stem}.{k}.npy", mmap_mode="r") for k in KEYS))
            self.epochs.append(shards)
        self.sizes = [sum(len(s[2]) for s in e) for e in self.epochs]

    def batches_per_epoch(self, global_batch: int) -> list[int]:
        return [n // global_batch for n in self.sizes]

    def _rows(self, epoch: int, start: int, stop: int) -> tuple[np.ndarray, ...]:
        out, offset = [], 0
        for arrays in self.epochs[epoch]:
            src = arrays[2]
            lo, hi = max(start - offset, 0), min(stop - offset, len(src))
            if lo < hi:
                out.append(tuple(a[lo:hi] for a in arrays))
            offset += len(src)
        return tuple(np.concatenate([o[i] for o in out]) for i in range(len(KEYS)))

    def batch(self, g: int, size: int, rank: int = 0, world: int = 1) -> tuple[np.ndarray, ...]:
        """This rank's part of global batch ``g``: (s2, s1, source cube index, pixel row/col)."""
        per_epoch = self.batches_per_epoch(size * world)
        total = sum(per_epoch)
        if total == 0:
            raise ConfigError(
                f"shards hold {max(self.sizes)} samples per epoch, fewer than one "
                f"batch of {size * world}; lower --batch-size or write more samples"
            )
        g %= total
        epoch = 0
        while g >= per_epoch[epoch]:
            g -= per_epoch[epoch]
            epoch += 1
        start = g * size * world + rank * size
        return self._rows(epoch, start, start + size)
