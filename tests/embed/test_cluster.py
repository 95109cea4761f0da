"""Local cluster sizing: PyTorch gets the cores, Dask threads give overlap."""

import pytest

from tessera.embed import local_shape
from tessera.errors import TesseraError


@pytest.mark.parametrize(
    "cores, workers, expected",
    [
        (2, None, (1, 3, 2)),
        (8, None, (1, 3, 8)),
        (32, None, (4, 3, 8)),
        (16, 4, (4, 3, 4)),
        (1, None, (1, 3, 1)),
    ],
)
def test_local_shape(cores, workers, expected):
    s = local_shape(cores, workers)
    assert (s.processes, s.threads_per_process, s.torch_threads) == expected
    assert s.processes * s.torch_threads <= max(cores, 1)


def test_workers_must_be_positive():
    with pytest.raises(TesseraError):
        local_shape(4, -1)
    with pytest.raises(TesseraError):
        local_shape(4, 0)


def test_overlapping_clusters_do_not_fight_over_the_dashboard_port():
    import socket
    import warnings

    from tessera.embed.cluster import LocalShape, dask_client

    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        except OSError:
            pass  # already taken by something else: the same situation
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with dask_client(LocalShape(1, 1, 1), None):
                pass
    assert not [w for w in caught if "8787" in str(w.message)]
