"""What a user running `tessera embed` against an existing store can do to it: embed the same cube
from two shells at once, add a year, try another checkpoint, fill the disk."""

import shutil
import subprocess

import torch

from tessera.cube import write_cube
from tessera.model import Tessera, preset, save
from tessera.simulate import SimulationConfig, simulate
from tests.disks import fill
from tests.embed.test_embed_crash import embed_args, store_bytes
from tests.tessera_cli import one_line_error, run_tessera, tessera_argv


def test_two_embeds_of_one_cube_at_once_equal_one_serial_run(setup, tmp_path):
    _, cube, ckpt, _ = setup
    run_tessera(*embed_args(cube, ckpt, tmp_path / "serial"), check=True, in_process=True)
    both = tmp_path / "both"
    procs = [subprocess.Popen(tessera_argv(*embed_args(cube, ckpt, both)), stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        # each finishes, having done its share or waited for the other's lock; never a corrupt shard
        assert p.returncode == 0, err.decode()[-2000:]
    assert store_bytes(both) == store_bytes(tmp_path / "serial")
    assert run_tessera("verify", both, in_process=True).returncode == 0


def test_ctrl_c_on_one_of_two_runs_creating_a_store_leaves_it_to_the_other(setup, tmp_path, monkeypatch):
    import time

    from tessera.cli.app import INTERRUPTED
    from tessera.store import StoreWriter

    _, cube, ckpt, _ = setup
    run_tessera(*embed_args(cube, ckpt, tmp_path / "serial"), check=True, in_process=True)
    store = tmp_path / "store"
    other: list[subprocess.Popen] = []

    def ctrl_c_once_the_other_is_at_work(*_):
        # This run has created the store; the other opens it and starts on its zone. Now, before
        # either has recorded a block, this one is interrupted.
        other.append(subprocess.Popen(tessera_argv(*embed_args(cube, ckpt, store)), stderr=subprocess.PIPE))
        deadline = time.monotonic() + 120
        while not (store / "utm31" / "zarr.json").exists():
            assert other[0].poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        raise KeyboardInterrupt

    monkeypatch.setattr(StoreWriter, "ensure", ctrl_c_once_the_other_is_at_work)
    assert run_tessera(*embed_args(cube, ckpt, store), in_process=True).returncode == INTERRUPTED
    _, err = other[0].communicate(timeout=300)
    assert other[0].returncode == 0, err.decode()[-2000:]
    assert store_bytes(store) == store_bytes(tmp_path / "serial")  # nothing deleted under the other
    monkeypatch.undo()
    assert run_tessera("verify", store, in_process=True).returncode == 0


def test_ctrl_c_on_the_only_run_creating_a_store_leaves_nothing(setup, tmp_path, monkeypatch):
    from tessera.cli.app import INTERRUPTED
    from tessera.store import StoreWriter

    _, cube, ckpt, _ = setup

    def ctrl_c(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(StoreWriter, "ensure", ctrl_c)
    assert run_tessera(*embed_args(cube, ckpt, tmp_path / "store"), in_process=True).returncode == INTERRUPTED
    assert list(tmp_path.iterdir()) == []  # no empty store, no bookkeeping folder beside it


def test_a_second_year_leaves_the_first_years_bytes(setup, tmp_path):
    root, cube, ckpt, _ = setup
    store = tmp_path / "store"
    run_tessera(*embed_args(cube, ckpt, store), check=True)
    # the first year's shard files (time index 0); metadata (the time axis and its bounds) grows, as it must
    first = {k: v for k, v in store_bytes(store).items() if "/c/0/" in k and "/time_bnds/" not in k}
    stamps = {k: (store / k).stat().st_mtime_ns for k in first}
    later = write_cube(root / "y2023.zarr", simulate(SimulationConfig(height=64, width=64, seed=11, year=2023)).cube)
    run_tessera(*embed_args(later, ckpt, store), check=True)
    now = store_bytes(store)
    assert {k: now[k] for k in first} == first and {k: (store / k).stat().st_mtime_ns for k in first} == stamps
    assert any("/c/1/" in k for k in now)  # the new year has shards of its own
    from tessera.access import open_store

    assert open_store(store).years == [2024, 2023]


def test_another_checkpoint_into_an_existing_store_is_refused_and_changes_nothing(setup, tmp_path):
    root, cube, ckpt, _ = setup
    store = tmp_path / "store"
    run_tessera(*embed_args(cube, ckpt, store), check=True)
    before = store_bytes(store)
    torch.manual_seed(99)
    other = save(Tessera(preset("tiny")), root / "other.safetensors")
    for target in (
        cube,
        write_cube(root / "other2023.zarr", simulate(SimulationConfig(height=16, width=16, year=2023)).cube),
    ):
        one_line_error(run_tessera(*embed_args(target, other, store)), "other provenance")
    assert store_bytes(store) == before  # models never mix, within a year or across years


# -- a full disk ------------------------------------------------------------------------------


def test_embed_on_a_full_disk_says_so_and_a_rerun_after_freeing_completes(setup, tmp_path, small_disk):
    _, cube, ckpt, _ = setup
    run_tessera(*embed_args(cube, ckpt, tmp_path / "reference"), check=True, in_process=True)
    filler = fill(small_disk, leave=300_000)  # room for some shards, not all
    store = small_disk / "store.zarr"
    one_line_error(run_tessera(*embed_args(cube, ckpt, store)), "disk is full")
    if store.exists():  # what was written is whole: the store verifies, nothing torn in it
        assert run_tessera("verify", store).returncode == 0
    filler.unlink()
    run_tessera(*embed_args(cube, ckpt, store), check=True)
    assert store_bytes(store) == store_bytes(tmp_path / "reference")


def test_a_full_disk_while_the_store_is_created_never_blocks_the_rerun(setup, tmp_path, small_disk):
    """With ~100 KiB free the zone group is half made when the disk fills; Zarr's last writes
    land after the error. Whatever is left, a rerun with room creates the store and completes."""
    _, cube, ckpt, _ = setup
    run_tessera(*embed_args(cube, ckpt, tmp_path / "reference"), check=True, in_process=True)
    store = small_disk / "store"
    for leave in range(126_000, 136_000, 2_000):
        filler = fill(small_disk, leave)
        one_line_error(run_tessera(*embed_args(cube, ckpt, store), in_process=True), "disk is full")
        filler.unlink()
        run_tessera(*embed_args(cube, ckpt, store), in_process=True, check=True)
        assert store_bytes(store) == store_bytes(tmp_path / "reference")
        shutil.rmtree(store)
        shutil.rmtree(small_disk / "store.build")


def test_export_and_heads_fit_on_a_full_disk_leave_nothing(setup, tmp_path, small_disk):
    import numpy as np
    from rasterio.warp import transform_bounds

    from tessera.cube import open_cube
    from tests.heads.conftest import write_label_raster

    _, cube, ckpt, _ = setup
    store = tmp_path / "store"
    run_tessera(*embed_args(cube, ckpt, store), check=True)
    grid = open_cube(cube).grid
    b = grid.bounds
    bbox = ",".join(f"{v:.6f}" for v in transform_bounds(grid.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top))
    classes = (np.arange(grid.height * grid.width).reshape(grid.shape) % 3 + 1).astype(np.uint8)
    labels = write_label_raster(tmp_path / "labels.tif", classes, grid)
    filler = fill(small_disk, leave=4096)
    export = ["export", store, small_disk / "x.tif", "--bbox", bbox, "--year", 2024]
    fit = [
        "heads",
        "fit",
        store,
        "--labels",
        labels,
        "--year",
        2024,
        "--head",
        "logistic",
        "-o",
        small_disk / "h.skops",
    ]
    for argv in (export, [*export[:2], small_disk / "x.npy", *export[3:]], fit):
        one_line_error(run_tessera(*argv), "is full")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]  # no partial file, no temporary
    filler.unlink()
    for argv in (export, fit):
        run_tessera(*argv, check=True)
    assert (small_disk / "x.tif").stat().st_size > 0 and (small_disk / "h.skops").stat().st_size > 0


# -- damage, named and repaired --------------------------------------------------------------


def test_verify_repair_then_a_rerun_rewrites_damaged_shards_and_verify_goes_past_a_bad_record(setup, tmp_path):
    from tessera.store import build_dir

    _, cube, ckpt, _ = setup
    run_tessera(*embed_args(cube, ckpt, tmp_path / "reference"), check=True, in_process=True)
    reference = store_bytes(tmp_path / "reference")
    store = tmp_path / "store"
    run_tessera(*embed_args(cube, ckpt, store), in_process=True, check=True)
    shards = sorted(
        p.relative_to(store / "utm31/embeddings/c/0/0").as_posix() for p in store.glob("utm31/embeddings/c/0/0/*/*")
    )
    lost, flipped = shards[0], store / "utm31/embeddings/c/0/0" / shards[-1]
    (store / "utm31/embeddings/c/0/0" / lost).unlink()  # both shards of written blocks: "no data" to a reader
    (store / "utm31/scales/c/0" / lost).unlink()
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    records = sorted((build_dir(store) / "fills/utm31/2024").glob("*.json"))
    bad = records[len(records) // 2]
    bad.write_text("{not json")  # and one fill record corrupt
    said = run_tessera("verify", store, in_process=True)
    assert said.returncode == 1
    said.stdout = " ".join(said.stdout.split())  # as Rich wrapped it
    for name in (
        f"utm31/scales/c/0/{lost}",
        f"embeddings/c/0/0/{shards[-1]}",
        f"{bad.name}: the fill record is",
    ):
        assert name in said.stdout, said.stdout
    rerun = run_tessera(*embed_args(cube, ckpt, store), in_process=True)  # recorded, so skipped: not repaired
    assert rerun.returncode != 0 or store_bytes(store) != reference
    repaired = run_tessera("verify", store, "--repair", in_process=True, check=True)
    repaired.stdout = " ".join(repaired.stdout.split())
    assert "removed 3 damaged shard(s)" in repaired.stdout and "rerun `tessera embed` on cube" in repaired.stdout
    run_tessera(*embed_args(cube, ckpt, store), in_process=True, check=True)
    assert store_bytes(store) == reference
    assert run_tessera("verify", store, in_process=True).returncode == 0


def test_precision_is_part_of_a_years_provenance(setup, tmp_path):
    from tessera.store import StoreWriter, Zone
    from tessera.store import manifest as mf

    _, cube, ckpt, _ = setup
    store = tmp_path / "store"
    run_tessera(*embed_args(cube, ckpt, store), in_process=True, check=True)
    before = store_bytes(store)
    one_line_error(
        run_tessera(*embed_args(cube, ckpt, store), "--precision", "bf16", in_process=True),
        "precision fp32, not bf16: give --precision fp32 to add to it",
    )
    assert store_bytes(store) == before  # nothing of bf16 mixed into the fp32 year
    # A library caller (or a tessera before this check) that wrote a bf16 block into it: named.
    group = StoreWriter(store).writer(2024, Zone(31))
    shard, m = next(iter(mf.read_all(group.fills).items()))
    block = m.blocks[0]
    q, scales = group.read(block.zone_window)
    group.write_block(shard, block.zone_window, q, scales, block.cube, precision="bf16")
    said = run_tessera("verify", store, in_process=True)
    text = " ".join(said.stdout.split())
    assert said.returncode == 1 and f"block {list(block.window)} was computed at bf16" in text, text
    assert "the store's provenance says fp32" in text


def test_overlapping_cubes_are_warned_of_and_cubes_that_only_touch_are_not(setup, tmp_path):
    from tessera.grid import Window

    _, _, ckpt, data = setup
    left = write_cube(tmp_path / "left.zarr", data.window(Window(0, 0, 64, 40)))
    right = write_cube(tmp_path / "right.zarr", data.window(Window(0, 40, 64, 24)))
    wider = write_cube(tmp_path / "wider.zarr", data.window(Window(0, 30, 64, 34)))
    store = tmp_path / "store"
    for cube in (left, right):
        said = run_tessera(*embed_args(cube, ckpt, store), in_process=True, check=True)
        assert "overlaps" not in said.stdout + said.stderr
    said = run_tessera(*embed_args(wider, ckpt, store), in_process=True, check=True)
    text = " ".join((said.stdout + said.stderr).split())
    assert "this cube overlaps left.zarr" in text and "the cube embedded last wins" in text, text


def test_an_object_store_that_does_not_answer_is_one_line_in_bounded_time(setup):
    """Its endpoint gone (as when it dies mid-run): bounded retries, then one line, no chain of
    botocore tracebacks and no hang."""
    import os
    import socket

    _, cube, ckpt, _ = setup
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed again: connections to it are refused
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{dead}",
    }
    done = run_tessera(*embed_args(cube, ckpt, "s3://emb/gone.zarr"), env=env, timeout=120)
    one_line_error(done, "the network or object store did not answer")
