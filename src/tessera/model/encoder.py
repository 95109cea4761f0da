"""One sensor's encoder: token embedding, DOY position encoding, transformer, GRU-attention pooling.

Module and parameter names are the published ones (``embedding.0``, ``transformer_encoder.layers.i
.self_attn.in_proj_weight``, ``attn_pool.temporal_context.gru_cell.W_ir``…), so the released
state dict loads without renaming. The layers are written out rather than taken from
``nn.TransformerEncoderLayer`` to call fused attention directly and to batch the GRU's input
projections; tests check numerical parity with PyTorch's reference layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tessera.model.config import TesseraConfig


def doy_position_encoding(doy: torch.Tensor, d_model: int) -> torch.Tensor:
    """Sinusoidal encoding of the raw day of year: (B, T) → (B, T, d).

    Channel 2i is sin(doy·ωᵢ), channel 2i+1 is cos(doy·ωᵢ), ωᵢ = 10000^(−2i/d). DOY is not
    rescaled: the published weights were trained on raw days.
    """
    i = torch.arange(d_model // 2, device=doy.device, dtype=torch.float32)
    omega = torch.exp(-math.log(10000.0) * 2 * i / d_model)  # (d/2,)
    angle = doy.float().unsqueeze(-1) * omega  # (B, T, d/2)
    return torch.stack((angle.sin(), angle.cos()), dim=-1).flatten(-2)  # interleave sin, cos


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameter names and maths."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3d)
        qkv = qkv.view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, H, T, d/H)
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # fused where available
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class TransformerLayer(nn.Module):
    """Post-norm encoder layer with ReLU FFN, as ``nn.TransformerEncoderLayer`` (norm_first=False)."""

    def __init__(self, cfg: TesseraConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.self_attn = SelfAttention(d, cfg.n_heads, cfg.dropout)
        self.linear1 = nn.Linear(d, cfg.d_ffn)
        self.linear2 = nn.Linear(cfg.d_ffn, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.self_attn(x)))
        if self.training or torch.is_grad_enabled():
            ffn = self.linear2(self.drop(F.relu(self.linear1(x))))
        else:
            ffn = self._ffn_chunked(x)
        return self.norm2(x + self.drop(ffn))

    # Tokens per FFN chunk at inference: the (chunk, d_ffn) hidden stays cache- and
    # allocator-friendly (16 MB at v1), which lifts CPU throughput from ~0.8 to ~1.0 of a
    # square sgemm; a full (B·T, 4096) hidden is hundreds of MB of fresh pages per layer.
    ffn_chunk_tokens = 1024

    def _ffn_chunked(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        step = self.ffn_chunk_tokens
        out = w2 = b2 = None
        for i in range(0, flat.shape[0], step):
            hidden = F.relu_(self.linear1(flat[i : i + step]))
            if out is None:  # under autocast the hidden is bf16: write the output in kind
                out = flat.new_empty(flat.shape, dtype=hidden.dtype)
                w2 = self.linear2.weight.t().to(hidden.dtype)
                b2 = self.linear2.bias.to(hidden.dtype)
            torch.addmm(b2, hidden, w2, out=out[i : i + step])
        return out.view(x.shape)


class TransformerStack(nn.Module):
    """Holds ``layers`` so the state-dict path is ``transformer_encoder.layers.{i}``."""

    def __init__(self, cfg: TesseraConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(cfg) for _ in range(cfg.n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class GRUCell(nn.Module):
    """The published GRU cell: separate input/hidden matrices per gate, one bias per gate.

    r = σ(W_ir x + W_hr h + b_r); z = σ(W_iz x + W_hz h + b_z);
    ĥ = tanh(W_ih x + W_hh (r ⊙ h) + b_h); h' = (1 − z) ⊙ h + z ⊙ ĥ.
    (PyTorch's GRU puts r outside W_hh h and blends the other way round: not interchangeable.)
    """

    def __init__(self, d: int) -> None:
        super().__init__()
        for name in ("W_ir", "W_iz", "W_ih", "W_hr", "W_hz", "W_hh"):
            setattr(self, name, nn.Linear(d, d, bias=False))
        self.b_r = nn.Parameter(torch.zeros(d))
        self.b_z = nn.Parameter(torch.zeros(d))
        self.b_h = nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step, the definition: used by tests as the reference for :meth:`scan`."""
        r = torch.sigmoid(self.W_ir(x) + self.W_hr(h) + self.b_r)
        z = torch.sigmoid(self.W_iz(x) + self.W_hz(h) + self.b_z)
        h_hat = torch.tanh(self.W_ih(x) + self.W_hh(r * h) + self.b_h)
        return (1 - z) * h + z * h_hat

    def scan(self, x: torch.Tensor) -> torch.Tensor:
        """Run over a sequence from h = 0: (B, T, d) → all hidden states (B, T, d).

        The input projections of all steps are one matmul; per step only the two hidden
        matmuls remain (r and z share one), which is as sequential as the maths forces.
        """
        b, t, d = x.shape
        w_in = torch.cat((self.W_ir.weight, self.W_iz.weight, self.W_ih.weight))  # (3d, d)
        bias = torch.cat((self.b_r, self.b_z, self.b_h))
        xi = F.linear(x, w_in, bias).to(x.dtype)  # (B, T, 3d); autocast may give bf16
        w_rz = torch.cat((self.W_hr.weight, self.W_hz.weight))  # (2d, d)
        w_hh = self.W_hh.weight
        h = x.new_zeros(b, d)
        out = []
        for step in range(t):
            xr, xz, xh = xi[:, step].split(d, dim=-1)
            hr, hz = F.linear(h, w_rz).to(h.dtype).split(d, dim=-1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            h_hat = torch.tanh(xh + F.linear(r * h, w_hh).to(h.dtype))
            h = torch.lerp(h, h_hat, z)  # (1 − z)·h + z·ĥ
            out.append(h)
        return torch.stack(out, dim=1)


class TemporalContext(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.gru_cell = GRUCell(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru_cell.scan(x)


class AttentionPooling(nn.Module):
    """GRU context → LayerNorm → Linear(d → 1) scores → softmax over time → weighted mean of x."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.temporal_context = TemporalContext(d)
        self.layer_norm = nn.LayerNorm(d)
        self.query = nn.Linear(d, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = self.layer_norm(self.temporal_context(x))  # (B, T, d)
        weights = torch.softmax(self.query(context).squeeze(-1), dim=-1)  # (B, T)
        # The weights average the transformer outputs, not the GRU states.
        return torch.einsum("bt,btd->bd", weights.to(x.dtype), x)


class Backbone(nn.Module):
    """One sensor's encoder: tokens (B, T, bands + 1) with raw DOY last → pooled (B, d)."""

    def __init__(self, cfg: TesseraConfig, bands: int) -> None:
        super().__init__()
        self.d_model = cfg.d_model
        self.bands = bands
        self.embedding = nn.Sequential(
            nn.Linear(bands, cfg.d_model), nn.ReLU(), nn.Linear(cfg.d_model, cfg.d_model)
        )
        self.transformer_encoder = TransformerStack(cfg)
        self.attn_pool = AttentionPooling(cfg.d_model)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        values, doy = tokens[..., : self.bands], tokens[..., self.bands]
        x = self.embedding(values) + doy_position_encoding(doy, self.d_model).to(values.dtype)
        return self.attn_pool(self.transformer_encoder(x))
