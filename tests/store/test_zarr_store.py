"""The store on disk: groups, blocks, manifest, provenance, concurrent writers of one shard."""

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
    Zone,
    block_checksum,
    open_for_write,
)
from tessera.store import manifest as mf

ZONE = Zone(30, True)
LAYOUT = StoreLayout(shard=16, chunk=8)


def prov(sha="a" * 64, seed=0):
    return Provenance({"preset": "tiny", "checkpoint_sha256": sha, "config": {}},
                      {"seed": seed, "timesteps": 40, "draws": 1}, "test", "test")  # fmt: skip


def block(window, seed):
    x = np.random.default_rng(seed).standard_normal((window.height, window.width, 8)).astype(np.float32)
    x[0, 0] = np.nan  # one no-data pixel per block
    return x, *quantize(x)


def test_block_round_trip_and_manifest(tmp_path):
    store, pinned = open_for_write(tmp_path / "s", LAYOUT)
    assert pinned is None
    group = store.ensure_group(2024, ZONE, 8, prov())
    win = Window(100_016, 50_000, 10, 12)
    x, q, s = block(win, 0)
    rec = group.write_block((6251, 3125), win, q, s, "cube-a")
    back_q, back_s = group.read(win)
    assert np.array_equal(back_q, q) and np.array_equal(back_s, s, equal_nan=True)
    finite = np.isfinite(x)
    assert np.all(np.abs(dequantize(back_q, back_s)[finite] - x[finite]) <= np.repeat(s[..., None], 8, -1)[finite] / 2 + 1e-7)
    assert rec.nodata == 1 and rec.pixels == 119 and rec.sha256 == block_checksum(q, s)
    m = group.manifest((6251, 3125))
    assert m.find(win) == rec and set(m.files) == {"embeddings/c/6251/3125/0", "scales/c/6251/3125"}
    for key, meta in m.files.items():
        assert mf.file_checksum(group.path / key) == meta
    # Outside written blocks the store reads as no data.
    _, empty = group.read(Window(0, 0, 4, 4))
    assert np.isnan(empty).all()
    assert store.groups() == [(2024, ZONE)]
    assert group.grid.crs == "EPSG:32630" and group.attrs["sampling"]["seed"] == 0


def test_a_group_refuses_blocks_of_other_provenance(tmp_path):
    store, _ = open_for_write(tmp_path / "s", LAYOUT)
    store.ensure_group(2024, ZONE, 8, prov())
    with pytest.raises(StoreError, match="provenance"):
        store.ensure_group(2024, ZONE, 8, prov(sha="b" * 64))
    with pytest.raises(StoreError, match="provenance"):
        store.ensure_group(2024, ZONE, 8, prov(seed=1))
    with pytest.raises(StoreError, match="8-d"):
        store.ensure_group(2024, ZONE, 16, prov())
    store.ensure_group(2025, ZONE, 8, prov(sha="b" * 64))  # another year is another group


def test_store_paths_that_are_not_stores_are_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        open_for_write(tmp_path / "file")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        open_for_write(tmp_path / "other")
    store, _ = open_for_write(tmp_path / "s", LAYOUT)
    store.ensure_group(2024, ZONE, 8, prov())
    again, pinned = open_for_write(tmp_path / "s" / "2024" / "utm30N")
    assert again.root == store.root and pinned == (2024, ZONE)
    assert open_for_write(tmp_path / "s", StoreLayout(shard=64))[0].layout == LAYOUT  # keeps its own


def test_manifest_keys_escaping_the_store_are_refused():
    doc = {"shard": [0, 0], "blocks": [], "files": {"../../etc/passwd": {"sha256": "0", "size": 1}}}
    with pytest.raises(ManifestError, match="not inside"):
        mf.parse(json.dumps(doc), "m.json")
    doc["files"] = {"/abs/path": {"sha256": "0", "size": 1}}
    with pytest.raises(ManifestError):
        mf.parse(json.dumps(doc), "m.json")
    with pytest.raises(ManifestError, match="unreadable"):
        mf.parse("{not json", "m.json")


def _write_many(root, col0, seed, n):
    from tessera.store import EmbeddingStore

    group = EmbeddingStore(root).group(2024, ZONE)
    for i in range(n):
        win = Window(8 * (i % 2), col0, 8, 8)
        group.write_block((0, 0), win, *block(win, seed + i)[1:], f"writer-{col0}")


def test_two_processes_writing_one_shard_keep_each_others_pixels(tmp_path):
    """Neighbouring cubes share edge shards; without the shard lock one writer's
    read-modify-write of the shard file would drop the other's pixels."""
    store, _ = open_for_write(tmp_path / "s", LAYOUT)
    group = store.ensure_group(2024, ZONE, 8, prov())
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(store.root, col0, 10 * col0, 20)) for col0 in (0, 8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    m = group.manifest((0, 0))
    assert len(m.blocks) == 4
    for rec in m.blocks:
        assert block_checksum(*group.read(rec.zone_window)) == rec.sha256
    for key, meta in m.files.items():
        assert mf.file_checksum(group.path / key) == meta
