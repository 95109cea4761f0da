"""Acquisition calendars and the weather that spoils them: clouds, shadows, soil moisture, wind."""

from __future__ import annotations

import calendar
from dataclasses import dataclass

import numpy as np

from tessera.simulate.landscape import smooth_noise

S2_REVISIT_DAYS = 5  # Sentinel-2A + 2B together
# Sentinel-1 revisit per orbit direction: 6 days with two satellites (1A + 1B until Dec 2021,
# 1A + 1C from 2025), 12 days with 1A alone in 2022–2024.
S1_REVISIT_DAYS = {True: 6, False: 12}


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def revisit_dates(year: int, every: int, start: int) -> np.ndarray:
    """Days of year of a regular revisit from day ``start``: (T,) uint16 sorted."""
    return np.arange(start, days_in_year(year) + 1, every, dtype=np.uint16)


def revisit_phases(rng: np.random.Generator, every: int, n: int) -> list[int]:
    """``n`` distinct first days in 1…every: ascending and descending passes fall on other days."""
    return [int(s) for s in rng.choice(np.arange(1, every + 1), size=n, replace=False)]


def s1_revisit(year: int) -> int:
    return S1_REVISIT_DAYS[year <= 2021 or year >= 2025]


def soil_moisture(rng: np.random.Generator, year: int) -> np.ndarray:
    """Daily topsoil moisture index in [0, 1] (index 0 = 1 January): rain pulses decaying over days."""
    n = days_in_year(year)
    day = np.arange(n)
    # Wetter winters than summers, as in a temperate climate.
    p_rain = 0.18 + 0.10 * np.cos(2 * np.pi * (day - 15) / n)
    rain = (rng.random(n) < p_rain) * rng.uniform(0.2, 0.6, n)
    m = np.empty(n)
    level = 0.5
    for i in range(n):  # a year of days: trivially cheap, and a recurrence is clearest as a loop
        level = min(1.0, level * np.exp(-1 / 6) + rain[i])
        m[i] = level
    return m.astype(np.float32)


@dataclass(frozen=True)
class CloudScene:
    """One date's atmosphere: cloud opacity in [0, 1] and a cloud-shadow mask, both (H, W)."""

    opacity: np.ndarray
    shadow: np.ndarray


def cloud_cover_fraction(rng: np.random.Generator, doy: int, year: int, cloudiness: float = 0.0) -> float:
    """Scene cloud fraction: bimodal (clear or overcast), cloudier in winter; ``cloudiness`` moves
    the seasonal mean (a drier or wetter climate)."""
    mean = float(np.clip(0.45 + 0.2 * np.cos(2 * np.pi * (doy - 15) / days_in_year(year)) + cloudiness, 0.05, 0.95))
    k = 1.2
    return float(rng.beta(mean * k, (1 - mean) * k))


def clouds(rng: np.random.Generator, shape: tuple[int, int], cover: float, sun_offset: tuple[int, int]) -> CloudScene:
    """Spatially coherent clouds covering ≈ ``cover`` of the scene, a thin haze fringe around
    them, and their shadows displaced along the sun direction."""
    h, w = shape
    if cover < 0.01:
        return CloudScene(np.zeros(shape, np.float32), np.zeros(shape, bool))
    field = smooth_noise(rng, shape, rng.uniform(12, 45))
    thr = np.quantile(field, 1 - cover)
    core = field > thr
    opacity = np.where(core, 0.6 + 0.4 * np.clip((field - thr) / 0.5, 0, 1), 0.0)
    # Haze and thin cloud around the cores; its faint outer part (opacity < 0.1) passes the
    # scene classification as valid, as Sen2Cor's misses do.
    fringe = (~core) & (field > thr - 0.6)
    opacity = np.where(fringe, 0.3 * ((field - (thr - 0.6)) / 0.6) ** 2, opacity)
    dy, dx = sun_offset
    shadow = np.zeros(shape, bool)
    if dy < h and dx < w:  # a shadow displaced past a small scene's edge falls outside it
        shadow[dy:, dx:] = core[: h - dy, : w - dx]
    return CloudScene(opacity.astype(np.float32), shadow & ~core)
