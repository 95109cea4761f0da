"""Model configuration and presets.

The ``v1`` preset is the published TESSERA v1.0 shape; its numbers are a contract with the
released weights (``shared/DESIGN.md``). The small presets keep the architecture and shrink it so
that CPU training and tests run in minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tessera import sensors
from tessera.errors import ConfigError

POOLINGS = ("qat", "gru")


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
    # Attention pooling's recurrent context: "qat", the published v1.0 cell (r inside W_hh (r ⊙ h),
    # then a LayerNorm), or "gru", PyTorch's nn.GRU without the LayerNorm, as in the first
    # TESSERA code and torchgeo's port of it (``Tessera_Weights``).
    pooling: str = "qat"

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ConfigError(f"model config pooling={self.pooling!r} must be one of {', '.join(POOLINGS)}")
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
        d = asdict(self)
        if d["pooling"] == "qat":  # the published v1's: left out, so every recorded config stays as it was
            del d["pooling"]
        return d

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
        return next((f"student-{n}" for n, p in STUDENT_PRESETS.items() if p == cfg), None)
    for name, p in PRESETS.items():
        if {**p.to_dict(), "dropout": 0} == {**cfg.to_dict(), "dropout": 0}:
            return name
    return None


# The v2 students' config lives beside v1's so that this module stays torch-free (their layers
# are in ``student``).
FAMILY = "tessera-v2-student"


@dataclass(frozen=True)
class StudentConfig:
    """A student's shapes, under the names of the published checkpoint's ``args``."""

    latent_dim: int = 64  # token width d = 4 · latent_dim
    num_layers: int = 4
    nhead: int = 4
    dim_feedforward: int = 1024
    repr_dim: int = 128
    max_seq_len: int = 256  # longest bin a pixel's dates are padded or thinned to
    matryoshka_dims: tuple[int, ...] = (16, 32, 64, 128)
    qk_norm: bool = False  # the published ``enable_qk_norm``
    s2_bands: int = len(sensors.S2_BANDS)
    s1_bands: int = len(sensors.S1_BANDS)
    family: str = field(default=FAMILY, init=False)

    def __post_init__(self) -> None:
        for name in ("latent_dim", "num_layers", "nhead", "dim_feedforward", "repr_dim", "max_seq_len"):
            if int(getattr(self, name)) <= 0:
                raise ConfigError(f"student config {name}={getattr(self, name)} must be positive")
        if self.d_model % self.nhead:
            raise ConfigError(f"student width {self.d_model} is not divisible by nhead {self.nhead}")
        dims = tuple(int(d) for d in self.matryoshka_dims)
        if not dims or any(not 0 < d <= self.repr_dim for d in dims) or list(dims) != sorted(set(dims)):
            raise ConfigError(f"matryoshka_dims {dims} must be increasing and within 1…{self.repr_dim}")
        object.__setattr__(self, "matryoshka_dims", dims)

    @property
    def d_model(self) -> int:
        return 4 * self.latent_dim

    @property
    def embed_dim(self) -> int:
        return self.repr_dim

    def to_dict(self) -> dict:
        d = asdict(self)
        d["matryoshka_dims"] = list(self.matryoshka_dims)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> StudentConfig:
        known = {k for k in cls.__dataclass_fields__ if k != "family"}
        unknown = set(d) - known - {"family"}
        if unknown:
            raise ConfigError(f"unknown student config keys {sorted(unknown)}; known: {sorted(known)}")
        fields: dict[str, Any] = {k: tuple(v) if k == "matryoshka_dims" else v for k, v in d.items() if k != "family"}
        return cls(**fields)

    @classmethod
    def from_args(cls, args: dict) -> StudentConfig:
        """The config of a published payload's ``args``, with the official loader's defaults for
        absent keys (other training keys are ignored)."""
        try:
            dims = tuple(int(x) for x in str(args.get("matryoshka_dims", "16,32,64,128")).split(","))
            return cls(
                latent_dim=int(args.get("latent_dim", 64)),
                num_layers=int(args.get("num_layers", 4)),
                nhead=int(args.get("nhead", 4)),
                dim_feedforward=int(args.get("dim_feedforward", 1024)),
                repr_dim=int(args.get("repr_dim", 128)),
                max_seq_len=int(args.get("max_seq_len", 256)),
                matryoshka_dims=dims,
                qk_norm=bool(args.get("enable_qk_norm", False)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"the checkpoint's args are not a student architecture ({exc})") from exc

    def to_args(self) -> dict:
        """The published ``args`` form of this config."""
        return {
            "repr_dim": self.repr_dim,
            "latent_dim": self.latent_dim,
            "num_layers": self.num_layers,
            "nhead": self.nhead,
            "dim_feedforward": self.dim_feedforward,
            "max_seq_len": self.max_seq_len,
            "matryoshka_dims": ",".join(map(str, self.matryoshka_dims)),
            "enable_qk_norm": self.qk_norm,
        }


# "small" is the published constructor default (7,112,322 parameters = the published 7.11 M). The
# other sizes publish only a parameter count, which many shapes meet; these meet it to the
# published three significant figures and stand in for them in benchmarks. A published
# checkpoint always brings its own shapes in ``args``.
STUDENT_PRESETS: dict[str, StudentConfig] = {
    "nano": StudentConfig(latent_dim=16, num_layers=6, dim_feedforward=512),  # 1,071,874
    "small": StudentConfig(),  # 7,112,322
    "medium": StudentConfig(latent_dim=128, num_layers=3, dim_feedforward=1920),  # 21,026,178
    "large": StudentConfig(latent_dim=160, num_layers=4, dim_feedforward=2560),  # 43,831,170
}


def student_preset(name: str) -> StudentConfig:
    try:
        return STUDENT_PRESETS[name.removeprefix("student-")]
    except KeyError:
        raise ConfigError(f"no student preset {name!r}; choose one of {', '.join(STUDENT_PRESETS)}") from None


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
