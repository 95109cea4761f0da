"""Sentinel-1/2 facts the published TESSERA models (v1.0, the v2 students) depend on, and the maths on them.

Every constant here is a contract with the published weights: changing one silently changes
every embedding. Source: TESSERA v1.0 ("QAT" release), arXiv 2506.20380, as recorded in
``shared/DESIGN.md``.
"""

from __future__ import annotations

import numpy as np

# --- Sentinel-2 ------------------------------------------------------------------------------

#: Band order of the S2 input, fixed by the published weights (L2A, DN = reflectance × 1e4).
S2_BANDS: tuple[str, ...] = ("B04", "B02", "B03", "B08", "B8A", "B05", "B06", "B07", "B11", "B12")
#: Native resolution of each band in metres; 20 m bands are resampled bilinearly to 10 m.
S2_NATIVE_RES_M: dict[str, int] = {
    "B02": 10,
    "B03": 10,
    "B04": 10,
    "B08": 10,
    "B05": 20,
    "B06": 20,
    "B07": 20,
    "B8A": 20,
    "B11": 20,
    "B12": 20,
}
S2_REFLECTANCE_SCALE = 1e4

#: Scene-classification (SCL) classes treated as invalid: no data, saturated/defective,
#: dark area, cloud shadow, cloud medium probability, cloud high probability.
SCL_INVALID: frozenset[int] = frozenset({0, 1, 2, 3, 8, 9})
#: The rest stay valid: vegetation, not vegetated, water, unclassified, thin cirrus, snow.
SCL_VALID: frozenset[int] = frozenset({4, 5, 6, 7, 10, 11})

# v1.0 normalisation, in S2_BANDS order.
S2_MEAN = np.array(
    [1711.0938, 1308.8511, 1546.4543, 3010.1293, 3106.5083, 2068.3044, 2685.0845, 2931.5889, 2514.6928, 1899.4922],
    dtype=np.float32,
)
S2_STD = np.array(
    [1926.1026, 1862.9751, 1803.1792, 1741.7837, 1677.4543, 1888.7862, 1736.3090, 1715.8104, 1514.5199, 1398.4779],
    dtype=np.float32,
)

# v2 students' normalisation, in S2_BANDS order (tessera_infer_v2, arXiv 2607.03949).
S2_MEAN_V2 = np.array(
    [1633.0042, 1341.1090, 1539.5536, 3054.8269, 3117.4658, 2004.1648, 2694.7275, 2945.1504, 2266.6079, 1657.3094],
    dtype=np.float32,
)
S2_STD_V2 = np.array(
    [1999.4603, 2014.7549, 1929.2201, 1754.2493, 1649.9807, 1936.8988, 1748.6041, 1708.6991, 1207.5250, 1108.6046],
    dtype=np.float32,
)

# --- Sentinel-1 ------------------------------------------------------------------------------

S1_BANDS: tuple[str, ...] = ("VV", "VH")
S1_ORBITS: tuple[str, ...] = ("ascending", "descending")
#: int16 encoding of gamma0 in dB: q = clip((dB + 50) · 200, 0, 30000); 0 means no data.
S1_DB_OFFSET = 50.0
S1_DB_SCALE = 200.0
S1_MAX = 30000
S1_NODATA = 0
# v1.0 normalisation of the encoded values (VV, VH), shared by both orbit directions.
S1_MEAN = np.array([5484.0407, 3003.7812], dtype=np.float32)
S1_STD = np.array([1871.2334, 1726.0670], dtype=np.float32)

# v2 students: each orbit direction standardised with its own statistics before merging.
S1_ASC_MEAN_V2 = np.array([5909.3921, 3405.0322], dtype=np.float32)
S1_ASC_STD_V2 = np.array([1507.1750, 1531.2615], dtype=np.float32)
S1_DESC_MEAN_V2 = np.array([5816.1382, 3277.7576], dtype=np.float32)
S1_DESC_STD_V2 = np.array([1554.6475, 1546.4733], dtype=np.float32)

NORM_EPS = 1e-9
DOY_MIN, DOY_MAX = 1, 366


def scl_valid_mask(scl: np.ndarray) -> np.ndarray:
    """Valid-observation mask from an SCL raster: 1 where the class is usable, else 0 (uint8)."""
    invalid = np.isin(scl, np.fromiter(SCL_INVALID, dtype=np.int64))
    return (~invalid).astype(np.uint8)


def s1_encode_db(db: np.ndarray) -> np.ndarray:
    """Encode gamma0 in dB to the published int16 form; NaN (no data) becomes 0.

    >>> s1_encode_db(np.array([-50.0, -15.0, 100.0, np.nan])).tolist()
    [0, 7000, 30000, 0]
    """
    db = np.asarray(db, dtype=np.float64)
    q = np.clip(np.rint((db + S1_DB_OFFSET) * S1_DB_SCALE), 0, S1_MAX)
    return np.where(np.isfinite(db), q, S1_NODATA).astype(np.int16)


def s1_encode_amplitude(amplitude: np.ndarray) -> np.ndarray:
    """Encode gamma0 amplitude: dB = 20·log10(amplitude). Non-positive amplitude is no data."""
    a = np.asarray(amplitude, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = np.where(a > 0, 20.0 * np.log10(a), np.nan)
    return s1_encode_db(db)


def s1_encode_power(power: np.ndarray) -> np.ndarray:
    """Encode gamma0 backscatter power (what RTC products store): dB = 10·log10(power)."""
    p = np.asarray(power, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = np.where(p > 0, 10.0 * np.log10(p), np.nan)
    return s1_encode_db(db)


def s1_decode_db(q: np.ndarray) -> np.ndarray:
    """Decode the int16 form back to dB (float32), NaN where q is the no-data value 0."""
    q = np.asarray(q)
    db = q.astype(np.float32) / S1_DB_SCALE - S1_DB_OFFSET
    return np.where(q == S1_NODATA, np.float32(np.nan), db).astype(np.float32)


def s1_valid_mask(q: np.ndarray) -> np.ndarray:
    """Valid S1 observation per (…, 2) sample: both VV and VH present. Shape drops the last axis."""
    return np.all(np.asarray(q) != S1_NODATA, axis=-1)


def normalize_s2(bands: np.ndarray) -> np.ndarray:
    """z-score S2 DN values, last axis in ``S2_BANDS`` order → float32."""
    return ((np.asarray(bands, dtype=np.float32) - S2_MEAN) / (S2_STD + NORM_EPS)).astype(np.float32)


def normalize_s1(values: np.ndarray) -> np.ndarray:
    """z-score encoded S1 values, last axis (VV, VH) → float32."""
    return ((np.asarray(values, dtype=np.float32) - S1_MEAN) / (S1_STD + NORM_EPS)).astype(np.float32)


def _tokens(normalized: np.ndarray, doy: np.ndarray) -> np.ndarray:
    doy = np.asarray(doy, dtype=np.float32)
    doy = np.broadcast_to(doy[..., None], (*normalized.shape[:-1], 1))
    return np.concatenate([normalized, doy], axis=-1)


def s2_tokens(bands: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """Model input tokens: normalised bands plus the raw day of year as the last feature.

    bands: (..., T, 10) DN; doy: (T,) or (..., T) → (..., T, 11) float32. DOY is *not* scaled:
    the encoder's sinusoidal position encoding expects raw days.
    """
    return _tokens(normalize_s2(bands), doy)


def s1_tokens(values: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """Model input tokens for S1: (..., T, 2) encoded VV/VH + (T,) DOY → (..., T, 3) float32."""
    return _tokens(normalize_s1(values), doy)
