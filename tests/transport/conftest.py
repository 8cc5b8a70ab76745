"""Synthetic trajectories with known transport."""

from __future__ import annotations

import numpy as np

from solidion import Trajectory

#: Step std per axis per frame 0.1 Å, frames 20 fs apart: D = s²/(2Δt) = 0.25 Å²/ps.
STEP_A = 0.1
DT_FS = 20.0
D_TRUE_CM2_S = STEP_A**2 / (2 * DT_FS * 1e-3) * 1e-4


def walkers(seed: int, n_frames: int = 1000, n_each: int = 20, box: float = 20.0) -> Trajectory:
    """Independent Gaussian walkers: n_each Li⁺ and n_each Cl⁻, all with D_TRUE."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(0, STEP_A, (n_frames, 2 * n_each, 3)).cumsum(axis=0)
    pos += rng.uniform(0, box, (1, 2 * n_each, 3))
    return Trajectory.from_arrays(
        ["Li"] * n_each + ["Cl"] * n_each, pos, np.eye(3) * box, DT_FS, 600.0
    )


def rigid_pairs(seed: int, n_frames: int = 1500, n_pairs: int = 30, box: float = 30.0):
    """Li⁺Cl⁻ pairs 2.2 Å apart whose centres random-walk: neutral, so no current."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, STEP_A, (n_frames, n_pairs, 3)).cumsum(axis=0)
    centres += rng.uniform(0, box, (1, n_pairs, 3))
    off = rng.normal(size=(n_pairs, 3))
    off *= 1.1 / np.linalg.norm(off, axis=1)[:, None]
    li = centres + off + rng.normal(0, 0.05, centres.shape)
    cl = centres - off + rng.normal(0, 0.05, centres.shape)
    return Trajectory.from_arrays(
        ["Li"] * n_pairs + ["Cl"] * n_pairs,
        np.concatenate([li, cl], axis=1),
        np.eye(3) * box,
        DT_FS,
        600.0,
    )


def correlated_cation_pairs(seed: int, n_frames: int = 1500, n_pairs: int = 30, box: float = 30.0):
    """Li ions in pairs that share one random walk (perfectly correlated); Cl vibrate in place."""
    rng = np.random.default_rng(seed)
    walk = rng.normal(0, STEP_A, (n_frames, n_pairs, 3)).cumsum(axis=0)
    walk += rng.uniform(0, box, (1, n_pairs, 3))
    cl = rng.uniform(0, box, (1, 2 * n_pairs, 3)) + rng.normal(0, 0.05, (n_frames, 2 * n_pairs, 3))
    pos = np.concatenate([walk, walk + 3.0, cl], axis=1)
    return Trajectory.from_arrays(
        ["Li"] * (2 * n_pairs) + ["Cl"] * (2 * n_pairs), pos, np.eye(3) * box, DT_FS, 600.0
    )
