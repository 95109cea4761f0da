import numpy as np
import pytest

from tessera.cube import open_cube, write_cube
from tessera.errors import ConfigError, OutputExistsError
from tessera.sensors import normalize_s2
from tessera.simulate import SimulationConfig, simulate
from tessera.train import ShardConfig, ShardSet, write_shards


@pytest.fixture(scope="module")
def cubes(tmp_path_factory):
    root = tmp_path_factory.mktemp("cubes")
    sizes = [(48, 48), (32, 32), (64, 32)]
    return [
        write_cube(root / f"c{i}.zarr", simulate(SimulationConfig(height=h, width=w, seed=i)).cube)
        for i, (h, w) in enumerate(sizes)
    ]


@pytest.fixture(scope="module")
def shards(cubes, tmp_path_factory):
    out = tmp_path_factory.mktemp("s") / "shards"
    cfg = ShardConfig(samples_per_epoch=3000, shard_size=1200, epochs=2, window=24, seed=5)
    return write_shards(cubes, out, cfg)


def test_samples_are_valid_sorted_dates_of_their_own_pixel(shards, cubes):
    data = ShardSet(shards)
    s2, s1, src, pos = data.batch(0, 200)
    opened = [open_cube(c).read() for c in cubes]
    for i in range(0, 200, 7):
        c = opened[src[i]]
        r, col = pos[i]
        for view in range(2):
            days = s2[i, view, :, -1]
            assert (np.diff(days) >= 0).all()
            t = np.searchsorted(c.s2_doy, days.astype(int))
            assert (c.s2_doy[t] == days).all() and c.s2_mask[t, r, col].all()  # valid dates only
            assert np.allclose(s2[i, view, :, :10], normalize_s2(c.s2_bands[t, r, col]), atol=1e-5)
            assert (np.diff(s1[i, view, :, -1]) >= 0).all()
        if c.s2_mask[:, r, col].sum() != 40:  # exactly 40 valid dates: both views take them all
            assert not np.array_equal(s2[i, 0], s2[i, 1])  # two independent views


def test_a_batch_mixes_every_cube_in_proportion(shards):
    data = ShardSet(shards)
    _, _, src, _ = data.batch(0, 1024)
    share = np.bincount(src, minlength=3) / 1024
    pixels = np.array([48 * 48, 32 * 32, 64 * 32])
    expected = pixels / pixels.sum()
    assert (np.abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / 1024) + 0.02).all()
    # neighbouring samples come from different places, not one window's run of pixels
    assert len(np.unique(src[:30])) == 3


def test_epochs_hold_fresh_draws(shards):
    data = ShardSet(shards)
    assert len(data.epochs) == 2
    per_epoch = data.batches_per_epoch(100)[0]
    a = data.batch(0, 100)
    b = data.batch(per_epoch, 100)  # first batch of epoch 1
    assert not np.array_equal(a[3], b[3]) or not np.array_equal(a[0], b[0])
    assert np.array_equal(data.batch(3, 100)[0], data.batch(3, 100)[0])  # addressable, repeatable


def test_min_valid_and_refusals(cubes, tmp_path):
    with pytest.raises(ConfigError, match="min-valid"):
        write_shards(cubes[:1], tmp_path / "none", ShardConfig(samples_per_epoch=200, min_valid=500, epochs=1))
    assert not (tmp_path / "none").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(OutputExistsError):
        write_shards(cubes[:1], tmp_path / "busy", ShardConfig(samples_per_epoch=200, epochs=1))
    high = write_shards(cubes[:1], tmp_path / "high", ShardConfig(samples_per_epoch=500, epochs=1, min_valid=30))
    s2 = ShardSet(high).batch(0, 50)[0]
    assert s2.shape == (50, 2, 40, 11)
