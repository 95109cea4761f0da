"""Self-supervised losses: Barlow Twins and the Mixed-Barlow-Twins regulariser.

Pure functions of projector outputs (B, D). Distributed training gathers the batch across
processes *before* calling them (``gather_batch``), with an autograd-aware all-gather, so the loss
sees the global batch and gradients are exact; with one process the gather is the identity.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

LAMBDA = 5e-3  # off-diagonal weight, Zbontar et al. 2021 (and TESSERA)


def standardize(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Zero mean, unit (unbiased) std per dimension over the batch."""
    z = z.float()
    return (z - z.mean(0)) / (z.std(0, unbiased=True) + eps)


def cross_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """C(a, b) = std(a)ᵀ std(b) / B: (B, D), (B, D) → (D, D)."""
    return standardize(a).T @ standardize(b) / a.shape[0]


def off_diagonal(c: torch.Tensor) -> torch.Tensor:
    n = c.shape[0]
    return c.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float = LAMBDA) -> torch.Tensor:
    """Σᵢ (1 − Cᵢᵢ)² + λ Σ_{i≠j} Cᵢⱼ², C the batch cross-correlation of z1 and z2."""
    c = cross_correlation(z1, z2)
    on = (1 - torch.diagonal(c)).pow(2).sum()
    return on + lambd * off_diagonal(c).pow(2).sum()


def mix_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    zm: torch.Tensor,
    alpha: float,
    perm: torch.Tensor,
    lambd: float = LAMBDA,
    lambda_mix: float = 1.0,
) -> torch.Tensor:
    """Mixed Barlow Twins (Bandara et al. 2023) as TESSERA uses it.

    zm = projector(encoder(α·x₁ + (1 − α)·x₂[π])). Targets
    T_a = α·C(z₁, z₁) + (1 − α)·C(z₂[π], z₁), T_b = α·C(z₁, z₂) + (1 − α)·C(z₂[π], z₂);
    L = λ_mix·λ·(‖C(zm, z₁) − T_a‖²_F + ‖C(zm, z₂) − T_b‖²_F). Zero when α = 1 and zm = z₁.
    """
    z2p = z2[perm]
    t_a = alpha * cross_correlation(z1, z1) + (1 - alpha) * cross_correlation(z2p, z1)
    t_b = alpha * cross_correlation(z1, z2) + (1 - alpha) * cross_correlation(z2p, z2)
    diff = (cross_correlation(zm, z1) - t_a).pow(2).sum() + (cross_correlation(zm, z2) - t_b).pow(2).sum()
    return lambda_mix * lambd * diff


def gather_batch(z: torch.Tensor) -> torch.Tensor:
    """Concatenate ``z`` over all processes, keeping gradients; identity without a process group."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(z), dim=0)


def rankme(embeddings: torch.Tensor, eps: float = 1e-7) -> float:
    """Effective rank (Garrido et al. 2023): exp of the entropy of normalised singular values."""
    s = torch.linalg.svdvals(embeddings.float())
    p = s / (s.sum() + eps) + eps
    return float(torch.exp(-(p * p.log()).sum()))
