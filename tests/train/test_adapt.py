"""Adaptation without labels: continue training from a checkpoint on the region's own cubes and
keep the best checkpoint by a label-free criterion on held-back pixels, the starting weights
included."""

import dataclasses

import numpy as np
import pytest
import torch

import tessera.model as tm
from tessera.cube import write_cube
from tessera.errors import ConfigError
from tessera.model.student import STUDENT_PRESETS, PixelStudent
from tessera.simulate import SimulationConfig, simulate
from tessera.train import TrainConfig, read_metrics, train
from tessera.train.adapt import AdaptConfig, adapt, adaptation_projector
from tessera.train.data import ShardSet
from tessera.train.shards import held_back
from tests.tessera_cli import run_tessera

SMALL = AdaptConfig(steps=6, batch_size=32, eval_every=3, warmup_steps=2, samples_per_epoch=800, epochs=1)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapt")
    cube = write_cube(root / "c.zarr", simulate(SimulationConfig(height=40, width=40, seed=21)).cube)
    torch.manual_seed(0)
    init = tm.save(tm.Tessera(tm.preset("tiny")), root / "init.safetensors")
    return root, cube, init


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_adapt_starts_from_the_checkpoint_and_keeps_the_best_view_loss(region, tmp_path):
    _, cube, init = region
    r = adapt([cube], init, tmp_path / "a", dataclasses.replace(SMALL, keep_evaluated=True, criterion="view_loss"))
    scores = [m for m in read_metrics(tmp_path / "a" / "run") if "rankme" in m]
    assert [m["step"] for m in scores] == [0, 3, 6] and "probe_acc" not in scores[0]
    assert r.criterion == "view_loss"
    assert r.score_best == pytest.approx(min(m["view_loss"] for m in scores), rel=1e-5)
    assert r.score_best <= r.score_start + 1e-4
    assert r.score_start == pytest.approx(scores[0]["view_loss"], rel=1e-5)
    assert r.best_step == min(scores, key=lambda m: m["view_loss"])["step"]
    model = tm.load(r.checkpoint)
    kept = tm.load(tmp_path / "a" / "run" / "evaluated" / f"step_{r.best_step:08d}.safetensors")
    assert _same(model, kept)
    assert _same(tm.load(tmp_path / "a" / "run" / "evaluated" / "step_00000000.safetensors"), tm.load(init))
    assert not _same(tm.load(tmp_path / "a" / "run" / "evaluated" / "step_00000006.safetensors"), tm.load(init))


@pytest.mark.parametrize("criterion", ["rankme", "last"])  # rankme: the default
def test_other_criteria_choose_their_own_best(region, tmp_path, criterion):
    _, cube, init = region
    r = adapt(
        [cube],
        init,
        tmp_path / criterion,
        SMALL if criterion == "rankme" else dataclasses.replace(SMALL, criterion=criterion),
    )
    scores = [m for m in read_metrics(tmp_path / criterion / "run") if "rankme" in m]
    if criterion == "last":
        assert r.best_step == 6
    else:
        assert r.score_best == pytest.approx(max(m["rankme"] for m in scores), rel=1e-5)


def test_held_back_pixels_never_reach_the_shards(region, tmp_path):
    _, cube, init = region
    adapt([cube], init, tmp_path / "h", dataclasses.replace(SMALL, steps=1, eval_every=1, holdout=4))
    shards = ShardSet(tmp_path / "h" / "shards")
    pos = np.concatenate([s[3] for epoch in shards.epochs for s in epoch])
    assert len(pos) > 100 and not held_back(pos[:, 0], pos[:, 1], 4).any()
    rows, cols = np.divmod(np.arange(40 * 40), 40)
    assert 0.15 < held_back(rows, cols, 4).mean() < 0.35  # about one in four, and some are


def test_adaptation_stopped_midway_resumes_to_the_same_model(region, tmp_path):
    _, cube, init = region
    adapt([cube], init, tmp_path / "ref", SMALL)
    model = tm.load(init)
    cfg = TrainConfig(
        model=model.cfg,
        projector=adaptation_projector(model.cfg),
        init=str(init),
        steps=6,
        batch_size=32,
        lr=2e-4,
        warmup_steps=2,
        eval_every=3,
        checkpoint_every=3,
        val_cube=str(cube),
        seed=0,
    )
    shards, out = tmp_path / "ref" / "shards", tmp_path / "cut"
    train(dataclasses.replace(cfg, time_limit_s=0.0), shards, out)  # stops, checkpointed, after one step
    assert [r["step"] for r in read_metrics(out) if "loss" in r] == [1]
    train(cfg, shards, out)  # the rerun resumes at step 1: it must not start again from --init
    assert _same(tm.load(out / "model.safetensors"), tm.load(tmp_path / "ref" / "run" / "model.safetensors"))


def test_criteria_are_checked_up_front():
    with pytest.raises(ConfigError, match="criterion"):
        TrainConfig(criterion="accuracy")
    with pytest.raises(ConfigError, match="criterion"):
        AdaptConfig(criterion="probe_acc")  # labels: never for adaptation
    with pytest.raises(ConfigError, match="--val-cube"):
        TrainConfig(criterion="view_loss", val_scene="scene")


def test_train_init_takes_the_checkpoints_shapes_and_weights(region, tmp_path):
    _root, cube, init = region
    adapt([cube], init, tmp_path / "b", AdaptConfig(**{**SMALL.__dict__, "steps": 1, "eval_every": 1}))
    shards = tmp_path / "b" / "shards"
    r = run_tessera(
        "train",
        "--shards",
        shards,
        "--out",
        tmp_path / "t",
        "--init",
        init,
        "--preset",
        "v1",
        "--steps",
        "1",
        "--batch-size",
        "16",
    )
    assert r.returncode == 0, r.stderr
    assert tm.load(tmp_path / "t" / "model.safetensors").cfg == tm.preset("tiny")


def test_students_cannot_be_trained_yet(region, tmp_path):
    _, cube, _ = region
    student = tm.save(PixelStudent(STUDENT_PRESETS["nano"]), tmp_path / "s.safetensors")
    with pytest.raises(ConfigError, match="v2 student"):
        adapt([cube], student, tmp_path / "c", SMALL)
