"""The MD driver on a Lennard-Jones cell: output, checkpoints, resume, guards."""

from __future__ import annotations

import json
import os
import signal

import h5py
import numpy as np
import pytest

from solidion import read_trajectory
from solidion.errors import InputError, MDError, RunInterrupted
from solidion.md import Guards, Stage, resume, run_protocol
from tests.md.conftest import FreeParticles, NaNAfter, argon, lj

NVT = Stage("nvt", 60, 60, 0.2, 2.0, name="prod", frame_interval_fs=10, tdamp_fs=50)


def test_nvt_run_streams_a_readable_trajectory(tmp_path, argon_cell):
    run = run_protocol(
        argon_cell, [NVT], lj(), tmp_path / "run", rng=3, progress=False, flush_every=7
    )
    rec = run.stage("prod")
    assert rec.n_steps == 100 and rec.n_frames == 21  # steps 0, 5, ..., 100
    traj = read_trajectory(rec.trajectory)
    assert traj.n_frames == 21 and traj.n_atoms == 32
    np.testing.assert_allclose(traj.times_ps, np.arange(21) * 0.01)
    assert traj.temperature_K == 60
    with h5py.File(rec.trajectory) as f:
        assert list(f["particles/all/position/step"][:4]) == [0, 5, 10, 15]
        t = f["observables/temperature_K/value"][()]
        assert f["observables/potential_energy_eV/value"].shape == (21,)
    assert np.all(t > 0)
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["status"] == "finished" and record["seed"] == 3
    assert record["potential"]["name"] == "LennardJones"
    assert {"numpy", "ase", "python"} <= set(record["software"])
    lines = (tmp_path / "run" / "thermo.log").read_text().splitlines()
    assert len(lines) == 1 + 21 and lines[1].startswith("prod 0 ")
    # the final structure continues the trajectory
    np.testing.assert_allclose(run.final_atoms().positions, traj.positions[-1], atol=1e-8)
    # the input atoms were not touched
    np.testing.assert_array_equal(argon_cell.positions, argon().positions)


def test_nvt_thermostat_holds_the_target_temperature(tmp_path):
    stage = Stage("nvt", 80, 80, 2.0, 4.0, frame_interval_fs=20, tdamp_fs=100)
    run = run_protocol(argon(3), [stage], lj(), tmp_path / "r", rng=1, progress=False)
    with h5py.File(run.stages[0].trajectory) as f:
        t = f["observables/temperature_K/value"][()]
    assert abs(t[len(t) // 2 :].mean() - 80) < 8  # 108 atoms: ±14 % per frame, 50 frames


def test_nve_conserves_energy(tmp_path, argon_cell):
    stage = Stage("nve", 40, duration_ps=1.0, timestep_fs=2.0, frame_interval_fs=10)
    run = run_protocol(argon_cell, [stage], lj(), tmp_path / "r", rng=2, progress=False)
    with h5py.File(run.stages[0].trajectory) as f:
        e = f["observables/conserved_energy_eV/value"][()]
        ekin = f["observables/kinetic_energy_eV/value"][()]
    assert np.ptp(ekin) > 0.02  # energy does flow between kinetic and potential
    assert np.ptp(e) / len(argon_cell) < 2e-5  # eV/atom over 500 steps


def _positions(path):
    return read_trajectory(path).positions


PROTOCOLS = {
    "nose_hoover": [Stage("nvt", 60, 90, 0.2, 2.0, name="a", frame_interval_fs=6)],
    "langevin": [
        Stage("nvt", 60, 60, 0.2, 2.0, name="a", thermostat="langevin", frame_interval_fs=6)
    ],
    "bussi": [Stage("nvt", 60, 60, 0.2, 2.0, name="a", thermostat="bussi", frame_interval_fs=6)],
    "npt": [Stage("npt", 60, 60, 0.2, 2.0, 0.5, name="a", frame_interval_fs=6, pdamp_fs=100)],
    "multi": [
        Stage.relax(max_steps=20),
        Stage("nvt", 30, 60, 0.06, 2.0, name="heat", thermostat="langevin"),
        Stage("nvt", 60, 60, 0.14, 2.0, name="a", frame_interval_fs=6),
    ],
}


@pytest.mark.parametrize("kind", list(PROTOCOLS))
def test_crash_and_resume_equals_the_uninterrupted_run(tmp_path, kind):
    protocol = PROTOCOLS[kind]
    run_protocol(
        argon(), protocol, lj(), tmp_path / "ref", rng=7, progress=False, checkpoint_every=20
    )

    class Crash(Exception):
        pass

    def crash(stage, step, atoms):
        if stage.name == "a" and step == 57:
            raise Crash

    with pytest.raises(Crash):
        run_protocol(
            argon(),
            protocol,
            lj(),
            tmp_path / "cut",
            rng=7,
            progress=False,
            checkpoint_every=20,
            flush_every=2,
            step_hook=crash,
        )
    rec = json.loads((tmp_path / "cut" / "record.json").read_text())
    assert rec["status"] == "running"
    # frames up to step 56 may be on disk; the checkpoint holds step 40
    part = _positions(tmp_path / "cut" / f"{len(protocol) - 1:02d}_a.h5")
    assert part.shape[0] > 40 // 3 + 1
    with pytest.raises(InputError, match="already holds an MD run"):
        run_protocol(argon(), protocol, lj(), tmp_path / "cut", rng=7, progress=False)
    done = resume(tmp_path / "cut", lj(), progress=False)
    name = f"{len(protocol) - 1:02d}_a.h5"
    a, b = _positions(tmp_path / "ref" / name), _positions(tmp_path / "cut" / name)
    last = protocol[-1]
    assert a.shape == b.shape == (last.n_steps // 3 + 1, 32, 3)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)
    with h5py.File(tmp_path / "cut" / name) as f:
        steps = f["particles/all/position/step"][()]
    np.testing.assert_array_equal(steps, np.arange(0, last.n_steps + 1, 3))
    # the thermodynamic log has no duplicated or missing lines either
    log = (tmp_path / "cut" / "thermo.log").read_text()
    assert log == (tmp_path / "ref" / "thermo.log").read_text()
    assert [s.name for s in done.stages] == [s.name for s in protocol]
    # resuming a finished run only reports it
    again = resume(tmp_path / "cut", lj(), progress=False)
    assert again.stages == done.stages


def test_signal_writes_a_checkpoint_and_resume_continues(tmp_path, argon_cell):
    def term(stage, step, atoms):
        if step == 33:
            os.kill(os.getpid(), signal.SIGTERM)

    ref = run_protocol(argon_cell, [NVT], lj(), tmp_path / "ref", rng=5, progress=False)
    with pytest.raises(RunInterrupted, match="step 33; checkpoint written"):
        run_protocol(
            argon_cell,
            [NVT],
            lj(),
            tmp_path / "cut",
            rng=5,
            progress=False,
            step_hook=term,
            checkpoint_every=1000,
        )
    assert json.loads((tmp_path / "cut" / "record.json").read_text())["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    resume(tmp_path / "cut", lj(), progress=False)
    np.testing.assert_allclose(
        _positions(tmp_path / "cut" / "00_prod.h5"),
        _positions(ref.stages[0].trajectory),
        rtol=0,
        atol=1e-10,
    )


def test_guard_atoms_on_top_of_each_other(tmp_path, argon_cell):
    argon_cell.positions[1] = argon_cell.positions[0] + [0.3, 0, 0]
    calc = lj()
    calc.parameters.rc = 3.0  # keep the forces finite enough to take a step
    with pytest.raises(MDError, match=r"atoms 0 \(Ar\) and 1 \(Ar\) are .* apart"):
        run_protocol(
            argon_cell,
            [NVT],
            calc,
            tmp_path / "r",
            rng=1,
            progress=False,
            guards=Guards(check_every=1, max_temperature_factor=1e9),
        )
    rec = json.loads((tmp_path / "r" / "record.json").read_text())
    assert rec["status"] == "failed" and "apart" in rec["error"]
    assert (tmp_path / "r" / "failed.extxyz").exists()


def test_guard_atoms_meeting_during_the_run(tmp_path, argon_cell):
    """Two atoms fired at each other: caught by the periodic distance check."""
    argon_cell.positions[1] = argon_cell.positions[0] + [2.6, 0, 0]
    momenta = np.zeros((32, 3))
    momenta[0, 0], momenta[1, 0] = 20.0, -20.0  # amu·Å/(ASE time unit): ~0.026 Å/fs each
    argon_cell.set_momenta(momenta)
    stage = Stage("nve", 60, duration_ps=0.05, timestep_fs=1.0)
    with pytest.raises(MDError, match=r"atoms 0 \(Ar\) and 1 \(Ar\) are .* closer than the"):
        run_protocol(
            argon_cell,
            [stage],
            FreeParticles(),
            tmp_path / "r",
            rng=1,
            progress=False,
            guards=Guards(
                check_every=1, max_temperature_factor=1e9, min_distances_A={"Ar-Ar": 2.0}
            ),
        )


def test_guard_temperature_runaway_keeps_frames(tmp_path, argon_cell):
    from ase.md.velocitydistribution import thermalize_momenta

    thermalize_momenta(argon_cell, temperature_K=3000, rng=np.random.default_rng(0))
    with pytest.raises(MDError, match=r"exceeds 3× the 60 K target"):
        run_protocol(argon_cell, [NVT], lj(), tmp_path / "r", rng=1, progress=False)
    # frame 0 was stored before the guard fired
    assert read_trajectory(tmp_path / "r" / "00_prod.h5").n_frames == 1


def test_guard_nan_forces(tmp_path, argon_cell):
    with pytest.raises(MDError, match="forces on 32 atoms are NaN"):
        run_protocol(argon_cell, [NVT], NaNAfter(5), tmp_path / "r", rng=1, progress=False)


def test_guard_npt_volume_drift(tmp_path, argon_cell):
    squeeze = Stage("npt", 60, 60, 1.0, 2.0, 3.0, pdamp_fs=100, frame_interval_fs=10)
    with pytest.raises(MDError, match=r"volume drifted -\d"):
        run_protocol(
            argon_cell,
            [squeeze],
            lj(),
            tmp_path / "r",
            rng=1,
            progress=False,
            guards=Guards(max_volume_drift=0.02, check_every=1),
        )


def test_bad_arguments(tmp_path, argon_cell):
    with pytest.raises(InputError, match="at least one Stage"):
        run_protocol(argon_cell, [], lj(), tmp_path / "a")
    with pytest.raises(InputError, match="unique"):
        run_protocol(argon_cell, [NVT, NVT], lj(), tmp_path / "b")
    with pytest.raises(InputError, match="rng"):
        run_protocol(argon_cell, [NVT], lj(), tmp_path / "c", rng=-1)
    with pytest.raises(InputError, match="no record.json"):
        resume(tmp_path / "nothing")
    with pytest.raises(InputError, match="max_temperature_factor"):
        Guards(max_temperature_factor=0.5)
    run_protocol(argon_cell, [NVT], lj(), tmp_path / "d", rng=1, progress=False)
    (tmp_path / "d" / "record.json").write_text(
        (tmp_path / "d" / "record.json").read_text().replace('"finished"', '"running"')
    )
    with pytest.raises(InputError, match="pass the same calculator"):
        resume(tmp_path / "d")


@pytest.mark.parametrize("ensemble", ["nvt", "npt"])
def test_extended_energy_is_conserved_with_thermostat_and_barostat(tmp_path, argon_cell, ensemble):
    """The Nosé–Hoover (and MTK) extended energy stays flat while the kinetic energy moves."""
    stage = Stage(
        ensemble,
        60,
        60,
        0.6,
        2.0,
        0.0,
        frame_interval_fs=10,
        tdamp_fs=50,
        pdamp_fs=200,
    )
    run = run_protocol(argon_cell, [stage], lj(), tmp_path / "r", rng=4, progress=False)
    with h5py.File(run.stages[0].trajectory) as f:
        e = f["observables/conserved_energy_eV/value"][()]
        ekin = f["observables/kinetic_energy_eV/value"][()]
    assert np.all(np.isfinite(e))
    assert np.ptp(e) < 0.1 * np.ptp(ekin)
