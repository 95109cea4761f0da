"""Reading over HTTP from ``tessera serve`` and through fsspec: same arrays, damage named,
bounded retries, and only the bytes a read needs."""

import shutil
import threading

import numpy as np
import pytest

from tessera.access import open_store
from tessera.access.serve import make_server
from tessera.errors import StoreDamageError, StoreError, StoreUnreachableError
from tests.access.coord_store import BBOX, Z31, zone_pixels


@pytest.fixture()
def served(store_path, tmp_path):
    """Serve a private copy of the store (tests may damage it) on a free loopback port."""
    copy = tmp_path / "served"
    shutil.copytree(store_path, copy)
    shutil.copytree(store_path.with_name(store_path.name + ".build"), tmp_path / "served.build")
    server = make_server(copy, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield copy, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_http_reads_equal_local_reads(served):
    path, url = served
    local, remote = open_store(path), open_store(url)
    assert remote.years == local.years and remote.zones() == local.zones()
    assert np.array_equal(remote.read_region(BBOX, 2024).data, local.read_region(BBOX, 2024).data, equal_nan=True)
    pts = np.column_stack([np.linspace(-0.01, 0.01, 50), np.linspace(52.0, 52.01, 50)])
    a, b = remote.sample_points(pts, 2024), local.sample_points(pts, 2024)
    assert np.array_equal(a.values, b.values, equal_nan=True) and list(a.status) == list(b.status)


def test_points_over_http_fetch_little_more_than_the_chunks_they_touch(served):
    """Index suffix reads + one range read per inner chunk: no whole shards."""
    path, url = served
    remote = open_store(url)
    pts = np.column_stack([np.linspace(0.001, 0.009, 7), np.linspace(52.001, 52.009, 7)])
    before = remote.source.bytes_fetched
    remote.sample_points(pts, 2024)
    fetched = remote.source.bytes_fetched - before
    shard_bytes = sum(p.stat().st_size for p in (path / "utm31").rglob("c/*/*/*") if p.is_file())
    assert 0 < fetched < shard_bytes / 3


def test_a_flipped_byte_in_a_served_shard_is_named(served):
    path, url = served
    r, c = zone_pixels(Z31, np.array([0.005]), np.array([52.005]))
    victim = path / f"utm31/embeddings/c/0/0/{r[0] // 64}/{c[0] // 64}"
    data = bytearray(victim.read_bytes())
    data[-10] ^= 0x01  # in the shard index
    victim.write_bytes(bytes(data))
    with pytest.raises(StoreDamageError, match=str(victim.relative_to(path))):
        open_store(url).read_region(BBOX, 2024)


def test_both_shards_of_a_written_block_deleted_are_named_over_http(served):
    """The server publishes the written blocks (from the fill records it does not serve), so an
    HTTP reader tells a deleted pair from an unwritten block."""
    path, url = served
    r, c = zone_pixels(Z31, np.array([0.005]), np.array([52.005]))
    (path / f"utm31/embeddings/c/0/0/{r[0] // 64}/{c[0] // 64}").unlink()
    (path / f"utm31/scales/c/0/{r[0] // 64}/{c[0] // 64}").unlink()
    remote = open_store(url)
    for read in (lambda: remote.read_region(BBOX, 2024), lambda: remote.sample_points([(0.005, 52.005)], 2024)):
        with pytest.raises(StoreDamageError, match=f"utm31/scales/c/0/{r[0] // 64}/{c[0] // 64} is missing"):
            read()


def test_server_refuses_bad_paths_and_links_out(served):
    import urllib.error
    import urllib.request

    path, url = served
    (path / "leak").symlink_to("/etc/hostname")
    for bad, code in (
        ("leak", 404),
        ("%00zarr.json", 400),
        ("../etc/passwd", 400),
        ("utm31/nothing", 404),
        (".zgroup", 404),
    ):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + bad, timeout=5)
        assert err.value.code == code, bad
    req = urllib.request.Request(url + "zarr.json", headers={"Range": "bytes=-10"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 206 and r.read() == (path / "zarr.json").read_bytes()[-10:]


def test_unreachable_server_is_a_clear_error():
    with pytest.raises(StoreUnreachableError, match="after 3 tries"):
        open_store("http://127.0.0.1:9/")


def test_any_fsspec_url_reads_like_the_local_store(store_path):
    """s3://, gs:// … go through fsspec; its in-memory filesystem stands in for object storage."""
    import fsspec

    fs = fsspec.filesystem("memory")
    for p in store_path.rglob("*"):
        if p.is_file():
            fs.pipe_file(f"/bucket/store/{p.relative_to(store_path).as_posix()}", p.read_bytes())
    remote = open_store("memory://bucket/store")
    local = open_store(store_path)
    assert np.array_equal(remote.read_region(BBOX, 2024).data, local.read_region(BBOX, 2024).data, equal_nan=True)
    with pytest.raises(StoreError, match=r"install the fsspec filesystem|cannot"):
        open_store("nosuchproto://bucket/store")


def test_a_server_that_ignores_byte_ranges_still_reads_right(store_path):
    """Plain static servers (Python's http.server) answer 200 with the whole file."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(store_path))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = open_store(f"http://127.0.0.1:{server.server_address[1]}/")
        local = open_store(store_path)
        pts = np.column_stack([np.linspace(-0.01, 0.01, 30), np.linspace(52.0, 52.01, 30)])
        assert np.array_equal(
            remote.sample_points(pts, 2024).values, local.sample_points(pts, 2024).values, equal_nan=True
        )
    finally:
        server.shutdown()
        server.server_close()


def test_info_over_http_counts_the_blocks_a_local_read_counts(served):
    from tessera.access.describe import describe

    path, url = served
    local, remote = describe(open_store(path)), describe(open_store(url))
    assert remote["groups"] == local["groups"] and all(g["blocks"] > 0 and g["pixels"] > 0 for g in remote["groups"])
    assert open_store(url).footprints() == open_store(path).footprints()
