"""Land-cover classes of the simulator: phenology, spectra and radar behaviour, as tables.

Phenology curves are anchor points (day of year, cover fraction), interpolated linearly and
periodically over the year, so each class reads like a crop calendar. The calendars follow a
temperate European year (winter crops sown in autumn and harvested in July, maize sown in May and
harvested in October). Endmember spectra are typical Sentinel-2 L2A reflectances (× 1e4) in the
published band order B04, B02, B03, B08, B8A, B05, B06, B07, B11, B12.

The classes are built to be *temporally* separable: at any single date several of them look
alike (green crops in June, bare fields in March), and only the shape of the year tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Curve = tuple[tuple[int, float], ...]

# Endmember spectra, order B04, B02, B03, B08, B8A, B05, B06, B07, B11, B12.
ENDMEMBERS: dict[str, np.ndarray] = {
    "green": np.array([350, 300, 650, 4200, 4400, 1100, 3000, 3800, 2000, 1000], np.float32),
    "dry": np.array([1900, 1100, 1450, 2700, 2900, 2200, 2500, 2650, 3500, 2600], np.float32),
    "soil": np.array([2100, 1300, 1700, 2700, 2900, 2300, 2500, 2600, 3400, 2900], np.float32),
    "water": np.array([250, 550, 480, 160, 130, 260, 190, 170, 90, 70], np.float32),
    "urban": np.array([1700, 1450, 1550, 2100, 2200, 1800, 2000, 2100, 2500, 2200], np.float32),
    "flower": np.array([1500, 450, 1400, 3900, 4100, 1900, 3200, 3600, 2300, 1300], np.float32),
}


@dataclass(frozen=True)
class LandCover:
    """One simulated land-cover class."""

    id: int
    name: str
    colour: str  # hex, for legends and maps
    green: Curve  # green-vegetation cover over the year
    dry: Curve = ((1, 0.0), (366, 0.0))  # standing dry/senescent biomass
    flower: Curve = ((1, 0.0), (366, 0.0))  # yellow flowering canopy (rapeseed)
    base: str = "soil"  # what shows through where there is no canopy
    base_fraction: float = 1.0  # share of the base endmember in the non-canopy remainder
    # Multiplier on the green endmember: conifers are darker, broadleaf soy brighter in NIR.
    green_scale: tuple[float, ...] = field(default_factory=lambda: (1.0,) * 10)
    height_m: tuple[float, float] = (0.0, 0.0)  # canopy height range (per stand)
    # Radar: (VV, VH) dB for a bare surface of this class and per unit of biomass.
    s1_base_db: tuple[float, float] = (-13.0, -21.0)
    s1_veg_db: tuple[float, float] = (-10.0, -15.0)
    agricultural: bool = False
    field_share: float = 0.0  # probability of a field getting this class
    # Spread (± days, per field) of the calendar: sowing dates for crops, mowing for grass,
    # leaf-out for forests.
    timing_jitter: float = 9.0


_CONIFER = (0.7, 0.7, 0.7, 0.72, 0.72, 0.8, 0.72, 0.72, 0.75, 0.8)
_SOY = (1.0, 1.0, 1.05, 1.1, 1.1, 1.0, 1.08, 1.1, 0.95, 0.9)

CLASSES: tuple[LandCover, ...] = (
    LandCover(
        0,
        "winter_cereal",
        "#e3c16f",
        green=(
            (1, 0.25),
            (60, 0.30),
            (100, 0.70),
            (140, 0.90),
            (170, 0.70),
            (188, 0.10),
            (200, 0),
            (285, 0),
            (320, 0.15),
            (366, 0.25),
        ),
        dry=((165, 0), (182, 0.60), (200, 0.70), (207, 0)),
        height_m=(0.7, 1.0),
        s1_veg_db=(-11.0, -17.0),
        agricultural=True,
        field_share=0.24,
    ),
    LandCover(
        1,
        "winter_rapeseed",
        "#f5e50a",
        green=(
            (1, 0.40),
            (70, 0.50),
            (100, 0.80),
            (150, 0.80),
            (178, 0.30),
            (192, 0),
            (245, 0),
            (262, 0.20),
            (300, 0.50),
            (366, 0.42),
        ),
        flower=((92, 0), (108, 0.55), (128, 0.45), (142, 0)),
        dry=((170, 0), (182, 0.50), (193, 0)),
        height_m=(1.2, 1.6),
        s1_veg_db=(-9.0, -14.0),
        agricultural=True,
        field_share=0.10,
    ),
    LandCover(
        2,
        "maize",
        "#f28e2b",
        green=((1, 0), (140, 0), (165, 0.15), (200, 0.85), (240, 0.85), (262, 0.40), (275, 0), (366, 0)),
        # Grain maize stands dry in the field for weeks before an October harvest.
        dry=((248, 0), (265, 0.50), (300, 0.60), (308, 0)),
        height_m=(2.2, 2.9),
        s1_veg_db=(-8.5, -13.5),
        agricultural=True,
        field_share=0.16,
    ),
    LandCover(
        3,
        "soybean",
        "#8cd17d",
        green=((1, 0), (158, 0), (185, 0.15), (218, 0.80), (240, 0.75), (250, 0.30), (256, 0), (366, 0)),
        dry=((240, 0), (250, 0.50), (262, 0)),
        green_scale=_SOY,
        height_m=(0.6, 1.0),
        s1_veg_db=(-10.5, -16.0),
        agricultural=True,
        field_share=0.12,
    ),
    LandCover(
        4,
        "grassland",
        "#59a14f",
        green=(
            (1, 0.55),
            (90, 0.70),
            (140, 0.90),
            (150, 0.40),
            (165, 0.35),
            (190, 0.80),
            (212, 0.50),
            (222, 0.35),
            (242, 0.75),
            (300, 0.70),
            (366, 0.55),
        ),
        dry=((1, 0.10), (140, 0), (150, 0.35), (165, 0.10), (212, 0.10), (222, 0.30), (242, 0.05), (366, 0.10)),
        height_m=(0.2, 0.5),
        s1_veg_db=(-12.0, -18.5),
        agricultural=True,
        field_share=0.20,
        timing_jitter=25.0,
    ),
    LandCover(
        5,
        "deciduous_forest",
        "#2e7d32",
        green=((1, 0.15), (100, 0.20), (128, 0.85), (270, 0.85), (300, 0.30), (320, 0.15), (366, 0.15)),
        dry=((1, 0.60), (100, 0.55), (128, 0.10), (270, 0.10), (300, 0.50), (366, 0.60)),
        height_m=(16.0, 30.0),
        s1_base_db=(-8.5, -14.5),
        s1_veg_db=(-7.0, -12.5),
        timing_jitter=6.0,
    ),
    LandCover(
        6,
        "evergreen_forest",
        "#1b4332",
        green=((1, 0.72), (150, 0.80), (250, 0.80), (366, 0.72)),
        dry=((1, 0.20), (366, 0.20)),
        green_scale=_CONIFER,
        height_m=(12.0, 28.0),
        s1_base_db=(-8.0, -13.5),
        s1_veg_db=(-7.5, -12.8),
    ),
    LandCover(
        7,
        "water",
        "#4e79a7",
        green=((1, 0), (180, 0.015), (366, 0)),
        base="water",
        s1_base_db=(-21.0, -28.0),
        s1_veg_db=(-21.0, -28.0),
    ),
    LandCover(
        8,
        "built_up",
        "#9c9c9c",
        green=((1, 0.15), (120, 0.25), (270, 0.25), (366, 0.15)),
        base="urban",
        base_fraction=0.85,
        height_m=(0.0, 8.0),
        s1_base_db=(-3.0, -11.0),
        s1_veg_db=(-3.0, -11.0),
    ),
    LandCover(
        9,
        "bare",
        "#b07aa1",
        green=((1, 0), (366, 0)),
        dry=((1, 0.03), (366, 0.03)),
        s1_base_db=(-13.0, -21.0),
        agricultural=True,
        field_share=0.08,
    ),
)

CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
N_CLASSES = len(CLASSES)
AGRICULTURAL = tuple(c for c in CLASSES if c.agricultural)
NODATA_CLASS = 255


def curve(anchors: Curve, doy: np.ndarray) -> np.ndarray:
    """Evaluate an anchor curve at (possibly fractional, possibly shifted) days, periodic in 365."""
    x = np.array([a for a, _ in anchors], np.float64)
    y = np.array([v for _, v in anchors], np.float64)
    return np.interp(np.asarray(doy, np.float64), x, y, period=365.0)


def legend() -> list[dict]:
    """Class ids, names and colours, as written to ``legend.json``."""
    return [{"id": c.id, "name": c.name, "colour": c.colour} for c in CLASSES]
