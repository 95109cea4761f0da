"""``tessera shards`` and ``tessera train``."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import typer

from tessera.cli.app import app, check_writable, console, cube_path, progress_bar
from tessera.errors import ConfigError, InputNotFoundError


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

    paths = [c / "cube.zarr" if (c / "cube.zarr").is_dir() else c for c in cubes]
    cfg = ShardConfig(samples_per_epoch=samples_per_epoch, shard_size=shard_size, epochs=epochs,
                      min_valid=min_valid, seed=seed)  # fmt: skip
    with progress_bar() as progress:
        write_shards(paths, out, cfg, overwrite=overwrite, progress=progress)
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
    lr: float = typer.Option(None, help="Peak learning rate (AdamW), reached after the warm-up "
                             "(default 1e-3; 2e-4 with --init)."),
    warmup_steps: int = typer.Option(100, help="Steps of linear learning-rate warm-up."),
    checkpoint_every: int = typer.Option(200, help="Steps between checkpoints (a rerun resumes from the last)."),
    eval_every: int = typer.Option(200, help="Steps between validations (RankMe, probe) when --val-scene is given."),
    val_scene: Path = typer.Option(None, help="Labelled scene for RankMe and the linear probe."),
    time_limit: float = typer.Option(None, help="Stop after this many seconds (checkpointed)."),
    seed: int = typer.Option(0, help="Fixes initialisation, batches and dropout: same seed, same run."),
    init: Path = typer.Option(None, help="Continue from these weights (ours or the published v1 .pt): "
                              "the run takes their shapes; --preset is ignored."),
    val_cube: Path = typer.Option(None, help="An unlabelled cube for label-free selection: best.safetensors "
                                  "keeps the highest RankMe (instead of --val-scene's probe)."),
    threads: int = typer.Option(None, min=1, help="PyTorch threads (default: the usable cores). On a machine "
                                "busy with other work, 1 is faster: 1.7x on 2 busy cores."),
) -> None:
    """Pretrain with Barlow Twins + mix regulariser; resumes automatically; DDP under torchrun."""
    check_writable(out)
    from tessera.train import TrainConfig, train

    fields = dict(preset=preset, steps=steps, batch_size=batch_size, lr=lr or (2e-4 if init else 1e-3),
                  warmup_steps=warmup_steps,
                  checkpoint_every=checkpoint_every, eval_every=eval_every, seed=seed,
                  val_scene=str(val_scene) if val_scene else None, time_limit_s=time_limit,
                  val_cube=str(cube_path(val_cube)) if val_cube else None)  # fmt: skip
    if init is not None:
        from tessera.model import load
        from tessera.pretrained import locate
        from tessera.train.adapt import adaptation_projector
        from tessera.train.loop import trainable

        init = locate(init)
        cfg = trainable(load(init), init).cfg
        fields |= {"init": str(init), "model": cfg, "projector": adaptation_projector(cfg)}
    if config is not None:
        if not config.is_file():
            raise InputNotFoundError(f"no config file at {config}")
        try:
            fields |= tomllib.loads(config.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config} is not valid TOML ({exc})") from exc
    cfg = TrainConfig.from_dict(fields)
    import torch

    from tessera.cpus import available_cores

    if threads is not None:
        torch.set_num_threads(threads)
    console.print(f"{available_cores()} usable cores: PyTorch {torch.get_num_threads()} threads "
                  "(--threads N sets them; on a machine busy with other work, fewer are faster)")  # fmt: skip
    with progress_bar() as progress:
        last = train(cfg, shards, out, progress=progress)
    if last:
        console.print(" ".join(f"{k}={v:.4g}" for k, v in last.items() if k != "time"))
    console.print(f"run: [bold]{out}[/] (metrics.jsonl, training.png, model.safetensors)")


@app.command("adapt")
def adapt_command(
    cubes: list[Path] = typer.Argument(..., help="The region's cubes (.zarr) or scene directories (no labels needed)."),
    init: Path = typer.Option(..., help="Starting weights: ours (.safetensors), the published v1 .pt, or the "
                              "shipped `tiny-broad`."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory: shards/, run/, adapted.safetensors."),
    steps: int = typer.Option(300, help="Optimiser steps (tiny on 2 CPU cores: ~1 step/s at batch 256)."),
    minutes: float = typer.Option(None, help="Stop after this many minutes (the best checkpoint so far is kept)."),
    seed: int = typer.Option(0, help="Fixes shards, batches and the held-back pixels."),
    criterion: str = typer.Option("rankme", help="Label-free choice of checkpoint, on held-back pixels: rankme "
                                  "(effective rank), view_loss / view_corr (agreement of two date draws), or last."),
) -> None:
    """Adapt a model to your region without labels: shards → training from --init → the best
    checkpoint by a label-free criterion on held-back pixels (the starting weights included)."""
    check_writable(out)
    from tessera.train.adapt import AdaptConfig, adapt

    with progress_bar() as progress:
        r = adapt([cube_path(c) for c in cubes], init, out, AdaptConfig(steps=steps, minutes=minutes, seed=seed,
                                                                  criterion=criterion),
                  progress=progress)  # fmt: skip
    console.print(f"{r.criterion} {r.score_start:.4g} at the start → {r.score_best:.4g} at step {r.best_step}; "
                  f"wrote [bold]{r.checkpoint}[/] (embed with it: tessera embed CUBE -c {r.checkpoint} -s STORE)")
