"""Damage is named, never read as numbers: one flipped byte (data or index), a truncated shard, a
deleted embeddings or scales shard — through points, regions, the CLI and ``tessera verify``."""

import json
import shutil

import numpy as np
import pytest

from tessera.access import open_store
from tessera.access.xarray_view import dequantized, region_dataset
from tessera.errors import StoreDamageError
from tessera.store.shard_codec import ArraySpec
from tessera.store.verify import verify_store
from tests.access.coord_store import Z31, zone_pixels
from tests.tessera_cli import run_tessera

POINT = (0.005, 52.005)


def _victim(root, array="embeddings"):
    r, c = zone_pixels(Z31, np.array([POINT[0]]), np.array([POINT[1]]))
    r, c = int(r[0]), int(c[0])
    key = (
        f"utm31/{array}/c/0/0/{r // 64}/{c // 64}"
        if array == "embeddings"
        else f"utm31/{array}/c/0/{r // 64}/{c // 64}"
    )
    spec = ArraySpec.from_metadata(f"utm31/{array}", json.loads((root / f"utm31/{array}/zarr.json").read_text()))
    data = (root / key).read_bytes()
    index = spec.decode_index(data[-spec.index_nbytes :], key, len(data))
    offset, nbytes = index[(r % 64 // 32) * 2 + (c % 64 // 32)]
    return key, int(offset) + int(nbytes) // 2


def _flip(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x10
    path.write_bytes(bytes(data))


DAMAGE = {
    "data byte": lambda root: (lambda k, at: (_flip(root / k, at), k)[1])(*_victim(root)),
    "index byte": lambda root: (lambda k, _: (_flip(root / k, -7), k)[1])(*_victim(root)),
    "scales byte": lambda root: (lambda k, at: (_flip(root / k, at), k)[1])(*_victim(root, "scales")),
    "truncated": lambda root: (lambda k, _: ((root / k).write_bytes((root / k).read_bytes()[:-100]), k)[1])(
        *_victim(root)
    ),
    "embeddings deleted": lambda root: (lambda k, _: ((root / k).unlink(), k)[1])(*_victim(root)),
    "scales deleted": lambda root: (lambda k, _: ((root / k).unlink(), k)[1])(*_victim(root, "scales")),
    # Both halves of the pair gone: it looks like an unwritten block, but the fill records say not.
    "both deleted": lambda root: (
        (root / _victim(root)[0]).unlink(),
        (lambda k, _: ((root / k).unlink(), k)[1])(*_victim(root, "scales")),
    )[1],
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_every_read_path_names_the_damaged_shard(store_path, tmp_path, kind):
    root = tmp_path / "store"
    shutil.copytree(store_path, root)
    shutil.copytree(store_path.with_name("store.build"), tmp_path / "store.build")
    key = DAMAGE[kind](root)
    store = open_store(root)
    bbox = (POINT[0] - 0.001, POINT[1] - 0.001, POINT[0] + 0.001, POINT[1] + 0.001)
    with pytest.raises(StoreDamageError) as err:
        store.sample_points([POINT], 2024)
    assert key.rsplit("/c/", 1)[0] in str(err.value)
    with pytest.raises(StoreDamageError):
        store.read_region(bbox, 2024)
    with pytest.raises(StoreDamageError, match="utm31/"):
        dequantized(region_dataset(store, bbox)).compute()
    (tmp_path / "p.csv").write_text(f"lon,lat\n{POINT[0]},{POINT[1]}\n")
    for args in (
        ["sample", root, tmp_path / "p.csv", "--year", "2024", "-o", tmp_path / "o.csv"],
        ["export", root, tmp_path / "o.tif", "--bbox", ",".join(map(str, bbox)), "--year", "2024"],
    ):
        r = run_tessera(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "utm31/" in r.stderr, r.stderr
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "o.tif").exists()
    report = verify_store(root)
    assert not report.ok and any(key in p or key.split("/c/")[1][2:] in p for p in report.problems), report.problems


def test_verify_passes_a_sound_store(store_path):
    report = verify_store(store_path)
    assert report.ok and report.shards > 0 and report.chunks > report.shards


def _edit_consolidated(root, key, edit):
    doc = json.loads((root / "zarr.json").read_text())
    edit(doc["consolidated_metadata"]["metadata"][key])
    (root / "zarr.json").write_text(json.dumps(doc))


def _shift_transform(meta):
    meta["attributes"]["spatial:transform"][2] += 5.0  # 5 m east: other pixels, read as these


def _flip_endian(meta):
    """The values' byte order where they have one (float32 scales), else the shard index's."""
    sharding = meta["codecs"][0]["configuration"]
    codec = sharding["codecs"][0] if "configuration" in sharding["codecs"][0] else sharding["index_codecs"][0]
    codec["configuration"]["endian"] = "big"


@pytest.mark.parametrize(
    ("key", "edit"), [("utm31", _shift_transform), ("utm31/scales", _flip_endian)], ids=["transform", "endian"]
)
def test_edited_zone_metadata_is_damage_to_readers_and_to_verify(store_path, tmp_path, key, edit):
    root = tmp_path / "store"
    shutil.copytree(store_path, root)
    shutil.copytree(store_path.with_name("store.build"), tmp_path / "store.build")
    _edit_consolidated(root, key, edit)
    with pytest.raises(StoreDamageError, match=r"metadata of zone utm31 .* differs from what its writer recorded"):
        open_store(root)
    r = run_tessera("info", root, in_process=True)
    assert r.returncode == 2 and "differs from what its writer recorded" in r.stderr, r.stderr
    problems = verify_store(root).problems
    assert any(p.startswith("utm31: its metadata in zarr.json differs") for p in problems), problems
    assert any(p.startswith(f"{key}/zarr.json differs from the store's consolidated") for p in problems), problems


def test_a_node_edited_behind_the_consolidated_metadata_and_a_truncated_one_are_named(store_path, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(store_path, root)
    shutil.copytree(store_path.with_name("store.build"), tmp_path / "store.build")
    node = root / "utm31/embeddings/zarr.json"
    meta = json.loads(node.read_text())
    _flip_endian(meta)
    node.write_text(json.dumps(meta))  # what zarr-python (not reading the consolidated copy) would use
    assert verify_store(root).problems == ["utm31/embeddings/zarr.json differs from the store's consolidated metadata"]
    (root / "utm31/time/zarr.json").write_text((root / "utm31/time/zarr.json").read_text()[:40])
    r = run_tessera("verify", root, in_process=True)
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr
    assert "utm31/time/zarr.json is unreadable" in r.stdout, r.stdout


def test_a_reader_open_while_a_shard_is_rewritten_reads_the_new_bytes_not_damage(store_path, tmp_path):
    """A neighbouring cube embedded into the store replaces shard files under a long-lived reader
    (the explorer, a server): its cached shard indexes no longer fit, which is no damage."""
    from tessera.store import StoreWriter
    from tessera.store import manifest as mf
    from tests.access.coord_store import BBOX

    root = tmp_path / "store"
    shutil.copytree(store_path, root)
    shutil.copytree(store_path.with_name("store.build"), tmp_path / "store.build")
    reader = open_store(root)
    reader.read_region(BBOX, 2024)  # every shard index there now cached
    group = StoreWriter(root).writer(2024, Z31)
    for shard, m in mf.read_all(group.fills).items():
        block = m.blocks[0]
        q, scales = group.read(block.zone_window)
        group.write_block(shard, block.zone_window, np.ascontiguousarray(q[::-1, ::-1]), scales[::-1, ::-1], "other")
    again = reader.read_region(BBOX, 2024)
    np.testing.assert_array_equal(again.data, open_store(root).read_region(BBOX, 2024).data)
