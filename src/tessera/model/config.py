"""Model configuration and presets.

The ``v1`` preset is the published TESSERA v1.0 shape; its numbers are a contract with the
released weights (``shared/DESIGN.md``). The small presets keep the architecture and shrink it so
that CPU training and tests run in minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from tessera import sensors
from tessera.errors import ConfigError

if TYPE_CHECKING:
    from tessera.model.student import StudentConfig


@dataclass(frozen=True)
class TesseraConfig:
    """Shapes of both encoders (they share a config) and the fusion."""

    d_model: int = 512  # token width of each encoder; published: 512
    n_layers: int = 4  # transformer layers per encoder; published: 4
    n_heads: int = 4  # attention heads; published: 4 (head dim 128)
    d_ffn: int = 4096  # feed-forward width; published: 4096 (8 × d_model, unusually wide)
    dropout: float = 0.1  # inside transformer layers only, as published
    embed_dim: int = 128  # output embedding; published: 128 (stored as int8)
    s2_bands: int = len(sensors.S2_BANDS)  # 10: token = bands + DOY
    s1_bands: int = len(sensors.S1_BANDS)  # 2: VV, VH

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "d_ffn", "embed_dim", "s2_bands", "s1_bands"):
            if int(getattr(self, name)) <= 0:
                raise ConfigError(f"model config {name}={getattr(self, name)} must be positive")
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.d_model % 2:
            raise ConfigError(f"d_model {self.d_model} must be even (sin/cos position pairs)")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout {self.dropout} must be in [0, 1)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TesseraConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model config keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)


PRESETS: dict[str, TesseraConfig] = {
    # The published TESSERA v1.0 encoders: 22.85 M (S2) + 22.85 M (S1) + 0.13 M fusion parameters.
    "v1": TesseraConfig(d_model=512, n_layers=4, n_heads=4, d_ffn=4096),
    # ~1/16 of v1's FLOPs: pretrains on a laptop CPU in tens of minutes.
    "small": TesseraConfig(d_model=128, n_layers=2, n_heads=4, d_ffn=512),
    # For tests and the quickstart: trains meaningfully in a few CPU minutes.
    "tiny": TesseraConfig(d_model=64, n_layers=2, n_heads=4, d_ffn=128),
}


def preset(name: str) -> TesseraConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"no preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def preset_name(cfg: TesseraConfig | StudentConfig) -> str | None:
    """The preset whose shapes ``cfg`` has (dropout aside), or None; v2 students' as ``student-…``."""
    if getattr(cfg, "family", None) is not None:
        from tessera.model.student import STUDENT_PRESETS

        return next((f"student-{n}" for n, p in STUDENT_PRESETS.items() if p == cfg), None)
    for name, p in PRESETS.items():
        if {**p.to_dict(), "dropout": 0} == {**cfg.to_dict(), "dropout": 0}:
            return name
    return None


def flops_per_pixel(cfg: TesseraConfig, t_s2: int = 40, t_s1: int = 40) -> int:
    """Forward multiply-add FLOPs (2 per MAC) for one pixel; matmuls only (the roofline's work).

    v1 at 40 + 40 timesteps: ≈ 3.7 GFLOP, as published.
    """
    d, f = cfg.d_model, cfg.d_ffn

    def encoder(t: int, bands: int) -> int:
        embed = t * (bands * d + d * d)
        attn = t * (3 * d * d + d * d) + 2 * t * t * d  # projections + QKᵀ and AV
        ffn = t * 2 * d * f
        gru = t * (3 * d * d + 3 * d * d)  # input and hidden projections
        pool = t * d  # scores
        weighted = t * d
        return 2 * (embed + cfg.n_layers * (attn + ffn) + gru + pool + weighted)

    return encoder(t_s2, cfg.s2_bands) + encoder(t_s1, cfg.s1_bands) + 2 * 2 * d * cfg.embed_dim
