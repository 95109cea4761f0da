"""A scene's climate and sensing regime: what varies between places and years beyond the layout.

The default regime is the temperate, twice-covered scene the simulator has always made (bit for
bit). ``Regime.drawn(seed)`` draws one at random — an earlier or later crop calendar (latitude,
climate), a clearer or cloudier sky, noisier or cleaner SAR, one or two Sentinel-2 satellites —
so that a model pretrained on many drawn scenes has seen many regimes rather than one, and an
evaluation family can be frozen whose regimes differ from those a model was tuned on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.errors import ConfigError


@dataclass(frozen=True)
class Regime:
    calendar_shift_days: float = 0.0  # every class's calendar moved later (> 0) or earlier
    cloudiness: float = 0.0  # added to the seasonal mean cloud fraction
    speckle_looks: float = 4.4  # S1 equivalent number of looks: fewer = noisier
    s2_revisit_days: int = 5  # 5: Sentinel-2A + 2B; 10: one satellite

    def __post_init__(self) -> None:
        if not -90 <= self.calendar_shift_days <= 90:
            raise ConfigError(f"calendar_shift_days {self.calendar_shift_days} must be within ±90")
        if not -0.4 <= self.cloudiness <= 0.4:
            raise ConfigError(f"cloudiness {self.cloudiness} must be within ±0.4")
        if not 1 <= self.speckle_looks <= 50:
            raise ConfigError(f"speckle_looks {self.speckle_looks} must be in [1, 50]")
        if self.s2_revisit_days not in (5, 10):
            raise ConfigError(f"s2_revisit_days {self.s2_revisit_days} must be 5 or 10")

    @classmethod
    def drawn(cls, seed: int) -> Regime:
        """A random regime, fixed by ``seed``: calendars ±40 days, cloudiness −0.25…+0.25, 2–12
        looks, one satellite in a quarter of scenes."""
        rng = np.random.default_rng([seed, 9173])
        return cls(
            calendar_shift_days=round(float(rng.uniform(-40, 40)), 1),
            cloudiness=round(float(rng.uniform(-0.25, 0.25)), 3),
            speckle_looks=round(float(rng.uniform(2, 12)), 2),
            s2_revisit_days=10 if rng.random() < 0.25 else 5,
        )
