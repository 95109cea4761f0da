"""``tessera weights``: a published checkpoint fetched into the cache, checked against its
SHA-256, and usable by name (``embed -c NAME``); tested against a local HTTP server standing in
for the model hub (``TESSERA_WEIGHTS_MIRROR``)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest
import torch

from tessera.cube import write_cube
from tessera.pretrained.published import PUBLISHED
from tests.tessera_cli import one_line_error, run_tessera


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test's output is the test's
        pass


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A folder served as ``{mirror}/{repo}/resolve/{revision}/{file}``; the cache in tmp_path."""
    root = tmp_path / "hub"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TESSERA_WEIGHTS_MIRROR", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("TESSERA_WEIGHTS", str(tmp_path / "cache"))
    yield root
    server.shutdown()


def _publish(root: Path, name: str, data: bytes) -> str:
    p = PUBLISHED[name]
    path = root / p.repo / "resolve" / p.revision / p.file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _v1_file(tmp_path: Path) -> bytes:
    """A v1-architecture state dict as the published .pt files hold it: the shipped tiny-broad's
    trained weights (random ones are refused by embed's validation, rightly)."""
    import tessera.model as tm

    path = tmp_path / "v1.pt"
    torch.save(tm.load("tiny-broad").state_dict(), path)
    return path.read_bytes()


def test_fetch_checks_and_embed_uses_the_name(hub, tmp_path, small_cube):
    sha = _publish(hub, "v1.0", _v1_file(tmp_path))
    one_line_error(run_tessera("weights", "v1.0", in_process=True), "--sha256")  # none recorded: asked for
    done = run_tessera("weights", "v1.0", "--sha256", sha, check=True, in_process=True)
    assert "SHA-256 checked" in done.stdout
    listed = run_tessera("weights", "--list", check=True, in_process=True).stdout
    assert "v1.0" in listed and "yes" in listed
    cube = write_cube(tmp_path / "c.zarr", small_cube)
    run_tessera("embed", cube, "-s", tmp_path / "s.zarr", "-c", "v1.0", check=True, in_process=True)
    info = run_tessera("info", tmp_path / "s.zarr", "--json", check=True, in_process=True).stdout
    assert sha in info  # the store records which file made it

    cached = tmp_path / "cache" / "v1.0" / "tessera-v1.0-QAT-best.pt"
    cached.write_bytes(cached.read_bytes()[:-7] + b"tamper!")
    done = run_tessera("embed", cube, "-s", tmp_path / "t.zarr", "-c", "v1.0", in_process=True)
    one_line_error(done, "is not the published v1.0")


def test_a_tampered_or_unreachable_download_is_refused_and_not_kept(hub, tmp_path, monkeypatch):
    good = _v1_file(tmp_path)
    sha = hashlib.sha256(good).hexdigest()
    _publish(hub, "v1.0", good[:-7] + b"tamper!")
    done = run_tessera("weights", "v1.0", "--sha256", sha, in_process=True)
    one_line_error(done, "not the published checkpoint")
    assert not any((tmp_path / "cache").rglob("*.pt")) and not any((tmp_path / "cache").rglob("*.part"))

    _publish(hub, "torchgeo-v1", good)  # its name's 8 digits are all torchgeo publishes of its hash
    one_line_error(run_tessera("weights", "torchgeo-v1", in_process=True), "not the published checkpoint")
    _publish(hub, "v2-nano", good)  # any file but the recorded one
    one_line_error(run_tessera("weights", "v2-nano", in_process=True), "not the published checkpoint")
    one_line_error(run_tessera("weights", "v2-medium", in_process=True), "answered 404")
    one_line_error(run_tessera("weights", "v9", in_process=True), "no published checkpoint named 'v9'")
    done = run_tessera("embed", tmp_path / "nothing", "-s", tmp_path / "s.zarr", "-c", "v2-small", in_process=True)
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr

    monkeypatch.setenv("TESSERA_WEIGHTS_MIRROR", "http://127.0.0.1:9")  # nothing listens there
    one_line_error(run_tessera("weights", "v2-nano", in_process=True), "cannot reach")


def test_a_name_not_downloaded_says_how_to_get_it(tmp_path, monkeypatch, small_cube):
    monkeypatch.setenv("TESSERA_WEIGHTS", str(tmp_path / "empty"))
    cube = write_cube(tmp_path / "c.zarr", small_cube)
    done = run_tessera("embed", cube, "-s", tmp_path / "s.zarr", "-c", "v2-medium", in_process=True)
    one_line_error(done, "run `tessera weights v2-medium`")
