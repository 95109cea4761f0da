"""Reading over HTTP from ``tessera serve``: same arrays, corruption detected, shared cache."""

import hashlib
import multiprocessing as mp
import shutil
import threading

import numpy as np
import pytest

from tessera.access import AccessError, open_store
from tessera.access.serve import make_server
from tests.access.coord_store import BBOX


@pytest.fixture()
def served(store_path, tmp_path):
    """Serve a private copy of the store (tests may damage it) on a free loopback port."""
    copy = tmp_path / "served"
    shutil.copytree(store_path, copy)
    server = make_server(copy, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield copy, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_http_reads_equal_local_reads(served, tmp_path):
    path, url = served
    local, remote = open_store(path), open_store(url, cache=tmp_path / "cache")
    assert remote.years == local.years and remote.zones(2024) == local.zones(2024)
    assert np.array_equal(remote.read_region(BBOX, 2024).data, local.read_region(BBOX, 2024).data, equal_nan=True)
    pts = np.column_stack([np.linspace(-0.01, 0.01, 50), np.linspace(52.0, 52.01, 50)])
    a, b = remote.sample_points(pts, 2024), local.sample_points(pts, 2024)
    assert np.array_equal(a.values, b.values, equal_nan=True) and list(a.status) == list(b.status)
    # Every cached data file is one the manifest vouches for.
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "/c/" in str(p)]
    assert cached
    for p in cached:
        rel = p.relative_to(tmp_path / "cache").as_posix()
        assert hashlib.sha256(p.read_bytes()).digest() == hashlib.sha256((path / rel).read_bytes()).digest()


def test_a_flipped_byte_in_a_served_block_is_detected(served, tmp_path):
    path, url = served
    shards = sorted((path / "2024" / "utm31N" / "embeddings" / "c").rglob("0"))
    victim = shards[len(shards) // 2]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    with pytest.raises(AccessError, match="does not match its manifest checksum"):
        open_store(url, cache=tmp_path / "cache").read_region(BBOX, 2024)
    assert not (tmp_path / "cache" / victim.relative_to(path)).exists(), "an unverified file entered the cache"


def _read(url, cache, out):
    out.put(np.nan_to_num(open_store(url, cache=cache).read_region(BBOX, 2024).data, nan=-999).sum())


def test_four_processes_share_one_cache_consistently(served, tmp_path):
    path, url = served
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_read, args=(url, tmp_path / "cache", out)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    sums = {out.get(timeout=5) for _ in procs}
    expected = np.nan_to_num(open_store(path).read_region(BBOX, 2024).data, nan=-999).sum()
    assert sums == {expected}
    assert not [p for p in (tmp_path / "cache").rglob(".*tmp-*")], "temporary files left in the cache"
    # And a fifth reader uses the cache as it stands.
    assert np.nan_to_num(open_store(url, cache=tmp_path / "cache").read_region(BBOX, 2024).data, nan=-999).sum() == expected


def test_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(AccessError, match="cannot fetch"):
        open_store("http://127.0.0.1:9/", cache=tmp_path / "c")


def test_any_fsspec_url_reads_like_the_local_store(store_path, tmp_path):
    """s3://, gs:// … go through fsspec; its in-memory filesystem stands in for object storage."""
    import fsspec

    fs = fsspec.filesystem("memory")
    for p in store_path.rglob("*"):
        if p.is_file() and ".locks" not in p.parts:
            fs.pipe_file(f"/bucket/store/{p.relative_to(store_path).as_posix()}", p.read_bytes())
    remote = open_store("memory://bucket/store", cache=tmp_path / "cache")
    local = open_store(store_path)
    assert np.array_equal(remote.read_region(BBOX, 2024).data, local.read_region(BBOX, 2024).data, equal_nan=True)
    with pytest.raises(AccessError, match="install the fsspec filesystem|cannot"):
        open_store("nosuchproto://bucket/store", cache=tmp_path / "c2")
