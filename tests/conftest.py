"""Shared fixtures: small simulated scenes, made once per session (the simulator is seeded)."""

from __future__ import annotations

import pytest

from tessera.simulate import SimulationConfig, simulate


@pytest.fixture(scope="session")
def small_scene():
    """A 48 × 40 px scene: every code path, a fraction of a second."""
    return simulate(SimulationConfig(height=48, width=40, year=2024, seed=7, field_px=12))


@pytest.fixture(scope="session")
def small_cube(small_scene):
    return small_scene.cube
