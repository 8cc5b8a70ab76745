"""Extended XYZ and ASE .traj through ase.io."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.io import write as ase_write

from solidion import Trajectory, TrajectoryError, read_trajectory
from tests.conftest import random_walk

CELL = np.array([[8.0, 0.0, 0.0], [1.0, 7.5, 0.0], [0.5, -0.8, 9.0]])


def _traj(cell=CELL):
    pos = random_walk(30, 5, 0.3, seed=11) + 2.0
    return Trajectory.from_arrays(["Li", "Li", "Ga", "Br", "O"], pos, cell, 10.0, 700.0)


@pytest.mark.parametrize("name", ["a.extxyz", "a.xyz", "a.traj"])
@pytest.mark.parametrize("variable", [False, True])
def test_round_trip(tmp_path, name, variable):
    cell = CELL * np.linspace(1, 1.02, 30)[:, None, None] if variable else CELL
    t = _traj(cell)
    t.write(tmp_path / name)
    back = read_trajectory(tmp_path / name)
    assert back.symbols == t.symbols
    np.testing.assert_allclose(back.positions, t.positions, atol=1e-10)
    np.testing.assert_allclose(back.cells, t.cells, atol=1e-10)
    assert back.timestep_fs == pytest.approx(10.0) and back.temperature_K == 700.0
    assert back.variable_cell == variable


def test_reads_a_wrapped_ase_trajectory(tmp_path):
    """ASE MD that wraps positions: solidion unwraps them."""
    true = random_walk(200, 3, 0.4, seed=12) + 1.0
    frames = []
    for p in true:
        a = Atoms("LiClCl", positions=p, cell=CELL, pbc=True)
        a.wrap()
        frames.append(a)
    ase_write(tmp_path / "md.traj", frames)
    t = read_trajectory(tmp_path / "md.traj", timestep_fs=2.0)
    np.testing.assert_allclose(t.positions - t.positions[0], true - true[0], atol=1e-9)


def test_plain_extxyz_needs_a_timestep(tmp_path):
    frames = [Atoms("LiCl", positions=[[0, 0, 0], [1, 1, 1]], cell=CELL, pbc=True)] * 3
    ase_write(tmp_path / "plain.xyz", frames, format="extxyz")
    with pytest.raises(TrajectoryError, match=r"plain\.xyz.*timestep_fs"):
        read_trajectory(tmp_path / "plain.xyz")
    assert read_trajectory(tmp_path / "plain.xyz", timestep_fs=1.0).n_frames == 3


def test_bad_extxyz(tmp_path):
    t = _traj()
    t.write(tmp_path / "a.extxyz")
    lines = (tmp_path / "a.extxyz").read_text().splitlines()
    (tmp_path / "cut.extxyz").write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(TrajectoryError, match="cut.extxyz"):
        read_trajectory(tmp_path / "cut.extxyz")
    garbled = lines.copy()
    garbled[3] = "Li 1.0 abc 2.0"
    (tmp_path / "garbled.extxyz").write_text("\n".join(garbled) + "\n")
    with pytest.raises(TrajectoryError, match="garbled.extxyz"):
        read_trajectory(tmp_path / "garbled.extxyz")
    nocell = [Atoms("LiCl", positions=[[0, 0, 0], [1, 1, 1]])] * 2
    ase_write(tmp_path / "nocell.xyz", nocell, format="extxyz")
    with pytest.raises(TrajectoryError, match=r"nocell\.xyz.*cell"):
        read_trajectory(tmp_path / "nocell.xyz", timestep_fs=1.0)
    mixed = [Atoms("LiCl", cell=CELL, pbc=True), Atoms("LiClO", cell=CELL, pbc=True)]
    ase_write(tmp_path / "mixed.xyz", mixed, format="extxyz")
    with pytest.raises(TrajectoryError, match=r"mixed\.xyz, frame 1.*atoms"):
        read_trajectory(tmp_path / "mixed.xyz", timestep_fs=1.0)
    unknown = '2\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3\nLi 0 0 0\nZz 1 1 1\n'
    (tmp_path / "zz.xyz").write_text(unknown)
    with pytest.raises(TrajectoryError, match="zz.xyz"):
        read_trajectory(tmp_path / "zz.xyz", timestep_fs=1.0)
