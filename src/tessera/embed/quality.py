"""The published store's quality layers and rules, computed from a cube block before it is embedded.

Layers (the global v1.1 store's names, ``tessera.store.convention.QUALITY``): usable observations
per pixel and sensor — clear Sentinel-2 dates (SCL valid), Sentinel-1 ascending and descending
dates with both polarisations — and which calendar months held any. Rules (``optical_min_obs``,
``allow_s2_only``): which pixels are refused an embedding, and why; refused pixels are stored as
no data, their counts kept (a pixel can be imaged and refused, as in the published store).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera import sensors
from tessera.errors import ConfigError
from tessera.model.sampling import PixelSeries
from tessera.store import convention as cv

BELOW_OPTICAL = "below the optical minimum"
NO_RADAR = "no radar observation"
OUTSIDE_MASK = "outside the area mask"


@dataclass(frozen=True)
class Rules:
    """Which pixels get an embedding: at least ``optical_min_obs`` clear S2 dates (None: any
    valid date of either sensor), and radar-free pixels only when ``allow_s2_only``."""

    optical_min_obs: int | None = None
    allow_s2_only: bool = True

    def __post_init__(self) -> None:
        if self.optical_min_obs is not None and self.optical_min_obs < 1:
            raise ConfigError(f"--min-optical-obs must be ≥ 1, got {self.optical_min_obs}")

    def to_attrs(self) -> dict:
        return {cv.OPTICAL_MIN_OBS: self.optical_min_obs, "allow_s2_only": self.allow_s2_only}

    def check_cube(self, s2_dates: int) -> None:
        """A minimum above the dates a cube has would refuse every pixel: say so before starting."""
        if self.optical_min_obs is not None and self.optical_min_obs > s2_dates:
            raise ConfigError(
                f"--min-optical-obs {self.optical_min_obs} exceeds the {s2_dates} Sentinel-2 dates this cube "
                "has: every pixel would be refused; give at most that many (the published store uses 15)"
            )

    def refused(self, layers: dict[str, np.ndarray], wanted: np.ndarray | None) -> dict[str, np.ndarray]:
        """Reason → (N,) bool of the pixels refused for it (each pixel under its first reason)."""
        n = len(layers["s2_obs_count"])
        taken = np.zeros(n, bool)
        out: dict[str, np.ndarray] = {}
        checks = []
        if wanted is not None:
            checks.append((OUTSIDE_MASK, ~wanted))
        if self.optical_min_obs is not None:
            checks.append((BELOW_OPTICAL, layers["s2_obs_count"] < self.optical_min_obs))
        if not self.allow_s2_only:
            checks.append((NO_RADAR, (layers["s1_asc_obs_count"] + layers["s1_desc_obs_count"]) == 0))
        for reason, hit in checks:
            out[reason] = hit & ~taken
            taken |= hit
        return out


def _months(valid: np.ndarray, months: np.ndarray) -> np.ndarray:
    """(T, N) valid dates, (T,) their calendar months → (N, 12) int8: a month held any."""
    covered = np.zeros((valid.shape[1], cv.MONTHS), np.int8)
    for m in np.unique(months):
        covered[:, m] = valid[months == m].any(axis=0)
    return covered


def block_layers(series: PixelSeries, months: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The six layers of a block's pixels: counts (N,) uint16, months (N, 12) int8.
    ``months``: each sensor's dates' calendar months (``Cube.months``)."""
    s2 = series.s2_mask.astype(bool)
    asc = sensors.s1_valid_mask(series.s1_ascending)
    desc = sensors.s1_valid_mask(series.s1_descending)
    return {
        "s2_obs_count": s2.sum(axis=0).astype(np.uint16),
        "s1_asc_obs_count": asc.sum(axis=0).astype(np.uint16),
        "s1_desc_obs_count": desc.sum(axis=0).astype(np.uint16),
        "s2_month_covered": _months(s2, months["s2"]),
        "s1_asc_month_covered": _months(asc, months["ascending"]),
        "s1_desc_month_covered": _months(desc, months["descending"]),
    }
