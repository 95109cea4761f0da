"""``tessera similar``: a cosine-similarity map around a point and the places most like it."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from tessera.cli.app import app, console
from tessera.cli.options import STORE_ARG, YEAR_OPT, check_writable, parse_bbox
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
    size: int = typer.Option(512, help="Side of the square around the point, in 10 m pixels."),
    top_k: int = typer.Option(10, "--top-k", help="How many most similar places to list.", min=1),
    separation: int = typer.Option(10, help="Minimum distance between listed places, in pixels."),
) -> None:
    """Cosine similarity of every pixel to the embedding at --point, and the top-k matches."""
    check_writable(out)
    from rasterio.warp import transform

    from tessera.access import open_store
    from tessera.access.region import read_patch, read_region
    from tessera.atomic import atomic_file
    from tessera.geotiff import write_cog
    from tessera.heads.similar import cosine_map, top_matches
    from tessera.viz import save_png

    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"--out {out} must be a .tif")
    lon, lat = _point(point)
    s = open_store(store)
    sample = s.sample_points(np.array([[lon, lat]]), year)
    if sample.status[0] != "valid":
        raise ConfigError(f"({lon}, {lat}) has no embedding in {year} ({sample.status[0]}); pick an embedded point")
    region = read_region(s, parse_bbox(bbox), year) if bbox else read_patch(s, lon, lat, year, size)
    sim = cosine_map(region.data, sample.values[0])
    g = region.grid
    x, y = transform("EPSG:4326", g.crs, [lon], [lat])
    rows, cols = g.pixel_of(x[0], y[0])  # (row, col): the affine inverse gives (col, row)
    r, c = int(rows), int(cols)
    here = (r, c) if 0 <= r < g.height and 0 <= c < g.width else None
    matches = top_matches(sim, g, top_k, separation, exclude=here)
    write_cog(out, sim[None], g, float("nan"), {"query_lon": str(lon), "query_lat": str(lat), "year": str(year)})
    save_png(
        out.with_suffix(".png"),
        np.nan_to_num(sim, nan=-1.0),
        f"cosine similarity to ({lon:.5f}, {lat:.5f})",
        cmap="magma",
    )
    with atomic_file(out.with_suffix(".csv")) as tmp, open(tmp, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["rank", "lon", "lat", "similarity"])
        for i, m in enumerate(matches, 1):
            wr.writerow([i, f"{m.lon:.6f}", f"{m.lat:.6f}", f"{m.similarity:.4f}"])
    table = Table(title=f"places most like ({lon}, {lat}) in {year}")
    for col in ("rank", "lon", "lat", "similarity"):
        table.add_column(col)
    for i, m in enumerate(matches, 1):
        table.add_row(str(i), f"{m.lon:.5f}", f"{m.lat:.5f}", f"{m.similarity:.3f}")
    console.print(table)
    console.print(f"wrote [bold]{out}[/] (+ .png, .csv)")
