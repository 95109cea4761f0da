import itertools

import numpy as np
import pytest
import torch

from tessera.model import Tessera, preset
from tessera.train import Projector, ProjectorConfig, barlow_twins_loss, learning_rate, mix_loss, rankme
from tessera.train.loop import Trainee
from tessera.train.losses import cross_correlation


def reference_bt(z1, z2, lambd=5e-3):
    """Straight from the formula, in NumPy float64."""
    a = (z1 - z1.mean(0)) / z1.std(0, ddof=1)
    b = (z2 - z2.mean(0)) / z2.std(0, ddof=1)
    c = a.T @ b / len(a)
    off = c - np.diag(np.diag(c))
    return ((1 - np.diag(c)) ** 2).sum() + lambd * (off**2).sum()


def test_matches_reference_computation():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(64, 16)), rng.normal(size=(64, 16))
    got = barlow_twins_loss(torch.tensor(z1), torch.tensor(z2))
    assert float(got) == pytest.approx(reference_bt(z1, z2), rel=1e-4)


def test_identical_decorrelated_views_give_the_known_minimum():
    b, d = 64, 16
    x = np.random.default_rng(1).normal(size=(b, d))
    x -= x.mean(0)
    q, _ = np.linalg.qr(x)  # orthonormal, centred columns: perfectly decorrelated dimensions
    z = torch.tensor(q * 3.0)
    # With the unbiased std, C_ii = (B − 1) / B, so the minimum is D / B², not 0.
    assert float(barlow_twins_loss(z, z)) == pytest.approx(d / b**2, rel=1e-3)
    assert float(barlow_twins_loss(z, z)) < float(barlow_twins_loss(z, torch.tensor(x[:, ::-1].copy())))


def test_invariant_to_rescaling_and_shifting_each_dimension():
    rng = np.random.default_rng(2)
    z1, z2 = torch.tensor(rng.normal(size=(32, 8))), torch.tensor(rng.normal(size=(32, 8)))
    scale, shift = torch.tensor(rng.uniform(0.1, 10, 8)), torch.tensor(rng.normal(size=8) * 5)
    assert float(barlow_twins_loss(z1 * scale + shift, z2)) == pytest.approx(float(barlow_twins_loss(z1, z2)), rel=1e-5)


def test_mix_term_is_zero_when_alpha_is_one_and_matches_its_formula():
    rng = np.random.default_rng(3)
    z1, z2, zm = (torch.tensor(rng.normal(size=(40, 8))) for _ in range(3))
    perm = torch.randperm(40)
    assert float(mix_loss(z1, z2, z1, 1.0, perm)) == pytest.approx(0.0, abs=1e-9)
    a = 0.3
    c = cross_correlation
    t_a = a * c(z1, z1) + (1 - a) * c(z2[perm], z1)
    t_b = a * c(z1, z2) + (1 - a) * c(z2[perm], z2)
    expected = 5e-3 * (((c(zm, z1) - t_a) ** 2).sum() + ((c(zm, z2) - t_b) ** 2).sum())
    assert float(mix_loss(z1, z2, zm, a, perm)) == pytest.approx(float(expected), rel=1e-6)


def test_gradients_flow_to_both_encoders_and_the_projector():
    torch.manual_seed(0)
    model = Tessera(preset("tiny"))
    trainee = Trainee(model, Projector(128, ProjectorConfig(64, 1)))
    g = torch.Generator().manual_seed(0)
    views = []
    for _ in range(3):
        s2, s1 = torch.randn(16, 40, 11, generator=g), torch.randn(16, 40, 3, generator=g)
        s2[..., -1] = s1[..., -1] = torch.arange(1, 41).float() * 9
        views.append((s2, s1))
    z1, z2, zm = trainee(views)
    (barlow_twins_loss(z1, z2) + mix_loss(z1, z2, zm, 0.5, torch.randperm(16))).backward()
    for part in (model.s2_backbone, model.s1_backbone, model.dim_reducer, trainee.projector):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_schedule_warmup_plateau_cosine():
    lr = [learning_rate(s, 100, 1.0, 10, 20, 0.01) for s in range(101)]
    assert lr[0] == pytest.approx(0.1) and lr[9] == pytest.approx(1.0)
    assert all(x == 1.0 for x in lr[10:30])
    assert all(a >= b for a, b in itertools.pairwise(lr[30:]))
    assert lr[100] == pytest.approx(0.01)


def test_rankme_of_full_and_collapsed_embeddings():
    x = torch.randn(500, 32)
    assert rankme(x) > 25
    assert rankme(x[:, :1].repeat(1, 32)) < 1.5
