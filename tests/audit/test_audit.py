"""``tessera audit``: a store written with ``torch.nn.GRU`` in place of the checkpoint's own cell
(the published v1.1 store's defect, dClimate ADR 026) is named as disagreeing; a faithful store
agrees to the int8 step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tessera.audit import compare
from tessera.cube import write_cube
from tessera.embed import EmbedConfig, embed_cube
from tessera.model.encoder import GRUCell
from tessera.pretrained import locate
from tessera.simulate import SimulationConfig, simulate
from tests.tessera_cli import run_tessera

SERIAL = EmbedConfig(cores=1, workers=1)


def torch_gru_scan(self: GRUCell, x: torch.Tensor, xi: torch.Tensor | None = None) -> torch.Tensor:
    """The cell as ``torch.nn.GRU`` computes it with the checkpoint's weights: the reset gate on the
    hidden projection's output, and the blend the other way round."""
    d = x.shape[-1]
    gru = torch.nn.GRU(d, d, batch_first=True).to(x.device)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.cat((self.W_ir.weight, self.W_iz.weight, self.W_ih.weight)))
        gru.weight_hh_l0.copy_(torch.cat((self.W_hr.weight, self.W_hz.weight, self.W_hh.weight)))
        gru.bias_ih_l0.copy_(torch.cat((self.b_r, self.b_z, self.b_h)))
        gru.bias_hh_l0.zero_()
        out, _ = gru(x.float())
    return out.to(x.dtype)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    cube = write_cube(root / "cube.zarr", simulate(SimulationConfig(height=32, width=32, seed=11, field_px=8)).cube)
    ckpt = locate("tiny-broad")  # trained weights: a random GRU barely moves the pooled vector
    embed_cube(cube, ckpt, root / "faithful.zarr", SERIAL)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(GRUCell, "scan", torch_gru_scan)
        embed_cube(cube, ckpt, root / "torch-gru.zarr", SERIAL)
    return root, cube, ckpt


def test_a_store_computed_with_torch_gru_is_named(stores, tmp_path):
    root, cube, ckpt = stores
    done = run_tessera(
        "audit",
        root / "torch-gru.zarr",
        "--cube",
        cube,
        "-c",
        ckpt,
        "--png",
        tmp_path / "a.png",
        check=True,
        in_process=True,
    )
    said = " ".join(done.stdout.split())
    mean = float(said.split("cosine, mean │ ")[1].split()[0])
    assert mean < 0.999 and "disagrees with the checkpoint" in said
    assert (tmp_path / "a.png").stat().st_size > 10_000


def test_a_faithful_store_agrees_to_the_int8_step(stores):
    root, cube, ckpt = stores
    done = run_tessera("audit", root / "faithful.zarr", "--cube", cube, "-c", ckpt, check=True, in_process=True)
    said = " ".join(done.stdout.split())
    assert "within one int8 step │ 100.00%" in said and "agrees with the checkpoint" in said


def test_the_measures_move_the_right_way():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 20, 16)).astype(np.float32)
    same = compare(a, a.copy())
    assert same.within_one_step == 1.0 and same.cosine_worst > 0.99999 and same.neighbour_overlap == 1.0
    noisy = compare(a, a + rng.normal(scale=0.5, size=a.shape).astype(np.float32))
    assert noisy.cosine_mean < 0.95 and noisy.within_one_step < 0.5 and noisy.neighbour_overlap < 1.0
