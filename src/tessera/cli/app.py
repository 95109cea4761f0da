"""The Typer application, its consoles and its error handling."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

from tessera import __version__
from tessera.cli.progress_bar import progress_bar
from tessera.errors import TesseraError
from tessera.extras import missing_extra
from tessera.faults import explain

app = typer.Typer(
    name="tessera",
    help="TESSERA: pixel-wise embeddings of Sentinel-1/2 time series.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
cube_app = typer.Typer(help="Inspect and import d-pixel cubes.", no_args_is_help=True)
app.add_typer(cube_app, name="cube")

console = Console()
err_console = Console(stderr=True)

__all__ = ["app", "console", "cube_app", "err_console", "main", "progress_bar"]
INTERRUPTED = 130  # the shell's exit status for a command ended by Ctrl-C (128 + SIGINT)


def _version(value: bool) -> None:
    if value:
        console.print(f"tessera {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    cache_dir: str = typer.Option(
        None,
        "--cache-dir",
        envvar="TESSERA_CACHE",
        help="Keep remote stores' bytes here (bounded by TESSERA_CACHE_MAX_GB).",
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Read remote stores without the cache."),
) -> None:
    """TESSERA: pixel-wise embeddings of Sentinel-1/2 time series."""
    import os

    from tessera.cpus import calm_openmp

    if no_cache:
        os.environ.pop("TESSERA_CACHE", None)
    elif cache_dir:
        os.environ["TESSERA_CACHE"] = cache_dir  # where open_store (and any worker it starts) looks

    # Before torch loads: its OpenMP pool would size itself from every core of the machine, not
    # the ones this process may use now (affinity, quota, other work), and on a busy machine spin.
    calm_openmp()


def main() -> None:
    """Console-script entry point: user errors become one red line and exit status 2."""
    import click

    # Typer ≥ 0.2x carries its own fork of click: catch both families.
    exits = (click.exceptions.Exit, typer.Exit)
    usage = (click.ClickException, getattr(typer, "TyperException", click.ClickException))
    aborts = (click.exceptions.Abort, typer.Abort)
    try:
        rc = app(standalone_mode=False)  # errors come here, to be said in one line
        if rc == INTERRUPTED:  # Typer's click turns Ctrl-C into this return value, saying nothing
            raise KeyboardInterrupt
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
        sys.exit(INTERRUPTED)
    except TesseraError as exc:
        _say(exc)
    except ModuleNotFoundError as exc:  # an optional part whose extra is not installed
        extra = missing_extra(exc, next((a for a in sys.argv[1:] if not a.startswith("-")), None))
        if extra is None:
            raise  # not an optional part: a broken install keeps its traceback
        _say(extra)
    except MemoryError as exc:  # an array larger than the machine: say so, not a traceback
        _say(f"not enough memory ({exc}); work on a smaller region, or in strips where the command offers them")
    except Exception as exc:  # a connection that failed, or the file system said no
        said = None if os.environ.get("TESSERA_DEBUG") else explain(exc)
        if said is None:
            raise
        _say(said)


def _say(error: object) -> None:
    """A user error: one red line, exit status 2."""
    err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    sys.exit(2)
