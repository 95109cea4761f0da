"""Adaptation without labels: continue training from a checkpoint on the region's own cubes and
keep the best RankMe, the starting weights included."""

import subprocess
import sys

import pytest
import torch

import tessera.model as tm
from tessera.cube import write_cube
from tessera.errors import ConfigError
from tessera.model.student import STUDENT_PRESETS, PixelStudent
from tessera.simulate import SimulationConfig, simulate
from tessera.train import read_metrics
from tessera.train.adapt import AdaptConfig, adapt

SMALL = AdaptConfig(steps=6, batch_size=32, eval_every=3, warmup_steps=2, samples_per_epoch=800, epochs=1)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapt")
    cube = write_cube(root / "c.zarr", simulate(SimulationConfig(height=40, width=40, seed=21)).cube)
    torch.manual_seed(0)
    init = tm.save(tm.Tessera(tm.preset("tiny")), root / "init.safetensors")
    return root, cube, init


def test_adapt_starts_from_the_checkpoint_and_keeps_the_best_rankme(region, tmp_path):
    _, cube, init = region
    r = adapt([cube], init, tmp_path / "a", SMALL)
    scores = [m for m in read_metrics(tmp_path / "a" / "run") if "rankme" in m]
    assert [m["step"] for m in scores] == [0, 3, 6] and "probe_acc" not in scores[0]
    assert r.rankme_best == max(m["rankme"] for m in scores) >= r.rankme_start
    assert r.rankme_start == pytest.approx(scores[0]["rankme"])
    model = tm.load(r.checkpoint)
    start = tm.load(init)
    if r.best_step == 0:  # the starting weights won: they are what was kept
        assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), start.state_dict().values()))
    else:
        assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), start.state_dict().values()))


def test_train_init_takes_the_checkpoints_shapes_and_weights(region, tmp_path):
    root, cube, init = region
    adapt([cube], init, tmp_path / "b", AdaptConfig(**{**SMALL.__dict__, "steps": 1, "eval_every": 1}))
    shards = tmp_path / "b" / "shards"
    r = subprocess.run([sys.executable, "-m", "tessera", "train", "--shards", str(shards), "--out", str(tmp_path / "t"),
                        "--init", str(init), "--preset", "v1", "--steps", "1", "--batch-size", "16"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert tm.load(tmp_path / "t" / "model.safetensors").cfg == tm.preset("tiny")


def test_students_cannot_be_trained_yet(region, tmp_path):
    _, cube, _ = region
    student = tm.save(PixelStudent(STUDENT_PRESETS["nano"]), tmp_path / "s.safetensors")
    with pytest.raises(ConfigError, match="v2 student"):
        adapt([cube], student, tmp_path / "c", SMALL)
