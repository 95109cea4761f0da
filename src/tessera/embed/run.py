"""``embed_cube``: a cube → blocks → Dask tasks → the embedding store, resumable at any point."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tessera import __version__
from tessera.cpus import available_cores
from tessera.cube import open_cube
from tessera.embed.cluster import LocalShape, dask_client, local_shape
from tessera.embed.quality import Rules
from tessera.embed.worker import (
    BlockResult,
    BlockTask,
    JobSpec,
    embed_block,
    prepare_block,
    run_model,
    store_block,
    wanted_pixels,
    with_reliability,
)
from tessera.errors import ConfigError
from tessera.grid import Window
from tessera.model import Embedder, InferenceConfig, file_sha256, load, preset_name
from tessera.model.sampling import N_TIMESTEPS
from tessera.model.student import PixelStudent
from tessera.progress import Progress
from tessera.quantize import quantize
from tessera.store import Provenance, StoreError, StoreLayout, blocks, build_dir, open_for_write, place
from tessera.store.location import Location
from tessera.store.sources import is_url

if TYPE_CHECKING:
    from tessera.cube import Cube

log = logging.getLogger(__name__)

# Below this many cores, reading/sampling/writing on threads beside the model costs the model more
# than it saves: with 2 cores, 2 s of side work stretched the model's 30 s by 5 s (PyTorch's
# threads wait on each other when one loses its core), so blocks run one stage after another.
OVERLAP_MIN_CORES = 4


@dataclass(frozen=True)
class EmbedConfig:
    seed: int = 0  # sampling seed: with the checkpoint it fixes every output byte
    draws: int = 1  # 40-date draws averaged per pixel; 1 = the published product
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    workers: int | None = None  # local processes; None sizes the cluster to the machine
    cores: int | None = None  # cores to lay the local cluster over; None: the usable cores
    scheduler: str | None = None  # address of an existing Dask scheduler instead
    scheduler_timeout_s: float = 10.0  # then an unreachable scheduler is an error, not a hang
    layout: StoreLayout = field(default_factory=StoreLayout)  # used only when creating a store
    depths: tuple[int, ...] = ()  # Matryoshka prefix arrays of a new store, e.g. (16, 32, 64)
    rules: Rules = field(default_factory=Rules)  # optical minimum, radar-free pixels (the store records them)
    mask: str | None = None  # area mask file: pixels outside are not embedded, blocks outside not run
    report: bool = True  # write the validation report beside the store (``STORE.report/``)
    reliability: bool = False  # also store each pixel's reliability (three more embeddings per pixel)

    def __post_init__(self) -> None:
        if self.draws < 1:
            raise ConfigError(f"draws must be ≥ 1, got {self.draws}")


@dataclass(frozen=True)
class EmbedSummary:
    store: str
    group: str
    blocks: int
    computed: int
    skipped: int
    pixels: int
    nodata: int
    seconds: float
    stage_seconds: dict[str, float]
    parallelism: str = ""  # how the run used the machine, for the summary
    warnings: tuple[str, ...] = ()  # inputs far from what the model was trained on
    refused: dict[str, int] = field(default_factory=dict)  # no-data pixels by reason, this run's blocks
    masked_blocks: int = 0  # blocks wholly outside the area mask: neither read nor run
    mask_pixels: int | None = None  # pixels the area mask wants
    report: object = None  # the validation verdict (``tessera.embed.report.Report``) where written

    @property
    def pixels_per_second(self) -> float:
        return (self.pixels + self.nodata) / self.seconds if self.seconds > 0 else 0.0


def cube_name(cube_path: str | os.PathLike) -> str:
    """How fill records name a cube: its folder name and a hash of its metadata — never the
    user's directory layout, which ``tessera serve`` would publish."""
    import hashlib

    path = Path(cube_path)
    meta = path / "zarr.json"
    digest = hashlib.sha256(meta.read_bytes() if meta.exists() else path.name.encode()).hexdigest()[:12]
    return f"{path.name}#{digest}"


def plan(cube_window: Window, zone_window: Window, layout: StoreLayout) -> list[BlockTask]:
    """Every block of a cube: the shard it falls in, its zone window and its cube window."""
    return [
        BlockTask(
            shard, piece, Window(piece.row - zone_window.row, piece.col - zone_window.col, piece.height, piece.width)
        )
        for shard, piece in blocks(zone_window, layout)
    ]


def embed_cube(
    cube_path: str | os.PathLike,
    checkpoint: str | os.PathLike,
    store_path: str | os.PathLike,
    config: EmbedConfig = EmbedConfig(),
    progress: Progress | None = None,
) -> EmbedSummary:
    """Embed every pixel of a cube into the store; blocks already recorded are skipped.

    Safe to kill at any moment and to rerun; safe to run beside other ``embed_cube`` calls on
    other cubes of the same zone (see ``tessera.store.locks``).
    """
    t_start = time.perf_counter()
    cube = open_cube(cube_path)
    from tessera.pretrained import locate

    checkpoint = locate(checkpoint)  # a path, or the name of a shipped checkpoint
    model = load(checkpoint)  # validates the file (preset vs weights) before anything is written
    zone, window = place(cube.grid)
    if not is_url(store_path) and Path(store_path).is_file():
        raise StoreError(f"store path {store_path} is a file; give a directory (new or an existing store)")
    student = isinstance(model, PixelStudent)
    _check_model_options(model, config)
    sha = file_sha256(checkpoint)
    sampling: dict[str, object] = (
        {"dates": "every valid date, padded or thinned to length bins of 8 (deterministic)"}
        if student
        else {"seed": config.seed, "timesteps": N_TIMESTEPS, "draws": config.draws}
    )
    sampling["absent_sensor"] = "all-zero tokens (a pixel with no valid date of one sensor is embedded from the other)"
    sampling.update(config.rules.to_attrs())
    if config.reliability:  # part of a store's provenance: every block of it has the layer or none does
        sampling["reliability"] = True
    if config.inference.precision != "fp32":  # bf16 moves a quarter of the int8 values: never mixed in a store
        sampling["precision"] = config.inference.precision
    config.rules.check_cube(len(cube.s2_doy))
    notes = sparsity_warnings(cube)
    for note in notes:
        log.warning(note)
    provenance = Provenance(
        model={"preset": preset_name(model.cfg) or "custom", "checkpoint_sha256": sha, "config": model.cfg.to_dict()},
        sampling=sampling,
        software_version=__version__,
    )
    # One GPU takes one process (the model on the driver, CPU stages on Dask threads beside it);
    # several GPUs are several workers of a dask-cuda cluster, given as --scheduler.
    gpu = torch.device(config.inference.device).type == "cuda"
    shape: LocalShape | None = (
        None if config.scheduler else local_shape(config.cores or available_cores(), 1 if gpu else config.workers)
    )
    pixels = nodata = computed = 0
    stages: dict[str, float] = {}
    refused: dict[str, int] = {}
    mask = str(Path(config.mask).resolve()) if config.mask else None
    wanted = wanted_pixels(cube, mask)  # a mask selecting nothing is refused here, before any write
    all_blocks = len(plan(Window(0, 0, *cube.grid.shape), window, config.layout)) if wanted is not None else 0
    # The model runs in this process when there is one local worker process, with these threads.
    driver_threads = shape.torch_threads if shape is not None and shape.processes == 1 else None
    serial = driver_threads is not None and driver_threads < OVERLAP_MIN_CORES and not gpu  # no cluster at all
    # The cluster comes up before the store is touched: an unreachable scheduler leaves nothing behind.
    cluster = contextlib.nullcontext() if serial else dask_client(shape, config.scheduler, config.scheduler_timeout_s)
    with cluster as client, _undone_on_failure(store_path) as creation:
        store = open_for_write(store_path, provenance, model.cfg.embed_dim, config.layout, config.depths)
        creation.created = store.created
        group = store.ensure(cube.year, zone, provenance, model.cfg.embed_dim)
        tasks = plan(Window(0, 0, *cube.grid.shape), window, group.layout)
        if wanted is not None:  # blocks the mask does not touch are neither read nor recorded
            tasks = [t for t in tasks if wanted[t.cube_window.slices].any()]
        todo = [t for t in tasks if group.manifest(t.shard).find(t.zone_window) is None]
        overlap = _overlap_note(group, todo, cube_name(cube.path))
        if overlap:
            log.warning(overlap)
            notes.append(overlap)
        log.info("%d blocks, %d already recorded", len(tasks), len(tasks) - len(todo))
        spec = JobSpec(
            cube=str(Path(cube.path).resolve()),
            store=str(store.root.resolve()) if store.root else store.location.url,
            year=cube.year,
            zone=zone.name,
            checkpoint=str(checkpoint.resolve()),
            checkpoint_sha256=sha,
            model_config=model.cfg.to_dict(),
            cube_name=cube_name(cube.path),
            seed=config.seed,
            draws=config.draws,
            inference=config.inference,
            torch_threads=shape.torch_threads if shape else None,
            rules=config.rules,
            mask=mask,
            reliability=config.reliability,
        )
        # Progress in pixels, moved per model batch where the model runs here: a block is ~30 s.
        area = {id(t): t.cube_window.height * t.cube_window.width for t in tasks}
        total_px = sum(area.values())
        recorded = total_px - sum(area[id(t)] for t in todo)
        meter = [float(recorded)]

        def tick(n: float) -> None:
            meter[0] += n
            if progress:
                progress("pixels", min(int(meter[0]), total_px), total_px)

        tick(0)
        results: Iterator[BlockResult]
        if serial and driver_threads is not None:
            torch.set_num_threads(driver_threads)
            embedder = Embedder(model, config.inference)  # stages in turn, the model reporting each batch
            results = (embed_block(spec, t, embedder, tick) for t in todo)
        elif driver_threads is not None:
            torch.set_num_threads(driver_threads)
            results = _pipelined(client, spec, todo, Embedder(model, config.inference))
        else:
            results = _as_tasks(client, spec, todo)
        for task, res in zip(todo, results, strict=True):
            pixels, nodata = pixels + res.pixels, nodata + res.nodata
            computed += not res.skipped
            for reason, n in res.refused.items():
                refused[reason] = refused.get(reason, 0) + n
            for k, v in res.seconds.items():
                stages[k] = stages.get(k, 0.0) + v
            recorded += area[id(task)]  # exact at each block's end (no-data pixels never batch)
            meter[0] = recorded
            tick(0)
    summary = EmbedSummary(
        str(store.location),
        f"{zone.name} / {cube.period.label}",
        len(tasks),
        computed,
        len(tasks) - computed,
        pixels,
        nodata,
        time.perf_counter() - t_start,
        stages,
        _describe(shape, config.scheduler, serial, config.cores),
        tuple(notes),
        refused,
        max(0, all_blocks - len(tasks)) if wanted is not None else 0,
        None if wanted is None else int(wanted.sum()),
    )
    if config.report and store.root is not None:
        from tessera.embed.report import validate

        summary = dataclasses.replace(summary, report=validate(store.root, cube, zone, model, wanted, config.rules))
    return summary


# Below this many valid S2 dates a year the models meet inputs far sparser than they were trained
# on (TESSERA's training pixels have tens to hundreds).
SPARSE_S2_DATES = 10


def sparsity_warnings(cube: Cube, side: int = 64) -> list[str]:
    """Warnings, read off the cube's centre (``side``² px), for inputs far from the training data:
    no Sentinel-1 at all, or few valid S2 dates a year."""
    from tessera import sensors

    h, w = cube.grid.shape
    win = Window(max(0, (h - side) // 2), max(0, (w - side) // 2), min(side, h), min(side, w))
    data = cube.read(win)
    notes = []
    s1_frames = sum(int(sensors.s1_valid_mask(data.s1(o).values).any(axis=(1, 2)).sum()) for o in sensors.S1_ORBITS)
    if s1_frames == 0:
        notes.append(
            "this cube has no Sentinel-1 observation: pixels are embedded from Sentinel-2 alone (S1 "
            "absent), which the model met rarely in training; compare such embeddings only with each other"
        )
    mean_s2 = float(data.s2_mask.astype(bool).sum(axis=0).mean()) if len(data.s2_doy) else 0.0
    if mean_s2 < SPARSE_S2_DATES:
        notes.append(
            f"this cube has {mean_s2:.1f} valid Sentinel-2 dates per pixel (mean over its centre), "
            f"far sparser than the models were trained on (tens a year); expect noisier embeddings"
        )
    return notes


def _check_model_options(model, config: EmbedConfig) -> None:
    """Options that only one model family takes, refused before anything is written."""
    dims = getattr(model.cfg, "matryoshka_dims", None)
    if dims is None and config.depths:
        raise ConfigError(
            "--depths needs a Matryoshka model (a v2 student): v1 dimensions are not ordered "
            "by importance, so a prefix of them is an arbitrary slice"
        )
    if dims is not None:
        from tessera.store.convention import PREFIX_DEPTHS

        # The store convention's prefix depths (the official v2 stores publish d4) and the model's own.
        allowed = sorted(d for d in {*dims, *PREFIX_DEPTHS} if d < model.cfg.embed_dim)
        bad = [d for d in config.depths if d not in allowed]
        if bad:
            raise ConfigError(
                f"--depths {','.join(map(str, bad))}: the Matryoshka prefixes a store holds are "
                f"{','.join(map(str, allowed))} (the full {model.cfg.embed_dim} is always stored)"
            )
        if config.draws != 1:
            raise ConfigError(
                "--draws applies to v1 models: a v2 student embeds every valid date "
                "deterministically, so there is nothing to average"
            )


def _describe(shape: LocalShape | None, scheduler: str | None, serial: bool, given: int | None) -> str:
    if shape is None:
        return f"block tasks on the Dask scheduler at {scheduler}"
    cores = available_cores()
    busy = f", {cores - given} taken by other work" if given is not None and given < cores else ""
    head = f"{cores} usable cores{busy}:"
    if serial:
        return f"{head} PyTorch {shape.torch_threads} threads, stages in turn, no cluster"
    if shape.processes == 1:
        return f"{head} PyTorch {shape.torch_threads} threads + {shape.threads_per_process} Dask threads"
    return f"{head} {shape.processes} processes × PyTorch {shape.torch_threads} threads"


def _overlap_note(group, todo: list[BlockTask], ours: str) -> str | None:
    """A warning when blocks about to be written cover pixels other cubes' recorded blocks hold:
    overlapping cubes each write their own values, so the one embedded last wins there."""
    pixels, others = 0, set()
    for task in todo:
        for block in group.manifest(task.shard).blocks:
            common = block.zone_window.intersection(task.zone_window)
            if common is not None and block.cube != ours:
                pixels += common.height * common.width
                others.add(block.cube)
    if not pixels:
        return None
    return (
        f"this cube overlaps {', '.join(sorted(others))} in the store over {pixels:,} px: its values replace "
        "theirs there (the cube embedded last wins); crop the cubes so they only touch to keep both"
    )


class _Creation:
    created = False


@contextlib.contextmanager
def _undone_on_failure(store_path: str | os.PathLike) -> Iterator[_Creation]:
    """A store this run creates (it sets ``created``) is removed again if the run fails before
    any block is recorded and no other writer is at work in it: two runs may race to create the
    same store, and one's Ctrl-C must not delete it under the other. Each run holds the store's
    presence lock throughout, so the failed one can tell whether it is alone."""
    creation = _Creation()
    local = None if is_url(store_path) else Path(store_path)
    had_build = local is not None and build_dir(local).exists()
    with Location(store_path).sibling(".build").presence("writers.lock") as presence:
        try:
            yield creation
        except BaseException:
            if local is not None and (creation.created or not had_build) and presence.alone():
                # Not created here: only the lock file this run added beside the path goes.
                _remove_if_unwritten(local, store_too=creation.created)
            raise


def _remove_if_unwritten(path: Path, store_too: bool) -> None:
    """A store this run created is removed again if the run failed before any block was recorded
    (by it or a concurrent writer): an error never leaves an empty store to puzzle over."""
    import shutil

    build = build_dir(path)
    if any((build / "fills").rglob("*.json")):
        return
    # Zarr's writes run on its own event loop: when one fails (a full disk), the others of that
    # call still land for a moment after the error reaches here, re-creating folders just removed.
    for _ in range(40):
        if store_too:
            shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(build, ignore_errors=True)
        if not (store_too and path.exists()) and not build.exists():
            break
        time.sleep(0.05)


def _as_tasks(client, spec: JobSpec, todo: list[BlockTask]) -> Iterator[BlockResult]:
    """Each block one task, wholly in a worker (worker processes, remote clusters); results in
    ``todo`` order (the caller pairs them with their blocks)."""
    futures = client.map(embed_block, [spec] * len(todo), todo, pure=False)
    for fut in futures:
        yield fut.result()


def _pipelined(
    client, spec: JobSpec, todo: list[BlockTask], embedder: Embedder, ahead: int = 2
) -> Iterator[BlockResult]:
    """The model on this (main) thread, reading/sampling and writing on Dask threads around it.

    Up to ``ahead`` blocks are prepared in advance and up to ``ahead`` wait to be written, so
    memory stays a few blocks whatever the cube size, and the model never waits on I/O.
    """
    queue = deque(client.submit(prepare_block, spec, t, pure=False) for t in todo[:ahead])
    writing: deque = deque()
    nxt = len(queue)
    while queue:
        prepared = queue.popleft().result()
        if nxt < len(todo):
            queue.append(client.submit(prepare_block, spec, todo[nxt], pure=False))
            nxt += 1
        if prepared is None:  # recorded meanwhile by another process
            yield BlockResult((0, 0), 0, 0, True, {})
            continue
        t = time.perf_counter()
        emb = run_model(embedder, prepared)
        prepared = with_reliability(embedder, prepared, emb)
        q, scales = quantize(emb)
        # Only the int8 block travels to the writer, not the tokens (tens of MB per block).
        light = dataclasses.replace(prepared, draws=[])
        writing.append(client.submit(store_block, spec, light, q, scales, time.perf_counter() - t, pure=False))
        while writing and (len(writing) > ahead or writing[0].done()):
            yield writing.popleft().result()
    while writing:
        yield writing.popleft().result()
