"""The persistent cache of remote reads: a repeated read never reaches the store, a damaged entry
is fetched again rather than served, the size bound holds, and a folder that cannot be written
leaves reads working, with one warning."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tessera.access import open_store
from tessera.access.serve import make_server
from tessera.store.cache import CachedSource
from tests.tessera_cli import run_tessera

BOX = (3.0105, -0.0006, 3.0135, 0.0006)


@pytest.fixture
def served(replica):
    server = make_server(replica / "v1.1-dclimate", "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_repeated_read_never_reaches_the_store(served, tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CACHE", str(tmp_path / "cache"))
    first = open_store(served)
    assert isinstance(first.source, CachedSource)
    cold = first.read_region(BOX, 2024, quality=True)
    assert first.source.misses > 10
    again = open_store(served)  # a new reader, as a new process would be
    warm = again.read_region(BOX, 2024, quality=True)
    assert again.source.misses == 0 and again.source.hits > 10
    assert np.array_equal(cold.data, warm.data, equal_nan=True) and np.isfinite(warm.data).any()
    assert all(np.array_equal(cold.quality[k], warm.quality[k], equal_nan=True) for k in cold.quality)


def test_a_damaged_entry_is_fetched_again_not_served(served, tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CACHE", str(tmp_path / "cache"))
    truth = open_store(served).read_region(BOX, 2024).data
    entries = sorted((tmp_path / "cache").glob("*/*/*"), key=lambda p: -p.stat().st_size)
    for path in entries[:3]:  # the largest: chunk ranges
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
    again = open_store(served)
    assert np.array_equal(again.read_region(BOX, 2024).data, truth, equal_nan=True)
    assert again.source.misses == 3


def test_the_size_bound_holds(served, tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TESSERA_CACHE_MAX_GB", str(200_000 / 2**30))
    store = open_store(served)
    store.read_region(BOX, 2024, quality=True)
    store.source.evict()
    assert sum(p.stat().st_size for p in (tmp_path / "cache").glob("*/*/*")) <= 200_000


def test_a_cache_folder_that_cannot_be_written_warns_once(served, tmp_path, monkeypatch, capfd):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("TESSERA_CACHE", str(tmp_path / "a-file" / "cache"))
    for _ in range(2):
        store = open_store(served)
        assert not isinstance(store.source, CachedSource)
        assert np.isfinite(store.read_region(BOX, 2024).data).any()
    err = capfd.readouterr().err
    assert err.count("cannot be written") == 1 and "reading uncached" in err


def test_the_cli_takes_a_cache_folder(served, tmp_path, truth):
    table = tmp_path / "points.csv"
    np.savetxt(table, truth.lonlat(0, np.arange(5), np.arange(5)), delimiter=",", header="lon,lat", comments="")
    run_tessera(
        "--cache-dir",
        str(tmp_path / "c"),
        "sample",
        served,
        str(table),
        "--year",
        "2024",
        "-o",
        str(tmp_path / "o.csv"),
    )
    assert len(list((tmp_path / "c").glob("*/*/*"))) > 5
    run_tessera("--no-cache", "sample", served, str(table), "--year", "2024", "-o", str(tmp_path / "p.csv"))
    assert (tmp_path / "o.csv").read_text() == (tmp_path / "p.csv").read_text()
