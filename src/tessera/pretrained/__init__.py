"""Checkpoints shipped inside the package, addressed by name wherever a checkpoint path is taken.

``tiny-broad``: the ``tiny`` preset (0.21 M parameters, 0.8 MB) pretrained without labels on the
simulator's broad ``pretrain`` family — 48 landscapes, each with its own place, field sizes,
crop calendar (±40 days), cloudiness, SAR noise and Sentinel-2 revisit. A starting point for
``tessera adapt`` on a user's own region and the quickstart's model. It has never seen real
Sentinel data: for real regions the published weights are the better start. The command and
metrics that made it are in the header (``recipe``) and in ``benchmarks/RESULTS.md``.

    tessera adapt my-cube.zarr --init tiny-broad -o adapted/
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

SHIPPED = {"tiny-broad": "tiny-broad.safetensors"}


def shipped(name: str) -> Path:
    """The packaged file of a shipped checkpoint."""
    from tessera.errors import InputNotFoundError

    if name not in SHIPPED:
        raise InputNotFoundError(f"no shipped checkpoint named {name!r}; shipped: {', '.join(SHIPPED)}")
    path = Path(str(resources.files(__name__) / SHIPPED[name]))
    if not path.is_file():
        raise InputNotFoundError(
            f"the shipped checkpoint {name!r} is missing from this installation ({path}); reinstall tessera"
        )
    return path


def locate(path: str | os.PathLike) -> Path:
    """``path`` itself if it exists, else the shipped checkpoint of that name, else ``path``
    (whose absence the loader reports)."""
    p = Path(path)
    if not p.exists() and str(path) in SHIPPED:
        return shipped(str(path))
    return p
