"""Crash safety: SIGKILL mid-run, resume from the last whole checkpoint, same result."""

import pytest

from tessera.cube import write_cube
from tessera.simulate import SimulationConfig, simulate
from tessera.train import ShardConfig, TrainConfig, read_metrics, train, write_shards
from tessera.train.state import latest_loadable, list_checkpoints
from tests.tessera_cli import run_tessera, tessera_argv

ARGS = [
    "--preset",
    "tiny",
    "--steps",
    "30",
    "--batch-size",
    "32",
    "--checkpoint-every",
    "5",
    "--warmup-steps",
    "5",
    "--eval-every",
    "1000",
]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    cube = write_cube(root / "c.zarr", simulate(SimulationConfig(height=40, width=40, seed=9)).cube)
    return write_shards([cube], root / "shards", ShardConfig(samples_per_epoch=800, shard_size=400, epochs=2))


def train_argv(*args):
    return tessera_argv("train", *args)


def test_damaged_and_temporary_checkpoints_are_never_loaded(shards, tmp_path):
    out = tmp_path / "run"
    cfg = TrainConfig(steps=10, batch_size=32, checkpoint_every=5, warmup_steps=2, eval_every=1000)
    train(cfg, shards, out)
    folder = out / "checkpoints"
    good = latest_loadable(out)
    (folder / "step_00000099.safetensors").write_bytes(b"\x00" * 100)  # a torn, damaged file
    (folder / ".step_00000100.safetensors.tmp-abc").write_bytes(b"partial")
    assert latest_loadable(out) == good
    assert not (folder / ".step_00000100.safetensors.tmp-abc").exists()  # stray temp removed
    train(TrainConfig(steps=12, batch_size=32, checkpoint_every=5, warmup_steps=2, eval_every=1000), shards, out)
    assert [r["step"] for r in read_metrics(out) if "loss" in r][-1] == 12


def test_threads_option_sets_pytorchs_pool(shards, tmp_path):
    one = tmp_path / "one"
    run = run_tessera(
        "train", "--shards", shards, "--out", one, *ARGS[:2], "--steps", 1, "--batch-size", 16, "--threads", 1
    )
    assert run.returncode == 0, run.stderr
    assert "PyTorch 1 threads" in run.stdout
    bad = run_tessera("train", "--shards", shards, "--out", tmp_path / "zero", "--threads", "0")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_listing_checkpoints_never_touches_a_file_being_written(tmp_path):
    """A monitor polling a live run (as the interrupt tests do) must not delete the run's
    temporary checkpoint mid-write: only resuming clears a crash's leftovers."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    writing = folder / ".step_00000010.safetensors.tmp-live"
    writing.write_bytes(b"half")
    assert list_checkpoints(tmp_path) == [] and writing.exists()
    assert latest_loadable(tmp_path) is None and not writing.exists()


def test_the_plot_is_drawn_at_the_end_and_the_thread_count_recorded(shards, tmp_path, monkeypatch):
    import torch

    import tessera.train.loop as loop
    from tessera.train.state import recorded_threads

    drawn: list[int] = []
    real = loop._plot
    monkeypatch.setattr(loop, "_plot", lambda out: (drawn.append(list_checkpoints(out)[-1][0]), real(out)))
    monkeypatch.setattr(loop, "PLOT_EVERY_S", 1e9)  # however slow the machine, no redraw between
    out = tmp_path / "run"
    train(TrainConfig(steps=15, batch_size=32, checkpoint_every=5, warmup_steps=2, eval_every=1000), shards, out)
    # checkpoints at steps 5, 10 and 15; drawings at the first and the last
    assert drawn == [5, 15] and (out / "training.png").stat().st_size > 0
    assert recorded_threads(latest_loadable(out)) == torch.get_num_threads()
