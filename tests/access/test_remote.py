"""Reading over HTTP from ``tessera serve`` and through fsspec: same arrays, damage named,
bounded retries, and only the bytes a read needs."""

import shutil
import threading
import urllib.error
import urllib.request

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
    (path / ".secret").write_text("not for readers")
    (path / "looks-fine").symlink_to(path / ".secret")  # inside the store, to a hidden file
    (path / "utm31" / "w.lock").write_text("")
    for bad, code in (
        ("leak", 404),
        ("looks-fine", 404),
        ("utm31/w.lock", 404),
        ("x" * 300 + "/zarr.json", 404),
        ("y" * 300, 404),
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
    whole = (path / "zarr.json").read_bytes()
    for ignored in ("bytes=5-3", "bytes=0-1,3-4", "items=0-1", "bytes=x-"):  # not one byte range: the whole file
        with urllib.request.urlopen(urllib.request.Request(url + "zarr.json", headers={"Range": ignored})) as r:
            assert r.status == 200 and r.read() == whole, ignored
    for past_the_end in ("bytes=-0", f"bytes={len(whole)}-"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(url + "zarr.json", headers={"Range": past_the_end}))
        assert err.value.code == 416, past_the_end


def test_idle_connections_are_closed_and_capped(store_path, monkeypatch):
    import socket
    import time

    from tessera.access import serve

    monkeypatch.setattr(serve._Handler, "timeout", 0.5)
    server = make_server(store_path, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    before = threading.active_count()
    idle = [socket.create_connection(server.server_address) for _ in range(serve.MAX_CONNECTIONS + 40)]
    time.sleep(0.2)
    assert threading.active_count() - before <= serve.MAX_CONNECTIONS  # half-open ones do not each get a thread
    time.sleep(1.0)  # past the idle timeout: every one of them closed by the server
    assert all(s.recv(1) == b"" for s in idle)
    for s in idle:
        s.close()
    assert open_store(f"http://127.0.0.1:{server.server_address[1]}/").years == [2024]  # and it still serves
    server.shutdown()
    server.server_close()


def test_serving_beyond_loopback_says_so(store_path):
    import signal
    import subprocess
    import time

    from tests.tessera_cli import tessera_argv

    proc = subprocess.Popen(
        tessera_argv("serve", store_path, "--host", "0.0.0.0", "--port", 0),
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "anyone who can reach this machine can read the store" in " ".join(err.split()), err


def test_a_busy_port_is_named_as_such(store_path):
    import socket

    from tests.tessera_cli import one_line_error, run_tessera

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        done = run_tessera("serve", store_path, "--port", held.getsockname()[1], in_process=True)
    one_line_error(done, "another program holds that port; give another --port")


def test_edited_metadata_of_a_served_store_is_refused(served):
    import json

    path, url = served
    doc = json.loads((path / "zarr.json").read_text())
    doc["consolidated_metadata"]["metadata"]["utm31"]["attributes"]["spatial:transform"][2] += 5.0
    (path / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(StoreDamageError, match=r"metadata of zone utm31 .* differs from what its writer recorded"):
        open_store(url)


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


def test_a_browser_at_the_printed_address_is_told_how_to_read_the_store(served):
    _, url = served
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "text/html,*/*"}), timeout=5) as r:
        page = r.read().decode()
    assert r.status == 200 and f"tessera info {url}" in page and f'open_store("{url}")' in page
    with pytest.raises(urllib.error.HTTPError) as err:  # a reader's request for the root key: none
        urllib.request.urlopen(url, timeout=5)
    assert err.value.code == 404
