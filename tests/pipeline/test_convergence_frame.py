"""The convergence verdict counts hops in the framework frame: a drifting cell is not hopping."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from solidion import Trajectory
from solidion.pipeline.results import HOP_A, convergence_record, framework_frame_positions


def _drifting_cell(drift_A_ps: float, n_frames: int = 501, dt_fs: float = 100.0):
    """Li vibrating in place on an Al/Cl framework, the whole cell drifting along x."""
    rng = np.random.default_rng(0)
    n_li, n_fw = 8, 16
    sites = rng.uniform(0, 12, (1, n_li + n_fw, 3))
    pos = sites + rng.normal(0, 0.1, (n_frames, n_li + n_fw, 3))
    t_ps = np.arange(n_frames) * dt_fs / 1000.0
    pos[..., 0] += drift_A_ps * t_ps[:, None]
    symbols = ["Li"] * n_li + ["Al"] * 4 + ["Cl"] * 12
    return Trajectory.from_arrays(symbols, pos, np.eye(3) * 12.0, dt_fs, 600.0)


def test_drift_is_not_counted_as_hops():
    traj = _drifting_cell(1.0)  # 1 Å/ps for 50 ps: 50 Å, i.e. 25 "hops" of 2 Å in the lab
    result = SimpleNamespace(
        temperature_K=600.0, diffusive_onset_ps=1.0, frame_species=("Al", "Cl")
    )
    rec = convergence_record(traj, result, "Li", preset_converged=True)
    assert rec["hops_per_ion"] == 0.0
    assert any("hops per Li ion" in r for r in rec["reasons"])
    lab = SimpleNamespace(**{**vars(result), "frame_species": ()})
    assert convergence_record(traj, lab, "Li", True)["hops_per_ion"] >= 0.8 * 50.0 / HOP_A


def test_framework_frame_removes_only_the_reference_drift():
    traj = _drifting_cell(2.0)
    moved = framework_frame_positions(traj, "Li", ("Al", "Cl"))
    li = traj.positions[:, traj.indices("Li")]
    shift = (li - moved)[:, 0, 0]  # the same for every ion
    np.testing.assert_allclose(shift, (li - moved)[:, -1, 0])
    t_ps = traj.times_ps
    assert np.polyfit(t_ps, shift, 1)[0] == pytest.approx(2.0, rel=0.01)
