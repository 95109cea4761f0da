"""Local cluster sizing: PyTorch gets the cores, Dask threads give overlap."""

import pytest

from tessera.embed import local_shape
from tessera.errors import TesseraError


@pytest.mark.parametrize("cores, workers, expected", [
    (2, None, (1, 3, 2)), (8, None, (1, 3, 8)), (32, None, (4, 3, 8)), (16, 4, (4, 3, 4)), (1, None, (1, 3, 1)),
])  # fmt: skip
def test_local_shape(cores, workers, expected):
    s = local_shape(cores, workers)
    assert (s.processes, s.threads_per_process, s.torch_threads) == expected
    assert s.processes * s.torch_threads <= max(cores, 1)


def test_workers_must_be_positive():
    with pytest.raises(TesseraError):
        local_shape(4, -1)
    with pytest.raises(TesseraError):
        local_shape(4, 0)
