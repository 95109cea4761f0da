"""What ``tessera embed`` says before and after the run: the area mask, and the validation verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tessera.cli.app import console


def say_mask(cube: Path, mask: Path) -> None:
    """The mask's pixel count, first: a mask in the wrong place shows here, not after the run."""
    from tessera.area_mask import load_mask
    from tessera.cube import open_cube

    c = open_cube(cube)
    wanted = load_mask(mask, c.grid)
    console.print(f"mask {mask}: {int(wanted.sum()):,} of {wanted.size:,} px of the cube wanted ({wanted.mean():.1%})")


def say_report(summary: Any) -> None:
    """The verdict and where the report lies; exit 1 only where the store is unusable."""
    r = summary.report
    if r is None:
        return
    colour = {"pass": "green", "suspect": "yellow", "unusable": "red"}[r.verdict]
    console.print(f"validation: [{colour}]{r.verdict}[/] — {Path(r.path) / 'report.json'}")
    for reason in r.reasons:
        console.print(f"  [{colour}]•[/] {reason}")
    if r.unusable:
        raise typer.Exit(1)
