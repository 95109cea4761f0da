"""``tessera shards`` and ``tessera train``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tessera.cli.app import app, console, progress_bar
from tessera.cli.options import check_writable, cube_path, optional_cube
from tessera.cli.progress_bar import show_log


@app.command("shards")
def shards_command(
    cubes: list[Path] = typer.Argument(..., help="Input cubes (.zarr) or scene directories."),
    out: Path = typer.Option(..., "--out", "-o", help="Shard directory to write."),
    samples_per_epoch: int = typer.Option(100_000, help="Two-view samples per epoch."),
    shard_size: int = typer.Option(20_000, help="Samples per shard file."),
    epochs: int = typer.Option(2, help="Epochs to pre-write, each with fresh draws."),
    min_valid: int = typer.Option(10, help="Skip pixels with fewer valid dates per sensor."),
    seed: int = typer.Option(0, help="Sampling seed."),
    overwrite: bool = typer.Option(False, help="Replace existing shards at OUT."),
) -> None:
    """Write globally shuffled two-view training shards from many cubes."""
    check_writable(out)
    from tessera.train import ShardConfig, write_shards

    cfg = ShardConfig(
        samples_per_epoch=samples_per_epoch, shard_size=shard_size, epochs=epochs, min_valid=min_valid, seed=seed
    )
    with progress_bar() as progress:
        write_shards([cube_path(c) for c in cubes], out, cfg, overwrite=overwrite, progress=progress)
    counts = json.loads((out / "shards.json").read_text())["samples_per_epoch"]
    console.print(f"wrote [bold]{out}[/]: {len(counts)} epochs, samples per epoch {counts}")


@app.command("train")
def train_command(
    shards: Path = typer.Option(..., help="Shard directory from `tessera shards`."),
    out: Path = typer.Option(..., help="Run directory (resumed if it holds checkpoints)."),
    preset: str = typer.Option("tiny", help="Model preset: v1, small, tiny."),
    config: Path = typer.Option(None, help="TOML file with TrainConfig fields (overrides flags)."),
    steps: int = typer.Option(2000, help="Optimiser steps (tiny on 2 CPU cores: ~1.2 steps/s at batch 256)."),
    batch_size: int = typer.Option(256, help="Samples per process and step."),
    lr: float = typer.Option(
        None, help="Peak learning rate (AdamW), reached after the warm-up (default 1e-3; 2e-4 with --init)."
    ),
    warmup_steps: int = typer.Option(100, help="Steps of linear learning-rate warm-up."),
    checkpoint_every: int = typer.Option(200, help="Steps between checkpoints (a rerun resumes from the last)."),
    eval_every: int = typer.Option(200, help="Steps between validations (RankMe, probe) when --val-scene is given."),
    val_scene: Path = typer.Option(None, help="Labelled scene for RankMe and the linear probe."),
    time_limit: float = typer.Option(None, help="Stop after this many seconds (checkpointed)."),
    seed: int = typer.Option(0, help="Fixes initialisation, batches and dropout: same seed, same run."),
    init: Path = typer.Option(
        None,
        help="Continue from these weights (ours or the published v1 .pt): "
        "the run takes their shapes; --preset is ignored.",
    ),
    val_cube: Path = typer.Option(
        None,
        help="An unlabelled cube for label-free selection: best.safetensors "
        "keeps the highest RankMe (instead of --val-scene's probe).",
    ),
    threads: int = typer.Option(
        None,
        min=1,
        help="PyTorch threads (default: the usable cores less those other work keeps busy now). "
        "A resumed run keeps the count it began with (another changes the weights' last bits).",
    ),
) -> None:
    """Pretrain with Barlow Twins + mix regulariser; resumes automatically; DDP under torchrun."""
    check_writable(out)
    from tessera.cpus import set_torch_threads
    from tessera.train import TrainConfig, train
    from tessera.train.adapt import continue_from

    fields = dict(
        preset=preset,
        steps=steps,
        batch_size=batch_size,
        lr=lr if lr is not None else (2e-4 if init else 1e-3),
        warmup_steps=warmup_steps,
        checkpoint_every=checkpoint_every,
        eval_every=eval_every,
        seed=seed,
        val_scene=str(val_scene) if val_scene else None,
        time_limit_s=time_limit,
        val_cube=str(optional_cube(val_cube)) if val_cube else None,
    )
    fields |= continue_from(init) if init is not None else {}
    cfg = TrainConfig.from_toml(config, fields) if config is not None else TrainConfig.from_dict(fields)
    console.print(set_torch_threads(threads))
    show_log("tessera.train")
    with progress_bar() as progress:
        last = train(cfg, shards, out, progress=progress)
    if last:
        console.print(" ".join(f"{k}={v:.4g}" for k, v in last.items() if k != "time"))
    console.print(f"run: [bold]{out}[/] (metrics.jsonl, training.png, model.safetensors)")
