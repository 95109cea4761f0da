"""``tessera similar``: a cosine-similarity map around a point and the places most like it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tessera.cli.app import app, console
from tessera.cli.options import REGION_CUBE_OPT, STORE_ARG, YEAR_OPT, check_writable, optional_region
from tessera.errors import ConfigError


def _point(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"--point {text!r} must be LON,LAT in degrees") from exc
    return lon, lat


@app.command("similar")
def similar_command(
    store: str = STORE_ARG,
    point: str = typer.Option(..., help="LON,LAT of the place to look for."),
    year: int = YEAR_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="Similarity map (.tif); .png and top-k .csv beside it."),
    bbox: str = typer.Option(None, help="W,S,E,N in degrees to search (default: a square around the point)."),
    cube: Path = REGION_CUBE_OPT,
    size: int = typer.Option(512, help="Side of the square around the point, in 10 m pixels."),
    top_k: int = typer.Option(10, "--top-k", help="How many most similar places to list.", min=1),
    separation: int = typer.Option(10, help="Minimum distance between listed places, in pixels."),
) -> None:
    """Cosine similarity (about the region's mean embedding) of every pixel to the embedding at
    --point, and the top-k matches."""
    check_writable(out)
    from tessera.access import open_store
    from tessera.heads.similar import find_similar, write_similarity

    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"--out {out} must be a .tif")
    lon, lat = _point(point)
    region = optional_region(bbox, cube)
    found = find_similar(open_store(store), lon, lat, year, region, size, top_k, separation)
    write_similarity(out, found)
    table = Table(title=f"places most like ({lon}, {lat}) in {year}")
    for col in ("rank", "lon", "lat", "similarity"):
        table.add_column(col)
    for i, m in enumerate(found.matches, 1):
        table.add_row(str(i), f"{m.lon:.5f}", f"{m.lat:.5f}", f"{m.similarity:.3f}")
    console.print(table)
    console.print(f"wrote [bold]{out}[/] (+ .png, .csv)")
