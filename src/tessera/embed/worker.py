"""One block of ``tessera embed``: read → sample → model → quantise → write → record.

Runs as a Dask task in any worker process. Each process keeps its model, cubes and store groups
open across tasks, and lets one block at a time use the model while its other task threads read,
sample, quantise and write neighbouring blocks — so the model is not left waiting on I/O.
Everything a block's values depend on (tokens drawn from a generator seeded by the run seed and
the block's zone position, fixed batches) is fixed, so recomputing a block gives identical bytes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tessera.cube import Cube, open_cube
from tessera.errors import ConfigError
from tessera.grid import Window
from tessera.model import Embedder, InferenceConfig, TesseraConfig, file_sha256, load, pool_s1
from tessera.model.sampling import N_TIMESTEPS, sample_tokens
from tessera.quantize import quantize
from tessera.store import EmbeddingStore, Zone, ZoneGroup


@dataclass(frozen=True)
class JobSpec:
    """What every block task of one run shares; small and picklable, sent to the workers."""

    cube: str
    store: str
    year: int
    zone: str
    checkpoint: str
    checkpoint_sha256: str  # workers check their copy of the checkpoint is the same file
    model_config: dict
    source: str  # how the manifest names the cube
    seed: int = 0
    draws: int = 1
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    torch_threads: int | None = None  # None: leave PyTorch's own choice (external clusters)


@dataclass(frozen=True)
class BlockTask:
    shard: tuple[int, int]
    zone_window: Window
    cube_window: Window


@dataclass(frozen=True)
class BlockResult:
    shard: tuple[int, int]
    pixels: int
    nodata: int
    skipped: bool  # already recorded when the task started (another process did it)
    seconds: dict[str, float]


_model_lock = threading.Lock()  # one block in the model at a time per process
_open_lock = threading.Lock()
_embedders: dict[tuple, Embedder] = {}
_cubes: dict[str, Cube] = {}
_groups: dict[tuple, ZoneGroup] = {}


def _embedder(spec: JobSpec) -> Embedder:
    key = (spec.checkpoint, spec.checkpoint_sha256, spec.inference, spec.torch_threads)
    with _open_lock:
        if key not in _embedders:
            if file_sha256(spec.checkpoint) != spec.checkpoint_sha256:
                raise ConfigError(f"{spec.checkpoint} on this worker differs from the checkpoint the "
                                  "run was started with; give every worker the same file")  # fmt: skip
            if spec.torch_threads:
                torch.set_num_threads(spec.torch_threads)
            model = load(spec.checkpoint, config=TesseraConfig.from_dict(spec.model_config))
            _embedders[key] = Embedder(model, spec.inference)
        return _embedders[key]


def _open(spec: JobSpec) -> tuple[Cube, ZoneGroup]:
    with _open_lock:
        if spec.cube not in _cubes:
            _cubes[spec.cube] = open_cube(spec.cube)
        key = (spec.store, spec.year, spec.zone)
        if key not in _groups:
            store = EmbeddingStore(Path(spec.store))
            _groups[key] = store.group(spec.year, Zone.from_name(spec.zone))
        return _cubes[spec.cube], _groups[key]


def block_rng(seed: int, window: Window) -> np.random.Generator:
    """The block's own generator: same seed and place → same draws, whichever process runs it."""
    return np.random.default_rng([seed, window.row, window.col])


def embed_block(spec: JobSpec, task: BlockTask) -> BlockResult:
    """Compute and store one block, unless it is already recorded."""
    cube, group = _open(spec)
    if group.manifest(task.shard).find(task.zone_window) is not None:
        return BlockResult(task.shard, 0, 0, True, {})
    embedder = _embedder(spec)
    t0 = time.perf_counter()
    data = cube.read(task.cube_window)
    t1 = time.perf_counter()
    h, w = task.cube_window.height, task.cube_window.width
    n = h * w
    bands = data.s2_bands.reshape(len(data.s2_doy), n, -1)
    mask = data.s2_mask.reshape(len(data.s2_doy), n)
    s1, s1_doy = pool_s1(data.s1_ascending.values, data.s1_ascending.doy,
                         data.s1_descending.values, data.s1_descending.doy)  # fmt: skip
    s1 = s1.reshape(len(s1_doy), n, -1)
    rng = block_rng(spec.seed, task.zone_window)
    draws = [sample_tokens(bands, mask, data.s2_doy, s1, s1_doy, rng, N_TIMESTEPS) for _ in range(spec.draws)]
    ok = draws[0].ok  # the same for every draw: it depends only on each pixel's valid dates
    t2 = time.perf_counter()
    emb = np.full((n, embedder.model.cfg.embed_dim), np.nan, np.float32)
    if ok.any():
        with _model_lock:
            total = sum(embedder(tok.s2[ok], tok.s1[ok]) for tok in draws)
        emb[ok] = total / len(draws)
    t3 = time.perf_counter()
    q, scales = quantize(emb)
    group.write_block(task.shard, task.zone_window, q.reshape(h, w, -1), scales.reshape(h, w), spec.source)
    t4 = time.perf_counter()
    return BlockResult(task.shard, int(ok.sum()), int(n - ok.sum()), False,
                       {"read": t1 - t0, "sample": t2 - t1, "model": t3 - t2, "write": t4 - t3})  # fmt: skip

