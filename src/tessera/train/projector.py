"""The Barlow Twins projector: (Linear → BatchNorm → ReLU) × depth, then Linear."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tessera.errors import ConfigError


@dataclass(frozen=True)
class ProjectorConfig:
    width: int = 16384  # published: 16384 (Barlow Twins needs a wide, high-dimensional head)
    depth: int = 5  # published: 5 Linear-BN-ReLU blocks before the last Linear

    def __post_init__(self) -> None:
        if self.width <= 0 or self.depth < 0:
            raise ConfigError(f"projector width {self.width} / depth {self.depth} out of range")


PROJECTORS = {
    "v1": ProjectorConfig(16384, 5),
    "small": ProjectorConfig(1024, 2),
    "tiny": ProjectorConfig(512, 2),
}


class Projector(nn.Module):
    def __init__(self, in_dim: int, cfg: ProjectorConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(cfg.depth):
            layers += [nn.Linear(dim, cfg.width, bias=False), nn.BatchNorm1d(cfg.width), nn.ReLU(inplace=True)]
            dim = cfg.width
        layers.append(nn.Linear(dim, cfg.width, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
