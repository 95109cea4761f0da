import math

import numpy as np
import pytest
import torch
from torch import nn

from tessera.model import PRESETS, Tessera, TesseraConfig, count_parameters, flops_per_pixel
from tessera.model.encoder import GRUCell, TransformerLayer, doy_position_encoding

TINY = PRESETS["tiny"]


def published_keys(n_layers: int) -> set[str]:
    """The published state-dict names, spelled out from DESIGN.md."""
    keys = {"dim_reducer.0.weight", "dim_reducer.0.bias"}
    for b in ("s2_backbone", "s1_backbone"):
        keys |= {f"{b}.embedding.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")}
        for i in range(n_layers):
            layer = f"{b}.transformer_encoder.layers.{i}"
            keys |= {
                f"{layer}.self_attn.{p}" for p in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")
            }
            keys |= {f"{layer}.{m}.{p}" for m in ("linear1", "linear2", "norm1", "norm2") for p in ("weight", "bias")}
        gru = f"{b}.attn_pool.temporal_context.gru_cell"
        keys |= {f"{gru}.{w}.weight" for w in ("W_ir", "W_iz", "W_ih", "W_hr", "W_hz", "W_hh")}
        keys |= {f"{gru}.{p}" for p in ("b_r", "b_z", "b_h")}
        keys |= {f"{b}.attn_pool.{m}.{p}" for m in ("query", "layer_norm") for p in ("weight", "bias")}
    return keys


def test_v1_has_the_published_names_and_parameter_counts():
    model = Tessera(PRESETS["v1"])
    assert set(model.state_dict()) == published_keys(4)
    assert count_parameters(model.s2_backbone) == 22_850_561
    assert count_parameters(model.s1_backbone) == 22_846_465
    assert count_parameters(model) == 45_828_226
    assert model.state_dict()["dim_reducer.0.weight"].shape == (128, 1024)
    assert flops_per_pixel(PRESETS["v1"]) / 1e9 == pytest.approx(3.7, abs=0.05)


def tokens(b=3, t=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    s2 = torch.randn(b, t, 11, generator=g)
    s1 = torch.randn(b, t, 3, generator=g)
    s2[..., -1] = torch.sort(torch.randint(1, 367, (b, t), generator=g).float()).values
    s1[..., -1] = torch.sort(torch.randint(1, 367, (b, t), generator=g).float()).values
    return s2, s1


def test_forward_shape_and_input_checks():
    model = Tessera(TINY).eval()
    s2, s1 = tokens()
    assert model(s2, s1).shape == (3, 128)
    with pytest.raises(Exception, match=r"\(B, T, 11\)"):
        model(s2[..., :10], s1)
    with pytest.raises(Exception, match="batch sizes differ"):
        model(s2, s1[:2])


def test_position_encoding_formula():
    doy = torch.tensor([[1.0, 180.0, 366.0]])
    pe = doy_position_encoding(doy, 8)
    for i in range(4):
        w = 10000 ** (-2 * i / 8)
        assert torch.allclose(pe[0, :, 2 * i], torch.sin(doy[0] * w), atol=1e-5)
        assert torch.allclose(pe[0, :, 2 * i + 1], torch.cos(doy[0] * w), atol=1e-5)


@pytest.mark.parametrize("grad", [True, False])
def test_transformer_layer_matches_pytorch_reference(grad):
    cfg = TesseraConfig(d_model=32, n_layers=1, n_heads=4, d_ffn=64)
    ours = TransformerLayer(cfg.d_model, cfg.n_heads, cfg.d_ffn, cfg.dropout).eval()
    ref = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True).eval()
    ref.load_state_dict(ours.state_dict())
    ours.ffn_chunk_tokens = 7  # force several uneven chunks on the inference path
    x = torch.randn(5, 13, 32)
    with torch.set_grad_enabled(grad):
        assert torch.allclose(ours(x), ref(x), atol=1e-5)


def test_gru_scan_equals_the_step_definition():
    torch.manual_seed(0)
    cell = GRUCell(16)
    for p in (cell.b_r, cell.b_z, cell.b_h):
        nn.init.normal_(p)
    x = torch.randn(4, 9, 16)
    h = torch.zeros(4, 16)
    steps = []
    for t in range(9):
        h = cell(x[:, t], h)
        steps.append(h)
    assert torch.allclose(cell.scan(x), torch.stack(steps, 1), atol=1e-6)
    # and the step itself is the published formula, not PyTorch's GRU convention
    xt, h0 = x[:, 0], torch.randn(4, 16)
    r = torch.sigmoid(x[:, 0] @ cell.W_ir.weight.T + h0 @ cell.W_hr.weight.T + cell.b_r)
    z = torch.sigmoid(xt @ cell.W_iz.weight.T + h0 @ cell.W_hz.weight.T + cell.b_z)
    hh = torch.tanh(xt @ cell.W_ih.weight.T + (r * h0) @ cell.W_hh.weight.T + cell.b_h)
    assert torch.allclose(cell(xt, h0), (1 - z) * h0 + z * hh, atol=1e-6)


def test_pooling_averages_transformer_outputs_with_softmax_weights():
    torch.manual_seed(1)
    model = Tessera(TINY).eval()
    bb = model.s2_backbone
    s2, _ = tokens(b=2)
    with torch.no_grad():
        x = bb.embedding(s2[..., :10]) + doy_position_encoding(s2[..., 10], TINY.d_model)
        x = bb.transformer_encoder(x)
        ctx = bb.attn_pool.layer_norm(bb.attn_pool.temporal_context(x))
        w = torch.softmax(bb.attn_pool.query(ctx)[..., 0], dim=1)
        expected = (w[..., None] * x).sum(1)
        assert torch.allclose(bb(s2), expected, atol=1e-5)
        assert math.isclose(float(w.sum(1)[0]), 1.0, rel_tol=1e-5)


def test_gradients_reach_every_parameter():
    model = Tessera(TINY).train()
    s2, s1 = tokens()
    model(s2, s1).square().sum().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, f"no gradient for {dead}"


def test_fast_inference_path_equals_the_training_path(monkeypatch):
    """No-grad forwards take micro-batches, chunked FFNs and oneDNN linears: same numbers."""
    torch.manual_seed(2)
    model = Tessera(PRESETS["tiny"]).eval()
    monkeypatch.setattr(type(model.s2_backbone), "inference_chunk_tokens", 90)  # 2 px per chunk
    s2, s1 = tokens(b=5)
    with torch.no_grad():
        fast = model(s2, s1)
    with torch.enable_grad():
        reference = model(s2, s1)
    assert torch.allclose(fast, reference, atol=1e-4)


def test_bf16_embedder_is_close_to_fp32():
    from tessera.model import Embedder, InferenceConfig

    torch.manual_seed(3)
    model = Tessera(PRESETS["tiny"])
    s2, s1 = tokens(b=37)
    fp32 = Embedder(model, InferenceConfig("fp32", batch_size=16))(s2.numpy(), s1.numpy())
    bf16 = Embedder(model, InferenceConfig("bf16", batch_size=16))(s2.numpy(), s1.numpy())
    assert fp32.shape == (37, 128) and fp32.dtype == bf16.dtype == np.float32
    cos = (fp32 * bf16).sum(1) / (abs(fp32 * fp32).sum(1) ** 0.5 * abs(bf16 * bf16).sum(1) ** 0.5)
    assert cos.min() > 0.99
    # batching does not change results
    again = Embedder(model, InferenceConfig("fp32", batch_size=37))(s2.numpy(), s1.numpy())
    assert abs(again - fp32).max() < 1e-5
