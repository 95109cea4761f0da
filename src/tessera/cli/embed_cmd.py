"""``tessera embed``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import app, console, progress_bar
from tessera.cli.options import check_writable, cube_path


@app.command("embed")
def embed_command(
    cube: Path = typer.Argument(..., help="A d-pixel cube (.zarr) or a simulated scene directory."),
    checkpoint: Path = typer.Option(
        ..., "--checkpoint", "-c", help="Model weights (.safetensors, published .pt, or a shipped name: tiny-broad)."
    ),
    store: str = typer.Option(
        ...,
        "--store",
        "-s",
        help="Embedding store to write into (created if absent): a directory or s3://bucket/prefix.",
    ),
    workers: int = typer.Option(None, help="Local worker processes (default: sized to this machine)."),
    scheduler: str = typer.Option(None, help="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786."),
    seed: int = typer.Option(0, help="Sampling seed; the same seed and checkpoint give the same bytes."),
    draws: int = typer.Option(1, help="Average this many 40-date draws per pixel (1 = published product)."),
    precision: str = typer.Option("fp32", help="fp32 or bf16."),
    batch_size: int = typer.Option(512, help="Pixels per forward pass (0: sized from free GPU memory)."),
    compile_model: bool = typer.Option(False, "--compile", help="torch.compile the forward pass (GPUs)."),
    device: str = typer.Option("cpu", help="cpu, cuda, cuda:1, …"),
    shard: int = typer.Option(
        256, help="Pixels per shard side for a new store: a multiple of 32 (official stores: 4096)."
    ),
    depths: str = typer.Option("", help="Also store Matryoshka prefixes in a new store, e.g. 16,32,64."),
    mask: Path = typer.Option(None, help="Area mask (GeoJSON / GeoPackage / GeoTIFF, any CRS): embed only its pixels."),
    min_optical_obs: int = typer.Option(
        None, help="Refuse pixels with fewer clear Sentinel-2 dates (the published global store: 15)."
    ),
    allow_s2_only: bool = typer.Option(
        True, "--allow-s2-only/--require-s1", help="Embed pixels without any Sentinel-1 observation (as published)."
    ),
    report: bool = typer.Option(True, help="Write the validation report beside the store (STORE.report/)."),
    reliability: bool = typer.Option(
        False, help="Also store each pixel's reliability (3 more embeddings: each half of the dates, no radar)."
    ),
) -> None:
    """Embed every pixel of a cube into the int8 embedding store; rerun to resume."""
    from tessera.store.sources import is_url

    if not is_url(store):
        check_writable(Path(store))
    from tessera.cli.options import parse_depths
    from tessera.cpus import cores_for_work
    from tessera.embed import EmbedConfig, embed_cube
    from tessera.embed.quality import Rules
    from tessera.model import InferenceConfig
    from tessera.store import StoreLayout

    cfg = EmbedConfig(
        seed=seed,
        draws=draws,
        workers=workers,
        cores=cores_for_work(),  # on a busy machine, fewer threads than cores (never other numbers)
        scheduler=scheduler,
        inference=InferenceConfig(precision=precision, batch_size=batch_size, device=device, compile=compile_model),
        layout=StoreLayout(shard=shard),
        depths=parse_depths(depths),
        rules=Rules(min_optical_obs, allow_s2_only),
        mask=str(mask) if mask else None,
        report=report,
        reliability=reliability,
    )
    if mask is not None:
        from tessera.cli.embed_report import say_mask

        say_mask(cube_path(cube), mask)
    with progress_bar() as progress:
        s = embed_cube(cube_path(cube), checkpoint, store, cfg, progress=progress)
    for note in s.warnings:
        console.print(f"[yellow]warning:[/] {note}")
    table = Table(title=f"embedded into {s.store} / {s.group}", show_header=False)
    for k, v in (
        ("blocks", f"{s.blocks} ({s.computed} computed, {s.skipped} already recorded)"),
        ("pixels embedded", f"{s.pixels:,}"),
        ("no-data pixels", f"{s.nodata:,}" + "".join(f"; {n:,} {why}" for why, n in s.refused.items() if n)),
        *(
            [("area mask", f"{s.mask_pixels:,} px; {s.masked_blocks} blocks outside it skipped")]
            if s.mask_pixels
            else []
        ),
        ("time", f"{s.seconds:.1f} s"),
        ("speed", f"{s.pixels_per_second:,.0f} px/s"),
        ("parallelism", s.parallelism),
    ):
        table.add_row(k, v)
    console.print(table)
    from tessera.cli.embed_report import say_report

    say_report(s)
