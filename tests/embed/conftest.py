"""The embedding tests' shared scene: a 64² simulated cube and a random tiny model."""

import pytest
import torch

from tessera.cube import write_cube
from tessera.model import Tessera, preset, save
from tessera.simulate import SimulationConfig, simulate


@pytest.fixture(scope="session")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    data = simulate(SimulationConfig(height=64, width=64, seed=11, field_px=12)).cube
    torch.manual_seed(1)
    return root, write_cube(root / "cube.zarr", data), save(Tessera(preset("tiny")), root / "tiny.safetensors"), data
