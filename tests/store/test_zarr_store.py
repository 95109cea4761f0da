"""Writing the store: blocks round-trip, fill records vouch for the bytes, years append without
touching other years' shards, and concurrent writers of one shard keep each other's pixels."""

import json
import multiprocessing as mp

import numpy as np
import pytest

from tessera.errors import OutputExistsError
from tessera.grid import Window
from tessera.quantize import dequantize, quantize
from tessera.store import (
    ManifestError,
    Provenance,
    StoreError,
    StoreLayout,
    StoreWriter,
    Zone,
    block_checksum,
    build_dir,
    open_for_write,
)
from tessera.store import manifest as mf

LAYOUT = StoreLayout(shard=64)
ZONE = Zone(30)
D = 8


def prov(sha="a" * 64, seed=0):
    return Provenance(
        {"preset": "tiny", "checkpoint_sha256": sha, "config": {}}, {"seed": seed, "timesteps": 40, "draws": 1}, "test"
    )


def block(window, seed):
    x = np.random.default_rng(seed).standard_normal((window.height, window.width, D)).astype(np.float32)
    x[0, 0] = np.nan  # one no-data pixel per block
    return x, *quantize(x)


def test_block_round_trip_fill_record_and_convention_metadata(tmp_path):
    store = open_for_write(tmp_path / "s", prov(), D, LAYOUT)
    w = store.ensure(2024, ZONE, prov(), D)
    win = Window(100_016, 50_000, 10, 12)
    x, q, s = block(win, 0)
    shard = (100_016 // 64, 50_000 // 64)
    rec = w.write_block(shard, win, q, s, "cube-a")
    back_q, back_s = w.read(win)
    assert np.array_equal(back_q, q) and np.isinf(back_s[0, 0]) and np.array_equal(back_s.ravel()[1:], s.ravel()[1:])
    finite = np.isfinite(x)
    err = np.abs(dequantize(back_q, np.where(np.isfinite(back_s), back_s, np.nan))[finite] - x[finite])
    assert np.all(err <= np.repeat(s[..., None], D, -1)[finite] / 2 + 1e-7)
    assert rec.nodata == 1 and rec.pixels == 119 and rec.sha256 == block_checksum(back_q, back_s)
    m = w.manifest(shard)
    assert m.find(win) == rec and set(m.files) == {
        f"utm30/embeddings/c/0/0/{shard[0]}/{shard[1]}",
        f"utm30/scales/c/0/{shard[0]}/{shard[1]}",
    }
    for key, meta in m.files.items():
        assert mf.file_checksum(store.root / key) == meta
    # Nothing but Zarr inside the store; the records and locks live beside it.
    assert not list(store.root.rglob("*.json*")) or all(p.name == "zarr.json" for p in store.root.rglob("*.json"))
    assert (build_dir(store.root) / "fills" / "utm30" / "2024").is_dir()
    root = json.loads((store.root / "zarr.json").read_text())
    assert root["attributes"]["geoemb:type"] == "pixel" and root["attributes"]["geoemb:dimensions"] == D
    assert "utm30/embeddings" in root["consolidated_metadata"]["metadata"]
    emb = json.loads((store.root / "utm30/embeddings/zarr.json").read_text())
    assert emb["dimension_names"] == ["time", "band", "y", "x"] and emb["data_type"] == "int8"
    inner = emb["codecs"][0]["configuration"]
    assert inner["chunk_shape"] == [1, D, 32, 32] and [c["name"] for c in inner["codecs"]] == [
        "bytes",
        "blosc",
        "crc32c",
    ]
    zattrs = json.loads((store.root / "utm30/zarr.json").read_text())["attributes"]
    assert zattrs["proj:code"] == "EPSG:32630" and zattrs["spatial:transform"][0] == 10.0


def test_a_new_year_appends_without_rewriting_other_years(tmp_path):
    store = open_for_write(tmp_path / "s", prov(), D, LAYOUT)
    w = store.ensure(2024, ZONE, prov(), D)
    win = Window(640, 640, 20, 20)
    w.write_block((10, 10), win, *block(win, 1)[1:], "a")
    shard_file = store.root / "utm30/embeddings/c/0/0/10/10"
    before = (shard_file.read_bytes(), shard_file.stat().st_mtime_ns)
    w2 = store.ensure(2023, Zone(31), prov(), D)
    assert w2.t == 1 and StoreWriter(store.root).years() == [2024, 2023]
    assert (shard_file.read_bytes(), shard_file.stat().st_mtime_ns) == before
    assert store.ensure(2024, ZONE, prov(), D).read(win)[0].any()
    time31 = json.loads((store.root / "zarr.json").read_text())["consolidated_metadata"]["metadata"]["utm31/embeddings"]
    assert time31["shape"][0] == 2


def test_a_store_refuses_blocks_of_other_provenance(tmp_path):
    store = open_for_write(tmp_path / "s", prov(), D, LAYOUT)
    store.ensure(2024, ZONE, prov(), D)
    with pytest.raises(StoreError, match="provenance"):
        store.ensure(2024, ZONE, prov(sha="b" * 64), D)
    with pytest.raises(StoreError, match="provenance"):
        store.ensure(2024, ZONE, prov(seed=1), D)
    with pytest.raises(StoreError, match="8-d"):
        store.ensure(2024, ZONE, prov(), 16)


def test_store_paths_that_are_not_stores_are_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        open_for_write(tmp_path / "file", prov(), D)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        open_for_write(tmp_path / "other", prov(), D)
    open_for_write(tmp_path / "s", prov(), D, LAYOUT)
    assert open_for_write(tmp_path / "s", prov(), D, StoreLayout(shard=256)).layout == LAYOUT  # keeps its own


def test_fill_record_keys_escaping_the_store_are_refused():
    doc = {"shard": [0, 0], "blocks": [], "files": {"../../etc/passwd": {"sha256": "0", "size": 1}}}
    with pytest.raises(ManifestError, match="not inside"):
        mf.parse(json.dumps(doc), "m.json")
    doc["files"] = {"/abs/path": {"sha256": "0", "size": 1}}
    with pytest.raises(ManifestError):
        mf.parse(json.dumps(doc), "m.json")
    with pytest.raises(ManifestError, match="unreadable"):
        mf.parse("{not json", "m.json")


def _write_many(root, col0, seed, n):
    w = StoreWriter(root).writer(2024, ZONE)
    for i in range(n):
        win = Window(8 * (i % 2), col0, 8, 8)
        w.write_block((0, 0), win, *block(win, seed + i)[1:], f"writer-{col0}")


def test_two_processes_writing_one_shard_keep_each_others_pixels(tmp_path):
    """Neighbouring cubes share edge shards; without the shard lock one writer's
    read-modify-write of the shard file would drop the other's pixels."""
    store = open_for_write(tmp_path / "s", prov(), D, LAYOUT)
    w = store.ensure(2024, ZONE, prov(), D)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(store.root, col0, 10 * col0, 12)) for col0 in (0, 8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    m = w.manifest((0, 0))
    assert len(m.blocks) == 4
    for rec in m.blocks:
        assert block_checksum(*w.read(rec.zone_window)) == rec.sha256
    for key, meta in m.files.items():
        assert mf.file_checksum(store.root / key) == meta
