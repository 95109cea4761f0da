"""``tessera change``: where the embeddings of a region moved between two years."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import app, console
from tessera.cli.options import STORE_ARG, check_writable, parse_bbox
from tessera.errors import ConfigError


@app.command("change")
def change_command(
    store: str = STORE_ARG,
    bbox: str = typer.Option(..., help="W,S,E,N in degrees."),
    year_from: int = typer.Option(..., "--from", help="The earlier year."),
    year_to: int = typer.Option(..., "--to", help="The later year."),
    out: Path = typer.Option(..., "--out", "-o", help="Distance map (.tif); .png and patches .csv beside it."),
    threshold: float = typer.Option(None, help="Distance above which a pixel changed (default: median + k·MAD)."),
    k: float = typer.Option(4.0, help="MADs above the median for the default threshold."),
    min_pixels: int = typer.Option(4, "--min-pixels", help="Smallest patch listed, in pixels.", min=1),
    top_k: int = typer.Option(20, "--top-k", help="How many patches to list.", min=1),
) -> None:
    """Per-pixel cosine distance between two years' embeddings and the largest changed patches."""
    check_writable(out)
    from tessera.access import open_store
    from tessera.heads.change import change_map, write_change

    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"--out {out} must be a .tif")
    if not out.parent.is_dir():
        raise ConfigError(f"--out {out}: the directory {out.parent} does not exist")
    result = change_map(open_store(store), parse_bbox(bbox), year_from, year_to, threshold, k, min_pixels, top_k)
    write_change(out, result, year_from, year_to)
    table = Table(title=f"largest changes {year_from} → {year_to} (threshold {result.threshold:.4f})")
    for col in ("rank", "lon", "lat", "hectares", "mean distance"):
        table.add_column(col)
    for i, p in enumerate(result.patches, 1):
        table.add_row(str(i), f"{p.lon:.5f}", f"{p.lat:.5f}", f"{p.hectares:.2f}", f"{p.mean_distance:.3f}")
    console.print(table)
    console.print(f"wrote [bold]{out}[/] (+ .png, .csv)")
