"""The published global TESSERA v1.1 store, in both its forms, read by tessera exactly as the
official client reads it: the same vectors bit for bit, and statuses that tell apart what the
client's do not (unembedded, year not complete)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from tessera.access import open_store
from tessera.access.base import INCOMPLETE, OUTSIDE, UNEMBEDDED, VALID
from tessera.errors import AccessError, StoreError
from tests.global_store.conftest import HERE, run_script
from tests.interop.test_geotessera_interop import run_official
from tests.tessera_cli import one_line_error, run_tessera

ICECHUNK, COPY = "dclimate.icechunk", "v1.1-dclimate"


def sample_request(truth, rng) -> tuple[list, list]:
    """Points in every block (some unembedded pixels among them) and each point's block."""
    points, where = [], []
    for i, b in enumerate(truth.blocks):
        rows, cols = rng.integers(0, b["h"], 40), rng.integers(0, b["w"], 40)
        points += truth.lonlat(i, rows, cols).tolist()
        where += [(i, r, c) for r, c in zip(rows, cols, strict=True)]
    return points, where


def test_the_replica_is_what_the_documents_describe(replica):
    """Shapes, chunks, shards and codecs as published, written by Icechunk 2 (geotessera's reader
    needs it) and zarr (the copy)."""
    import zarr

    root = zarr.open_group(str(replica / COPY), mode="r")
    emb, scales = root["utm31"]["embeddings"], root["utm31"]["scales"]
    assert emb.dtype == np.int8 and emb.chunks == (1, 128, 256, 256) and emb.shards == (1, 128, 2048, 2048)
    assert scales.metadata.codecs[0].codecs[0].to_dict()["name"] == "numcodecs.pcodec"
    assert emb.shape[2] == 933_888 + 889_408 and root.attrs["optical_min_obs"] == 15
    assert root["utm31"].attrs["years_complete"] == list(range(2018, 2026))
    assert (replica / ICECHUNK / "repo").exists()


def test_the_official_client_and_tessera_read_the_same_vectors(replica, truth, official_python, reader312, tmp_path):
    rng = np.random.default_rng(3)
    points, where = sample_request(truth, rng)
    points += [[3.3, 40.0], [20.0, 10.0]]  # in zone 31 where nothing was written; a zone not held
    years = [2017, 2024]
    for form in (ICECHUNK, COPY):
        theirs = run_official(
            official_python,
            replica / form,
            {"years": years, "points": points, "bboxes": [], "patches": [], "zone_boxes": {}},
            tmp_path,
        )
        (tmp_path / "ours.json").write_text(json.dumps({"years": [2024], "points": points}))
        run_script(
            reader312, HERE / "our_client.py", str(replica / form), str(tmp_path / "ours.json"), str(tmp_path / "o.npz")
        )
        ours = dict(np.load(tmp_path / "o.npz"))
        assert list(ours["years"]) == list(theirs["years"]) == list(range(2017, 2026))
        a, b = ours["points_2024"], theirs["points_2024"]
        differ = np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1))
        # One difference, by design: where a point's own zone has no vector within 0.1° of a seam,
        # the official client takes the neighbouring zone's; the store's documents say a point
        # belongs to its nominal zone (neighbours duplicate ground there), so tessera says unembedded.
        assert all(ours["status_2024"][k] == UNEMBEDDED and abs(points[k][0] - 6.0) < 0.1 for k in differ), form
        same = np.setdiff1d(np.arange(len(points)), differ)
        assert len(same) > 200 and np.array_equal(a[same], b[same], equal_nan=True), form
        expected = np.stack([truth.vectors(i, np.array([r]), np.array([c]))[0] for i, r, c in where])
        in_2024 = [k for k, (i, _, _) in enumerate(where) if truth.blocks[i]["year"] == 2024]
        seam = [k for k in in_2024 if truth.blocks[where[k][0]]["group"] in ("31N", "32N") and points[k][0] > 5.9]
        # Every block holds the truth except where ground is duplicated across the 31/32 seam: there
        # both readers take the point's nominal zone, as the documents require.
        nominal = [k for k in in_2024 if k not in seam or (points[k][0] < 6.0) == (where[k][0] == 2)]
        assert np.array_equal(ours["points_2024"][nominal], expected[nominal], equal_nan=True)
        status = ours["status_2024"]
        assert set(status[in_2024]) == {VALID, UNEMBEDDED} and list(status[-2:]) == [UNEMBEDDED, OUTSIDE]
        assert np.isnan(expected[[k for k in nominal if status[k] == UNEMBEDDED]]).all()


def test_the_copy_reads_in_process_on_every_python(replica, truth):
    """The plain copy needs neither Icechunk nor Python 3.12: pcodec decodes its scales."""
    store = open_store(replica / COPY)
    rows, cols = np.arange(0, 77, 7), np.arange(0, 99, 9)
    got = store.sample_points(truth.lonlat(0, rows, cols), 2024)
    assert np.array_equal(got.values, truth.vectors(0, rows, cols), equal_nan=True)
    assert store.nan_status == UNEMBEDDED


def test_a_region_across_the_equator_joins_the_hemispheres(replica, truth, reader312, tmp_path):
    """North rows from 31N and south rows from 31S (whose chunks are 64 px out of phase), one grid
    on EPSG:32631 with southern northings negative; the copy gives the same pixels."""
    north, south = truth.lonlat(0, np.array([0]), np.array([0]))[0], truth.lonlat(1, np.array([87]), np.array([95]))[0]
    bbox = [float(north[0]), float(south[1]), float(south[0]), float(north[1])]
    (tmp_path / "req.json").write_text(json.dumps({"years": [], "points": [], "regions": [[bbox, 2024]]}))
    results = {}
    for form in (ICECHUNK, COPY):
        run_script(
            reader312, HERE / "our_client.py", str(replica / form), str(tmp_path / "req.json"), str(tmp_path / "o.npz")
        )
        results[form] = dict(np.load(tmp_path / "o.npz"))
    a, b = results[ICECHUNK], results[COPY]
    assert np.array_equal(a["region_0"], b["region_0"], equal_nan=True)
    assert np.array_equal(a["region_t_0"], b["region_t_0"])
    data, t = a["region_0"], a["region_t_0"]
    assert t[5] > 0 > t[5] - 10 * data.shape[0]  # spans the equator
    top = round(t[5] / 10)  # rows above the equator in the region
    north_rows, south_rows = data[:top], data[top:]
    assert np.isfinite(north_rows).any() and np.isfinite(south_rows).any()
    # The region's first row is block 0's first row, its last block 1's last.
    assert np.array_equal(data[0, 0], truth.vectors(0, np.array([0]), np.array([0]))[0], equal_nan=True)
    assert np.array_equal(data[-1, -1], truth.vectors(1, np.array([87]), np.array([95]))[0], equal_nan=True)


def test_a_year_outside_years_complete_is_a_gap_not_fill(replica, truth, reader312, tmp_path):
    """31S/2017 was never filled: asked for alone it is refused, naming the complete years; beside a
    complete zone-year its points say ``incomplete``, never ``unembedded``."""
    south = truth.lonlat(1, np.arange(5), np.arange(5)).tolist()
    north = truth.lonlat(4, np.arange(5), np.arange(5)).tolist()
    script = (
        "import sys, json; from tessera.access import open_store; s = open_store(sys.argv[1]); "
        "print(json.dumps(list(s.sample_points(json.loads(sys.argv[2]), 2017).status)))"
    )
    r = run_script(reader312, "-c", script, str(replica / ICECHUNK), json.dumps(north + south))
    assert json.loads(r.stdout) == [VALID] * 5 + [INCOMPLETE] * 5  # 31N/2017 is complete, 31S/2017 not
    alone = subprocess.run(
        [reader312, "-c", script, str(replica / ICECHUNK), json.dumps(south)], capture_output=True, text=True
    )
    assert alone.returncode != 0 and "2017 is not complete in 31S" in alone.stderr
    # The copy has one utm31 group for both hemispheres, whose years_complete lacks 2017.
    store = open_store(replica / COPY)
    with pytest.raises(AccessError, match=r"2017 is not complete in utm31.*complete years there: 2018"):
        store.sample_points(south, 2017)
    with pytest.raises(AccessError, match=r"2017 is not complete"):
        store.read_region((3.0118, -0.0008, 3.0125, -0.0001), 2017)


def test_without_consolidated_metadata_the_copy_is_listed(replica, truth, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(replica / COPY, copy)
    doc = json.loads((copy / "zarr.json").read_text())
    doc.pop("consolidated_metadata", None)
    (copy / "zarr.json").write_text(json.dumps(doc))
    rows = cols = np.arange(0, 60, 6)
    got = open_store(copy).sample_points(truth.lonlat(2, rows, cols), 2024)
    assert np.array_equal(got.values, truth.vectors(2, rows, cols), equal_nan=True)


def test_icechunk_2_on_python_3_11_says_what_to_install(replica):
    icechunk = pytest.importorskip("icechunk")
    if int(icechunk.__version__.split(".")[0]) >= 2:
        pytest.skip("this interpreter's icechunk reads Icechunk 2")
    with pytest.raises(StoreError, match=r"Icechunk 2 repository.*icechunk>=2.2.*Python >= 3.12") as err:
        open_store(replica / ICECHUNK)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("form", [COPY, ICECHUNK])
def test_quality_layers_at_points_and_over_regions(replica, truth, reader312, tmp_path, form):
    """Observation counts and month coverage beside the vectors, at points and on a region's grid
    (across the equator: each row from its own hemisphere's group)."""
    script = HERE / "quality_client.py"
    r = run_script(reader312, script, str(replica / form), str(tmp_path / "q.npz"))
    got = dict(np.load(tmp_path / "q.npz"))
    rows, cols = np.arange(0, 77, 7), np.arange(0, 99, 9)
    for i in (0, 1):
        for name in ("s2_obs_count", "s1_asc_obs_count", "s1_desc_obs_count", "s2_month_covered"):
            assert np.array_equal(got[f"points_{i}_{name}"], truth.layer(i, name, rows, cols).astype(np.float32))
    region = got["region_s2_month_covered"]
    assert region.shape == (168, 96, 12) and got["region_s2_obs_count"].shape == (168, 96)
    assert np.array_equal(region[0, 0], truth.layer(0, "s2_month_covered", np.array([0]), np.array([0]))[0])
    assert np.array_equal(region[-1, -1], truth.layer(1, "s2_month_covered", np.array([87]), np.array([95]))[0])
    assert "radar-free" in r.stdout


def test_a_mosaic_across_the_zone_seam_takes_each_pixel_from_its_nominal_zone(replica, truth):
    """Zones 31 and 32 both hold (different) vectors either side of 6°E; a region read takes each
    pixel from the zone its longitude belongs to, exactly as a point read does."""
    store = open_store(replica / COPY)
    region = store.read_region((5.96, 0.4845, 6.04, 0.4885), 2024)
    assert region.grid.crs == "EPSG:32632"
    rng = np.random.default_rng(5)
    rows, cols = rng.integers(0, region.grid.height, 300), rng.integers(0, region.grid.width, 300)
    from pyproj import Transformer

    x, y = region.grid.transform * (cols + 0.5, rows + 0.5)
    lon, lat = Transformer.from_crs(region.grid.crs, 4326, always_xy=True).transform(x, y)
    points = store.sample_points(np.column_stack([lon, lat]), 2024)
    assert (lon < 6).sum() > 50 and (lon > 6).sum() > 50
    assert np.array_equal(region.data[rows, cols], points.values, equal_nan=True)


def _upload(folder, prefix: str) -> None:
    import boto3

    client = boto3.client("s3")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        client.put_object(Bucket="emb", Key=f"{prefix}/{path.relative_to(folder).as_posix()}", Body=path.read_bytes())


def test_over_s3_and_http_the_same_vectors(replica, truth, reader312, s3, tmp_path):
    """Both forms from an S3-compatible store (moto's server: the Icechunk repository through
    Icechunk's own S3 client, also through the cache; the copy through s3fs, listed where it has no
    consolidated metadata), and the copy served over HTTP by ``tessera serve``: every read equals
    the local one."""
    import threading

    from tessera.access.serve import make_server

    unlisted = tmp_path / "unlisted"
    shutil.copytree(replica / COPY, unlisted)
    doc = json.loads((unlisted / "zarr.json").read_text())
    doc.pop("consolidated_metadata", None)
    (unlisted / "zarr.json").write_text(json.dumps(doc))
    for folder, prefix in ((replica / ICECHUNK, ICECHUNK), (replica / COPY, COPY), (unlisted, "unlisted")):
        _upload(folder, prefix)
    points, _ = sample_request(truth, np.random.default_rng(8))
    remote = [f"s3://emb/{ICECHUNK}", f"s3://emb/{COPY}", "s3://emb/unlisted", str(replica / COPY)]

    def read(stores: list[str]) -> dict:
        """The local repository's points, and each of ``stores``'s, read in one process."""
        request = {"years": [2024], "points": points, "stores": stores}
        (tmp_path / "req.json").write_text(json.dumps(request))
        run_script(
            reader312,
            HERE / "our_client.py",
            str(replica / ICECHUNK),
            str(tmp_path / "req.json"),
            str(tmp_path / "o.npz"),
        )
        return dict(np.load(tmp_path / "o.npz"))

    got = read(remote)
    local = got["points_2024"]
    assert np.isfinite(local).any()
    for i, location in enumerate(remote):
        assert np.array_equal(got[f"points_{i}_2024"], local, equal_nan=True), location
    # Through the cache, keyed by the repository's snapshot: filled once, then read from it.
    os.environ["TESSERA_CACHE"] = str(tmp_path / "cache")
    try:
        got = read([f"s3://emb/{ICECHUNK}", f"s3://emb/{ICECHUNK}"])
    finally:
        del os.environ["TESSERA_CACHE"]
    assert np.array_equal(got["points_0_2024"], local, equal_nan=True)
    assert np.array_equal(got["points_1_2024"], local, equal_nan=True)
    assert len(list((tmp_path / "cache").glob("*/*/*"))) > 10
    server = make_server(replica / COPY, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        served = open_store(f"http://127.0.0.1:{server.server_address[1]}").sample_points(points, 2024)
    finally:
        server.shutdown()
        server.server_close()
    assert np.array_equal(served.values, local, equal_nan=True)


def test_info_and_verify_say_what_the_store_is(replica, reader312):
    done = subprocess.run([reader312, "-m", "tessera", "info", str(replica / ICECHUNK)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "31N+31S │ 2017 │ no in 31S" in out and "31N+31S │ 2024 │ yes" in out
    assert "checkpoint tessera_v1_1_aws_encoder" in out and "NaN scale = unembedded" in out
    done = run_tessera("verify", str(replica / COPY), check=True, in_process=True)
    assert "no damage" in done.stdout  # quality layers need not pair with the embeddings
    done = run_tessera("verify", str(replica / ICECHUNK), in_process=True)
    one_line_error(done, "checked by Icechunk itself")


def test_the_xarray_view_has_the_quality_layers(replica, truth):
    from tessera.access.xarray_view import dequantized, region_dataset

    north, south = truth.lonlat(0, np.array([0]), np.array([0]))[0], truth.lonlat(1, np.array([87]), np.array([95]))[0]
    bbox = (float(north[0]), float(south[1]), float(south[0]), float(north[1]))
    ds = region_dataset(replica / COPY, bbox).sel(time=2024)
    region = open_store(replica / COPY).read_region(bbox, 2024, quality=True)
    assert np.array_equal(np.moveaxis(dequantized(ds).values, 0, -1), region.data, equal_nan=True)
    assert np.array_equal(ds.s2_obs_count.values, region.quality["s2_obs_count"])
    assert np.array_equal(np.moveaxis(ds.s1_asc_month_covered.values, 0, -1), region.quality["s1_asc_month_covered"])


@pytest.mark.parametrize("where", ["seam", "beyond a block"])
def test_statuses_over_a_grid_are_those_of_point_reads(replica, truth, where):
    """``grid_status`` (from the scales alone) says of every pixel what a point read there says:
    across the zone seam, and over a box reaching past the written blocks (unembedded, outside)."""
    from pyproj import Transformer

    from tessera.access.base import STATUSES
    from tessera.access.region import target_grid

    store = open_store(replica / COPY)
    if where == "seam":
        bbox = (5.96, 0.4845, 6.04, 0.4885)
    else:
        corners = truth.lonlat(0, np.array([0, 0, 60]), np.array([0, 60, 0]))
        (w, s), (e, n) = corners.min(axis=0) - 0.002, corners.max(axis=0) + 0.002
        bbox = (w, s, e, n)
    grid = target_grid(bbox)
    codes = store.grid_status(grid, 2024)
    rows, cols = np.mgrid[0 : grid.height, 0 : grid.width]
    t = grid.transform
    x, y = t.c + (cols.ravel() + 0.5) * t.a, t.f + (rows.ravel() + 0.5) * t.e
    lon, lat = Transformer.from_crs(grid.crs, 4326, always_xy=True).transform(x, y)
    points = store.sample_points(np.column_stack([lon, lat]), 2024)
    assert np.array([STATUSES[c] for c in codes.ravel()]).tolist() == points.status.tolist()
    assert len(set(points.status.tolist())) >= 2


def test_the_explorer_shows_the_stores_statuses_and_observation_counts(replica, truth, tmp_path):
    from tessera.explore.session import open_workspace

    corners = truth.lonlat(0, np.array([0, 0, 60]), np.array([0, 60, 0]))
    (w, s), (e, n) = corners.min(axis=0) - 0.001, corners.max(axis=0) + 0.001
    ws = open_workspace(str(replica / COPY), tmp_path / "project", 2024, (w, s, e, n))
    store_counts = open_store(replica / COPY).grid_quality(ws.area.grid, 2024)
    for name in ("s2_obs_count", "s1_asc_obs_count", "s1_desc_obs_count"):
        assert name in ws.layers and ws.layers[name].legend
        assert np.array_equal(ws._raster(name), store_counts[name], equal_nan=True)
    assert "s2_month_covered" not in ws.layers  # monthly flags are not one picture
    assert {e["label"] for e in ws.layers["coverage"].legend} >= {"valid", "unembedded"}
