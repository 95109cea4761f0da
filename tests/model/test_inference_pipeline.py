"""The overlapped batch schedule (two batches in flight: the GPU path's) gives the serial loop's
bytes, batch boundaries and progress included; device options fail in one line."""

import numpy as np
import pytest
import torch

from tessera.errors import ConfigError
from tessera.model import Embedder, InferenceConfig, Tessera, preset
from tessera.model.sampling import sample_tokens
from tessera.simulate import SimulationConfig, simulate


@pytest.mark.parametrize("n", [0, 1, 700, 1024])
def test_overlapped_batches_equal_the_serial_loop(n):
    torch.manual_seed(0)
    model = Tessera(preset("tiny"))
    data = simulate(SimulationConfig(height=32, width=32, seed=2)).cube
    t, h, w = data.s2_mask.shape
    s1 = np.concatenate([data.s1_ascending.values, data.s1_descending.values]).reshape(-1, h * w, 2)
    s1_doy = np.concatenate([data.s1_ascending.doy, data.s1_descending.doy])
    order = np.argsort(s1_doy, kind="stable")
    tok = sample_tokens(
        data.s2_bands.reshape(t, h * w, 10),
        data.s2_mask.reshape(t, h * w),
        data.s2_doy,
        s1[order],
        s1_doy[order],
        np.random.default_rng(0),
    )
    s2, s1t = tok.s2[:n], tok.s1[:n]
    ticks = {True: [], False: []}
    got = {}
    for overlap in (False, True):
        emb = Embedder(model, InferenceConfig(batch_size=256, overlap=overlap))
        got[overlap] = emb(s2, s1t, ticks[overlap].append)
        assert emb.busy_s >= 0
    assert np.array_equal(got[True], got[False]) and got[True].shape == (n, 128)
    assert ticks[True] == ticks[False] == [min(256, n - i) for i in range(0, n, 256)]


def test_device_options_are_one_line_errors():
    model = Tessera(preset("tiny"))
    with pytest.raises(ConfigError, match="is not a device"):
        Embedder(model, InferenceConfig(device="foo"))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no usable CUDA GPU"):
            Embedder(model, InferenceConfig(device="cuda"))
    with pytest.raises(ConfigError, match="batch_size"):
        InferenceConfig(batch_size=-1)
