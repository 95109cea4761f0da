"""What the ``tessera heads`` commands share: their sub-app, the quality-screen options, and
reading the labelled region (or a saved head's inputs) behind a status line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tessera.cli.app import app, console
from tessera.cli.options import optional_bbox, optional_cube

if TYPE_CHECKING:
    from tessera.access.reads import RegionReads
    from tessera.heads.workflow import LabelledRegion

MIN_S2_OBS_OPT = typer.Option(
    None,
    "--min-s2-obs",
    min=0,
    help="Drop pixels with fewer usable optical observations (stores with quality layers; default: the "
    "store's own optical_min_obs rule).",
)
DROP_RADAR_FREE_OPT = typer.Option(
    False, "--drop-radar-free", help="Also drop pixels embedded without any radar observation (counted either way)."
)

MIN_RELIABILITY_OPT = typer.Option(
    None,
    "--min-reliability",
    min=0.0,
    max=1.0,
    help="Drop pixels whose reliability (stores embedded with --reliability) is below this.",
)

heads_app = typer.Typer(help="Small heads on embeddings: learning curves, fitting, maps.", no_args_is_help=True)
app.add_typer(heads_app, name="heads")


def read_region(
    reader: RegionReads,
    labels: Path,
    year: int,
    column: str | None,
    bbox: str | None,
    cube: Path | None,
    task: str = "classification",
    depth: int | None = None,
    groups: Path | None = None,
    group_column: str | None = None,
    baselines: Path | None = None,
    min_s2_obs: int | None = None,
    drop_radar_free: bool = False,
    min_reliability: float | None = None,
) -> LabelledRegion:
    """The labelled region the heads commands work on, read behind a status line; what the
    quality screen dropped is printed."""
    from tessera.heads.evaluate import check_task
    from tessera.heads.workflow import labelled_region

    with console.status(f"reading {year} embeddings and the labels of {labels.name} …"):
        region = labelled_region(
            reader,
            year,
            labels,
            column,
            optional_bbox(bbox),
            optional_cube(cube),
            check_task(task),
            depth,
            groups,
            group_column,
            optional_cube(baselines),
            min_s2_obs,
            drop_radar_free,
            min_reliability,
        )
    print_screened(region.screened)
    return region


def print_screened(screened: dict[str, int] | None) -> None:
    if screened:
        console.print("quality screen: " + ", ".join(f"{n:,} {why}" for why, n in screened.items()) + " pixels")


def saved_head_inputs(
    reader: Any,
    model: Path,
    bbox: str | None,
    cube: Path | None,
    year: int,
    depth: int | None,
    allow_other: bool,
    min_s2_obs: int | None,
    drop_radar_free: bool,
    min_reliability: float | None = None,
) -> tuple[Any, Any, Any]:
    """(fitted head, grid, embeddings) for mapping with a saved head: the dataset it was fitted on
    checked, the embeddings at its depth, screened as the store's quality layers allow."""
    from tessera.access.quality import screen
    from tessera.heads import mapping
    from tessera.heads.persist import check_model, embedding_model, load_head
    from tessera.heads.workflow import region_grid

    saved, meta = load_head(model)
    check_model(meta, embedding_model(reader), allow_other)
    if meta.get("year") not in (None, year):
        console.print(f"[yellow]note:[/] the head was fitted on {meta['year']} embeddings, mapping {year}")
    fitted = mapping.from_metadata(saved, meta)
    grid = region_grid(None, optional_bbox(bbox), optional_cube(cube), reader, year)
    emb = mapping.embeddings_for_head(reader, grid, year, fitted, depth)
    emb, screened = screen(reader, grid, year, emb, min_s2_obs, drop_radar_free, min_reliability)
    print_screened(screened)
    return fitted, grid, emb
