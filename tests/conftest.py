"""Shared fixtures: small simulated scenes, made once per session (the simulator is seeded)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tessera.simulate import SimulationConfig, simulate


@pytest.fixture(scope="session")
def small_scene():
    """A 48 × 40 px scene: every code path, a fraction of a second."""
    return simulate(SimulationConfig(height=48, width=40, year=2024, seed=7, field_px=12))


@pytest.fixture(scope="session")
def small_cube(small_scene):
    return small_scene.cube


@pytest.fixture
def small_disk(tmp_path):
    """A folder on its own 4 MiB tmpfs (needs root, as in CI), to fill up: full-disk tests."""
    mount = tmp_path / "disk"
    mount.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if r.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs for the full-disk tests: {r.stderr.decode()}")
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="session")
def official_python() -> str:
    """The official client (geotessera 0.11, Python ≥ 3.12) in its own environment: CI builds it
    (``.ci/run``) and names its interpreter in ``TESSERA_GEOTESSERA_PYTHON``."""
    python = os.environ.get("TESSERA_GEOTESSERA_PYTHON") or str(
        Path(__file__).parents[1] / ".venv-geotessera/bin/python"
    )
    return interpreter_or_skip(
        python,
        "import geotessera.store",
        f"the official client is not installed at {python}; .ci/run must build it",
        "geotessera 0.11 environment not built (make .venv-geotessera)",
    )


def interpreter_or_skip(python: str, probe: str, in_ci: str, otherwise: str) -> str:
    """``python`` if it exists and runs ``probe``; else the test fails under CI (which must have
    built it) with ``in_ci``, and is skipped elsewhere with ``otherwise``."""
    ok = Path(python).exists() and subprocess.run([python, "-c", probe], capture_output=True).returncode == 0
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(in_ci)
        pytest.skip(otherwise)
    return python


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on a free loopback port, credentials and endpoint in the environment
    (where s3fs and botocore look for them) for this module only."""
    pytest.importorskip("moto.server")
    pytest.importorskip("boto3")
    pytest.importorskip("s3fs")
    from tests.moto_s3 import moto_s3

    with moto_s3("emb") as env:
        yield env
