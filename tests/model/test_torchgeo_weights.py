"""torchgeo's TESSERA weights (``Tessera_Weights.TESSERA``, ``model-*.pth``): the first TESSERA
code's model, whose attention pooling runs PyTorch's ``nn.GRU``. A file in that form loads by
path and embeds exactly as a reference written from ``torch.nn`` parts does."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import tessera.model as tm
from tessera.model.checkpoint import infer_config


class _Encoder(nn.Module):
    """One sensor, as torchgeo's ``TransformerEncoder``: embedding, DOY sinusoid, post-LN layers,
    GRU-context attention pooling over the layer outputs."""

    def __init__(self, bands: int, d: int, heads: int, layers: int, ffn: int) -> None:
        super().__init__()
        self.embedding = nn.Sequential(nn.Linear(bands, d), nn.ReLU(), nn.Linear(d, d))
        layer = nn.TransformerEncoderLayer(d, heads, ffn, dropout=0.1, activation="relu", batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.attn_pool = nn.Module()
        self.attn_pool.query = nn.Linear(d, 1)
        self.attn_pool.temporal_context = nn.GRU(d, d, batch_first=True)
        self.d = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, doy = x[..., :-1], x[..., -1:]
        freq = torch.exp(torch.arange(0, self.d, 2, dtype=torch.float32) * -(math.log(10000.0) / self.d))
        pe = torch.zeros(*x.shape[:2], self.d)
        pe[..., 0::2], pe[..., 1::2] = torch.sin(doy * freq), torch.cos(doy * freq)
        h = self.transformer_encoder(self.embedding(values) + pe)
        context, _ = self.attn_pool.temporal_context(h)
        w = torch.softmax(self.attn_pool.query(context), dim=1)
        return (w * h).sum(dim=1)


class _Reference(nn.Module):
    def __init__(self, d: int = 64, heads: int = 4, layers: int = 2, ffn: int = 128, out: int = 16) -> None:
        super().__init__()
        self.s2_backbone = _Encoder(10, d, heads, layers, ffn)
        self.s1_backbone = _Encoder(2, d, heads, layers, ffn)
        self.dim_reducer = nn.Sequential(nn.Linear(2 * d, out))

    def forward(self, s2: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        return self.dim_reducer(torch.cat([self.s2_backbone(s2), self.s1_backbone(s1)], dim=-1))


def _tokens(n: int, t: int, bands: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(n, t, bands, generator=g)
    doy = torch.sort(torch.randint(1, 366, (n, t), generator=g), dim=1).values.float()
    return torch.cat([values, doy[..., None]], dim=-1)


def test_a_torchgeo_file_loads_and_embeds_as_the_reference(tmp_path):
    torch.manual_seed(0)
    ref = _Reference().eval()
    path = tmp_path / "model-0123abcd.pth"
    torch.save(ref.state_dict(), path)
    model = tm.load(path, n_heads=4)
    assert model.cfg.pooling == "gru" and model.cfg.n_layers == 2
    s2, s1 = _tokens(6, 40, 10, 1), _tokens(6, 40, 2, 2)
    with torch.no_grad():
        want = ref(s2, s1)
        trained_path = model(s2, s1)  # grad disabled but not inference mode: the training path
    with torch.inference_mode():
        fast = model(s2, s1)  # inference: micro-batched
    assert torch.allclose(trained_path, want, atol=1e-5) and torch.allclose(fast, want, atol=1e-5)


def test_torchgeos_shapes_need_no_head_count():
    with torch.device("meta"):
        state = _Reference(d=512, heads=8, layers=8, ffn=4096, out=128).state_dict()
    cfg = infer_config(state)
    assert (cfg.pooling, cfg.n_heads, cfg.n_layers, cfg.d_model) == ("gru", 8, 8, 512)
    assert "pooling" in cfg.to_dict() and "pooling" not in tm.preset("v1").to_dict()


def test_the_published_pooling_is_not_confused_with_torchs(tmp_path):
    model = tm.Tessera(tm.preset("tiny"))
    path = tmp_path / "v1.pt"
    torch.save(model.state_dict(), path)
    assert tm.load(path).cfg.pooling == "qat"
    with pytest.raises(tm.CheckpointError, match="missing"):
        state = model.state_dict()
        del state["s2_backbone.attn_pool.layer_norm.weight"]
        torch.save(state, path)
        tm.load(path)
