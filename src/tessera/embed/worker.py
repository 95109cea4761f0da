"""The stages of one block of ``tessera embed``: read + sample → model → quantise + write + record.

``embed_block`` runs them all as one Dask task (worker processes, remote clusters): each process
keeps its model, cubes and store groups open across tasks, and lets one block at a time use the
model while its other task threads read, sample and write neighbouring blocks. On one machine the
driver instead runs the model itself and gives only the other stages to Dask threads (see
``run``): PyTorch's CPU kernels run ~1.5× slower when called from a thread other than the main one.
Everything a block's values depend on (tokens drawn from a generator seeded by the run seed and
the block's zone position, fixed batches) is fixed, so recomputing a block gives identical bytes.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from tessera.cube import Cube, open_cube
from tessera.embed import reliability
from tessera.embed.quality import Rules, block_layers
from tessera.errors import ConfigError
from tessera.grid import Window
from tessera.model import Embedder, InferenceConfig, file_sha256, load
from tessera.model.binning import BinnedTokens, student_tokens
from tessera.model.checkpoint import config_from_dict
from tessera.model.sampling import N_TIMESTEPS, PixelSeries, PixelTokens, pixel_series
from tessera.model.student import FAMILY as STUDENT
from tessera.quantize import quantize
from tessera.store import StoreWriter, Zone, ZoneWriter


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
    cube_name: str  # how the fill records name the cube
    seed: int = 0
    draws: int = 1
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    torch_threads: int | None = None  # None: leave PyTorch's own choice (external clusters)
    rules: Rules = field(default_factory=Rules)
    mask: str | None = None  # an area mask file (``embed --mask``), besides the cube's own
    reliability: bool = False  # also embed withheld-observation variants (``embed --reliability``)


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
    refused: dict[str, int] = field(default_factory=dict)  # no-data pixels by reason (quality rules, mask)


_model_lock = threading.Lock()  # one block in the model at a time per process
_open_lock = threading.Lock()
_embedders: dict[tuple, Embedder] = {}
_cubes: dict[str, Cube] = {}
_groups: dict[tuple, ZoneWriter] = {}
_masks: dict[tuple, np.ndarray | None] = {}


def embedder_for(spec: JobSpec) -> Embedder:
    """This process's model for the run (loaded once, checked against the run's checkpoint)."""
    key = (spec.checkpoint, spec.checkpoint_sha256, spec.inference, spec.torch_threads)
    with _open_lock:
        if key not in _embedders:
            if file_sha256(spec.checkpoint) != spec.checkpoint_sha256:
                raise ConfigError(
                    f"{spec.checkpoint} on this worker differs from the checkpoint the "
                    "run was started with; give every worker the same file"
                )
            if spec.torch_threads:
                torch.set_num_threads(spec.torch_threads)
            model = load(spec.checkpoint, config=config_from_dict(spec.model_config))
            _embedders[key] = Embedder(model, spec.inference)
        return _embedders[key]


def _open(spec: JobSpec) -> tuple[Cube, ZoneWriter]:
    with _open_lock:
        if spec.cube not in _cubes:
            _cubes[spec.cube] = open_cube(spec.cube)
        key = (spec.store, spec.year, spec.zone)
        if key not in _groups:
            _groups[key] = StoreWriter(spec.store).writer(spec.year, Zone.from_name(spec.zone))
        return _cubes[spec.cube], _groups[key]


def wanted_pixels(cube: Cube, mask: str | None) -> np.ndarray | None:
    """(H, W) bool of the pixels wanted — the cube's own area mask and the file ``mask``'s — or
    None for every pixel; rasterised once per process."""
    key = (cube.path, mask)
    with _open_lock:
        if key not in _masks:
            wanted = cube.aoi()
            if mask is not None:
                from tessera.area_mask import load_mask

                given = load_mask(mask, cube.grid)
                wanted = given if wanted is None else wanted & given
            _masks[key] = wanted
        return _masks[key]


def block_rng(seed: int, window: Window) -> np.random.Generator:
    """The block's own generator: same seed and place → same draws, whichever process runs it."""
    return np.random.default_rng([seed, window.row, window.col])


@dataclass(frozen=True)
class Prepared:
    """A block's model inputs: ``draws`` token sets for its valid pixels, and which those are."""

    task: BlockTask
    draws: list[PixelTokens] | list[BinnedTokens]  # only the ``ok`` pixels; a student's: one, binned
    ok: np.ndarray  # (h·w,) bool
    seconds: dict[str, float]
    layers: dict[str, np.ndarray] = field(default_factory=dict)  # the quality layers, (h·w, …)
    refused: dict[str, int] = field(default_factory=dict)
    variants: list = field(default_factory=list)  # ``embed --reliability``: tokens of the ``ok`` pixels, per variant


def prepare_block(spec: JobSpec, task: BlockTask) -> Prepared | None:
    """Read the block's window and sample its tokens; None if the block is already recorded."""
    cube, group = _open(spec)
    if group.manifest(task.shard).find(task.zone_window) is not None:
        return None
    t0 = time.perf_counter()
    data = cube.read(task.cube_window)
    t1 = time.perf_counter()
    series = pixel_series(data)
    layers = block_layers(series, {k: cube.months(k) for k in ("s2", "ascending", "descending")})
    wanted = wanted_pixels(cube, spec.mask)
    reasons = spec.rules.refused(layers, None if wanted is None else wanted[task.cube_window.slices].ravel())
    keep = ~np.any(list(reasons.values()), axis=0) if reasons else np.ones(len(layers["s2_obs_count"]), bool)
    if spec.model_config.get("family") == STUDENT:  # every valid date, binned: no draws, no seed
        idx = np.flatnonzero(keep)
        sub = series.take(idx)
        binned = student_tokens(
            sub.s2_bands,
            sub.s2_mask,
            sub.s2_doy,
            sub.s1_ascending,
            sub.s1_ascending_doy,
            sub.s1_descending,
            sub.s1_descending_doy,
            spec.model_config["max_seq_len"],
        )
        ok = np.zeros(len(keep), bool)
        ok[idx] = binned.ok
        draws: list = [binned]
        tokenise: Callable[[PixelSeries, np.random.Generator], Any] = _student_tokens(spec.model_config["max_seq_len"])
    else:
        # Tokens are drawn for every pixel, then the refused dropped: a kept pixel's draws are the
        # ones an unmasked, unruled run gives it (the block's generator runs over all its pixels).
        rng = block_rng(spec.seed, task.zone_window)
        every = [series.tokens(rng, N_TIMESTEPS) for _ in range(spec.draws)]
        ok = every[0].ok & keep  # the same for every draw: it depends only on each pixel's valid dates
        draws = [PixelTokens(t.s2[ok], t.s1[ok], t.ok[ok]) for t in every]
        tokenise = _draw_tokens
    variants = []
    if spec.reliability and ok.any():  # its own generator: the embeddings' draws stay as without
        rng = np.random.default_rng([spec.seed, task.zone_window.row, task.zone_window.col, 28])
        variants = [tokenise(v, rng) for v in reliability.variants(series.take(np.flatnonzero(ok)), rng)]
    refused = {k: int(v.sum()) for k, v in reasons.items()}
    seconds = {"read": t1 - t0, "sample": time.perf_counter() - t1}
    return Prepared(task, draws, ok, seconds, layers, refused, variants)


def _draw_tokens(series: PixelSeries, rng: np.random.Generator) -> PixelTokens:
    return series.tokens(rng, N_TIMESTEPS)


def _student_tokens(max_seq_len: int) -> Callable[[PixelSeries, np.random.Generator], BinnedTokens]:
    def tokenise(s: PixelSeries, rng: np.random.Generator) -> BinnedTokens:
        return student_tokens(
            s.s2_bands,
            s.s2_mask,
            s.s2_doy,
            s.s1_ascending,
            s.s1_ascending_doy,
            s.s1_descending,
            s.s1_descending_doy,
            max_seq_len,
        )

    return tokenise


def with_reliability(embedder: Embedder, prepared: Prepared, emb: np.ndarray) -> Prepared:
    """``prepared`` with its reliability layer (``embed --reliability``) from the variants'
    embeddings set against ``emb`` (``run_model``'s); as it was without variants."""
    if not prepared.variants:
        return prepared
    full = emb[prepared.ok]
    moved, oks = [], []
    with _model_lock:
        for tok in prepared.variants:
            got = np.full_like(full, np.nan)
            if tok.ok.any():
                got[tok.ok] = (
                    embedder.binned(tok) if isinstance(tok, BinnedTokens) else embedder(tok.s2[tok.ok], tok.s1[tok.ok])
                )
            moved.append(got)
            oks.append(tok.ok & np.isfinite(got).all(axis=1))
    codes = np.zeros(len(prepared.ok), np.uint8)
    codes[prepared.ok] = reliability.encode(reliability.score(full, moved, oks))
    return dataclasses.replace(prepared, layers={**prepared.layers, reliability.NAME: codes}, variants=[])


def run_model(embedder: Embedder, prepared: Prepared, on_batch: Callable[[float], None] | None = None) -> np.ndarray:
    """(h·w, D) float32 embeddings, the mean over draws; NaN rows where there is no data.
    ``on_batch(n)``: progress in pixels (each draw's batches count 1/draws of their pixels)."""
    emb = np.full((len(prepared.ok), embedder.model.cfg.embed_dim), np.nan, np.float32)
    if prepared.ok.any():
        draws = len(prepared.draws)
        tick = None if on_batch is None else (lambda n: on_batch(n / draws))
        with _model_lock:
            total = sum(
                embedder.binned(tok, tick) if isinstance(tok, BinnedTokens) else embedder(tok.s2, tok.s1, tick)
                for tok in prepared.draws
            )
        emb[prepared.ok] = total / len(prepared.draws)
    return emb


MODEL_NOT_FINITE = "the model gave NaN or infinite values (a broken checkpoint, or bf16 overflow)"


def store_block(spec: JobSpec, prepared: Prepared, q: np.ndarray, scales: np.ndarray, model_s: float) -> BlockResult:
    """Write a quantised block (``quantize`` of ``run_model``'s output), then record it."""
    _, group = _open(spec)
    task = prepared.task
    h, w = task.cube_window.height, task.cube_window.width
    t0 = time.perf_counter()
    layers = {k: v.reshape(h, w, *v.shape[1:]) for k, v in prepared.layers.items()}
    record = group.write_block(
        task.shard,
        task.zone_window,
        q.reshape(h, w, -1),
        scales.reshape(h, w),
        spec.cube_name,
        layers,
        spec.inference.precision,
    )
    # What was written, read back (``write_block``), not what was meant: a model that gives
    # non-finite values leaves no-data pixels, and the count says so, with that reason.
    refused = dict(prepared.refused)
    broken = int((prepared.ok & ~np.isfinite(scales.ravel())).sum())
    if broken:
        refused[MODEL_NOT_FINITE] = broken
    seconds = {**prepared.seconds, "model": model_s, "write": time.perf_counter() - t0}
    return BlockResult(task.shard, record.pixels, record.nodata, False, seconds, refused)


def embed_block(
    spec: JobSpec, task: BlockTask, embedder: Embedder | None = None, on_batch: Callable[[float], None] | None = None
) -> BlockResult:
    """All stages of one block in one task (worker processes, remote clusters, or in turn on the
    driver's own ``embedder``, reporting ``on_batch``)."""
    prepared = prepare_block(spec, task)
    if prepared is None:  # recorded meanwhile by another process
        return BlockResult(task.shard, 0, 0, True, {})
    embedder = embedder or embedder_for(spec)
    t = time.perf_counter()
    emb = run_model(embedder, prepared, on_batch)
    prepared = with_reliability(embedder, prepared, emb)
    q, scales = quantize(emb)
    return store_block(spec, prepared, q, scales, time.perf_counter() - t)
