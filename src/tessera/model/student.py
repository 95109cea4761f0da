"""The TESSERA v2 pixel students: two per-sensor transformers, attention pooling, an MLP fusion to a
128-d Matryoshka embedding with per-pixel mean 0 and standard deviation 1.

Parameter names are the published ones (``s2_backbone.embedding.0``,
``transformer_encoder.layers.{i}.self_attn.in_proj_weight`` or, with QK-norm,
``transformer_encoder.{i}.q_proj``, ``attn_pool.query``, ``dim_reducer.{0,1,4}``), so a published
``student_*.pt`` state dict loads without renaming. The per-layer maths is shared with v1
(``encoder``); what differs is pooling (one linear score, no GRU), the fusion MLP and the
optional per-head RMS normalisation of queries and keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from tessera.model.config import FAMILY, STUDENT_PRESETS, StudentConfig, student_preset
from tessera.model.encoder import PostNormLayer, TransformerLayer, check_tokens, doy_position_encoding, gemm

# The config and presets live in ``config`` (torch-free); re-exported for existing imports.
__all__ = [
    "FAMILY",
    "STUDENT_PRESETS",
    "PixelStudent",
    "StudentConfig",
    "count_student_parameters",
    "student_flops_per_pixel",
    "student_preset",
]


class QKNormLayer(PostNormLayer):
    """The published QK-norm layer: separate q/k/v projections, each head's queries and keys
    RMS-normalised (learnt gain, no bias) before scaled-dot-product attention."""

    def __init__(self, d_model: int, n_heads: int, d_ffn: int, dropout: float) -> None:
        super().__init__(d_model, d_ffn, dropout)
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.q_norm = nn.RMSNorm(self.head_dim)
        self.k_norm = nn.RMSNorm(self.head_dim)
        self.attn_dropout = dropout

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        heads = (b, t, self.n_heads, self.head_dim)
        dt = self.gemm_dtype
        q = self.q_norm(gemm(x, self.q_proj, dtype=dt).view(heads)).transpose(1, 2)
        k = self.k_norm(gemm(x, self.k_proj, dtype=dt).view(heads)).transpose(1, 2)
        v = gemm(x, self.v_proj, dtype=dt).view(heads).transpose(1, 2)
        p = self.attn_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return gemm(out.transpose(1, 2).reshape(b, t, d), self.out_proj, dtype=dt)


class StandardStack(nn.Module):
    """Holds ``layers`` so the state-dict path is ``transformer_encoder.layers.{i}``."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self.layers)


class AttentionPool(nn.Module):
    """The published ``attn_pool``: one score per time step (``query``), softmax over time."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.query = nn.Linear(d, 1)


def _gemm_dtype(layers: nn.Module) -> torch.dtype | None:
    """The dtype the stack's first layer runs its GEMMs in (None: autocast or fp32 as is)."""
    return cast("torch.dtype | None", next(iter(layers)).gemm_dtype)  # type: ignore[call-overload]


class StudentBackbone(nn.Module):
    """One sensor: tokens (B, T, bands + 1), raw DOY last → attention-pooled (B, d)."""

    # Pixels per inference micro-batch, as tokens: activations stay cache-sized (see v1's Backbone).
    inference_chunk_tokens = 2048

    def __init__(self, cfg: StudentConfig, bands: int, dropout: float = 0.0) -> None:
        super().__init__()
        d = cfg.d_model
        self.bands, self.d_model = bands, d
        self.embedding = nn.Sequential(nn.Linear(bands, d), nn.ReLU(), nn.Linear(d, d))
        make = QKNormLayer if cfg.qk_norm else TransformerLayer
        layers: list[nn.Module] = [make(d, cfg.nhead, cfg.dim_feedforward, dropout) for _ in range(cfg.num_layers)]
        self.transformer_encoder = nn.ModuleList(layers) if cfg.qk_norm else StandardStack(layers)
        self.attn_pool = AttentionPool(d)

    def _encode(self, tokens: torch.Tensor, dt: torch.dtype | None) -> torch.Tensor:
        values, doy = tokens[..., : self.bands], tokens[..., self.bands]
        first, second = cast(nn.Linear, self.embedding[0]), cast(nn.Linear, self.embedding[2])
        x = gemm(gemm(values, first, relu=True, dtype=dt), second, dtype=dt)
        x = x + doy_position_encoding(doy, self.d_model).to(x.dtype)
        for layer in self.transformer_encoder:
            x = layer(x)
        # Softmax over time of one score per step; a single step pools to itself (weight 1).
        weights = torch.softmax(self.attn_pool.query(x).float(), dim=1)  # (B, T, 1)
        return (weights.to(x.dtype) * x).sum(dim=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        dt = _gemm_dtype(self.transformer_encoder)
        if self.training or torch.is_grad_enabled():
            return self._encode(tokens, dt)
        step = max(1, self.inference_chunk_tokens // max(1, tokens.shape[1]))
        return torch.cat([self._encode(chunk, dt) for chunk in tokens.split(step)])


class PixelStudent(nn.Module):
    """``PixelStudent(cfg)(s2_tokens, s1_tokens) → (B, 128)``: rows of mean 0, std 1 whose first
    16, 32 or 64 numbers are embeddings in their own right (Matryoshka).

    s2_tokens (B, T, 11): standardised bands + raw DOY; s1_tokens (B, T′, 3): ascending then
    descending frames, each orbit standardised with its own statistics. Every pixel of a batch
    has the same T and T′ (the bins of :mod:`tessera.model.binning`), so no padding mask exists.
    """

    def __init__(self, cfg: StudentConfig, dropout: float = 0.0) -> None:
        super().__init__()
        self.cfg = cfg
        self.s2_backbone = StudentBackbone(cfg, cfg.s2_bands, dropout)
        self.s1_backbone = StudentBackbone(cfg, cfg.s1_bands, dropout)
        d2 = 2 * cfg.d_model
        self.dim_reducer = nn.Sequential(
            nn.Linear(d2, 2 * d2),
            nn.LayerNorm(2 * d2),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(2 * d2, cfg.repr_dim),
            nn.LayerNorm(cfg.repr_dim, elementwise_affine=False),
        )

    def set_gemm_dtype(self, dtype: torch.dtype | None) -> PixelStudent:
        """Run every matmul in ``dtype`` (bf16) on cached weight copies, the rest in float32."""
        for m in self.modules():
            if isinstance(m, PostNormLayer):
                m.gemm_dtype = dtype
        return self

    def check_inputs(self, s2_tokens: torch.Tensor, s1_tokens: torch.Tensor) -> None:
        check_tokens(s2_tokens, s1_tokens, self.cfg.s2_bands, self.cfg.s1_bands)

    def forward(self, s2_tokens: torch.Tensor, s1_tokens: torch.Tensor) -> torch.Tensor:
        self.check_inputs(s2_tokens, s1_tokens)
        fused = torch.cat((self.s2_backbone(s2_tokens), self.s1_backbone(s1_tokens)), dim=-1)
        r = self.dim_reducer
        dt = _gemm_dtype(self.s2_backbone.transformer_encoder)
        if self.training or dt is None:
            return r(fused)
        h = F.relu(r[1](gemm(fused, cast(nn.Linear, r[0]), dtype=dt)))
        return r[5](gemm(h, cast(nn.Linear, r[4]), dtype=dt))


def student_flops_per_pixel(cfg: StudentConfig, t_s2: int, t_s1: int) -> int:
    """Forward multiply-add FLOPs (2 per MAC) of one pixel at sequence lengths ``t_s2``, ``t_s1``;
    matmuls only (the roofline's work)."""
    d, f = cfg.d_model, cfg.dim_feedforward

    def encoder(t: int, bands: int) -> int:
        embed = t * (bands * d + d * d)
        layer = t * 4 * d * d + 2 * t * t * d + t * 2 * d * f  # projections, QKᵀ and AV, FFN
        return 2 * (embed + cfg.num_layers * layer + 2 * t * d)  # + pooling scores and sum

    d2 = 2 * d
    return encoder(t_s2, cfg.s2_bands) + encoder(t_s1, cfg.s1_bands) + 2 * (d2 * 2 * d2 + 2 * d2 * cfg.repr_dim)


def count_student_parameters(cfg: StudentConfig) -> int:
    return sum(p.numel() for p in PixelStudent(cfg).parameters())
