"""The explorer's API as the page (or a careless or hostile caller) uses it: each bad request a 4xx
with one line and nothing damaged; the project folder written as things happen; the held-out
accuracy never sees one polygon on both sides."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.explore.live import Live, json_of, png_rgba


@pytest.fixture
def explorer(explorable, tmp_path):
    """A workspace on the simulated store, served on a free port; ``api(name, body)`` calls it."""
    from tessera.explore.app import Guard
    from tessera.explore.routes import explorer_app
    from tessera.explore.session import open_workspace

    made = []

    def start(project=tmp_path / "project", everywhere=False):
        ws = open_workspace(str(explorable.store), project)
        guards = []

        def app_for(port):
            guards.append(Guard("127.0.0.1", port, everywhere=everywhere))
            return explorer_app(ws, guards[0])

        live = Live(app_for)
        live.ws, live.token = ws, guards[0].token
        live.api = lambda name, body=None, **kw: live.call(
            f"/api/{name}", body if body is not None else {}, {"X-Tessera-Token": live.token}, **kw
        )
        made.append(live)
        return live

    yield start
    for live in made:
        live.stop()


def _polygon(corners):
    ring = [list(p) for p in corners] + [list(corners[0])]
    return {"type": "Polygon", "coordinates": [ring]}


def _two_classes(live, explorable):
    for name in ("crop", "wood"):
        assert live.api("classes", {"name": name, "colour": None})[0] == 200
    for cid, fld in enumerate(explorable.fields):
        status, body, _ = live.api("labels", {"class": cid, "geometry": _polygon(fld.corners(explorable.grid))})
        assert status == 200, body


def _error(response) -> str:
    status, body, _ = response
    message = json_of(body)["error"]
    assert 400 <= status < 500 and "Traceback" not in message and "\n" not in message
    return message


def test_bad_requests_are_4xx_in_one_line_and_change_nothing(explorer, explorable):
    live = explorer()
    project = live.ws.project.folder
    _two_classes(live, explorable)
    labels_before = (project / "labels.geojson").read_bytes()
    z = live.ws.zooms.native
    assert live.call(f"/tiles/pca/{z}/0/0.png")[0] == 404 and "outside" in _error(live.call(f"/tiles/pca/{z}/0/0.png"))
    assert "out of range" in _error(live.call(f"/tiles/pca/{live.ws.zooms.max + 1}/0/0.png"))
    assert "no layer" in _error(live.call(f"/tiles/classes/{z}/0/0.png"))
    lon, lat = explorable.fields[0].centre(explorable.grid)
    tiny = _polygon([(lon, lat), (lon + 1e-6, lat), (lon + 1e-6, lat + 1e-6)])
    assert "covers no embedded pixel" in _error(live.api("labels", {"class": 0, "geometry": tiny}))
    far = {"type": "Point", "coordinates": [lon + 1, lat]}
    assert "covers no embedded pixel" in _error(live.api("labels", {"class": 0, "geometry": far}))
    assert "no class" in _error(live.api("labels", {"class": 7, "geometry": far}))
    assert "geometry" in _error(live.api("labels", {"class": 0, "geometry": {"type": "Circle"}}))
    assert "not JSON" in _error(live.api("labels", raw=b"{class: 0"))
    assert "JSON object" in _error(live.api("labels", raw=b"[1, 2]"))
    assert "'class'" in _error(live.api("labels", {"geometry": far}))
    assert "unknown head" in _error(live.api("train", {"head": "svm"}))
    assert "basemap" in _error(live.api("settings", {"updates": {"basemap": "file:///etc/passwd"}}))
    assert "unknown settings" in _error(live.api("settings", {"updates": {"store": "/elsewhere"}}))
    assert (project / "labels.geojson").read_bytes() == labels_before
    # Undo twice leaves one class: training refuses, and writes no head.
    assert live.api("undo")[0] == 200
    assert "one class" in _error(live.api("train", {"head": "logistic"}))
    assert not (project / "head.skops").exists()


def test_the_token_the_host_and_the_project_folder_guard_the_server(explorer, explorable):
    live = explorer()
    status, body, _ = live.call("/api/classes", {"name": "x"})  # no token
    assert status == 403 and "token" in json_of(body)["error"]
    assert live.call("/api/classes", {"name": "x"}, {"X-Tessera-Token": "guess"})[0] == 403
    assert live.call("/api/state", headers={"Host": "evil.example:80"})[0] == 403  # DNS rebinding
    assert live.call("/api/state")[0] == 200  # reads on loopback need no token
    for path in ("/static/../project.py", "/static/%2e%2e/app.py", "/static/vendor/../../routes.py", "/static/nope.js"):
        assert live.call(path)[0] == 404, path
    assert live.call("/static/vendor/leaflet/LICENSE")[0] == 200
    with pytest.raises(Exception, match="not a file name"):
        live.ws.project.path("../settings.json")
    beyond = explorer(explorable_project := live.ws.project.folder.parent / "beyond", everywhere=True)
    assert explorable_project.exists()
    assert beyond.call("/api/state")[0] == 403  # off loopback, every request needs the token
    assert beyond.call(f"/api/state?token={beyond.token}")[0] == 200


def test_a_failure_inside_is_500_with_one_line(explorer, monkeypatch):
    live = explorer()

    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(live.ws, "state", broken)
    status, body, _ = live.call("/api/state")
    assert status == 500 and b"secret" not in body and b"Traceback" not in body


def test_label_expand_suggest_train_export_and_reopen(explorer, explorable, tmp_path):
    from tessera.access.base import STATUSES
    from tessera.heads.persist import load_head

    live = explorer()
    ws, project = live.ws, live.ws.project.folder
    coverage = [e["label"] for e in ws.layers["coverage"].legend]
    assert "valid" in coverage and set(coverage) <= set(STATUSES)
    _two_classes(live, explorable)
    lon, lat = explorable.fields[1].centre(explorable.grid)
    status, body, _ = live.api("query", {"geometry": {"type": "Point", "coordinates": [lon, lat]}})
    hist = json_of(body)["result"]["histogram"]
    assert status == 200 and sum(hist) == int(ws.area.valid.sum())
    threshold = 0.6
    status, body, _ = live.api("expand", {"class": 1, "threshold": threshold})
    assert status == 200
    expanded = json_of(body)["result"]["properties"]["pixels"]
    assert expanded == int(((ws.similarity >= threshold) & ws.area.valid).sum()) > 1
    first = round((threshold + 1) / 2 * len(hist))
    assert sum(hist[first:]) == expanded  # the page's live count, from the histogram, is exact
    status, body, _ = live.api("suggest", {"k": 3})
    clusters = json_of(body)["result"]
    assert sum(c["pixels"] for c in clusters) == int(ws.area.valid.sum())
    assert live.api("adopt", {"cluster": 0, "class": 0})[0] == 200
    assert live.api("undo")[0] == 200  # the adopted points go again
    status, body, _ = live.api("train", {"head": "logistic"})
    result = json_of(body)["result"]
    assert status == 200 and result["head"] == "logistic"
    assert np.array(result["confusion"]).sum() == result["n_labelled"]
    di = ws.layers["applicability"].values.data  # the area of applicability of the head's labels
    assert np.isfinite(di[ws.area.valid]).all() and (di[ws.area.valid] >= 0).all()
    status, body, _ = live.api("next", {"n": 4})
    found = json_of(body)["result"]
    assert status == 200 and [s["rank"] for s in found] == [1, 2, 3, 4]
    ranks = ws.layers["suggestions"].values.data
    assert set(np.unique(ranks[ranks > 0]).tolist()) == {1, 2, 3, 4}
    assert live.api("next", {"n": 0})[0] == 400
    z = ws.zooms.native
    from tessera.explore.tiles import tiles_over

    _, x, y = tiles_over(ws.area.bounds, z)[0]
    status, body, _ = live.call(f"/tiles/classes/{z}/{x}/{y}.png")
    assert status == 200 and png_rgba(body)[..., 3].any()
    assert json_of(live.api("export")[1])["result"] == "map.tif"
    legend = json.loads((project / "map.json").read_text())
    assert legend == {"0": "crop", "1": "wood"}
    _, meta = load_head(project / "head.skops")  # the file `tessera heads predict` takes
    assert meta["legend"] == legend and meta["dataset"] == ws.dataset
    import rasterio

    with rasterio.open(project / "map.tif") as f:
        assert (f.read(1) == ws.layers["classes"].values.data).all()
    labels = json.loads((project / "labels.geojson").read_text())["features"]
    assert [f["properties"]["class"] for f in labels] == ["crop", "wood", "wood"]
    # The project's files are the CLI's inputs: the head maps the same classes, the labels fit one.
    from tests.tessera_cli import run_tessera

    bbox = ",".join(f"{v:.6f}" for v in ws.area.bounds)
    store = ws.reader.location
    out = tmp_path / "cli.tif"
    run_tessera(
        "heads",
        "predict",
        store,
        "--model",
        project / "head.skops",
        "--year",
        2024,
        "--bbox",
        bbox,
        "-o",
        out,
        in_process=True,
        check=True,
    )
    with rasterio.open(out) as f:  # the bbox's grid, snapped outward on the same 10 m lattice
        t, a = f.transform, ws.area.grid.transform
        r0, c0 = round((t.f - a.f) / 10), round((a.c - t.c) / 10)
        h, w = ws.area.grid.shape
        cli_map = f.read(1)[r0 : r0 + h, c0 : c0 + w]
    assert (cli_map == ws._raster("classes")).all()
    fitted = tmp_path / "from-labels.skops"
    run_tessera(
        "heads",
        "fit",
        store,
        "--labels",
        project / "labels.geojson",
        "--column",
        "class",
        "--bbox",
        bbox,
        "--year",
        2024,
        "-o",
        fitted,
        in_process=True,
        check=True,
    )
    assert load_head(fitted)[1]["legend"] == {"1": "crop", "2": "wood"}
    live.stop()
    again = explorer()
    assert [c["name"] for c in again.ws.classes] == ["crop", "wood"]
    assert len(again.ws.project.labels) == 3 and again.ws.fitted is not None
    assert (again.ws.layers["classes"].values.data == ws.layers["classes"].values.data).all()
    assert again.ws.project.settings["query"]["coordinates"] == [lon, lat]


def test_a_hand_broken_label_file_is_refused_with_its_line_and_kept(explorer, explorable, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    broken = '{"type": "FeatureCollection",\n "features": [\n  {"type": "Feature" "geometry": null}\n ]}\n'
    (project / "labels.geojson").write_text(broken)
    live = explorer(project)
    problems = json_of(live.call("/api/state")[1])["problems"]
    assert len(problems) == 1 and "line 3" in problems[0]
    assert (project / "labels.geojson").read_text() == broken  # opening never writes over it
    _two_classes(live, explorable)
    kept = list(project.glob("labels.invalid-*.geojson"))
    assert len(kept) == 1 and kept[0].read_text() == broken
    assert len(json.loads((project / "labels.geojson").read_text())["features"]) == 2


def test_a_label_without_a_class_is_not_a_label(tmp_path):
    from tessera.explore.project import Project

    (tmp_path / "labels.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [0, 0]},
                        "properties": {"class": None},
                    }
                ],
            }
        )
    )
    project = Project.open(tmp_path)
    assert project.labels == [] and "feature 1 has no class name" in project.problems[0]


def test_a_head_of_another_model_in_the_project_is_not_applied(explorer, explorable, tmp_path):
    from tessera.heads.persist import load_head, save_head

    live = explorer()
    _two_classes(live, explorable)
    assert live.api("train", {"head": "logistic"})[0] == 200
    folder = live.ws.project.folder
    live.stop()
    model, meta = load_head(folder / "head.skops")
    save_head(folder / "head.skops", model, {**meta, "dataset": {"model": "someone-else/v9"}})
    again = explorer(folder)
    assert again.ws.fitted is None and "classes" not in again.ws.layers
    assert any("someone-else/v9" in p for p in again.ws.project.problems)


def test_held_out_accuracy_never_splits_a_polygon():
    """Each polygon's pixels share one vector and the classes are random per polygon: a model that
    saw part of a polygon would be right on the rest; held out whole, it is at chance."""
    from tessera.explore.training import held_out
    from tessera.grid import Grid, utm_grid
    from tessera.heads.workflow import LabelledRegion

    rng = np.random.default_rng(0)
    n, side = 40, 6
    vectors = rng.standard_normal((n, 16)).astype(np.float32)
    emb = np.repeat(np.repeat(vectors.reshape(5, 8, 16), side, 0), side, 1)
    groups = np.repeat(np.repeat(np.arange(n).reshape(5, 8), side, 0), side, 1)
    cls = rng.integers(0, 2, n)
    grid: Grid = utm_grid(0.1, 52.0, emb.shape[0], emb.shape[1])
    region = LabelledRegion(grid, emb, cls[groups], {0: "a", 1: "b"}, groups=groups.astype(np.int64))
    evaluation = held_out(region, "knn")
    assert evaluation.accuracy is not None and evaluation.accuracy < 0.75
    assert sum(map(sum, evaluation.confusion)) == emb.shape[0] * emb.shape[1]


def test_change_between_years_and_heads_loaded_from_the_project(explorer, explorable, saved_heads_in):
    """The change layer is larger on the fields that changed crop; a head file put in the project
    folder shows, one of another model or outside the folder is refused."""
    from tessera.access.extent import written_grid

    live = explorer()
    ws = live.ws
    assert "unknown" not in _error(live.api("change", {"from": 2023, "to": 2023}))
    assert "no year 2019" in _error(live.api("change", {"from": 2019, "to": 2024}))
    assert live.api("change", {"from": 2023, "to": 2024})[0] == 200
    dist = ws._raster("change")
    grid = written_grid(ws.reader, 2024)
    assert grid == ws.area.grid and dist.shape == explorable.changed.shape
    from sklearn.metrics import roc_auc_score

    ok = ~np.isnan(dist)
    auc = roc_auc_score(explorable.changed[ok], dist[ok])
    assert auc > 0.75, f"changed pixels rank above unchanged ones with AUC {auc:.2f} only"
    ours, other = saved_heads_in(ws.project.folder)
    assert "someone-else/v9" in _error(live.api("head", {"name": other.name}))
    assert "not a file name" in _error(live.api("head", {"name": "../settings.json"}))
    assert "no saved head" in _error(live.api("head", {"name": "absent.skops"}))
    status, body, _ = live.api("head", {"name": ours.name})
    assert status == 200 and json_of(body)["result"]["legend"] == {"0": "a", "1": "b", "2": "c"}
    assert "classes" in ws.layers and ws.project.settings["head_file"] == ours.name


def test_a_port_in_use_is_one_line():
    from tessera.errors import ExploreError
    from tessera.explore.server import bind

    taken = bind("127.0.0.1", 0)
    try:
        with pytest.raises(ExploreError, match=r"cannot listen on 127\.0\.0\.1:\d+ .*another --port"):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()
