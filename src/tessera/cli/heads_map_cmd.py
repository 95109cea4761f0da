"""``tessera heads fit``: a head fitted on labels and saved (no pickle) for ``heads predict``."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import console
from tessera.cli.heads_common import (
    DROP_RADAR_FREE_OPT,
    MIN_RELIABILITY_OPT,
    MIN_S2_OBS_OPT,
    heads_app,
    read_region,
)
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
    min_reliability: float = MIN_RELIABILITY_OPT,
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
        reader,
        labels,
        year,
        column,
        bbox,
        cube,
        task,
        depth,
        None,
        None,
        None,
        min_s2_obs,
        drop_radar_free,
        min_reliability,
    )
    with console.status(f"fitting a {head} head …"):
        fitted = fit_head(region, head)
    save_head(out, fitted.model, head_metadata(fitted, year, store, embedding_model(reader)), fitted.arrays())
    classes = f", classes {region.legend}" if region.legend else ""
    console.print(f"wrote [bold]{out}[/]: {task} {head} on {fitted.n_labelled:,} labelled pixels{classes}")
