"""``tessera heads fit|predict``: saved heads and the maps they make."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import console
from tessera.cli.heads_common import DROP_RADAR_FREE_OPT, MIN_S2_OBS_OPT, heads_app, read_region, saved_head_inputs
from tessera.cli.options import (
    BBOX_OPT,
    COLUMN_OPT,
    DEPTH_OPT,
    LABELS_OPT,
    STORE_ARG,
    TASK_OPT,
    YEAR_OPT,
    check_writable,
)
from tessera.errors import ConfigError

HEAD_OPT = typer.Option("rf", help="logistic, knn, rf, mlp or unet; regression: ridge, rf or mlp.")
CUBE_OPT = typer.Option(None, help="The region's cube (its grid).")


@heads_app.command("fit")
def fit_command(
    store: str = STORE_ARG,
    labels: Path = LABELS_OPT,
    year: int = YEAR_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="Saved head: .skops (logistic/knn/rf/mlp), .safetensors (unet)."),
    column: str = COLUMN_OPT,
    bbox: str = BBOX_OPT,
    cube: Path = CUBE_OPT,
    head: str = HEAD_OPT,
    task: str = TASK_OPT,
    depth: int = DEPTH_OPT,
    min_s2_obs: int = MIN_S2_OBS_OPT,
    drop_radar_free: bool = DROP_RADAR_FREE_OPT,
) -> None:
    """Fit a head on every labelled pixel and save it (no pickle) for `heads predict --model`."""
    check_writable(out)
    from tessera.access import open_store
    from tessera.heads.mapping import fit_head, head_metadata
    from tessera.heads.persist import embedding_model, save_head
    from tessera.heads.registry import head_spec

    want = head_spec(head, task).suffix
    if out.suffix != want:
        raise ConfigError(f"--out {out}: a {head} head is saved as {want}")
    reader = open_store(store)
    region = read_region(
        reader, labels, year, column, bbox, cube, task, depth, None, None, None, min_s2_obs, drop_radar_free
    )
    with console.status(f"fitting a {head} head …"):
        fitted = fit_head(region, head)
    save_head(out, fitted.model, head_metadata(fitted, year, store, embedding_model(reader)))
    classes = f", classes {region.legend}" if region.legend else ""
    console.print(f"wrote [bold]{out}[/]: {task} {head} on {fitted.n_labelled:,} labelled pixels{classes}")


@heads_app.command("predict")
def predict_command(
    store: str = STORE_ARG,
    year: int = YEAR_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="Output map (.tif); .json legend and .png beside it."),
    model: Path = typer.Option(None, help="A head saved by `heads fit`."),
    labels: Path = typer.Option(None, help="…or labels to fit a head on first (raster or vector file)."),
    column: str = COLUMN_OPT,
    bbox: str = typer.Option(None, help="W,S,E,N in degrees: the region to map."),
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
) -> None:
    """Map a region with a head (saved, or fitted here on --labels): GeoTIFF, -1 = no data."""
    check_writable(out)
    from tessera.access import open_store
    from tessera.heads import mapping

    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"--out {out} must be a .tif")
    if (model is None) == (labels is None):
        raise ConfigError("give exactly one of --model (a saved head) or --labels (fit one now)")
    reader = open_store(store)
    screen = (min_s2_obs, drop_radar_free)
    if model is not None:
        fitted, grid, emb = saved_head_inputs(reader, model, bbox, cube, year, depth, allow_other_model, *screen)
    else:
        region = read_region(reader, labels, year, column, bbox, cube, task, depth, None, None, None, *screen)
        with console.status(f"fitting a {head} head …"):
            fitted = mapping.fit_head(region, head)
        grid, emb = region.grid, region.embeddings
    pred = mapping.predict_map(fitted, emb)
    mapping.write_map(out, pred, grid, fitted, year)
    if html is not None:
        console.print(f"wrote [bold]{mapping.write_web_map(html, grid, emb, pred, fitted)}[/]")
    h, w = pred.shape
    mapped = mapping.mapped_fraction(pred, fitted.task)
    console.print(
        f"wrote [bold]{out}[/]: {h} × {w} px, {mapped:.1%} mapped, {fitted.task} head {fitted.name} "
        f"on {fitted.n_labelled:,} labels"
    )
