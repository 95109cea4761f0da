"""``tessera heads curve``: learning curves of heads on embeddings against raw-band baselines."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import console
from tessera.cli.heads_common import DROP_RADAR_FREE_OPT, MIN_RELIABILITY_OPT, MIN_S2_OBS_OPT, heads_app, read_region
from tessera.cli.options import (
    BBOX_OPT,
    COLUMN_OPT,
    LABELS_OPT,
    STORE_ARG,
    TASK_OPT,
    YEAR_OPT,
    check_writable,
    parse_depths,
    parse_numbers,
)


@heads_app.command("curve")
def curve_command(
    store: str = STORE_ARG,
    labels: Path = LABELS_OPT,
    year: int = YEAR_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (curve.csv, curve.png)."),
    column: str = COLUMN_OPT,
    bbox: str = BBOX_OPT,
    cube: Path = typer.Option(None, help="The region's cube: its grid."),
    baselines: Path = typer.Option(
        None, help="A cube on the region's grid whose raw bands are compared with the embeddings (two baselines)."
    ),
    heads: str = typer.Option("logistic,rf", help="Comma-separated: logistic, knn, rf, mlp."),
    fractions: str = typer.Option("0.01,0.05,0.1,0.2,0.5,1", help="Comma-separated label fractions."),
    split: str = typer.Option(
        "spatial", help="groups (whole fields held out; needs --groups), spatial (16-px blocks) or random hold-out."
    ),
    groups: Path = typer.Option(
        None, help="Group (field) ids for --split groups: a raster, or a vector file with --group-column."
    ),
    group_column: str = typer.Option(None, help="Group id column of a vector --groups file."),
    repeats: int = typer.Option(3, help="Label draws per fraction.", min=1),
    task: str = TASK_OPT,
    depth: str = typer.Option(
        "",
        "--depth",
        help="Matryoshka depths to compare, e.g. 16,32,64,128: one "
        "curve per prefix of the embeddings (default: the full embedding).",
    ),
    min_s2_obs: int = MIN_S2_OBS_OPT,
    drop_radar_free: bool = DROP_RADAR_FREE_OPT,
    min_reliability: float = MIN_RELIABILITY_OPT,
) -> None:
    """Accuracy and macro-F1 (or RMSE, MAE, R²) against the fraction of labels used, as CSV + PNG."""
    check_writable(out)
    from tessera.access import open_store
    from tessera.heads.curves import (
        applicability_lines,
        comparison_lines,
        headline_lines,
        main_metric,
        region_curve,
        write_curve,
    )
    from tessera.heads.evaluate import check_split

    depths, fracs = parse_depths(depth, "--depth"), parse_numbers(fractions, "--fractions")
    region = read_region(
        open_store(store),
        labels,
        year,
        column,
        bbox,
        cube,
        task,
        groups=groups,
        group_column=group_column,
        baselines=baselines,
        min_s2_obs=min_s2_obs,
        drop_radar_free=drop_radar_free,
        min_reliability=min_reliability,
    )
    with console.status("fitting heads at every label fraction …"):
        points, n = region_curve(region, heads.split(","), fracs, check_split(split), repeats, depths)
    acc = write_curve(out, points, region.task, f"{split} hold-out, {n:,} labelled pixels")
    lines = comparison_lines(acc) + headline_lines(acc, main_metric(region.task))
    for line in lines + applicability_lines(points, region.task, max(fracs)):
        console.print(line)
    console.print(f"wrote [bold]{out / 'curve.csv'}[/] and [bold]{out / 'curve.png'}[/]")
