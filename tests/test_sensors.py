import numpy as np
import pytest

from tessera import sensors


def test_published_band_order_and_constants():
    assert sensors.S2_BANDS == ("B04", "B02", "B03", "B08", "B8A", "B05", "B06", "B07", "B11", "B12")
    assert sensors.S2_MEAN.shape == sensors.S2_STD.shape == (10,)
    assert sensors.S2_MEAN[0] == pytest.approx(1711.0938) and sensors.S2_STD[-1] == pytest.approx(1398.4779)
    assert sensors.S1_MEAN.tolist() == pytest.approx([5484.0407, 3003.7812])
    assert sensors.S1_STD.tolist() == pytest.approx([1871.2334, 1726.0670])
    assert frozenset(range(12)) == sensors.SCL_INVALID | sensors.SCL_VALID
    assert not sensors.SCL_INVALID & sensors.SCL_VALID


def test_scl_mask_marks_exactly_the_published_invalid_classes():
    scl = np.arange(12)
    assert sensors.scl_valid_mask(scl).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1]


def test_s1_encoding_matches_formula_and_round_trips():
    amplitude = np.array([0.05, 0.1, 0.3, 1.0])
    q = sensors.s1_encode_amplitude(amplitude)
    expected = np.clip(np.rint((20 * np.log10(amplitude) + 50) * 200), 0, 30000)
    assert q.dtype == np.int16 and q.tolist() == expected.tolist()
    # power and amplitude encodings agree (power = amplitude²)
    assert sensors.s1_encode_power(amplitude**2).tolist() == q.tolist()
    db = sensors.s1_decode_db(q)
    assert np.allclose(db, 20 * np.log10(amplitude), atol=0.5 / 200 + 1e-6)


def test_s1_encoding_clips_and_marks_no_data():
    q = sensors.s1_encode_db(np.array([-80.0, 120.0, np.nan]))
    assert q.tolist() == [0, 30000, 0]
    assert np.isnan(sensors.s1_decode_db(np.array([0], np.int16))[0])
    assert sensors.s1_encode_amplitude(np.array([0.0, -1.0])).tolist() == [0, 0]
    assert sensors.s1_valid_mask(np.array([[100, 0], [100, 200]])).tolist() == [False, True]


def test_tokens_are_normalised_bands_plus_raw_doy():
    rng = np.random.default_rng(0)
    bands = rng.integers(0, 10000, (3, 5, 10)).astype(np.uint16)  # (N, T, 10)
    doy = np.array([3, 50, 100, 200, 366])
    tok = sensors.s2_tokens(bands, doy)
    assert tok.shape == (3, 5, 11) and tok.dtype == np.float32
    assert np.allclose(tok[..., :10], (bands - sensors.S2_MEAN) / (sensors.S2_STD + 1e-9), atol=1e-5)
    assert np.array_equal(tok[..., 10], np.broadcast_to(doy, (3, 5)))
    s1 = sensors.s1_tokens(np.full((2, 4, 2), 5484), np.array([1, 2, 3, 4]))
    assert s1.shape == (2, 4, 3) and np.allclose(s1[..., 0], 0, atol=1e-4)
