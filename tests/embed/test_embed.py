"""tessera embed in-process: exactness against the model, resume, no data, bad input."""

import dataclasses

import numpy as np
import pytest
import torch

from tessera.cube import open_cube, write_cube
from tessera.embed import EmbedConfig, SchedulerError, block_rng, embed_cube, plan
from tessera.grid import Window
from tessera.model import CheckpointError, Embedder, Tessera, pool_s1, preset, sample_tokens, save
from tessera.quantize import dequantize
from tessera.simulate import SimulationConfig, simulate
from tessera.store import StoreError, StoreLayout, StoreWriter, Zone, build_dir, place
from tests.tessera_cli import run_tessera

CFG = EmbedConfig(layout=StoreLayout(shard=32))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("embed")
    scene = simulate(SimulationConfig(height=40, width=36, seed=5, field_px=12))
    mask = scene.cube.s2_mask.copy()
    mask[:, :3, :5] = 0  # a cloud that never lifts and no S1 there either: no data
    mask[:, 10:12, 30:33] = 0  # never clear, but S1 saw it: embedded from S1 alone
    orbits = {}
    for name in ("s1_ascending", "s1_descending"):
        series = getattr(scene.cube, name)
        values = series.values.copy()
        values[:, :3, :5] = 0
        orbits[name] = dataclasses.replace(series, values=values)
    cube = write_cube(root / "cube.zarr", dataclasses.replace(scene.cube, s2_mask=mask, **orbits))
    torch.manual_seed(0)
    ckpt = save(Tessera(preset("tiny")), root / "tiny.safetensors")
    return root, cube, ckpt


def reference_embeddings(cube_path, ckpt, layout, seed=0):
    """The model's float output for every pixel, computed the slow obvious way."""
    from tessera.model import load

    cube = open_cube(cube_path)
    _, zone_win = place(cube.grid)
    emb = Embedder(load(ckpt))
    out = np.full((*cube.grid.shape, 128), np.nan, np.float32)
    for task in plan(Window(0, 0, *cube.grid.shape), zone_win, layout):
        d = cube.read(task.cube_window)
        h, w = task.cube_window.height, task.cube_window.width
        s1, s1_doy = pool_s1(d.s1_ascending.values, d.s1_ascending.doy, d.s1_descending.values, d.s1_descending.doy)
        tok = sample_tokens(
            d.s2_bands.reshape(len(d.s2_doy), h * w, 10),
            d.s2_mask.reshape(len(d.s2_doy), -1),
            d.s2_doy,
            s1.reshape(len(s1_doy), h * w, 2),
            s1_doy,
            block_rng(seed, task.zone_window),
        )
        vals = np.full((h * w, 128), np.nan, np.float32)
        vals[tok.ok] = emb(tok.s2[tok.ok], tok.s1[tok.ok])
        r, c = task.cube_window.slices
        out[r, c] = vals.reshape(h, w, 128)
    return out


def read_cube_window(store_path, cube_path):
    cube = open_cube(cube_path)
    zone, win = place(cube.grid)
    group = StoreWriter(store_path).writer(cube.year, zone)
    return group, *group.read(win)


def test_embed_matches_the_model_within_half_a_quantisation_step(setup, tmp_path):
    _root, cube, ckpt = setup
    summary = embed_cube(cube, ckpt, tmp_path / "store", CFG)
    assert summary.blocks == summary.computed >= 4
    assert summary.pixels + summary.nodata == 40 * 36 and summary.nodata == 15
    group, q, scales = read_cube_window(tmp_path / "store", cube)
    ref = reference_embeddings(cube, ckpt, CFG.layout)
    nodata = np.isnan(ref).any(-1)
    assert nodata.sum() == 15 and np.isinf(scales[nodata]).all() and (q[nodata] == 0).all()
    err = np.abs(dequantize(q, scales) - ref)[~nodata]
    assert np.all(err <= scales[~nodata][:, None] / 2 + 1e-6)
    prov = group.store.attrs["tessera:provenance"]
    assert prov["model"]["preset"] == "tiny" and prov["sampling"]["seed"] == 0


def test_rerun_skips_recorded_blocks_and_changes_nothing(setup, tmp_path):
    _, cube, ckpt = setup
    embed_cube(cube, ckpt, tmp_path / "store", CFG)
    group, q0, s0 = read_cube_window(tmp_path / "store", cube)
    before = sorted(p.read_text() for p in group.fills.path.iterdir())
    again = embed_cube(cube, ckpt, tmp_path / "store", CFG)
    assert again.computed == 0 and again.skipped == again.blocks
    _, q1, s1 = read_cube_window(tmp_path / "store", cube)
    assert np.array_equal(q0, q1) and np.array_equal(s0, s1, equal_nan=True)
    assert sorted(p.read_text() for p in group.fills.path.iterdir()) == before


def test_checkpoint_whose_preset_does_not_match_its_weights(setup, tmp_path):
    _, cube, _ = setup
    bad = save(Tessera(preset("tiny")), tmp_path / "bad.safetensors", extra={"preset": "small"})
    with pytest.raises(CheckpointError, match="preset"):
        embed_cube(cube, bad, tmp_path / "store", CFG)
    assert not (tmp_path / "store").exists()


def test_other_years_and_zones_join_the_same_store(setup, tmp_path):
    root, cube, ckpt = setup
    embed_cube(cube, ckpt, tmp_path / "store", CFG)
    for name, cfg in (
        ("y2023", SimulationConfig(height=16, width=16, seed=5, year=2023)),
        ("zone30", SimulationConfig(height=16, width=16, seed=5, lon=-1.5)),
    ):
        other = write_cube(root / f"{name}.zarr", simulate(cfg).cube)
        embed_cube(other, ckpt, tmp_path / "store", CFG)
    store = StoreWriter(tmp_path / "store")
    assert store.years() == [2024, 2023] and store.zones() == [Zone(30), Zone(31)]
    _, q, _ = read_cube_window(tmp_path / "store", cube)  # 2024 untouched by the later years
    assert q.any()


def test_store_path_that_is_a_file(setup, tmp_path):
    _, cube, ckpt = setup
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        embed_cube(cube, ckpt, tmp_path / "f", CFG)


def test_unreachable_scheduler_is_a_clear_error_and_writes_nothing(setup, tmp_path):
    _, cube, ckpt = setup
    cfg = dataclasses.replace(CFG, scheduler="tcp://127.0.0.1:9", scheduler_timeout_s=1.0)
    with pytest.raises(SchedulerError, match="cannot reach"):
        embed_cube(cube, ckpt, tmp_path / "store", cfg)
    assert not (tmp_path / "store").exists()


def _store_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_scheduler_with_two_worker_processes_writes_the_same_bytes_as_a_local_run(setup, tmp_path):
    """Beyond one process: every block a task on one of two worker processes behind a scheduler
    on 127.0.0.1, each task owning whole shards; the store equals a local run byte for byte."""
    from distributed import LocalCluster

    _, cube, ckpt = setup
    embed_cube(cube, ckpt, tmp_path / "local", CFG)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        summary = embed_cube(
            cube, ckpt, tmp_path / "remote", dataclasses.replace(CFG, scheduler=cluster.scheduler_address)
        )
        assert summary.computed == summary.blocks >= 4
        workers = {w["host"] for w in cluster.scheduler_info["workers"].values()}
        assert len(cluster.scheduler_info["workers"]) == 2 and workers == {"127.0.0.1"}
    local, remote = _store_bytes(tmp_path / "local"), _store_bytes(tmp_path / "remote")
    assert local.keys() == remote.keys() and local == remote
    fills = [_store_bytes(build_dir(tmp_path / name) / "fills") for name in ("local", "remote")]
    assert fills[0] and fills[0] == fills[1]  # the same blocks recorded, with the same checksums


def test_progress_moves_in_pixels_within_blocks_and_ends_at_the_total(setup, tmp_path):
    from tessera.model import InferenceConfig

    _, cube, ckpt = setup
    seen = []
    cfg = dataclasses.replace(CFG, inference=InferenceConfig(batch_size=64))
    summary = embed_cube(cube, ckpt, tmp_path / "store", cfg, progress=lambda *a: seen.append(a))
    assert {s for s, _, _ in seen} == {"pixels"} and seen[-1][1:] == (40 * 36, 40 * 36)
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and len(set(done)) > summary.blocks + 1  # finer than one step per block
    assert "usable cores" in summary.parallelism


def test_a_damaged_cube_is_named_and_leaves_no_store(setup, tmp_path):
    import shutil

    from tessera.errors import NotACubeError

    _, cube, ckpt = setup
    broken = tmp_path / "broken.zarr"
    shutil.copytree(cube, broken)
    chunk = next(p for p in sorted((broken / "s2" / "bands" / "c").rglob("*")) if p.is_file())
    chunk.write_bytes(b"\x00garbage" * 40)
    with pytest.raises(NotACubeError, match=r"s2/bands cannot be read in rows .* a chunk is damaged"):
        embed_cube(broken, ckpt, tmp_path / "store", CFG)
    assert not (tmp_path / "store").exists() and not (tmp_path / "store.build").exists()
    meta = broken / "s2" / "bands" / "zarr.json"
    meta.write_text(meta.read_text()[:100])
    with pytest.raises(NotACubeError, match="metadata of s2/bands is unreadable"):
        open_cube(broken)


def test_s2_only_cubes_embed_with_s1_absent_and_say_so(tmp_path):
    """An S2-only archive (no S1 at all) embeds with every clear pixel valid, for v1 and a v2
    student, records how an absent sensor is fed, and warns once that it is out of the ordinary."""
    import json

    import torch

    from tessera.cube import CubeData, write_cube
    from tessera.model import Tessera, preset, save
    from tessera.model.student import STUDENT_PRESETS, PixelStudent
    from tessera.simulate import SimulationConfig, simulate

    c = simulate(SimulationConfig(height=24, width=24, seed=5)).cube
    s2_only = CubeData.from_arrays(c.grid, c.year, c.s2_bands, c.s2_mask, c.s2_doy)
    cube = write_cube(tmp_path / "s2only.zarr", s2_only)
    torch.manual_seed(0)
    for name, model in (("v1", Tessera(preset("tiny"))), ("v2", PixelStudent(STUDENT_PRESETS["nano"]))):
        ckpt = save(model, tmp_path / f"{name}.safetensors")
        store = tmp_path / f"{name}.zarr"
        r = run_tessera("embed", cube, "-c", ckpt, "-s", store, "--no-report")
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("no Sentinel-1 observation") == 1
        from tessera.access import open_store
        from tessera.access.region import read_grid

        emb = read_grid(open_store(store), c.grid, c.year).data
        clear = c.s2_mask.any(axis=0)
        assert np.isfinite(emb[clear]).all() and np.isnan(emb[~clear]).all()
        prov = json.loads((store / "zarr.json").read_text())["attributes"]["tessera:provenance"]
        assert "all-zero tokens" in json.dumps(prov)


def test_a_model_that_gives_nan_is_counted_as_no_data_with_its_reason(setup, tmp_path, monkeypatch):
    import tessera.embed.run as run
    from tessera.embed.worker import MODEL_NOT_FINITE
    from tessera.model import load

    _, cube, ckpt = setup

    def broken(path):
        model = load(path)
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float("nan"))
        return model

    monkeypatch.setattr(run, "load", broken)
    s = embed_cube(cube, ckpt, tmp_path / "store", CFG)
    # every pixel no data; all but those with no observation at all for the model's reason
    assert s.pixels == 0 and s.nodata == 40 * 36 and 0.9 * s.nodata < s.refused[MODEL_NOT_FINITE] <= s.nodata
