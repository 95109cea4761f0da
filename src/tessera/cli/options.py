"""Options and argument parsers several commands share, defined once so their wording and their
checks stay the same everywhere."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from tessera.errors import ConfigError

STORE_ARG = typer.Argument(
    ...,
    help="Embedding store: a path, file://, http(s)://, s3:// URL, a *.icechunk repository, "
    "or a geotessera-layout directory.",
)


def period_option(text: str) -> int:
    """A CLI year: ``2024``, or a 12-month window by its last month, ``2025-06`` → its store code."""
    from tessera.period import period_code

    return period_code(text)


PERIOD_HELP = "Year of the embeddings, or a 12-month window by its last month (2025-06)."
YEAR_OPT = typer.Option(..., parser=period_option, help=PERIOD_HELP)
QUALITY_OPT = typer.Option(
    False,
    "--quality",
    help="Also the store's per-pixel quality layers (observation counts, months covered), where it has them.",
)
DEPTH_OPT = typer.Option(
    None,
    "--depth",
    min=1,
    help="Read the first N dimensions of Matryoshka (v2) embeddings, e.g. 16: a store holding that "
    "prefix array reads 1/8 of the bytes.",
)
TASK_OPT = typer.Option(
    "classification", help="classification (class ids, 0 = unlabelled) or regression (values; no data = unlabelled)."
)
LABELS_OPT = typer.Option(..., help="Label raster (GeoTIFF, 0 = unlabelled) or vector file.")
COLUMN_OPT = typer.Option(None, help="Class column of vector labels.")
BBOX_OPT = typer.Option(
    None, help="W,S,E,N in degrees: the region (default: a label raster's grid, else where the year is written)."
)


def cube_path(path: Path) -> Path:
    """A cube path as given, or the cube inside a scene directory."""
    from tessera.cube import cube_location

    return cube_location(path)


REGION_CUBE_OPT = typer.Option(None, "--cube", help="…or a cube (or scene directory): its grid is the region.")


def optional_cube(path: Path | None) -> Path | None:
    return cube_path(path) if path is not None else None


def parse_numbers(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r} must be comma-separated numbers") from exc


def parse_depths(text: str, option: str = "--depths") -> tuple[int, ...]:
    """``"16,32,64"`` → (16, 32, 64); empty → ()."""
    try:
        depths = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r} must be comma-separated whole numbers, e.g. 16,32,64") from exc
    if any(d < 1 for d in depths):
        raise ConfigError(f"{option} {text!r}: every depth must be at least 1")
    return depths


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    wrong = ConfigError(f"--bbox {text!r} must be four comma-separated numbers: W,S,E,N in degrees")
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise wrong from exc
    if len(values) != 4:
        raise wrong
    return values[0], values[1], values[2], values[3]


def optional_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    return parse_bbox(text) if text else None


def optional_region(bbox: str | None, cube: Path | None) -> Any:
    """The region a command was given: a lon/lat bbox, a cube's grid, or None (its default)."""
    if bbox is not None and cube is not None:
        raise ConfigError("say which region once: --bbox W,S,E,N or --cube CUBE, not both")
    if cube is not None:
        from tessera.cube import open_cube

        return open_cube(cube_path(cube)).grid
    return optional_bbox(bbox)


def check_writable(out: Path) -> None:
    """Refuse an output whose folder is missing or read-only before any work is done, so a long
    fit or read never ends in a traceback at the last step."""
    folder = Path(out).absolute().parent
    if not folder.is_dir():
        raise ConfigError(f"cannot write {out}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {out}: the folder {folder} is not writable; choose another output")
