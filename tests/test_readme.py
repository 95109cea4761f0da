"""Every code block of the README runs as written, offline, in README order, in one folder that
holds what a user would have made by then (``sandbox``): bash blocks command by command through the
CLI (``torchrun`` lines as torchrun starts them), Python blocks in one namespace, as a notebook
would. A block that cannot run here says why in a ``<!-- not run: … -->`` line right above it (the
network, a cluster) and is still checked as far as it can be here (``check_not_run``: its commands
parse against the CLI, its Python imports and names resolve); everything else must exit 0. A
block of servers (``<!-- serves until Ctrl-C … -->``) runs each command until the address it
prints answers, then stops it with Ctrl-C, as a user does: it must answer 200 and stop without a
traceback."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.tessera_cli import Serving, run_tessera

ROOT = Path(__file__).parents[1]
NOT_RUN = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->")
SERVES = re.compile(r"<!--\s*serves until Ctrl-C")
YEAR = 2024


@dataclass
class Block:
    line: int
    lang: str
    text: str
    not_run: str | None
    serves: bool


def readme_blocks() -> list[Block]:
    lines = (ROOT / "README.md").read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start, body = i, []
        i += 1
        while not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        above = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        found = NOT_RUN.search(above)
        not_run = found.group(1) if found else None
        out.append(Block(start + 1, fence.group(1), "\n".join(body), not_run, bool(SERVES.search(above))))
        i += 1
    return out


def commands(text: str) -> list[list[str]]:
    """A bash block's commands: continuation lines joined, comments dropped."""
    joined = text.replace("\\\n", " ")
    return [argv for line in joined.splitlines() if (argv := shlex.split(line, comments=True))]


def test_every_block_that_is_not_run_says_why():
    blocks = readme_blocks()
    assert len(blocks) >= 20
    unknown = [b.line for b in blocks if b.lang not in ("bash", "python", "")]
    assert not unknown, f"code blocks in another language at README lines {unknown}"
    skipped = [b for b in blocks if b.not_run]
    assert all(len(b.not_run) > 10 for b in skipped)
    # Most of the README runs: what cannot is the network, clusters and servers, not convenience.
    assert len(skipped) < len([b for b in blocks if b.lang and not b.not_run])


def _field_polygons(scene_dir: Path, out: Path, column: str, share: float = 1.0) -> None:
    """The simulated fields as polygons with their class name (``column``) and field id (``id``);
    ``share`` of them (labels as users have them: some fields)."""
    import geopandas as gpd
    import rasterio
    from rasterio.features import shapes
    from shapely.geometry import shape

    from tessera.simulate import CLASS_NAMES

    with rasterio.open(scene_dir / "fields.tif") as f, rasterio.open(scene_dir / "classes.tif") as c:
        fid, cls, crs, transform = f.read(1), c.read(1), f.crs, f.transform
    rows = []
    for geom, value in shapes(fid.astype(np.int32), transform=transform):
        inside = fid == value
        rows.append(
            {"id": int(value), column: CLASS_NAMES[int(np.bincount(cls[inside]).argmax())], "geometry": shape(geom)}
        )
    rng = np.random.default_rng(2)
    rows = [r for r in rows if rng.random() < share] if share < 1 else rows
    gpd.GeoDataFrame(rows, crs=crs).to_file(out)


def _some_fields(scene_dir: Path, out: Path, share: float = 0.4) -> None:
    """The class raster with only some fields labelled (the rest nodata): labels as users have them."""
    import rasterio

    with rasterio.open(scene_dir / "classes.tif") as c, rasterio.open(scene_dir / "fields.tif") as f:
        cls, fid, profile = c.read(1), f.read(1), c.profile
    ids = np.unique(fid)
    keep = np.random.default_rng(1).choice(ids, max(2, int(share * len(ids))), replace=False)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.where(np.isin(fid, keep), cls, profile["nodata"]).astype(cls.dtype), 1)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    return build_sandbox(tmp_path_factory.mktemp("readme"))


def build_sandbox(root: Path) -> Path:
    """What the README's commands expect to find: the demo scene and its store, labels in the
    forms users hold them, Sentinel-2 GeoTIFFs, points, a store of several years."""
    from tessera.cube import open_cube
    from tessera.embed import EmbedConfig, embed_cube
    from tessera.pretrained import shipped
    from tessera.simulate import SimulationConfig, write_scene
    from tessera.simulate.history import simulate_history
    from tests.cube.tif_stacks import WAVELENGTH, optical_only, write_folder, write_stack

    run_tessera("simulate", root / "demo", "--size", 64, "--year", YEAR, "--seed", 1, check=True, in_process=True)
    demo = root / "demo"
    cube = open_cube(demo / "cube.zarr")
    embed_cube(demo / "cube.zarr", shipped("tiny-broad"), root / "embeddings.zarr", EmbedConfig(draws=1))
    shutil.copy(demo / "classes.tif", root / "crops.tif")
    _some_fields(demo, root / "labels.tif")
    shutil.copy(demo / "fields.tif", root / "fields.tif")
    shutil.copy(demo / "canopy_height.tif", root / "biomass.tif")
    shutil.copytree(demo / "cube.zarr", root / "cube.zarr")
    _field_polygons(demo, root / "fields.gpkg", "crop")
    _field_polygons(demo, root / "labels.gpkg", "crop", share=0.4)
    _field_polygons(demo, root / "stands.geojson", "stand")
    optical = optical_only(cube.read())
    write_stack(optical, root / "forest_2024.tif", WAVELENGTH)
    write_folder(optical, root / "dates", ("B02", "B03", "B04", "B08", "B05", "B06", "B07", "B8A", "B11", "B12"))
    rng = np.random.default_rng(0)
    w, s, e, n = cube.grid.lonlat_bounds()
    lon, lat = rng.uniform(w, e, 20), rng.uniform(s, n, 20)
    (root / "points.csv").write_text("lon,lat\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in zip(lon, lat, strict=True)))
    features = ",".join(
        f'{{"type":"Feature","properties":{{}},"geometry":{{"type":"Point","coordinates":[{a:.6f},{b:.6f}]}}}}'
        for a, b in zip(lon, lat, strict=True)
    )
    (root / "points.geojson").write_text(f'{{"type":"FeatureCollection","features":[{features}]}}')
    from tessera.cube import export_npy

    export_npy(cube.read(), root / "stack")
    shutil.copy(root / "stands.geojson", root / "farms.geojson")
    for i, name in enumerate(("scene1", "scene2", "scene3", "val_scene")):
        run_tessera("simulate", root / name, "--size", 40, "--seed", 20 + i, check=True, in_process=True)
    history = simulate_history(
        SimulationConfig(height=48, width=48, seed=3, field_px=12), (2021, 2022, 2023, 2024), share=0.3
    )
    for year, scene in history.scenes.items():
        written = write_scene(scene, root / f"history-{year}")
        embed_cube(written / "cube.zarr", shipped("tiny-broad"), root / "history.zarr", EmbedConfig(draws=1))
    (root / "region1.zarr").symlink_to(root / "scene1" / "cube.zarr")
    (root / "region2.zarr").symlink_to(root / "scene2" / "cube.zarr")
    # A head in the explorer's project folder, as `tessera tiles --layer head:…` is shown using.
    (root / "my-map").mkdir()
    fit = ("heads", "fit", root / "embeddings.zarr", "--labels", root / "labels.tif", "--year", YEAR)
    run_tessera(*fit, "--head", "logistic", "-o", root / "my-map" / "head.skops", check=True, in_process=True)
    return root


def test_the_readme_runs_as_written(sandbox, monkeypatch):
    monkeypatch.chdir(sandbox)
    assert run_readme() >= 30


def run_readme(after: int = 0, timings: list | None = None) -> int:
    """Run the README's blocks from line ``after`` on in the current folder; how many commands
    and Python blocks ran (with ``timings``, each one's seconds are appended there)."""
    namespace: dict = {}
    ran = 0
    for block in readme_blocks():
        if not block.lang or block.line < after:
            continue
        if block.not_run:
            check_not_run(block, namespace)
            continue
        if block.lang == "python":
            code = compile(block.text, f"README.md:{block.line}", "exec")
            t = time.perf_counter()
            exec(code, namespace)  # the README's own code, as a reader runs it
            if timings is not None:
                timings.append((time.perf_counter() - t, f"python block at line {block.line}"))
            ran += 1
            continue
        for argv in commands(block.text):
            assert argv[0] in ("tessera", "torchrun"), f"README.md:{block.line}: {argv[0]}: mark the block"
            t = time.perf_counter()
            if argv[0] == "torchrun":  # processes of their own, as torchrun starts them
                ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", *argv[1:]], capture_output=True)
                said = ddp.stderr.decode()[-3000:]
                assert ddp.returncode == 0, f"README.md:{block.line}: {shlex.join(argv)}\n{said}"
            elif block.serves:
                serve_then_stop(argv, block.line)
            else:
                done = run_tessera(*argv[1:], in_process=True)
                assert done.returncode == 0, f"README.md:{block.line}: {shlex.join(argv)}\n{done.stdout}\n{done.stderr}"
            if timings is not None:
                timings.append((time.perf_counter() - t, shlex.join(argv)))
            ran += 1
    return ran


def check_not_run(block: Block, namespace: dict) -> None:
    """What can be checked of a block that cannot run here, where it stands in the README: every
    command parses against the CLI (its subcommands, options and their types exist), every
    ``make`` target is in the Makefile, and a Python block's imports import, the attributes it
    takes of modules exist and every name it uses is made by it or by the blocks above."""
    where = f"README.md:{block.line} (not run)"
    if block.lang == "bash":
        for argv in commands(block.text):
            if argv[0] == "make":
                targets = re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE)
                assert set(argv[1:]) <= set(targets), f"{where}: no make target {argv[1:]}"
            elif argv[0] == "torchrun":
                assert argv[argv.index("-m") + 1] == "tessera", f"{where}: {shlex.join(argv)}"
                parse_command(argv[argv.index("-m") + 2 :], where)
            else:
                assert argv[0] == "tessera", f"{where}: {argv[0]} is neither tessera, torchrun nor make"
                parse_command(argv[1:], where)
        return
    import ast
    import builtins
    import types

    tree = ast.parse(block.text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            exec(compile(ast.Module([node], []), where, "exec"), namespace)
    made = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            known = node.id in made or node.id in namespace or hasattr(builtins, node.id)
            assert known, f"{where}: {node.id} is not defined by this block or any above it"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = namespace.get(node.value.id)
            if isinstance(owner, types.ModuleType):  # a module: what the block takes of it must be there
                assert hasattr(owner, node.attr), f"{where}: {node.value.id}.{node.attr} does not exist"


def parse_command(args: list[str], where: str) -> None:
    """Parse ``tessera ARGS`` as the CLI would, down to its last subcommand, without running it."""
    import typer

    from tessera.cli.app import app

    command, name, parent = typer.main.get_command(app), "tessera", None
    while True:
        try:  # the parser's own words on an unknown command or option, or a bad value
            ctx = command.make_context(name, list(args), parent=parent)
            if not hasattr(command, "resolve_command"):
                return
            rest = [*ctx._protected_args, *ctx.args]  # where click keeps a group's subcommand and its args
            name, sub, args = command.resolve_command(ctx, rest)
        except Exception as exc:
            raise AssertionError(f"{where}: {name} {shlex.join(args)}: {exc}") from None
        command, parent = sub, ctx


def serve_then_stop(argv: list[str], line: int) -> None:
    """Start a serving command, open the first address it prints as a browser does, then Ctrl-C it."""
    import urllib.request

    server = Serving(argv[1:], env={"BROWSER": "true"}, wait_s=180)  # `explore` opens the page: a no-op here
    page = urllib.request.Request(server.url, headers={"Accept": "text/html"})
    try:
        with urllib.request.urlopen(page, timeout=60) as r:
            assert r.status == 200, f"README.md:{line}: {server.url} answered {r.status}"
    finally:
        said = server.stop(wait_s=60)
    ok = server.proc.returncode == 0 and "Traceback" not in said
    assert ok, f"README.md:{line}: {shlex.join(argv)} on Ctrl-C:\n{said}"
