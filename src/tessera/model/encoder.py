"""One sensor's encoder: token embedding, DOY position encoding, transformer, GRU-attention pooling.

Module and parameter names are the published ones (``embedding.0``, ``transformer_encoder.layers.i
.self_attn.in_proj_weight``, ``attn_pool.temporal_context.gru_cell.W_ir``…), so the released
state dict loads without renaming. The layers are written out rather than taken from
``nn.TransformerEncoderLayer`` to call fused attention directly and to batch the GRU's input
projections; tests check numerical parity with PyTorch's reference layer.
"""

from __future__ import annotations

import math
from typing import cast, overload

import torch
import torch.nn.functional as F
from torch import nn

from tessera.model.config import TesseraConfig

# oneDNN's fused linear (+bias, +ReLU): ~2× the fp32 GEMM rate of the default CPU matmul on
# AVX-512 machines, and the bias/ReLU are applied in the GEMM's epilogue instead of extra passes
# over memory. Internal to PyTorch (Inductor uses it), hence the guarded fallback.
_ONEDNN_LINEAR = getattr(torch.ops.mkldnn, "_linear_pointwise", None) if torch.backends.mkldnn.is_available() else None
# Its bf16 kernels need a CPU with bf16 instructions (AVX-512 BF16, AMX); elsewhere it raises
# "could not create a primitive descriptor", so bf16 there takes PyTorch's own matmul.
_ONEDNN_BF16 = (
    bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)()) if _ONEDNN_LINEAR else False
)


@overload
def _as_dtype(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor: ...
@overload
def _as_dtype(t: None, dtype: torch.dtype) -> None: ...
@overload
def _as_dtype(t: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None: ...


def _as_dtype(t: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """``t`` in ``dtype``; for parameters cached on the parameter itself, keyed by its version
    counter (bumped by every in-place update), so bf16 weights are cast once, not per call."""
    if t is None or t.dtype == dtype:
        return t
    if not isinstance(t, nn.Parameter):
        return t.to(dtype)
    hit = getattr(t, "_tessera_cast", None)
    if hit is not None and hit[0] == (t._version, dtype):
        return hit[1]
    out = t.detach().to(dtype)
    t._tessera_cast = ((t._version, dtype), out)  # type: ignore[attr-defined]
    return out


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, relu: bool = False) -> torch.Tensor:
    """``F.linear`` (+ ReLU); at CPU inference through oneDNN, honouring CPU autocast.

    Without autocast the input is cast to the weight's dtype, so a model converted to bf16
    can keep some state (the GRU's) in float32.
    """
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else weight.dtype
    native = dtype == torch.bfloat16 and not _ONEDNN_BF16
    if _ONEDNN_LINEAR is None or torch.is_grad_enabled() or x.device.type != "cpu" or native:
        y = F.linear(x.to(weight.dtype), weight, bias)
        return (F.relu_(y) if not torch.is_grad_enabled() else F.relu(y)) if relu else y
    return _ONEDNN_LINEAR(
        x.to(dtype), _as_dtype(weight, dtype), _as_dtype(bias, dtype), "relu" if relu else "none", [], ""
    )


def gemm(x: torch.Tensor, layer: nn.Linear, relu: bool = False, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``layer(x)`` (+ ReLU) through :func:`linear`; with ``dtype`` (bf16) the product runs on cached
    ``dtype`` copies of the weights and comes back as float32."""
    return gemm_w(x, layer.weight, layer.bias, relu, dtype)


def gemm_w(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    relu: bool = False,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """:func:`gemm` on bare tensors."""
    if dtype is None:
        return linear(x, weight, bias, relu)
    return linear(x, _as_dtype(weight, dtype), _as_dtype(bias, dtype), relu).float()


def check_tokens(s2_tokens: torch.Tensor, s1_tokens: torch.Tensor, s2_bands: int, s1_bands: int) -> None:
    """One clear error for token arrays of the wrong shape, before any layer sees them."""
    from tessera.errors import ConfigError

    for name, tok, width in (("s2_tokens", s2_tokens, s2_bands + 1), ("s1_tokens", s1_tokens, s1_bands + 1)):
        if tok.ndim != 3 or tok.shape[-1] != width:
            raise ConfigError(f"{name} must be (B, T, {width}) (bands + DOY); got {tuple(tok.shape)}")
    if s2_tokens.shape[0] != s1_tokens.shape[0]:
        raise ConfigError(f"batch sizes differ: S2 {s2_tokens.shape[0]}, S1 {s1_tokens.shape[0]}")


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

    def forward(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        b, t, d = x.shape
        qkv = gemm_w(x, self.in_proj_weight, self.in_proj_bias, dtype=dtype)  # (B, T, 3d)
        qkv = qkv.view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, H, T, d/H)
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # fused where available
        return gemm(out.transpose(1, 2).reshape(b, t, d), self.out_proj, dtype=dtype)


class PostNormLayer(nn.Module):
    """Post-norm encoder layer with ReLU FFN, as ``nn.TransformerEncoderLayer`` (norm_first=False),
    around an attention its subclass defines (v1's fused in-projection, the v2 QK-norm one)."""

    def __init__(self, d_model: int, d_ffn: int, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    # Set on inference copies of v2 students run in bf16 on a CPU: their GEMMs take bf16 copies
    # of the weights while the residual stream and every norm stay float32 (bf16 LayerNorms
    # through the stack cost cosine ~1e-3 against fp32, this ~1e-5).
    gemm_dtype: torch.dtype | None = None

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.attend(x)))
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
        dt = self.gemm_dtype
        parts = [
            gemm(gemm(flat[i : i + step], self.linear1, relu=True, dtype=dt), self.linear2, dtype=dt)
            for i in range(0, flat.shape[0], step)
        ]
        out = parts[0] if len(parts) == 1 else torch.cat(parts)
        return out.view(*x.shape[:-1], -1)


class TransformerLayer(PostNormLayer):
    """``nn.TransformerEncoderLayer``'s maths and parameter names (``self_attn.in_proj_weight``…)."""

    def __init__(self, d_model: int, n_heads: int, d_ffn: int, dropout: float) -> None:
        super().__init__(d_model, d_ffn, dropout)
        self.self_attn = SelfAttention(d_model, n_heads, dropout)

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        return self.self_attn(x, self.gemm_dtype)


class TransformerStack(nn.Module):
    """Holds ``layers`` so the state-dict path is ``transformer_encoder.layers.{i}``."""

    def __init__(self, cfg: TesseraConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerLayer(cfg.d_model, cfg.n_heads, cfg.d_ffn, cfg.dropout) for _ in range(cfg.n_layers)
        )

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

    W_ir: nn.Linear
    W_iz: nn.Linear
    W_ih: nn.Linear
    W_hr: nn.Linear
    W_hz: nn.Linear
    W_hh: nn.Linear

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

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """W_ir x + b_r, W_iz x + b_z, W_ih x + b_h for every step at once: (B, T, d) → (B, T, 3d)."""
        w_in = torch.cat((self.W_ir.weight, self.W_iz.weight, self.W_ih.weight))  # (3d, d)
        bias = torch.cat((self.b_r, self.b_z, self.b_h))
        return linear(x, w_in, bias).to(x.dtype)  # autocast may give bf16

    def scan(self, x: torch.Tensor, xi: torch.Tensor | None = None) -> torch.Tensor:
        """Run over a sequence from h = 0: (B, T, d) → all hidden states (B, T, d).

        The input projections of all steps are one matmul (``xi``, computed here unless given);
        per step only the two hidden matmuls remain (r and z share one), which is as
        sequential as the maths forces.
        """
        b, t, d = x.shape
        xi = self.input_projection(x) if xi is None else xi
        w_rz = torch.cat((self.W_hr.weight, self.W_hz.weight))  # (2d, d)
        w_hh = self.W_hh.weight
        # The recurrence accumulates over T steps: keep its state in float32 even in bf16 models.
        h = x.new_zeros(b, d, dtype=torch.float32)
        xi = xi.float()
        out = []
        for step in range(t):
            xr, xz, xh = xi[:, step].split(d, dim=-1)
            hr, hz = linear(h, w_rz).to(h.dtype).split(d, dim=-1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            h_hat = torch.tanh(xh + linear(r * h, w_hh).to(h.dtype))
            h = torch.lerp(h, h_hat, z)  # (1 − z)·h + z·ĥ
            out.append(h)
        return torch.stack(out, dim=1).to(x.dtype)


class TemporalContext(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.gru_cell = GRUCell(d)

    def forward(self, x: torch.Tensor, xi: torch.Tensor | None = None) -> torch.Tensor:
        return self.gru_cell.scan(x, xi)


class AttentionPooling(nn.Module):
    """GRU context → LayerNorm → Linear(d → 1) scores → softmax over time → weighted mean of x."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.temporal_context = TemporalContext(d)
        self.layer_norm = nn.LayerNorm(d)
        self.query = nn.Linear(d, 1)

    def forward(self, x: torch.Tensor, xi: torch.Tensor | None = None) -> torch.Tensor:
        """x: transformer outputs (B, T, d); xi: their GRU input projections, if precomputed."""
        context = self.layer_norm(self.temporal_context(x, xi))  # (B, T, d)
        weights = torch.softmax(self.query(context).squeeze(-1), dim=-1)  # (B, T)
        # The weights average the transformer outputs, not the GRU states.
        return torch.einsum("bt,btd->bd", weights.to(x.dtype), x)


class TorchGRUPooling(nn.Module):
    """The first TESSERA code's pooling, as torchgeo ports it: PyTorch's ``nn.GRU`` context (its
    own gate convention), no LayerNorm, Linear(d → 1) scores → softmax over time → weighted mean
    of x. Parameter names are nn.GRU's (``temporal_context.weight_ih_l0`` …)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.temporal_context = nn.GRU(d, d, batch_first=True)
        self.query = nn.Linear(d, 1)

    def forward(self, x: torch.Tensor, xi: torch.Tensor | None = None) -> torch.Tensor:
        context, _ = self.temporal_context(x)
        weights = torch.softmax(self.query(context).squeeze(-1), dim=-1)
        return torch.einsum("bt,btd->bd", weights.to(x.dtype), x)


class Backbone(nn.Module):
    """One sensor's encoder: tokens (B, T, bands + 1) with raw DOY last → pooled (B, d)."""

    def __init__(self, cfg: TesseraConfig, bands: int) -> None:
        super().__init__()
        self.d_model = cfg.d_model
        self.bands = bands
        self.embedding = nn.Sequential(  # run through linear() at inference, see forward
            nn.Linear(bands, cfg.d_model), nn.ReLU(), nn.Linear(cfg.d_model, cfg.d_model)
        )
        self.transformer_encoder = TransformerStack(cfg)
        self.attn_pool: AttentionPooling | TorchGRUPooling = (
            AttentionPooling(cfg.d_model) if cfg.pooling == "qat" else TorchGRUPooling(cfg.d_model)
        )

    # Pixels per inference micro-batch, as tokens: every activation of the embedding and the
    # transformer stays ≲ 16 MB (cache- and allocator-friendly), which keeps GEMMs near peak;
    # whole-batch activations of hundreds of MB run ~30 % slower on CPUs.
    inference_chunk_tokens = 1024

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        values, doy = tokens[..., : self.bands], tokens[..., self.bands]
        first, second = cast(nn.Linear, self.embedding[0]), cast(nn.Linear, self.embedding[2])
        x = linear(linear(values, first.weight, first.bias, relu=True), second.weight, second.bias)
        return x + doy_position_encoding(doy, self.d_model).to(x.dtype)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.training or torch.is_grad_enabled():
            return self.attn_pool(self.transformer_encoder(self._embed(tokens)))
        step = max(1, self.inference_chunk_tokens // max(1, tokens.shape[1]))
        if isinstance(self.attn_pool, TorchGRUPooling):  # nn.GRU runs its own fused recurrence
            return torch.cat([self.attn_pool(self.transformer_encoder(self._embed(c))) for c in tokens.split(step)])
        # Inference: per-pixel work in micro-batches; the GRU recurrence over the whole batch
        # (its per-step matmuls want many rows).
        gru = self.attn_pool.temporal_context.gru_cell
        outs, projections = [], []
        for chunk in tokens.split(step):
            x = self.transformer_encoder(self._embed(chunk))
            outs.append(x)
            projections.append(gru.input_projection(x))
        return self.attn_pool(torch.cat(outs), torch.cat(projections))
