"""The TESSERA model: an S2 and an S1 encoder, concatenated and fused linearly to 128 numbers."""

from __future__ import annotations

import torch
from torch import nn

from tessera.model.config import TesseraConfig
from tessera.model.encoder import Backbone, check_tokens


class Tessera(nn.Module):
    """``Tessera(cfg)(s2_tokens, s1_tokens) → (B, embed_dim)`` embeddings.

    s2_tokens: (B, T, 11) normalised S2 bands + raw DOY last; s1_tokens: (B, T′, 3) normalised
    VV, VH + raw DOY last (ascending and descending pooled). ``state_dict()`` keys are the
    published ones: ``s2_backbone.…``, ``s1_backbone.…``, ``dim_reducer.0.…``.
    """

    def __init__(self, cfg: TesseraConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.s2_backbone = Backbone(cfg, cfg.s2_bands)
        self.s1_backbone = Backbone(cfg, cfg.s1_bands)
        self.dim_reducer = nn.Sequential(nn.Linear(2 * cfg.d_model, cfg.embed_dim))

    def check_inputs(self, s2_tokens: torch.Tensor, s1_tokens: torch.Tensor) -> None:
        check_tokens(s2_tokens, s1_tokens, self.cfg.s2_bands, self.cfg.s1_bands)

    def encode(self, s2_tokens: torch.Tensor, s1_tokens: torch.Tensor) -> torch.Tensor:
        """The concatenated pooled representations (B, 2d), before fusion."""
        return torch.cat((self.s2_backbone(s2_tokens), self.s1_backbone(s1_tokens)), dim=-1)

    def forward(self, s2_tokens: torch.Tensor, s1_tokens: torch.Tensor) -> torch.Tensor:
        self.check_inputs(s2_tokens, s1_tokens)
        return self.dim_reducer(self.encode(s2_tokens, s1_tokens))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
