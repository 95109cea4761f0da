"""``tessera explore`` (label, search and map in the browser) and ``tessera tiles`` (one layer as
XYZ tiles for QGIS, Leaflet, OpenLayers)."""

from __future__ import annotations

from pathlib import Path

import typer

from tessera.cli.app import app, console
from tessera.cli.options import STORE_ARG, optional_bbox, period_option
from tessera.cli.progress_bar import show_log

HOST_OPT = typer.Option("127.0.0.1", help="Address to listen on; any other than loopback needs the token everywhere.")
PORT_OPT = typer.Option(8765, help="Port (0: any free one).", min=0, max=65535)


def _logging() -> None:
    show_log("tessera.explore", "%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")


@app.command("explore")
def explore_command(
    store: str = STORE_ARG,
    year: int = typer.Option(
        None, parser=period_option, help="Year or window 2025-06 (default: the project's, else the store's latest)."
    ),
    bbox: str = typer.Option(None, help="W,S,E,N in degrees (default: the project's area, else the whole year)."),
    project: Path = typer.Option(Path("tessera-project"), help="Folder where labels, head and settings are kept."),
    host: str = HOST_OPT,
    port: int = PORT_OPT,
    open_browser: bool = typer.Option(True, "--open/--no-open", help="Open the page in a browser."),
) -> None:
    """Label, search and map a store in the browser; everything is kept in --project as it happens."""
    from tessera.explore.session import open_workspace, run_explorer

    _logging()
    ws = open_workspace(store, project, year, optional_bbox(bbox))
    run_explorer(ws, host, port, open_browser, lambda line: console.print(line, highlight=False, soft_wrap=True))


@app.command("tiles")
def tiles_command(
    store: str = STORE_ARG,
    layer: str = typer.Option(..., help="pca | similar:LON,LAT | head:FILE.skops | change:Y1,Y2"),
    year: int = typer.Option(None, parser=period_option, help="Year or window 2025-06 (default: the store's latest)."),
    bbox: str = typer.Option(None, help="W,S,E,N in degrees to serve (default: where the year is written)."),
    host: str = HOST_OPT,
    port: int = PORT_OPT,
    allow_other_model: bool = typer.Option(False, help="Apply a head fitted on another model's embeddings."),
) -> None:
    """Serve one layer of a store as XYZ tiles (Web Mercator) with a TileJSON document."""
    from tessera.explore.session import run_tiles

    _logging()
    say = lambda line: console.print(line, highlight=False, soft_wrap=True)  # noqa: E731
    run_tiles(store, layer, year, optional_bbox(bbox), host, port, allow_other_model, say)
