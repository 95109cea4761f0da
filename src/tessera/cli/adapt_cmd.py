"""``tessera adapt``: a model adapted to a region without labels."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import app, console, progress_bar
from tessera.cli.options import check_writable, cube_path
from tessera.cli.progress_bar import show_log


@app.command("adapt")
def adapt_command(
    cubes: list[Path] = typer.Argument(..., help="The region's cubes (.zarr) or scene directories (no labels needed)."),
    init: Path = typer.Option(
        ..., help="Starting weights: ours (.safetensors), the published v1 .pt, or the shipped `tiny-broad`."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory: shards/, run/, adapted.safetensors."),
    steps: int = typer.Option(300, help="Optimiser steps (tiny on 2 CPU cores: ~1 step/s at batch 256)."),
    minutes: float = typer.Option(None, help="Stop after this many minutes (the best checkpoint so far is kept)."),
    seed: int = typer.Option(0, help="Fixes shards, batches and the held-back pixels."),
    criterion: str = typer.Option(
        "rankme",
        help="Label-free choice of checkpoint, on held-back pixels: rankme "
        "(effective rank), view_loss / view_corr (agreement of two date draws), or last.",
    ),
    threads: int = typer.Option(
        None, min=1, help="PyTorch threads (default: the usable cores less those other work keeps busy now)."
    ),
) -> None:
    """Adapt a model to your region without labels: shards → training from --init → the best
    checkpoint by a label-free criterion on held-back pixels (the starting weights included)."""
    check_writable(out)
    from tessera.cpus import set_torch_threads
    from tessera.train.adapt import AdaptConfig, adapt

    console.print(set_torch_threads(threads))
    show_log("tessera.train")
    cfg = AdaptConfig(steps=steps, minutes=minutes, seed=seed, criterion=criterion)
    with progress_bar() as progress:
        r = adapt([cube_path(c) for c in cubes], init, out, cfg, progress=progress)
    console.print(
        f"{r.criterion} {r.score_start:.4g} at the start → {r.score_best:.4g} at step {r.best_step}; "
        f"wrote [bold]{r.checkpoint}[/] (embed with it: tessera embed CUBE -c {r.checkpoint} -s STORE)"
    )
