import numpy as np

from tessera.quantize import dequantize, quantize


def test_round_trip_error_within_half_a_step():
    x = np.random.default_rng(0).normal(size=(1000, 128)) * np.exp(np.random.default_rng(1).normal(size=(1000, 1)))
    q, s = quantize(x)
    assert q.dtype == np.int8 and s.dtype == np.float32 and s.shape == (1000,)
    err = np.abs(dequantize(q, s) - x)
    assert (err <= s[:, None] / 2 * (1 + 1e-5)).all()
    assert (np.abs(q).max(axis=1) == 127).all()  # the largest element uses the full range


def test_zero_and_nan_vectors():
    q, s = quantize(np.array([[0.0, 0.0], [np.nan, 1.0]]))
    assert s[0] == 0 and not np.isnan(s[0]) and (q[0] == 0).all()
    assert s[1] == np.inf and (q[1] == 0).all()  # the store convention's no data, not its water (NaN)
    d = dequantize(q, s)
    assert (d[0] == 0).all() and np.isnan(d[1]).all()
