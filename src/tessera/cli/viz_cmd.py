"""``tessera pca``: a false-colour picture of a region's embeddings."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import app, console
from tessera.cli.options import REGION_CUBE_OPT, STORE_ARG, YEAR_OPT, check_writable, optional_bbox, optional_cube


@app.command("pca")
def pca_command(
    store: str = STORE_ARG,
    bbox: str = typer.Option(None, help="W,S,E,N in degrees (default: where the year is written)."),
    cube: Path = REGION_CUBE_OPT,
    year: int = YEAR_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="Picture to write: .png, .tif (RGBA COG) or .html (web map)."),
) -> None:
    """The first three principal components of the region's embeddings as RGB."""
    check_writable(out)
    from tessera.access import open_store
    from tessera.access.extent import working_grid
    from tessera.access.region import check_region_size, read_grid
    from tessera.viz.geo import check_pca_path, save_pca

    check_pca_path(out)
    reader = open_store(store)
    reader.check_year(year)
    grid = working_grid(reader, year, optional_bbox(bbox), optional_cube(cube), what="picture")
    check_region_size(grid, reader.embed_dim(year), "pca")
    region = read_grid(reader, grid, year)
    save_pca(out, region.data, region.grid, f"embeddings {year}")
    console.print(f"wrote [bold]{out}[/]: {region.grid.height} × {region.grid.width} px")
