"""Crash safety and concurrency of ``tessera embed``, through the real CLI in subprocesses."""

import hashlib
import random
import signal
import subprocess
import time

import numpy as np
import pytest

from tessera.cube import write_cube
from tessera.grid import Window
from tessera.store import StoreWriter, Zone, block_checksum, build_dir, place
from tessera.store import manifest as mf
from tests.tessera_cli import run_tessera, tessera_argv

SHARD = 32


def embed_args(cube, ckpt, store):
    return ["embed", cube, "-c", ckpt, "-s", store, "--shard", SHARD, "--seed", 3, "--no-report"]


def state(store):
    """Every recorded block → (its record, sha + mtime of its shard's data files)."""
    group = StoreWriter(store).writer(2024, Zone(31))
    out = {}
    for shard, m in mf.read_all(group.fills).items():
        files = {
            k: (hashlib.sha256((store / k).read_bytes()).hexdigest(), (store / k).stat().st_mtime_ns)
            for k in group.shard_keys(shard)
        }
        for b in m.blocks:
            out[b.window] = (b, files)
    return out


def store_bytes(store):
    """Every file inside the store, by relative path: what two stores must share byte for byte."""
    return {p.relative_to(store).as_posix(): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


def arrays(store, cube_grid):
    zone, win = place(cube_grid)
    return StoreWriter(store).writer(2024, zone).read(win)


def kill_and_resume(setup, tmp_path, kills):
    _root, cube, ckpt, data = setup
    run_tessera(*embed_args(cube, ckpt, tmp_path / "reference"), check=True, in_process=True)
    total = len(state(tmp_path / "reference"))
    rng = random.Random(kills)
    store = tmp_path / "crashed"
    manifests = build_dir(store) / "fills" / "utm31" / "2024"
    seen, partial = {}, 0
    for _ in range(kills):
        # Kill at a random point of the block sequence: once a random number of blocks is
        # recorded, a random moment later (mid-model, mid-write or mid-record).
        target = rng.randrange(0, total)
        proc = subprocess.Popen(
            tessera_argv(*embed_args(cube, ckpt, store)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while proc.poll() is None and (len(list(manifests.glob("*.json"))) if manifests.is_dir() else 0) < target:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (store / "utm31" / "zarr.json").exists():
            now = state(store)
            for window, rec in seen.items():  # recorded once → never recomputed or rewritten
                assert now[window] == rec, f"block {window} changed after it was recorded"
            seen = now
            partial += 0 < len(now) < total
    assert partial >= kills // 2, "most kills should land mid-run"
    run_tessera(*embed_args(cube, ckpt, store), check=True)
    final = state(store)
    for window, rec in seen.items():
        assert final[window] == rec
    reference = state(tmp_path / "reference")
    assert final.keys() == reference.keys()
    assert [final[w][0] for w in final] == [reference[w][0] for w in final]  # same checksums
    q, s = arrays(store, data.grid)
    rq, rs = arrays(tmp_path / "reference", data.grid)
    assert np.array_equal(q, rq) and np.array_equal(s, rs, equal_nan=True) and np.isfinite(s).all()
    assert store_bytes(store) == store_bytes(tmp_path / "reference")


def test_sigkill_at_random_points_then_rerun_equals_an_uninterrupted_run(setup, tmp_path):
    kill_and_resume(setup, tmp_path, kills=4)  # twenty in the slow test below


@pytest.mark.slow
def test_sigkill_twenty_times(setup, tmp_path):
    kill_and_resume(setup, tmp_path, kills=20)


def test_two_processes_embedding_neighbouring_cubes_into_one_zone(setup, tmp_path):
    """The cubes meet mid-shard, so both write into the same shard files."""
    root, _, ckpt, data = setup
    _, win = place(data.grid)
    split = next(c for c in range(20, 44) if (win.col + c) % SHARD == SHARD // 2)
    halves = [
        write_cube(root / f"half{i}.zarr", data.window(w))
        for i, w in enumerate((Window(0, 0, 64, split), Window(0, split, 64, 64 - split)))
    ]
    together = tmp_path / "together"
    procs = [
        subprocess.Popen(
            tessera_argv(*embed_args(h, ckpt, together)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for h in halves
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read().decode()
    apart = tmp_path / "apart"
    for h in halves:
        run_tessera(*embed_args(h, ckpt, apart), check=True)
    q, s = arrays(together, data.grid)
    rq, rs = arrays(apart, data.grid)
    assert np.array_equal(q, rq) and np.array_equal(s, rs, equal_nan=True) and np.isfinite(s).all()
    group = StoreWriter(together).writer(2024, Zone(31))
    records = mf.read_all(group.fills)
    shared = [m for m in records.values() if len({b.cube for b in m.blocks}) == 2]
    assert shared, "the cubes should share shards"
    for m in records.values():
        for b in m.blocks:
            assert block_checksum(*group.read(b.zone_window)) == b.sha256
