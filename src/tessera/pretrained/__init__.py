"""Checkpoints shipped inside the package, addressed by name wherever a checkpoint path is taken.

``tiny-broad``: the ``tiny`` preset (0.21 M parameters, 0.8 MB) pretrained without labels on the
simulator's broad ``pretrain`` family — 48 landscapes, each with its own place, field sizes,
crop calendar (±40 days), cloudiness, SAR noise and Sentinel-2 revisit. A starting point for
``tessera adapt`` on a user's own region and the quickstart's model. It has never seen real
Sentinel data: for real regions the published weights are the better start. The command and
metrics that made it are in the header (``recipe``) and in ``benchmarks/RESULTS.md``.

    tessera adapt my-cube.zarr --init tiny-broad -o adapted/

The published weights (v1.0, v1.1, the v2 students) are not shipped: ``tessera weights NAME``
downloads one, checked, into a cache, and the name then works here too (``published``).
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path

# name → (file, SHA-256 of the file as shipped): a name is a promise of exactly those bytes.
SHIPPED = {
    "tiny-broad": ("tiny-broad.safetensors", "9585f56d53c9ae0f7a9199ff25fb22c11b24284f43a5344294e1dcb831c23297"),
}


def shipped(name: str) -> Path:
    """The packaged file of a shipped checkpoint, checked against its recorded SHA-256."""
    from tessera.errors import CheckpointError, InputNotFoundError

    if name not in SHIPPED:
        raise InputNotFoundError(f"no shipped checkpoint named {name!r}; shipped: {', '.join(SHIPPED)}")
    file, sha256 = SHIPPED[name]
    path = Path(str(resources.files(__name__) / file))
    if not path.is_file():
        raise InputNotFoundError(
            f"the shipped checkpoint {name!r} is missing from this installation ({path}); reinstall tessera"
        )
    if file_sha256(path) != sha256:
        raise CheckpointError(
            f"the shipped checkpoint {name!r} at {path} is not the file tessera shipped (its SHA-256 differs); "
            "reinstall tessera"
        )
    return path


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def locate(path: str | os.PathLike) -> Path:
    """``path`` itself if it exists, else the shipped checkpoint of that name, else the verified
    cached copy of the published checkpoint of that name (``tessera weights``), else ``path``
    (whose absence the loader reports)."""
    from tessera.pretrained.published import PUBLISHED, verified

    p = Path(path)
    if not p.exists() and str(path) in SHIPPED:
        return shipped(str(path))
    if not p.exists() and str(path) in PUBLISHED:
        return verified(str(path))
    return p
