"""The d-pixel cube held in memory, and the checks that every cube must pass.

A d-pixel is one 10 m pixel's year of observations: Sentinel-2 L2A bands with a validity mask,
and Sentinel-1 VV/VH in each orbit direction, each sensor with its own dates. The checks here are
pure functions on arrays so that writers (``CubeWriter``), importers and the simulator share them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera import sensors
from tessera.errors import ConfigError, CubeValidationError
from tessera.grid import Grid, Window

N_S2 = len(sensors.S2_BANDS)
N_S1 = len(sensors.S1_BANDS)


def check_year(year: object) -> int:
    """A cube's period as its store code: a calendar year (2024) or a window's (202406, see
    ``tessera.period``); anything else is refused."""
    from tessera.period import FIRST_YEAR, LAST_YEAR, parse_period

    if not isinstance(year, (int, np.integer)) or isinstance(year, bool):
        raise ConfigError(f"year {year!r} is not a Sentinel year; give one in {FIRST_YEAR}–{LAST_YEAR}")
    try:
        return parse_period(int(year)).code
    except ConfigError:
        raise ConfigError(
            f"year {year!r} is not a Sentinel year (or window code YYYYMM); give one in {FIRST_YEAR}–{LAST_YEAR}"
        ) from None


def check_doy(doy: np.ndarray, name: str, years: np.ndarray | None = None) -> np.ndarray:
    """DOY must be a 1-D integer sequence in 1–366, sorted (non-decreasing). Returns uint16.
    ``years`` (a window's dates, see ``tessera.period``): a day may repeat only a year apart."""
    doy = np.asarray(doy)
    if doy.ndim != 1:
        raise CubeValidationError(f"{name} must be 1-D (one day per date), got shape {doy.shape}")
    if doy.size and not np.all(np.isfinite(doy)):
        raise CubeValidationError(f"{name} holds NaN/inf; give integer days of year 1–366")
    if doy.size and not np.all(np.asarray(doy) == np.round(doy)):
        raise CubeValidationError(f"{name} holds fractional days; give integer days of year 1–366")
    if doy.size and (doy.min() < sensors.DOY_MIN or doy.max() > sensors.DOY_MAX):
        raise CubeValidationError(
            f"{name} has days outside 1–366 (min {doy.min()}, max {doy.max()}); "
            "give days of year, not dates or 0-based indices"
        )
    steps = np.diff(doy.astype(np.int64)) if doy.size > 1 else np.zeros(0, np.int64)
    if np.any(steps < 0):
        raise CubeValidationError(f"{name} is not sorted; order the dates (and their data) by day of year")
    repeats = steps == 0
    if years is not None and len(years) == len(doy) and len(doy) > 1:
        repeats &= np.diff(np.asarray(years, np.int64)) == 0
    if np.any(repeats):
        day = int(doy[1:][repeats][0])
        raise CubeValidationError(
            f"{name} repeats day {day}; one observation per day and sensor: mosaic same-day scenes into one"
        )
    return doy.astype(np.uint16)


def check_s2_shapes(bands_shape: tuple, mask_shape: tuple, n_doy: int, hw: tuple[int, int]) -> None:
    """Structural checks for S2: (T, H, W, 10) bands, (T, H, W) mask, T dates."""
    if len(bands_shape) != 4:
        raise CubeValidationError(f"S2 bands must be (T, H, W, 10), got shape {bands_shape}")
    if bands_shape[-1] != N_S2:
        raise CubeValidationError(
            f"S2 bands have {bands_shape[-1]} bands, the model needs {N_S2} in the order {', '.join(sensors.S2_BANDS)}"
        )
    if tuple(mask_shape) != tuple(bands_shape[:3]):
        raise CubeValidationError(
            f"S2 mask shape {tuple(mask_shape)} does not match bands {tuple(bands_shape[:3])}; "
            "give one mask value per date and pixel"
        )
    if bands_shape[0] != n_doy:
        raise CubeValidationError(f"S2 has {bands_shape[0]} dates but {n_doy} DOY values")
    if tuple(bands_shape[1:3]) != tuple(hw):
        raise CubeValidationError(f"S2 bands cover {bands_shape[1:3]} pixels, the grid is {hw}")


def check_s1_shape(shape: tuple, n_doy: int, hw: tuple[int, int], orbit: str) -> None:
    if len(shape) != 4 or shape[-1] != N_S1:
        raise CubeValidationError(f"S1 {orbit} must be (T, H, W, 2) for VV, VH; got {shape}")
    if shape[0] != n_doy:
        raise CubeValidationError(f"S1 {orbit} has {shape[0]} dates but {n_doy} DOY values")
    if tuple(shape[1:3]) != tuple(hw):
        raise CubeValidationError(f"S1 {orbit} covers {shape[1:3]} pixels, the grid is {hw}")


def coerce_s2_bands(bands: np.ndarray) -> np.ndarray:
    """S2 DN values → uint16; NaN, fractions (reflectance 0–1) or values outside 0–65535 are
    refused (not clipped or rounded away)."""
    bands = np.asarray(bands)
    if bands.dtype == np.uint16:
        return bands
    if np.issubdtype(bands.dtype, np.floating):
        if not np.isfinite(bands).all():
            raise CubeValidationError(
                "S2 bands contain NaN or inf; mark missing observations in the mask and give any "
                "value (e.g. 0) in the bands instead"
            )
        rounded = np.rint(bands)
        if bands.size and np.abs(bands - rounded).max() > 1e-3:
            raise CubeValidationError(
                f"S2 bands hold fractional values (range {bands.min():.4g}–{bands.max():.4g}): they look "
                "like reflectance 0–1; give L2A DN = reflectance × 10000 (integers, as the stacker writes)"
            )
        bands = rounded
    if bands.size and (bands.min() < 0 or bands.max() > np.iinfo(np.uint16).max):
        raise CubeValidationError(
            f"S2 bands range {bands.min()}–{bands.max()} is outside uint16 DN (0–65535); give L2A reflectance × 10000"
        )
    return bands.astype(np.uint16)


def coerce_s2_mask(mask: np.ndarray) -> np.ndarray:
    """Validity mask → uint8 0/1 (1 = valid). Other values are refused."""
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return mask.astype(np.uint8)
    if mask.size and not np.isin(mask, (0, 1)).all():
        raise CubeValidationError(
            "S2 mask must hold only 0 (invalid) and 1 (valid); derive it from SCL with tessera.sensors.scl_valid_mask"
        )
    return mask.astype(np.uint8)


def coerce_s1(values: np.ndarray, orbit: str) -> np.ndarray:
    """S1 values must already be in the published int16 dB encoding (0–30000, 0 = no data)."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        raise CubeValidationError(
            f"S1 {orbit} holds NaN or inf; encode with tessera.sensors.s1_encode_db (NaN → 0 = no data)"
        )
    if values.size and (values.min() < 0 or values.max() > sensors.S1_MAX):
        raise CubeValidationError(
            f"S1 {orbit} values {values.min()}–{values.max()} are outside the int16 encoding "
            f"0–{sensors.S1_MAX}; encode dB with tessera.sensors.s1_encode_db"
        )
    if np.issubdtype(values.dtype, np.floating) and not np.all(values == np.rint(values)):
        raise CubeValidationError(f"S1 {orbit} holds fractional values; encode dB with tessera.sensors.s1_encode_db")
    return values.astype(np.int16)


@dataclass(frozen=True)
class S1Series:
    """One orbit direction: (T, H, W, 2) int16 encoded VV/VH and (T,) uint16 DOY."""

    values: np.ndarray
    doy: np.ndarray


@dataclass(frozen=True)
class CubeData:
    """A d-pixel cube (or a window of one) in memory. Build it with :meth:`from_arrays`.

    Shapes: ``s2_bands`` (T, H, W, 10) uint16, ``s2_mask`` (T, H, W) uint8 (1 = valid),
    ``s2_doy`` (T,) uint16; ``s1_ascending`` / ``s1_descending`` (T', H, W, 2) int16 with their
    own DOY. Band order is :data:`tessera.sensors.S2_BANDS`.
    """

    grid: Grid
    year: int
    s2_bands: np.ndarray
    s2_mask: np.ndarray
    s2_doy: np.ndarray
    s1_ascending: S1Series
    s1_descending: S1Series

    @classmethod
    def from_arrays(
        cls,
        grid: Grid,
        year: int,
        s2_bands: np.ndarray,
        s2_mask: np.ndarray,
        s2_doy: np.ndarray,
        s1_ascending: np.ndarray | None = None,
        s1_ascending_doy: np.ndarray | None = None,
        s1_descending: np.ndarray | None = None,
        s1_descending_doy: np.ndarray | None = None,
    ) -> CubeData:
        """Validate and coerce arrays into a cube; raises ``CubeValidationError`` naming the fault.

        A missing S1 direction becomes an empty (0, H, W, 2) series.
        """
        if grid is None:
            raise CubeValidationError("cube has no grid/CRS; give a tessera.grid.Grid")
        year = check_year(year)
        s2_doy = check_doy(s2_doy, "S2 DOY")
        check_s2_shapes(np.shape(s2_bands), np.shape(s2_mask), len(s2_doy), grid.shape)
        orbits = {}
        for orbit, values, doy in (
            ("ascending", s1_ascending, s1_ascending_doy),
            ("descending", s1_descending, s1_descending_doy),
        ):
            if values is None:
                values = np.zeros((0, *grid.shape, N_S1), np.int16)
                doy = np.zeros(0, np.uint16)
            elif doy is None:
                raise CubeValidationError(f"S1 {orbit} values were given without their DOY")
            doy = check_doy(doy, f"S1 {orbit} DOY")
            check_s1_shape(np.shape(values), len(doy), grid.shape, orbit)
            orbits[orbit] = S1Series(coerce_s1(values, orbit), doy)
        return cls(
            grid=grid,
            year=year,
            s2_bands=coerce_s2_bands(s2_bands),
            s2_mask=coerce_s2_mask(s2_mask),
            s2_doy=s2_doy,
            s1_ascending=orbits["ascending"],
            s1_descending=orbits["descending"],
        )

    def s1(self, orbit: str) -> S1Series:
        if orbit not in sensors.S1_ORBITS:
            raise ConfigError(f"orbit {orbit!r} is not one of {sensors.S1_ORBITS}")
        return self.s1_ascending if orbit == "ascending" else self.s1_descending

    def window(self, window: Window) -> CubeData:
        """The same cube cut to a pixel window (views, no copy)."""
        rows, cols = window.slices
        sub = self.grid.window(window)
        cut = lambda s: S1Series(s.values[:, rows, cols], s.doy)  # noqa: E731
        return CubeData(
            sub,
            self.year,
            self.s2_bands[:, rows, cols],
            self.s2_mask[:, rows, cols],
            self.s2_doy,
            cut(self.s1_ascending),
            cut(self.s1_descending),
        )

    def equals(self, other: CubeData) -> bool:
        """Exact equality of grid, year, every array and every date."""
        same = self.grid == other.grid and self.year == other.year
        pairs = [
            (self.s2_bands, other.s2_bands),
            (self.s2_mask, other.s2_mask),
            (self.s2_doy, other.s2_doy),
            (self.s1_ascending.values, other.s1_ascending.values),
            (self.s1_ascending.doy, other.s1_ascending.doy),
            (self.s1_descending.values, other.s1_descending.values),
            (self.s1_descending.doy, other.s1_descending.doy),
        ]
        return same and all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in pairs)
