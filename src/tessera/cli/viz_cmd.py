"""``tessera pca``: a false-colour picture of a region's embeddings."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import app, console
from tessera.cli.options import STORE_ARG, YEAR_OPT, check_writable, parse_bbox


@app.command("pca")
def pca_command(
    store: str = STORE_ARG,
    bbox: str = typer.Option(..., help="W,S,E,N in degrees."),
    year: int = YEAR_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="Picture to write: .png, .tif (RGBA COG) or .html (web map)."),
) -> None:
    """The first three principal components of the region's embeddings as RGB."""
    check_writable(out)
    from tessera.access import open_store
    from tessera.access.region import read_region
    from tessera.viz.geo import check_pca_path, save_pca

    check_pca_path(out)
    region = read_region(open_store(store), parse_bbox(bbox), year)
    save_pca(out, region.data, region.grid, f"embeddings {year}")
    console.print(f"wrote [bold]{out}[/]: {region.grid.height} × {region.grid.width} px")
