"""``tessera heads predict``: a map from a head (saved, or fitted on labels here), with its area of
applicability and, for a class map, the head's confidence beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tessera.cli.app import console
from tessera.cli.heads_common import (
    DROP_RADAR_FREE_OPT,
    MIN_RELIABILITY_OPT,
    MIN_S2_OBS_OPT,
    heads_app,
    read_region,
    saved_head_inputs,
)
from tessera.cli.heads_map_cmd import CUBE_OPT
from tessera.cli.options import COLUMN_OPT, STORE_ARG, TASK_OPT, YEAR_OPT, check_writable
from tessera.errors import ConfigError


@heads_app.command("predict")
def predict_command(
    store: str = STORE_ARG,
    year: int = YEAR_OPT,
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output map (.tif); .json legend, .png, .aoa.tif, (classes) .confidence.tif beside it."
    ),
    model: Path = typer.Option(None, help="A head saved by `heads fit`."),
    labels: Path = typer.Option(None, help="…or labels to fit a head on first (raster or vector file)."),
    column: str = COLUMN_OPT,
    bbox: str = typer.Option(None, help="W,S,E,N in degrees: the region to map (default: where the year is written)."),
    cube: Path = CUBE_OPT,
    head: str = typer.Option("rf", help="With --labels: logistic, knn, rf, mlp or unet; regression: ridge, rf, mlp."),
    task: str = TASK_OPT,
    html: Path = typer.Option(None, help="Also write a web map (.html) with PCA and prediction layers."),
    allow_other_model: bool = typer.Option(
        False, help="Apply a head to embeddings of another model than it was fitted on."
    ),
    depth: int = typer.Option(
        None,
        "--depth",
        min=1,
        help="With --labels: fit on the first N (Matryoshka) "
        "dimensions. A saved head reads the depth it was fitted on.",
    ),
    min_s2_obs: int = MIN_S2_OBS_OPT,
    drop_radar_free: bool = DROP_RADAR_FREE_OPT,
    min_reliability: float = MIN_RELIABILITY_OPT,
) -> None:
    """Map a region with a head (saved, or fitted here on --labels): GeoTIFF, -1 = no data."""
    check_writable(out)
    from tessera.access import open_store
    from tessera.heads import mapping

    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"--out {out} must be a .tif")
    if html is not None:  # checked before the fit, not after it
        if html.suffix.lower() not in (".html", ".htm"):
            raise ConfigError(f"--html {html} must name an .html file")
        check_writable(html)
    if (model is None) == (labels is None):
        raise ConfigError("give exactly one of --model (a saved head) or --labels (fit one now)")
    reader = open_store(store)
    screen = (min_s2_obs, drop_radar_free, min_reliability)
    if model is not None:
        fitted, grid, emb = saved_head_inputs(reader, model, bbox, cube, year, depth, allow_other_model, *screen)
    else:
        region = read_region(reader, labels, year, column, bbox, cube, task, depth, None, None, None, *screen)
        with console.status(f"fitting a {head} head …"):
            fitted = mapping.fit_head(region, head)
        grid, emb = region.grid, region.embeddings
    pred, conf = mapping.predict_with_confidence(fitted, emb)
    mapping.write_map(out, pred, grid, fitted, year)
    if conf is not None:
        say_confidence(out, conf, grid, fitted)
    di = say_applicability(out, fitted, emb, grid)
    if html is not None:
        console.print(f"wrote [bold]{mapping.write_web_map(html, grid, emb, pred, fitted, di)}[/]")
    h, w = pred.shape
    mapped = mapping.mapped_fraction(pred, fitted.task)
    console.print(
        f"wrote [bold]{out}[/]: {h} × {w} px, {mapped:.1%} mapped, {fitted.task} head {fitted.name} "
        f"on {fitted.n_labelled:,} labels"
    )


def say_confidence(out: Path, conf: Any, grid: Any, fitted: Any) -> None:
    from tessera.heads import mapping

    path = mapping.write_confidence(out, conf, grid, fitted)
    console.print(f"wrote [bold]{path}[/]: {mapping.confidence_summary(conf)}")


def say_applicability(out: Path, fitted: Any, emb: Any, grid: Any) -> Any:
    """Write the map's area of applicability beside it and say how much lies outside; the
    dissimilarity index, or None for a head saved without one."""
    import numpy as np

    from tessera.heads import mapping

    di = mapping.applicability_map(fitted, emb)
    if di is None:
        console.print("[yellow]note:[/] this head was saved without its area of applicability; refit it to map one")
        return None
    path = mapping.write_applicability(out, di, grid, fitted)
    known = di[np.isfinite(di)]
    outside = float(np.mean(~fitted.applicability.inside(known))) if known.size else 0.0
    console.print(f"wrote [bold]{path}[/]: {outside:.1%} of mapped pixels outside the area of applicability")
    return di
