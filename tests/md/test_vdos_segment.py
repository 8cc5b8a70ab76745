"""The densely sampled segment of a production stage: its file, interval and spectrum."""

from __future__ import annotations

import json
import math
import warnings

import h5py
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes

from solidion import read_trajectory
from solidion.md import Stage, run_protocol
from solidion.theory.vibrations import vdos

NU_THZ = 10.0


class Einstein(Calculator):
    """Every atom on a spring to its starting site: one mode, ν = √(k/m)/2π."""

    implemented_properties = ("energy", "forces")

    def __init__(self, sites: np.ndarray, k_eV_A2: float):
        super().__init__()
        self.sites = np.array(sites)
        self.k = k_eV_A2

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        u = self.atoms.positions - self.sites
        self.results = {"energy": 0.5 * self.k * float(np.sum(u * u)), "forces": -self.k * u}


def _einstein_copper():
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    m = atoms.get_masses()[0]
    omega = 2 * math.pi * NU_THZ / (1000 * units.fs)  # rad per ASE time unit
    return atoms, Einstein(atoms.positions, m * omega**2)


@pytest.mark.parametrize("interval_fs, every", [(None, 1), (2.0, 2)])
def test_dense_segment_file_interval_and_peak(tmp_path, interval_fs, every):
    atoms, calc = _einstein_copper()
    stage = Stage(
        "nvt",
        300,
        300,
        2.3,
        1.0,
        name="production",
        tdamp_fs=500,
        frame_interval_fs=60,  # Nyquist 8.3 THz: the 10 THz mode aliases in these frames
        equilibration_ps=0.3,
        vdos_ps=2.0,
        vdos_interval_fs=interval_fs,
    )
    run = run_protocol(
        atoms, [stage], calc, tmp_path / "r", rng=4, progress=False, max_frequency_THz=NU_THZ
    )
    rec = run.stage("production")
    assert rec.vdos_trajectory == tmp_path / "r" / "00_production.vdos.h5"
    assert rec.vdos_frame_interval_fs == every * 1.0
    n_frames = 2000 // every + 1
    assert rec.vdos_n_frames == n_frames
    record = json.loads((tmp_path / "r" / "record.json").read_text())["stages"][0]
    assert record["vdos_trajectory"] == "00_production.vdos.h5"
    assert record["equilibration_steps"] == 300 and record["equilibration_frames"] == 0
    dense = read_trajectory(rec.vdos_trajectory)
    assert dense.n_frames == n_frames and dense.timestep_fs == pytest.approx(every * 1.0)
    with h5py.File(rec.vdos_trajectory) as f:
        steps = f["particles/all/position/step"][()]
    np.testing.assert_array_equal(steps, np.arange(300, 2301, every))  # after equilibration
    # the regular frames start after the equilibration too
    with h5py.File(rec.trajectory) as f:
        assert f["particles/all/position/step"][0] == 300
    spectrum = vdos(dense)
    assert spectrum.peak_frequency_THz() == pytest.approx(NU_THZ, abs=0.15)
    assert spectrum.modes(window_THz=(8.0, 12.0)) > 2.5  # of 3 per atom
    # the production frames alone put the mode at the alias 1/60 fs − 10 THz = 6.7 THz
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its kinetic temperature is off, as it should be
        sparse = vdos(read_trajectory(rec.trajectory))
    assert abs(sparse.peak_frequency_THz() - NU_THZ) > 2.0
