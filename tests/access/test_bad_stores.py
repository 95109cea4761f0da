"""Bad stores and bad servers: each a one-line error naming the problem, nothing damaged, bounded
retries — never numbers read from the wrong place."""

import json
import shutil
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from tessera.access import AccessError, StoreReader, open_store
from tessera.errors import StoreError, StoreUnreachableError
from tessera.store.sources import HttpSource, LocalSource


def _copy(store_path, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(store_path, root)
    return root


def _edit_meta(root, edit):
    doc = json.loads((root / "zarr.json").read_text())
    edit(doc)
    (root / "zarr.json").write_text(json.dumps(doc))


def _files(root):
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


class _Unlistable:
    """A source that cannot list its keys, as plain HTTP cannot."""

    def __init__(self, root):
        self._local = LocalSource(root)
        self.location = self._local.location
        self.get, self.get_range, self.get_suffix = self._local.get, self._local.get_range, self._local.get_suffix


def test_a_store_without_consolidated_metadata(store_path, tmp_path):
    """Where its source can list (a folder, S3), it is listed and reads as before; where it cannot
    (HTTP), it is refused with the fix."""
    root = _copy(store_path, tmp_path)
    _edit_meta(root, lambda d: d.pop("consolidated_metadata"))
    before = _files(root)
    listed, whole = open_store(root), open_store(store_path)
    assert listed.zones() == whole.zones() and listed.years == whole.years
    pts = [[0.005, 52.005], [-0.005, 52.002]]
    assert np.array_equal(listed.sample_points(pts, 2024).values, whole.sample_points(pts, 2024).values, equal_nan=True)
    with pytest.raises(StoreError, match=r"no consolidated metadata.*consolidate"):
        StoreReader(_Unlistable(root))
    assert _files(root) == before


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda m: m.update(dimension_names=["time", "y", "x", "band"]), r"dims \['time', 'y', 'x', 'band'\]"),
        (lambda m: m.update(data_type="float32"), "float32"),
        (lambda m: m.update(shape=[1, 10, 100, 100]), "on the zone's"),
    ],
)
def test_a_zone_group_with_the_wrong_dims_dtype_or_shape(store_path, tmp_path, change, match):
    root = _copy(store_path, tmp_path)
    _edit_meta(root, lambda d: change(d["consolidated_metadata"]["metadata"]["utm31/embeddings"]))
    with pytest.raises(StoreError, match=match) as err:
        open_store(root)
    assert "utm31/embeddings" in str(err.value) and "\n" not in str(err.value)


def test_a_year_not_on_the_time_axis(store_path):
    store = open_store(store_path)
    for read in (
        lambda: store.sample_points([[0.005, 52.005]], 2023),
        lambda: store.probe(0.005, 52.005, 2030),
        lambda: store.read_patch(0.005, 52.005, 2019, 8),
    ):
        with pytest.raises(AccessError, match=r"holds no embeddings for .*; it holds 2024"):
            read()


def test_an_icechunk_location_without_the_extra(tmp_path, monkeypatch):
    (tmp_path / "v1.1.icechunk").mkdir()
    monkeypatch.setitem(sys.modules, "icechunk", None)  # as if not installed
    with pytest.raises(StoreError, match=r"needs the icechunk package: pip install 'tessera\[icechunk\]'"):
        open_store(str(tmp_path / "v1.1.icechunk"))


class _Faulty(BaseHTTPRequestHandler):
    """Answers every request with a fixed status, or stalls past the client's time-out."""

    mode = "500"
    hits = 0

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        type(self).hits += 1
        if self.mode == "stall":
            time.sleep(1.0)
        code = 404 if self.mode == "404" else 500
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture()
def faulty():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Faulty)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Faulty.hits = 0
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode", ["404", "500", "stall"])
def test_http_404_500_and_time_outs_are_bounded_one_line_errors(faulty, mode):
    _Faulty.mode = mode
    t0 = time.perf_counter()
    if mode == "404":
        with pytest.raises(StoreError, match=r"no zarr.json"):
            StoreReader(HttpSource(faulty, retries=3, timeout_s=0.3))
        assert _Faulty.hits == 1  # a missing object is an answer, not a fault: no retry
    else:
        with pytest.raises(StoreUnreachableError, match="after 3 tries") as err:
            StoreReader(HttpSource(faulty, retries=3, timeout_s=0.3))
        assert _Faulty.hits == 3 and "\n" not in str(err.value)
    assert time.perf_counter() - t0 < 5


def test_a_server_failing_mid_read_is_named_not_read_as_numbers(store_path):
    """Shards that fail with 500 after the metadata was read: the read fails, it is not empty."""
    from tessera.access.serve import make_server

    server = make_server(store_path, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = HttpSource(f"http://127.0.0.1:{server.server_address[1]}/", retries=2, timeout_s=2)
        store = StoreReader(source)
        server.RequestHandlerClass.root = store_path / "utm30"  # every further key: 404 → missing shard pair
        with pytest.raises((StoreError, AccessError)):
            vals = store.sample_points([[0.005, 52.005]], 2024).values
            assert not np.isfinite(vals).any()
            raise AccessError("read as no data")
    finally:
        server.shutdown()
        server.server_close()
