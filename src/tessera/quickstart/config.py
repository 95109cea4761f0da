"""The quickstart's settings and the constants its report is written around."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tessera.errors import ConfigError

FRACTIONS = (0.01, 0.05, 0.10, 0.20, 0.50, 1.00)
HEADS = ("logistic", "rf")
SHIPPED = "not adapted"  # the shipped checkpoint's own embeddings, beside the adapted ones


@dataclass(frozen=True)
class QuickstartConfig:
    size: int = 128  # region side, px (1.28 km)
    checkpoint: str = "tiny-broad"  # where adaptation starts: a shipped name or a path
    adapt_steps: int = 200  # label-free adaptation to the region (`tessera adapt` does 300): ≤ 10 minutes in all
    minutes: float | None = None  # stop adapting after this long (the best checkpoint so far is kept)
    repeats: int = 5  # label draws per fraction
    draws: int = 8  # 40-date draws averaged per pixel: less sampling noise in each embedding
    seed: int = 0

    def __post_init__(self) -> None:
        if self.minutes is not None and not (math.isfinite(self.minutes) and self.minutes >= 0):
            raise ConfigError(f"--minutes {self.minutes} must be 0 or more minutes")
        if min(self.size, self.adapt_steps, self.repeats, self.draws) <= 0:
            raise ConfigError("size, adapt_steps, repeats and draws must be positive")
