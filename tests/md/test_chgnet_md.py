"""Short real MD with pretrained CHGNet on a 21-atom LiAlCl2.5O0.75 cell (slow: ~20 s)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from solidion import read_trajectory
from solidion.md import Stage, resume, run_protocol

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def glass(tmp_path_factory):
    """A relaxed 21-atom cell (one formula unit Li4Al4Cl10O3) at a sane density."""
    from solidion.build import random_cell

    atoms = random_cell("LiAlCl2.5O0.75", n_atoms=21, density_g_cm3=2.2, rng=4)
    run = run_protocol(
        atoms,
        [Stage.relax(max_steps=60, fmax_eV_A=0.2)],
        "chgnet",
        tmp_path_factory.mktemp("relax") / "r",
        rng=0,
        progress=False,
    )
    return run.final_atoms()


def test_nvt_keeps_the_temperature_and_writes_h5md(tmp_path, glass):
    stage = Stage("nvt", 600, 600, 0.08, 1.0, frame_interval_fs=2, tdamp_fs=15)
    run = run_protocol(glass, [stage], "chgnet", tmp_path / "nvt", rng=1, progress=False)
    traj = read_trajectory(run.stages[0].trajectory)
    assert traj.n_frames == 41 and traj.species == ("Li", "Al", "Cl", "O")
    with h5py.File(run.stages[0].trajectory) as f:
        t = f["observables/temperature_K/value"][()]
        p = f["observables/pressure_GPa/value"][()]
    assert np.all(np.isfinite(p))
    # 21 atoms fluctuate by ~18 % per frame; the mean of the second half stays near 600 K
    assert abs(t[20:].mean() / 600 - 1) < 0.35, t


def test_nve_conserves_energy(tmp_path, glass):
    stage = Stage("nve", 300, duration_ps=0.03, timestep_fs=0.5, frame_interval_fs=0.5)
    run = run_protocol(glass, [stage], "chgnet", tmp_path / "nve", rng=2, progress=False)
    with h5py.File(run.stages[0].trajectory) as f:
        e = f["observables/conserved_energy_eV/value"][()]
        ekin = f["observables/kinetic_energy_eV/value"][()]
    drift = np.ptp(e) / len(glass)
    assert np.ptp(ekin) / len(glass) > 5 * drift  # exchange between kinetic and potential
    assert drift < 2e-3  # eV/atom over 60 steps of 0.5 fs (CHGNet is float32 inside)


def test_crash_and_resume_reproduce_the_run_to_1e_6_A(tmp_path, glass):
    stage = Stage("nvt", 600, 600, 0.1, 1.0, frame_interval_fs=1, tdamp_fs=20)
    ref = run_protocol(glass, [stage], "chgnet", tmp_path / "ref", rng=3, progress=False)

    def crash(stage, step, atoms):
        if step == 61:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_protocol(
            glass,
            [stage],
            "chgnet",
            tmp_path / "cut",
            rng=3,
            progress=False,
            checkpoint_every=25,
            step_hook=crash,
        )
    resume(tmp_path / "cut", progress=False)
    a = read_trajectory(ref.stages[0].trajectory).positions
    b = read_trajectory(tmp_path / "cut" / "00_nvt.h5").positions
    assert a.shape == b.shape == (101, 21, 3)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
