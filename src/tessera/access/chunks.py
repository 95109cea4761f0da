"""Reading a zone array's pixels straight from its shards: windows and scattered points.

For each shard a read touches: its index (one suffix read, crc32c checked), then only the inner
chunks holding requested pixels (one range read each, decoded on a thread pool, crc32c checked
where the array has one). Shard indexes are cached per reader. Every failure names the shard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from tessera.cpus import available_cores
from tessera.errors import StoreDamageError
from tessera.store.shard_codec import EMPTY, ArraySpec
from tessera.store.sources import ByteSource, LocalSource

RUN_BYTES = 16 << 20


def io_threads(source: ByteSource) -> int:
    """Local reads are CPU-bound (decoding): one thread per usable core. Remote reads wait on the
    network, so more requests in flight pay off."""
    return available_cores() if isinstance(source, LocalSource) else 16


@dataclass
class ArrayReader:
    """Chunk-level reads of one array at one time index: ``(T, [band,] H, W)`` as the convention
    stores it, or with the spatial axes elsewhere (the published repository's ``(T, H, W, band)``);
    decoded chunks are handed on with the spatial axes last either way."""

    source: ByteSource
    spec: ArraySpec
    _indexes: dict[str, np.ndarray | None] = field(default_factory=dict)
    _by_shard: dict[tuple[int, int, int], tuple[str, np.ndarray | None]] = field(default_factory=dict)

    def forget(self) -> None:
        """Drop the shard indexes read so far: a writer may have replaced the shards since."""
        self._indexes.clear()
        self._by_shard.clear()

    # Geometry is asked for per chunk, thousands of times per read: computed once.
    @cached_property
    def _axes(self) -> tuple[int, int]:
        return self.spec.spatial

    @cached_property
    def chunk(self) -> tuple[int, int]:
        inner = self.spec.inner or self.spec.outer
        return inner[self._axes[0]], inner[self._axes[1]]

    @cached_property
    def shard(self) -> tuple[int, int]:
        return self.spec.outer[self._axes[0]], self.spec.outer[self._axes[1]]

    @cached_property
    def _per(self) -> tuple[int, int]:
        per = self.spec.per_shard
        return per[self._axes[0]], per[self._axes[1]]

    def shard_key(self, t: int, sy: int, sx: int) -> str:
        coords = [0] * len(self.spec.shape)  # the band (or month) axis is never split
        coords[0], coords[self._axes[0]], coords[self._axes[1]] = t, sy, sx
        return self.spec.key(tuple(coords))

    def _spatial_last(self, block: np.ndarray) -> np.ndarray:
        y, x = self._axes
        n = block.ndim
        return block if (y, x) == (n - 2, n - 1) else np.moveaxis(block, (y, x), (n - 2, n - 1))

    def index(self, t: int, sy: int, sx: int) -> tuple[str, np.ndarray | None]:
        """(shard key, its index), None if the shard is absent. Unsharded arrays: a 1-entry index."""
        found = self._by_shard.get((t, sy, sx))
        if found is not None:
            return found
        key = self.shard_key(t, sy, sx)
        if key not in self._indexes:
            if not self.spec.sharded:
                data = self.source.get(key)
                self._indexes[key] = None if data is None else np.array([[0, len(data)]], np.uint64)
            else:
                got = self.source.get_suffix(key, self.spec.index_nbytes) if self.spec.index_at_end else None
                if got is None:
                    self._indexes[key] = None
                else:
                    raw, size = got
                    self._indexes[key] = self.spec.decode_index(raw, key, size)
        found = self._by_shard[(t, sy, sx)] = (key, self._indexes[key])
        return found

    def chunk_slot(self, cy: int, cx: int) -> int:
        """Position of spatial inner chunk (cy, cx) in its shard's index (C order)."""
        py, px = self._per
        return (cy % py) * px + (cx % px)

    def locate(self, t: int, cy: int, cx: int) -> tuple[str, int, int] | None:
        """(shard key, offset, nbytes) of an inner chunk, or None where nothing is stored."""
        ch, cw = self.chunk
        sh, sw = self.shard
        key, index = self.index(t, cy * ch // sh, cx * cw // sw)
        if index is None:
            return None
        offset, nbytes = index[self.chunk_slot(cy, cx)]
        return None if offset == EMPTY else (key, int(offset), int(nbytes))

    def fetch(
        self,
        t: int,
        chunks: Iterable[tuple[int, int]],
        pool: ThreadPoolExecutor,
        sink: Callable[[tuple[int, int], np.ndarray], None] | None = None,
    ) -> dict[tuple[int, int], np.ndarray]:
        """Decoded spatial chunks (band-first for embeddings); absent chunks are left out. With
        ``sink``, each chunk is handed to it on the decoding thread instead (nothing returned), so
        what the caller does with it (dequantising into a region) runs in parallel too.

        Chunks lying back to back in a shard file (Zarr writes them in order) are fetched as one
        range and decoded by one task: no byte that was not asked for is read, and a dense read
        costs a few requests and tasks per shard rather than one per chunk.
        """
        located = sorted((loc, c) for c in chunks if (loc := self.locate(t, *c)) is not None)
        runs: list[list] = []
        for (key, offset, nbytes), c in located:
            run = runs[-1] if runs else None
            # Runs stop at RUN_BYTES so that a dense read is still several tasks: the decoding
            # threads share them (one 100 MB range would leave every core but one idle).
            if run is not None and run[0] == key and run[2] == offset and run[2] - run[1] < RUN_BYTES:
                run[2] = offset + nbytes
                run[3].append((c, offset, nbytes))
            else:
                runs.append([key, offset, offset + nbytes, [(c, offset, nbytes)]])

        def one(run) -> list[tuple[tuple[int, int], np.ndarray]]:
            key, start, end, members = run
            raw = self.source.get_range(key, start, end - start) if self.spec.sharded else self.source.get(key)
            if raw is None or len(raw) != end - start:
                raise StoreDamageError(f"shard {key} is truncated: chunks {[m[0] for m in members]} are cut short")
            view = memoryview(raw)
            decoded = [
                # a memoryview slice: the codecs read any buffer, and slicing bytes would copy each chunk
                (c, self._spatial_last(self.spec.decode_chunk(view[o - start : o - start + n], f"{c} of {key}")))  # type: ignore[arg-type]
                for c, o, n in members
            ]
            if sink is None:
                return decoded
            for c, block in decoded:
                sink(c, block)
            return []

        return {c: block for part in pool.map(one, runs) for c, block in part}


def spatial_chunks(rows: np.ndarray, cols: np.ndarray, chunk: tuple[int, int]) -> dict[tuple[int, int], np.ndarray]:
    """Point indices grouped by the spatial chunk holding them."""
    if not len(rows):
        return {}
    cy, cx = rows // chunk[0], cols // chunk[1]
    span = int(cx.max()) + 1
    keys, inverse = np.unique(cy * span + cx, return_inverse=True)  # one int64 key: a 1-D unique
    order = np.argsort(inverse, kind="stable")  # each group's points in their input order
    bounds = np.cumsum(np.bincount(inverse, minlength=len(keys)))[:-1]
    return {(int(k) // span, int(k) % span): idx for k, idx in zip(keys, np.split(order, bounds), strict=True)}


def window_chunks(r0: int, c0: int, h: int, w: int, chunk: tuple[int, int]) -> list[tuple[int, int]]:
    return [
        (cy, cx)
        for cy in range(r0 // chunk[0], (r0 + h - 1) // chunk[0] + 1)
        for cx in range(c0 // chunk[1], (c0 + w - 1) // chunk[1] + 1)
    ]
