"""The default timestep from the fastest mode, its refusal, and the conserved-energy guard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from solidion.errors import InputError, MDError
from solidion.md import Guards, Stage, preset, run_protocol
from solidion.md.protocol import (
    STEPS_PER_PERIOD,
    check_timestep,
    default_timestep_fs,
    fastest_mode,
)
from tests.md.conftest import CountingLJ, argon, lj

AR_THZ = 2.5  # LJ argon's fastest phonon is ~2 THz


def test_default_timestep_rule():
    oxyhalide = ["Li", "Al", "Cl", "O"]
    assert default_timestep_fs(oxyhalide) == 2.0  # heavy-atom oxyhalides stay at 2 fs
    nu, what = fastest_mode(["Li", "O", "H", "Cl"])
    assert "O–H" in what and 1000 / nu == pytest.approx(9.0, abs=0.1)  # fs
    dt = default_timestep_fs(["Li", "O", "H", "Cl"])
    assert dt == 0.45 and 1000 / nu / dt >= STEPS_PER_PERIOD
    # deuterium (H with its mass) vibrates √2 slower and may take a longer step
    d = default_timestep_fs(["Li", "O", "H", "Cl"], [6.94, 16.0, 2.014, 35.45])
    assert 0.6 <= d < 0.7
    # oxyanion formers are fast only with oxygen: phosphate vs thiophosphate
    assert default_timestep_fs(["Li", "P", "O"]) == 1.5
    assert default_timestep_fs(["Li", "P", "S"]) == 2.0
    with pytest.raises(InputError, match="unknown element"):
        fastest_mode(["Xx"])


def test_preset_takes_the_composition_timestep():
    quick = preset("quick", elements=["Li", "Al", "Cl", "O"])
    assert {s.timestep_fs for s in quick.production[0]} == {2.0}
    hydrous = preset("quick", [600], elements=["Li", "O", "H", "Cl"])
    md = [s for s in (*hydrous.melt_quench, *hydrous.production[0]) if s.is_md]
    assert max(s.timestep_fs for s in md) == 0.45
    # changing the temperatures keeps the timestep and the length
    again = hydrous.with_temperatures([700, 800])
    assert again.production[1][0].timestep_fs == 0.45
    assert again.production[1][0].duration_ps == hydrous.production[0][0].duration_ps


def _hydrous_cell():
    atoms = argon()
    symbols = atoms.get_chemical_symbols()
    symbols[:4] = ["H", "O", "Li", "Cl"]
    atoms.set_chemical_symbols(symbols)
    return atoms


def test_a_2_fs_step_with_hydrogen_is_refused_before_anything_is_written(tmp_path):
    stage = Stage("nvt", 300, 300, 0.1, 2.0, name="prod", frame_interval_fs=10)
    with pytest.raises(InputError, match=r"stage 'prod': timestep_fs = 2 fs gives 4\.5 steps"):
        run_protocol(_hydrous_cell(), [stage], lj(), tmp_path / "r", rng=1, progress=False)
    assert not (tmp_path / "r").exists()
    # a step giving 10–20 steps per period runs, with a warning naming the option
    with pytest.warns(UserWarning, match=r"timestep_fs = 0\.6 fs gives 15\.0 steps"):
        steps = check_timestep(Stage("nvt", 300, 300, 0.1, 0.6), ["H", "O"])
    assert steps == pytest.approx(15.0, rel=0.01)
    # the threshold is a guard: lowered, the run goes ahead
    with pytest.warns(UserWarning, match="steps per period"):
        run_protocol(
            _hydrous_cell(),
            [Stage("nvt", 300, 300, 0.004, 2.0)],
            lj(),
            tmp_path / "forced",
            rng=1,
            progress=False,
            guards=Guards(min_steps_per_period=4),
        )


class LeakyEnergy(CountingLJ):
    """LJ forces, but an energy that gains ``leak_eV`` at every evaluation: the forces are not
    the gradient of this energy, so no integrator can conserve it."""

    def __init__(self, leak_eV: float):
        super().__init__()
        self.leak = leak_eV

    def tamper(self) -> None:
        self.results["energy"] = self.results["energy"] + self.leak * self.calls


@pytest.mark.parametrize("ensemble", ["nvt", "nve"])
def test_energy_drift_guard_stops_a_non_conservative_run(tmp_path, ensemble):
    # 2 meV per 2-fs step on 32 atoms: 0.031 eV/atom/ps, three times the default limit
    stage = Stage(ensemble, 60, 60, 1.0, 2.0, name="prod", frame_interval_fs=10, tdamp_fs=50)
    with pytest.raises(MDError, match=r"conserved energy drifts by \+0\.03\d* eV/atom/ps") as err:
        run_protocol(
            argon(),
            [stage],
            LeakyEnergy(0.002),
            tmp_path / "r",
            rng=1,
            progress=False,
            checkpoint_every=40,
            max_frequency_THz=AR_THZ,
        )
    assert "±0.01 eV/atom/ps" in str(err.value) and "gradient of the energy" in str(err.value)
    record = json.loads((tmp_path / "r" / "record.json").read_text())
    assert record["status"] == "failed" and "drifts" in record["error"]
    assert (tmp_path / "r" / "checkpoint.npz").exists()  # the last checkpoint is kept
    assert (tmp_path / "r" / "failed.extxyz").exists()
    # judged after the 0.2 ps window, well before the 1 ps stage ends
    from solidion import read_trajectory

    assert 10 < read_trajectory(tmp_path / "r" / "00_prod.h5").n_frames < 40


def test_energy_drift_guard_stops_a_timestep_too_long(tmp_path):
    """A 'stiff argon' (ε × 100: 10× faster vibrations, ≤ 25 THz) at 6 fs, ~7 steps per
    period: the integration heats up at ~0.07 eV/atom/ps; the thermostat keeps the temperature
    at its target, and only the conserved energy shows it."""
    calc = lj()
    calc.parameters.epsilon *= 100
    stage = Stage("nvt", 6000, 6000, 1.0, 6.0, name="prod", tdamp_fs=100)
    with (
        pytest.raises(MDError, match=r"conserved energy drifts by \+\d"),
        pytest.warns(UserWarning, match="steps per period"),
    ):
        run_protocol(
            argon(),
            [stage],
            calc,
            tmp_path / "r",
            rng=1,
            progress=False,
            max_frequency_THz=AR_THZ * 10,
            guards=Guards(min_steps_per_period=0),
        )


def test_the_drift_of_a_good_run_is_recorded_and_small(tmp_path):
    stage = Stage("nvt", 60, 60, 0.4, 2.0, name="prod", tdamp_fs=50)
    ramp = Stage("nvt", 60, 30, 0.1, 2.0, name="ramp", tdamp_fs=50)
    run = run_protocol(
        argon(), [stage, ramp], lj(), tmp_path / "r", rng=2, progress=False, max_frequency_THz=2.5
    )
    drift = run.stage("prod").conserved_energy_drift_eV_atom_ps
    assert drift is not None and abs(drift) < 1e-4
    assert run.stage("ramp").conserved_energy_drift_eV_atom_ps is None  # not judged in ramps
    record = json.loads((tmp_path / "r" / "record.json").read_text())
    assert record["guards"]["max_energy_drift_eV_atom_ps"] == 0.01
    assert record["fastest_mode"] == {"frequency_THz": 2.5, "what": "as given", "period_fs": 400}
    np.testing.assert_allclose(record["stages"][0]["conserved_energy_drift_eV_atom_ps"], drift)
