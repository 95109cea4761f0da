"""Learning-rate schedule: linear warm-up, a plateau, cosine decay. A pure function of the step."""

from __future__ import annotations

import math


def learning_rate(step: int, total: int, base: float, warmup: int, plateau: int, final: float = 0.0) -> float:
    """LR at ``step`` (0-based) of ``total``: 0 → base over ``warmup`` steps, ``plateau`` steps at
    base, then half a cosine down to ``final`` at ``total``.

    >>> [round(learning_rate(s, 10, 1.0, 2, 2), 3) for s in (0, 1, 2, 3, 4, 7, 10)]
    [0.5, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0]
    """
    if step < warmup:
        return base * (step + 1) / warmup
    if step < warmup + plateau:
        return base
    decay = max(1, total - warmup - plateau)
    t = min(1.0, (step - warmup - plateau) / decay)
    return final + (base - final) * 0.5 * (1 + math.cos(math.pi * t))
