import numpy as np
import pytest

from tessera import sensors
from tessera.model import N_TIMESTEPS, pool_s1, sample_indices, sample_tokens


def random_valid(rng, n_pix, t, p):
    return rng.random((n_pix, t)) < p


def test_only_valid_dates_without_replacement_when_enough():
    rng = np.random.default_rng(0)
    valid = random_valid(rng, 500, 90, 0.7)
    valid[:, :45] = True  # every pixel has ≥ 45 valid dates
    doy = np.arange(1, 91) * 4
    idx, ok = sample_indices(valid, doy, 40, np.random.default_rng(1))
    assert ok.all() and idx.shape == (500, 40)
    assert np.take_along_axis(valid, idx, 1).all()
    assert all(len(np.unique(row)) == 40 for row in idx)  # no repeats
    assert (np.diff(doy[idx], axis=1) > 0).all()  # sorted by DOY


def test_with_replacement_when_few_and_flags_empty_pixels():
    valid = np.zeros((3, 20), bool)
    valid[0, [2, 5, 7]] = True
    valid[1, :] = True
    doy = np.arange(20) * 10 + 1
    idx, ok = sample_indices(valid, doy, 40, np.random.default_rng(0))
    assert ok.tolist() == [True, True, False]
    assert set(idx[0]) <= {2, 5, 7} and len(set(idx[0])) == 3  # all 3 used, with repeats
    assert (np.diff(idx[1]) >= 0).all() and len(set(idx[1])) < 40  # 20 dates: repeats


def test_deterministic_by_seed_and_different_across_seeds():
    valid = random_valid(np.random.default_rng(0), 200, 70, 0.6)
    doy = np.arange(70) * 5 + 1
    a = sample_indices(valid, doy, 40, np.random.default_rng(7))[0]
    b = sample_indices(valid, doy, 40, np.random.default_rng(7))[0]
    c = sample_indices(valid, doy, 40, np.random.default_rng(8))[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_draws_are_uniform_over_valid_dates():
    valid = np.ones((20000, 50), bool)
    idx, _ = sample_indices(valid, np.arange(50) + 1, 40, np.random.default_rng(0))
    freq = np.bincount(idx.ravel(), minlength=50) / idx.size
    assert np.allclose(freq, 1 / 50, rtol=0.03)


def test_tokens_from_a_simulated_cube(small_cube):
    c = small_cube
    t, h, w, _ = c.s2_bands.shape
    s1, s1_doy = pool_s1(c.s1_ascending.values, c.s1_ascending.doy, c.s1_descending.values, c.s1_descending.doy)
    assert (np.diff(s1_doy.astype(int)) >= 0).all()
    assert len(s1_doy) == len(c.s1_ascending.doy) + len(c.s1_descending.doy)
    mask = c.s2_mask.reshape(t, h * w).copy()
    mask[:, 0] = 0  # a pixel never seen clear
    tok = sample_tokens(
        c.s2_bands.reshape(t, h * w, 10),
        mask,
        c.s2_doy,
        s1.reshape(len(s1_doy), h * w, 2),
        s1_doy,
        np.random.default_rng(0),
    )
    assert tok.s2.shape == (h * w, N_TIMESTEPS, 11) and tok.s1.shape == (h * w, N_TIMESTEPS, 3)
    assert tok.ok.all()  # pixel 0 still has S1: its S2 is absent, all-zero tokens
    assert not tok.s2[0].any() and tok.s1[0].any()
    s1_none = s1.reshape(len(s1_doy), h * w, 2).copy()
    s1_none[:, 1] = 0
    mask[:, 1] = 0
    gone = sample_tokens(c.s2_bands.reshape(t, h * w, 10), mask, c.s2_doy, s1_none, s1_doy, np.random.default_rng(0))
    assert not gone.ok[1] and gone.ok[0] and gone.ok[2:].all()  # pixel 1 saw nothing at all
    assert np.isin(tok.s2[1:, :, -1], c.s2_doy).all() and np.isin(tok.s1[:, :, -1], s1_doy).all()
    # a pixel's tokens are its own normalised bands on those dates
    p = 5
    days = tok.s2[p, :, -1].astype(int)
    rows = [int(np.flatnonzero((c.s2_doy == d) & (mask[:, p] == 1))[0]) for d in days]
    expected = sensors.normalize_s2(c.s2_bands.reshape(t, h * w, 10)[rows, p])
    assert np.allclose(tok.s2[p, :, :10], expected, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(Exception, match="positive"):
        sample_indices(np.ones((2, 3), bool), np.arange(3) + 1, 0, np.random.default_rng(0))
