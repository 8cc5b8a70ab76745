"""The real AIMD run from ../shared/data (a serialized pymatgen DiffusionAnalyzer)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from solidion import TrajectoryError, read_trajectory


def test_reads_the_lgps_aimd_run(lgps, lgps_path):
    raw = json.loads(lgps_path.read_text())
    assert lgps.counts() == {"Li": 20, "Ge": 2, "P": 4, "S": 24}
    assert lgps.n_frames == 1000 and lgps.timestep_fs == 20.0 and lgps.temperature_K == 600.0
    np.testing.assert_allclose(lgps.cell, raw["structure"]["lattice"]["matrix"])
    disp = np.asarray(raw["displacements"])
    np.testing.assert_allclose(
        lgps.positions - lgps.positions[0], disp.transpose(1, 0, 2), atol=1e-12
    )
    assert lgps.duration_ps == pytest.approx(19.98)


def test_round_trip_of_the_real_run_through_h5md(lgps, tmp_path):
    lgps.write(tmp_path / "lgps.h5md")
    back = read_trajectory(tmp_path / "lgps.h5md")
    np.testing.assert_array_equal(back.positions, lgps.positions)
    assert back.symbols == lgps.symbols and back.temperature_K == 600.0


def test_bad_json(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(TrajectoryError, match=r"x\.json.*JSON"):
        read_trajectory(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(json.dumps({"structure": {}}))
    with pytest.raises(TrajectoryError, match=r"y\.json.*DiffusionAnalyzer"):
        read_trajectory(tmp_path / "y.json")
