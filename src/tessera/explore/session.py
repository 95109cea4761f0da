"""Starting the explorer and the tile server: which store, year and area a project works on, and
the server around it. ``say`` is how the caller (the CLI) shows the URL."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tessera.access.extent import written_grid
from tessera.explore.app import LOOPBACK
from tessera.explore.project import Project
from tessera.explore.workspace import Workspace
from tessera.grid import Grid, target_grid


def open_workspace(
    store: str,
    project_dir: str | os.PathLike,
    year: int | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> Workspace:
    """The workspace of ``project_dir`` on ``store``: the year and area given, else the project's,
    else the store's latest year where it is written."""
    from tessera.access import open_store
    from tessera.explore.tileserver import store_bounds

    project = Project.open(Path(project_dir))
    reader = open_store(store)
    saved = project.settings
    year = year or saved.get("year") or reader.years[-1]
    reader.check_year(year)
    if bbox is not None:
        grid = target_grid(bbox)
    elif saved.get("grid"):
        grid = Grid.from_attrs(saved["grid"])
    else:
        grid = written_grid(reader, year) or target_grid(store_bounds(reader, year, None))
    if saved.get("store") not in (None, reader.location):  # labels are lon/lat: they carry over
        project.problems.append(f"this project was made on {saved['store']}; it is open on {reader.location} now")
    project.settings["grid"] = grid.to_attrs()
    return Workspace(reader, year, grid, project)


def run_explorer(ws: Workspace, host: str, port: int, open_browser: bool, say: Callable[[str], None]) -> None:
    from tessera.explore.app import Guard
    from tessera.explore.routes import explorer_app
    from tessera.explore.server import bind, serve, url_of

    sock = bind(host, port)
    guard = Guard(host, sock.getsockname()[1], everywhere=host not in LOOPBACK)
    url = f"{url_of(sock, host)}/?token={guard.token}"

    def announce() -> None:
        h, w = ws.area.grid.shape
        say(f"explorer of {ws.reader.location} ({ws.year}, {h} × {w} px) at {url}")
        say(f"project {ws.project.folder}; Ctrl-C to stop")
        for problem in ws.project.problems:
            say(f"note: {problem}")
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    serve(lambda _port: explorer_app(ws, guard), sock, announce)
    say(f"stopped; everything is in {ws.project.folder}")


def run_tiles(
    store: str,
    spec: str,
    year: int | None,
    bbox: tuple[float, float, float, float] | None,
    host: str,
    port: int,
    allow_other_model: bool,
    say: Callable[[str], None],
) -> None:
    from tessera.access import open_store
    from tessera.explore.app import Guard
    from tessera.explore.routes import tiles_app
    from tessera.explore.server import bind, serve, url_of
    from tessera.explore.tileserver import tile_service

    reader = open_store(store)
    service = tile_service(reader, spec, year or reader.years[-1], bbox, allow_other_model)
    sock = bind(host, port)
    guard = Guard(host, sock.getsockname()[1], everywhere=host not in LOOPBACK)
    base = url_of(sock, host)
    token = f"?token={guard.token}" if guard.everywhere else ""

    def announce() -> None:
        z = service.layer.values.zooms
        say(f"tiles of {service.description}, zoom {z.min}–{z.max}:")
        say(f"  XYZ:      {base}/{{z}}/{{x}}/{{y}}.png{token}")
        say(f"  TileJSON: {base}/tilejson.json{token}")
        say("QGIS: Browser panel → XYZ Tiles → New Connection → paste the XYZ URL; Ctrl-C to stop")

    serve(lambda _port: tiles_app(service, guard), sock, announce)
    say("stopped")
