"""From landscape + weather to sensor values: Sentinel-2 reflectance and SCL, Sentinel-1 gamma0.

Optics: linear mixing of endmember spectra by canopy fractions (green, dry, flowering, base
surface), soil darkened by moisture, thin haze and opaque clouds blended in, shadows darkened.
Radar: a water-cloud model: canopy volume scattering grows with biomass and attenuates the
surface term, which itself rises with soil moisture; multiplicative gamma speckle on power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera import sensors
from tessera.simulate.classes import CLASSES, ENDMEMBERS, curve
from tessera.simulate.landscape import Landscape, smooth_noise
from tessera.simulate.weather import CloudScene

CLOUD_SPECTRUM = np.array([6500, 6800, 6600, 7000, 7000, 6700, 6900, 7000, 5200, 4200], np.float32)
SPECKLE_LOOKS = 4.4  # equivalent number of looks of 10 m GRD/RTC backscatter

# SCL codes used by the simulator (ESA Sen2Cor classes).
SCL_SHADOW, SCL_VEG, SCL_NOT_VEG, SCL_WATER, SCL_CLOUD_MED, SCL_CLOUD_HIGH, SCL_CIRRUS = (
    3,
    4,
    5,
    6,
    8,
    9,
    10,
)


@dataclass(frozen=True)
class Canopy:
    """Cover fractions at one date, each (H, W) float32, summing to ≤ 1."""

    green: np.ndarray
    dry: np.ndarray
    flower: np.ndarray


def canopy(land: Landscape, doy: float) -> Canopy:
    """Each pixel's canopy on ``doy``, following its class calendar shifted by its own phenology."""
    shape = land.classes.shape
    g, d, f = (np.zeros(shape, np.float32) for _ in range(3))
    for c in CLASSES:
        sel = land.classes == c.id
        if not sel.any():
            continue
        day = doy - land.shift[sel]
        g[sel] = curve(c.green, day) * land.vigour[sel]
        d[sel] = curve(c.dry, day)
        f[sel] = curve(c.flower, day)
    total = g + d + f
    scale = np.where(total > 1, 1 / np.maximum(total, 1e-6), 1.0)
    return Canopy(g * scale, d * scale, f * scale)


def _base_spectrum(land: Landscape, moisture: float) -> np.ndarray:
    """(H, W, 10) spectrum of what shows under the canopy: soil (wet soil is darker), water, town."""
    soil = ENDMEMBERS["soil"] * land.soil_brightness[..., None]
    soil = soil * (1 - 0.35 * moisture * land.moisture_gain)[..., None]
    out = soil.copy()
    for c in CLASSES:
        if c.base == "soil":
            continue
        sel = land.classes == c.id
        out[sel] = c.base_fraction * ENDMEMBERS[c.base] + (1 - c.base_fraction) * soil[sel]
    return out


def green_spectrum(land: Landscape) -> np.ndarray:
    scale = np.ones((*land.classes.shape, 10), np.float32)
    for c in CLASSES:
        scale[land.classes == c.id] = c.green_scale
    # Tall, rough forest canopies cast more internal shadow: darker in every band.
    scale *= (1 - 0.006 * np.clip(land.canopy_height - 15, 0, None))[..., None]
    return ENDMEMBERS["green"] * scale


def mix_edges(land: Landscape, values: np.ndarray) -> np.ndarray:
    """Blend each edge pixel with its neighbour across the patch boundary: (H, W, C) → same."""
    h, w, c = values.shape
    flat = values.reshape(h * w, c)
    share = land.mix_share[..., None]
    return (1 - share) * values + share * flat[land.mix_partner.ravel()].reshape(h, w, c)


def render_s2(
    land: Landscape,
    doy: int,
    moisture: float,
    sky: CloudScene,
    rng: np.random.Generator,
    green_spectrum: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One S2 date: (H, W, 10) uint16 DN and (H, W) uint8 SCL."""
    cp = canopy(land, doy)
    # the parameter shadows the module's function of the same name: reach that one through globals
    green = globals()["green_spectrum"](land) if green_spectrum is None else green_spectrum
    rest = np.clip(1 - cp.green - cp.dry - cp.flower, 0, 1)
    refl = (
        cp.green[..., None] * green
        + cp.dry[..., None] * ENDMEMBERS["dry"]
        + cp.flower[..., None] * ENDMEMBERS["flower"]
        + rest[..., None] * _base_spectrum(land, moisture)
    )
    refl = mix_edges(land, refl)
    refl *= 1 + 0.02 * rng.standard_normal(refl.shape, dtype=np.float32)
    refl += 25 * rng.standard_normal(refl.shape, dtype=np.float32)
    op = sky.opacity[..., None]
    refl = (1 - op) * refl + op * CLOUD_SPECTRUM * rng.uniform(0.85, 1.15)
    refl = np.where(sky.shadow[..., None], refl * 0.35, refl)
    dn = np.clip(np.rint(refl), 1, 20000).astype(np.uint16)

    is_water = land.classes == 7
    scl = np.where(cp.green > 0.3, SCL_VEG, SCL_NOT_VEG)
    scl = np.where(is_water, SCL_WATER, scl)
    # Sen2Cor's known weak spots, which the published mask lets through to the model: cloud
    # shadow is hard to tell from dark ground, so about half of it goes unflagged, and thin
    # cirrus (class 10, opacity up to 0.15 here) counts as valid.
    flagged = sky.shadow & (smooth_noise(rng, sky.shadow.shape, 15) > 0) if sky.shadow.any() else sky.shadow
    scl = np.where(flagged, SCL_SHADOW, scl)
    scl = np.where(sky.opacity >= 0.03, SCL_CIRRUS, scl)
    scl = np.where(sky.opacity >= 0.15, SCL_CLOUD_MED, scl)
    scl = np.where(sky.opacity >= 0.6, SCL_CLOUD_HIGH, scl)
    return dn, scl.astype(np.uint8)


def render_s1(
    land: Landscape,
    doy: int,
    moisture: float,
    wind: float,
    orbit: str,
    rng: np.random.Generator,
    urban_aspect: np.ndarray,
    looks: float = SPECKLE_LOOKS,
) -> np.ndarray:
    """One S1 date in one orbit direction: (H, W, 2) int16 in the published dB encoding."""
    cp = canopy(land, doy)
    biomass = cp.green + 0.6 * cp.dry + 0.6 * cp.flower
    h, w = land.classes.shape
    base = np.zeros((h, w, 2), np.float32)
    veg = np.zeros((h, w, 2), np.float32)
    for c in CLASSES:
        sel = land.classes == c.id
        base[sel] = c.s1_base_db
        veg[sel] = c.s1_veg_db
    soil_like = np.isin(land.classes, [c.id for c in CLASSES if c.base == "soil"])
    base += np.where(soil_like, 6.0 * moisture * land.moisture_gain, 0)[..., None]
    base += np.where(land.classes == 7, 5.0 * wind, 0)[..., None]  # wind roughens water
    base += np.where(land.classes == 8, urban_aspect, 0)[..., None]  # facades face one orbit
    is_forest = np.isin(land.classes, (5, 6))
    veg += np.where(is_forest, 0.08 * (land.canopy_height - 20), 0)[..., None]
    power = biomass[..., None] * 10 ** (veg / 10) + 10 ** (base / 10) * np.exp(-1.8 * biomass)[..., None]
    # Incidence angle changes across the swath, in opposite senses for the two directions.
    ramp = np.linspace(1.0, -1.0, w, dtype=np.float32)
    ramp = ramp if orbit == "ascending" else -ramp - 0.5
    power *= 10 ** (ramp / 10)[None, :, None]
    power = mix_edges(land, power)
    power *= rng.gamma(looks, 1 / looks, size=power.shape).astype(np.float32)
    q = sensors.s1_encode_power(power)
    if rng.random() < 0.05:  # swath edge: part of the scene not imaged on this pass
        edge = int(rng.integers(w // 4, 3 * w // 4))
        q[:, edge:] = sensors.S1_NODATA
    return q
