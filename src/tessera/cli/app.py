"""The Typer application, its error handling, and the shared progress bar."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tessera import __version__
from tessera.errors import ConfigError, TesseraError

app = typer.Typer(
    name="tessera",
    help="TESSERA: pixel-wise embeddings of Sentinel-1/2 time series.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
cube_app = typer.Typer(help="Inspect and import d-pixel cubes.", no_args_is_help=True)
app.add_typer(cube_app, name="cube")

# Options several commands share, defined once so their wording stays the same.
STORE_ARG = typer.Argument(..., help="Embedding store: a path, file://, http(s)://, s3:// URL, a *.icechunk repository, or a geotessera-layout directory.")
YEAR_OPT = typer.Option(..., help="Year of the embeddings.")
DEPTH_OPT = typer.Option(None, "--depth", min=1, help="Read the first N dimensions of Matryoshka (v2) "
                         "embeddings, e.g. 16: a store holding that prefix array reads 1/8 of the bytes.")

console = Console()


def cube_path(path: Path) -> Path:
    """A cube path as given, or the cube inside a simulated scene directory."""
    if (path / "cube.zarr").is_dir() and not (path / "zarr.json").exists():
        return path / "cube.zarr"
    return path
err_console = Console(stderr=True)


def parse_depths(text: str, option: str = "--depths") -> tuple[int, ...]:
    """``"16,32,64"`` → (16, 32, 64); empty → ()."""
    from tessera.errors import ConfigError

    try:
        depths = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r} must be comma-separated whole numbers, e.g. 16,32,64") from exc
    if any(d < 1 for d in depths):
        raise ConfigError(f"{option} {text!r}: every depth must be at least 1")
    return depths


def _version(value: bool) -> None:
    if value:
        console.print(f"tessera {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),  # fmt: skip
) -> None:
    """TESSERA: pixel-wise embeddings of Sentinel-1/2 time series."""
    from tessera.cpus import available_cores

    # Before torch loads: its OpenMP pool would size itself from every core of the machine, not
    # the ones this process may use (affinity, container quota).
    os.environ.setdefault("OMP_NUM_THREADS", str(available_cores()))


@contextlib.contextmanager
def progress_bar() -> Iterator:
    """A Rich progress bar exposed as a library ``progress(stage, done, total)`` callback."""
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=err_console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def main() -> None:
    """Console-script entry point: user errors become one red line and exit status 2."""
    import click

    # Typer ≥ 0.2x carries its own fork of click: catch both families.
    exits = (click.exceptions.Exit, typer.Exit)
    usage = (click.ClickException, getattr(typer, "TyperException", click.ClickException))
    aborts = (click.exceptions.Abort, typer.Abort)
    try:
        rc = app(standalone_mode=False)  # errors come here, to be said in one line
        sys.exit(rc if isinstance(rc, int) else 0)
    except exits as exc:  # --help, --version, typer.Exit(n)
        sys.exit(getattr(exc, "exit_code", 0))
    except usage as exc:  # a bad or missing option: one line, as every error here
        ctx = getattr(exc, "ctx", None)
        hint = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err_console.print(f"[bold red]error:[/] {message.rstrip('.')}{hint}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (*aborts, KeyboardInterrupt):  # click turns Ctrl-C into Abort; outside it, the bare one
        err_console.print("interrupted; rerun to resume where that command supports it", highlight=False)
        sys.exit(130)
    except TesseraError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except OSError as exc:  # the file system said no (a missing folder, no permission, disk full)
        if os.environ.get("TESSERA_DEBUG"):
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        err_console.print(f"[bold red]error:[/] {exc.strerror or exc}{where}; check the path and its "
                          "permissions (TESSERA_DEBUG=1 shows the traceback)", highlight=False, soft_wrap=True)  # fmt: skip
        sys.exit(2)


def parse_bbox(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"--bbox {text!r} must be four comma-separated numbers: W,S,E,N in degrees") from exc
    if len(values) != 4:
        raise ConfigError(f"--bbox {text!r} must be four comma-separated numbers: W,S,E,N in degrees")
    return values


def check_writable(out: Path) -> None:
    """Refuse an output whose folder is missing or read-only before any work is done, so a long
    fit or read never ends in a traceback at the last step."""
    folder = Path(out).absolute().parent
    if not folder.is_dir():
        raise ConfigError(f"cannot write {out}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {out}: the folder {folder} is not writable; choose another output")
