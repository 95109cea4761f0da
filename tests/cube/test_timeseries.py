import numpy as np

from tessera.cube import interpolate_gaps


def test_linear_in_doy_with_held_edges_and_nan_for_empty_pixels():
    doy = np.array([10, 20, 40, 50])
    v = np.array([[1.0, 5.0, 0.0], [0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 7.0, 0.0]])[..., None]
    ok = np.array([[True, True, False], [False, False, False], [True, False, False], [False, True, False]])
    out = interpolate_gaps(v, ok, doy)[..., 0]
    assert np.allclose(out[:, 0], [1, 2, 4, 4])  # interpolated at 20 (1 + 3·10/30), held at 50
    assert np.allclose(out[:, 1], [5, 5 + 2 * 10 / 40, 5 + 2 * 30 / 40, 7])
    assert np.isnan(out[:, 2]).all()


def test_resampling_to_target_dates():
    doy = np.array([10, 30])
    v = np.array([[[0.0]], [[20.0]]])
    ok = np.ones((2, 1), bool)
    out = interpolate_gaps(v, ok, doy, np.array([1, 10, 15, 30, 365]))
    assert np.allclose(out[:, 0, 0], [0, 0, 5, 20, 20])


def test_valid_values_are_kept_exactly():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(12, 50, 3))
    ok = rng.random((12, 50)) < 0.5
    out = interpolate_gaps(v, ok, np.sort(rng.choice(366, 12, replace=False)) + 1)
    assert np.allclose(out[ok], v[ok].astype(np.float32))
