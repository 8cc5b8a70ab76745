"""The centre of mass does not drift: not after a Langevin stage, not under any thermostat."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units

from solidion import read_trajectory
from solidion.md import Stage, run_protocol
from solidion.md.integrators import ComFreeNoise, make_integrator, n_dof, remove_com_momentum
from tests.md.conftest import argon, lj

#: LJ argon's fastest phonon is ~2 THz (the composition table assumes ionic-solid bonds).
AR_THZ = 2.5


def _com_speeds_A_ps(path) -> np.ndarray:
    """|ΔR_cm| / Δt between consecutive stored frames, from the positions in the H5MD file."""
    traj = read_trajectory(path)
    from ase.data import atomic_masses, atomic_numbers

    m = np.array([atomic_masses[atomic_numbers[s]] for s in traj.symbols])
    com = np.einsum("i,tij->tj", m, traj.positions) / m.sum()
    return np.linalg.norm(np.diff(com, axis=0), axis=1) / (traj.timestep_fs / 1000.0)


@pytest.mark.parametrize("thermostat", ["nose_hoover", "langevin", "bussi", "nve"])
def test_production_frames_have_no_com_velocity_after_a_langevin_heat(tmp_path, thermostat):
    """Heat under Langevin (which used to leave ~0.5 Å/ps of drift), NPT, then production."""
    ensemble = "nve" if thermostat == "nve" else "nvt"
    protocol = [
        Stage.relax(max_steps=20),
        Stage("nvt", 20, 60, 0.2, 2.0, name="heat", thermostat="langevin", friction_per_fs=0.05),
        Stage("npt", 60, 60, 0.2, 2.0, name="npt", pdamp_fs=200, tdamp_fs=50),
        Stage(
            ensemble,
            60,
            60,
            0.4,
            2.0,
            name="production",
            thermostat="nose_hoover" if thermostat == "nve" else thermostat,
            tdamp_fs=50,
            frame_interval_fs=10,
        ),
    ]
    run = run_protocol(
        argon(), protocol, lj(), tmp_path / "r", rng=11, progress=False, max_frequency_THz=AR_THZ
    )
    speeds = _com_speeds_A_ps(run.stage("production").trajectory)
    assert speeds.size == 40
    assert speeds.max() < 1e-3, speeds.max()  # Å/ps
    final = run.final_atoms()  # extxyz keeps ~8 digits of each momentum
    assert np.abs(final.get_momenta().sum(axis=0)).max() < 1e-6


def test_langevin_noise_moves_neither_com_momentum_nor_position():
    """The projected noise: Σ m v and Σ m r stay put step after step, mixed masses."""
    atoms = argon()
    atoms.set_masses(np.where(np.arange(len(atoms)) % 2 == 0, 7.0, 40.0))  # Li-like and Ar
    atoms.calc = lj()
    rng = np.random.default_rng(1)
    atoms.set_momenta(rng.normal(0, 1.0, (len(atoms), 3)))
    remove_com_momentum(atoms)
    stage = Stage("nvt", 300, 300, 0.1, 1.0, thermostat="langevin", friction_per_fs=0.1)
    integ = make_integrator(atoms, stage, rng)
    integ.remove_drift = None  # the projection alone must do it
    com0 = atoms.get_center_of_mass()
    for _ in range(50):
        integ.step()
    assert np.abs(atoms.get_momenta().sum(axis=0)).max() < 1e-11
    np.testing.assert_allclose(atoms.get_center_of_mass(), com0, rtol=0, atol=1e-11)


def test_com_free_noise_is_the_internal_gaussian():
    """Projected draws: zero √m-weighted sum, unit variance per internal direction."""
    masses = np.array([1.0, 7.0, 27.0, 35.5, 16.0])
    noise = ComFreeNoise(np.random.default_rng(0), masses)
    x = np.stack([noise.standard_normal(size=(5, 3)) for _ in range(20000)])
    np.testing.assert_allclose(np.sqrt(masses) @ x, 0, atol=1e-12)
    # E|x|² per column = N − 1 (one direction removed)
    assert np.mean(np.sum(x**2, axis=1)) == pytest.approx(4.0, rel=0.01)
    assert noise.standard_normal() is not None  # other draws pass through
    assert n_dof(5) == 12 and units.kB > 0
