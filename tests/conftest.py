"""Shared fixtures: the reference AIMD run from ../shared/data and small synthetic walkers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Under pytest-xdist each worker gets one core: torch (CHGNet) must not start a second thread per
# worker, or the two workers oversubscribe the two cores and every force call slows down.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LGPS_JSON = SHARED_DATA / "lgps_600K_aimd.json"


@pytest.fixture(scope="session")
def lgps_path() -> Path:
    """The real Li10GeP2S12-type AIMD run at 600 K (pymatgen-analysis-diffusion test data)."""
    if not LGPS_JSON.exists():
        pytest.skip(f"reference data {LGPS_JSON} is absent (it lives in ../shared/data)")
    return LGPS_JSON


@pytest.fixture(scope="session")
def lgps(lgps_path):
    from solidion import read_trajectory

    return read_trajectory(lgps_path)


def random_walk(n_frames: int, n_atoms: int, step: float, seed: int = 0) -> np.ndarray:
    """Gaussian random walk (n_frames, n_atoms, 3) starting at the origin, std ``step`` per axis."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, step, size=(n_frames, n_atoms, 3))
    steps[0] = 0.0
    return np.cumsum(steps, axis=0)
