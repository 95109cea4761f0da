"""``tessera embed`` into an S3-compatible object store (moto's server on 127.0.0.1): the objects
equal a local run's files byte for byte, and both readers — ours and the official client — read
them back equal."""

import dataclasses
import os

import numpy as np
import pytest
import torch

from tessera.access import open_store
from tessera.cube import write_cube
from tessera.embed import EmbedConfig, embed_cube
from tessera.model import Tessera, preset, save
from tessera.simulate import SimulationConfig, simulate
from tessera.store import StoreError, StoreLayout
from tests.interop.test_geotessera_interop import run_official
from tests.tessera_cli import run_tessera

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("s3fs")

CFG = EmbedConfig(layout=StoreLayout(shard=32))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("s3")
    torch.manual_seed(0)
    cube = write_cube(root / "cube.zarr", simulate(SimulationConfig(height=40, width=36, seed=5, field_px=12)).cube)
    return root, cube, save(Tessera(preset("tiny")), root / "tiny.safetensors")


def _objects(prefix: str) -> dict[str, bytes]:
    client = boto3.client("s3")
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket="emb", Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            out[obj["Key"][len(prefix) + 1 :]] = client.get_object(Bucket="emb", Key=obj["Key"])["Body"].read()
    return out


def test_embed_into_s3_equals_a_local_run_and_both_readers_read_it(s3, setup, official_python, tmp_path):
    _, cube, ckpt = setup
    local = tmp_path / "local.zarr"
    embed_cube(cube, ckpt, local, CFG)
    summary = embed_cube(cube, ckpt, "s3://emb/store.zarr", CFG)
    assert summary.computed == summary.blocks >= 4
    files = {p.relative_to(local).as_posix(): p.read_bytes() for p in local.rglob("*") if p.is_file()}
    assert _objects("store.zarr") == files  # every shard and metadata object, byte for byte
    assert any(k.startswith("fills/utm") for k in _objects("store.zarr.build"))
    rerun = run_tessera(
        "embed", cube, "-c", ckpt, "-s", "s3://emb/store.zarr", "--shard", "32", env={**os.environ, **s3}
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "(0 computed" in rerun.stdout, rerun.stdout
    assert _objects("store.zarr") == files  # the rerun through the CLI recomputed and rewrote nothing

    ours, remote = open_store(local), open_store("s3://emb/store.zarr")
    year = ours.years[0]
    zone = ours.zones()[0]
    grid = ours.zone(zone).grid
    rng = np.random.default_rng(0)
    region = ours.read_region(_bbox(ours), year)
    assert np.array_equal(remote.read_region(_bbox(ours), year).data, region.data, equal_nan=True)
    points = _points(ours, rng)
    assert np.array_equal(
        remote.sample_points(points, year).values, ours.sample_points(points, year).values, equal_nan=True
    )
    got = run_official(
        official_python,
        "s3://emb/store.zarr",
        {"years": [year], "points": points, "bboxes": [], "patches": [], "zone_boxes": {}},
        tmp_path,
    )
    assert np.array_equal(got[f"points_{year}"], ours.sample_points(points, year).values, equal_nan=True)
    assert np.isfinite(got[f"points_{year}"]).any() and grid is not None


def _bbox(store):
    ((w, s, e, n),) = [f["bounds"] for f in store.footprints()[:1]]
    return (w, s, e, n)


def _points(store, rng) -> list[list[float]]:
    boxes = [f["bounds"] for f in store.footprints()]
    w, s = min(b[0] for b in boxes), min(b[1] for b in boxes)
    e, n = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return [[float(x), float(y)] for x, y in zip(rng.uniform(w, e, 30), rng.uniform(s, n, 30), strict=True)]


def test_an_unreachable_bucket_is_one_line(s3, setup):
    _, cube, ckpt = setup
    with pytest.raises(Exception) as err:
        embed_cube(cube, ckpt, "s3://no-such-bucket/store.zarr", dataclasses.replace(CFG))
    assert isinstance(err.value, StoreError) and "no-such-bucket" in str(err.value) and "\n" not in str(err.value)
