"""Resume stays bit for bit with the new state: chain masses in ramps, the energy-drift fit,
the volume sums of a mean-volume anneal, the equilibration and the dense segment."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from solidion import read_trajectory
from solidion.md import Stage, resume, run_protocol
from tests.md.conftest import argon, lj

PROTOCOL = [
    Stage("nvt", 20, 60, 0.04, 2.0, name="warm", thermostat="langevin", friction_per_fs=0.05),
    Stage(
        "npt",
        60,
        40,
        0.2,
        2.0,
        name="anneal",
        pdamp_fs=100,
        tdamp_fs=40,
        frame_interval_fs=4,
        rescale_to_mean_volume=True,
    ),
    Stage(
        "nvt",
        50,
        50,
        0.2,
        2.0,
        name="prod",
        tdamp_fs=40,
        frame_interval_fs=6,
        equilibration_ps=0.04,
        vdos_ps=0.1,
    ),
]
FILES = ("01_anneal.h5", "02_prod.h5", "02_prod.vdos.h5")


def _run(path, **kw):
    return run_protocol(
        argon(),
        PROTOCOL,
        lj(),
        path,
        rng=9,
        progress=False,
        checkpoint_every=15,
        flush_every=4,
        max_frequency_THz=2.5,
        **kw,
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("resume") / "ref"
    return _run(path), path


@pytest.mark.parametrize(
    "where",
    [("anneal", 83), ("prod", 12), ("prod", 41), ("prod", 77)],
    ids=["anneal-second-half", "prod-equilibration", "prod-dense-segment", "prod-after-dense"],
)
def test_crash_and_resume_equals_the_uninterrupted_run(tmp_path, reference, where):
    ref, ref_dir = reference

    class Crash(Exception):
        pass

    def crash(stage, step, atoms):
        if (stage.name, step) == where:
            raise Crash

    with pytest.raises(Crash):
        _run(tmp_path / "cut", step_hook=crash)
    done = resume(tmp_path / "cut", lj(), progress=False)
    for name in FILES:
        a = read_trajectory(ref_dir / name)
        b = read_trajectory(tmp_path / "cut" / name)
        assert a.n_frames == b.n_frames, name
        np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=1e-10)
        with h5py.File(ref_dir / name) as fa, h5py.File(tmp_path / "cut" / name) as fb:
            np.testing.assert_array_equal(
                fa["particles/all/position/step"][()], fb["particles/all/position/step"][()]
            )
    assert (tmp_path / "cut" / "thermo.log").read_text() == (ref_dir / "thermo.log").read_text()
    np.testing.assert_allclose(
        done.final_atoms().positions, ref.final_atoms().positions, rtol=0, atol=1e-10
    )
    for a, b in zip(ref.stages, done.stages, strict=True):
        assert a.volume == b.volume
        # ASE's LJ rebuilds its neighbour list after a resume: energies agree to round-off
        da, db = a.conserved_energy_drift_eV_atom_ps, b.conserved_energy_drift_eV_atom_ps
        assert (da is None) == (db is None) and (da is None or da == pytest.approx(db, rel=1e-6))
        assert (a.vdos_n_frames, a.n_frames) == (b.vdos_n_frames, b.n_frames)


@pytest.mark.filterwarnings("ignore:stage 'anneal'. the mean volume changed")
def test_mean_volume_anneal_ends_at_its_second_half_mean(tmp_path):
    stage = Stage(
        "npt",
        60,
        60,
        0.4,
        2.0,
        name="anneal",
        pdamp_fs=100,
        tdamp_fs=40,
        frame_interval_fs=2,  # every step: the mean can be recomputed from the file
        rescale_to_mean_volume=True,
    )
    start = argon()
    start.set_cell(start.cell * 1.03, scale_atoms=True)  # under tension: the volume moves
    run = run_protocol(
        start, [stage], lj(), tmp_path / "r", rng=3, progress=False, max_frequency_THz=2.5
    )
    rec = run.stage("anneal")
    with h5py.File(rec.trajectory) as f:
        volumes = f["observables/volume_A3/value"][()]
        steps = f["particles/all/position/step"][()]
    second = volumes[steps > stage.n_steps / 2]
    assert rec.volume["mean_A3"] == pytest.approx(second.mean(), rel=1e-12)
    assert rec.volume["std_A3"] == pytest.approx(second.std(), rel=1e-6)
    assert rec.volume["last_A3"] == pytest.approx(volumes[-1], rel=1e-12)
    final = run.final_atoms()
    assert final.get_volume() == pytest.approx(second.mean(), rel=1e-12)
    # positions scaled with the cell: the fractional coordinates are the last frame's
    last = read_trajectory(rec.trajectory)
    frac_last = np.linalg.solve(last.cells[-1].T, last.positions[-1].T).T
    np.testing.assert_allclose(final.get_scaled_positions(wrap=False), frac_last, atol=1e-8)
    record = json.loads((tmp_path / "r" / "record.json").read_text())
    assert set(record["stages"][0]["volume"]) == {"mean_A3", "std_A3", "last_A3", "quarter_change"}
