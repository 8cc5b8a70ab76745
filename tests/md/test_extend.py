"""extend(): a finished production lengthened in chunks is the longer run.

Identical to round-off: ASE's Lennard-Jones rebuilds its neighbour list at a resumed position,
which changes the summation order of the forces (last bits), as in tests/md/test_runner.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from solidion import InputError
from solidion.md import Stage, extend, resume, run_protocol
from tests.md.conftest import argon, lj


def _protocol(prod_ps: float) -> list[Stage]:
    return [
        Stage("nvt", 30, 50, 0.04, 2.0, name="warm", thermostat="langevin", friction_per_fs=0.05),
        Stage(
            "nvt",
            50,
            50,
            prod_ps,
            2.0,
            name="prod",
            tdamp_fs=40,
            frame_interval_fs=6,
            equilibration_ps=0.02,
            vdos_ps=0.04,
        ),
    ]


def _run(path, prod_ps: float):
    return run_protocol(
        argon(),
        _protocol(prod_ps),
        lj(),
        path,
        rng=4,
        progress=False,
        checkpoint_every=7,
        flush_every=3,
        max_frequency_THz=2.5,
    )


def test_two_extensions_repeat_the_long_run(tmp_path):
    whole = _run(tmp_path / "whole", 0.3)
    _run(tmp_path / "chunks", 0.1)
    extend(tmp_path / "chunks", 0.1, lj(), progress=False)
    chunked = extend(tmp_path / "chunks", 0.1, lj(), progress=False)
    a = whole.trajectory("prod")
    b = chunked.trajectory("prod")
    assert a.n_frames == b.n_frames == (150 - 10) // 3 + 1
    np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=1e-10)
    # the dense segment belongs to the start of the stage and is not repeated
    assert chunked.stage("prod").vdos_n_frames == whole.stage("prod").vdos_n_frames
    rec = json.loads((tmp_path / "chunks" / "record.json").read_text())
    assert rec["status"] == "finished"
    assert [e["to_ps"] for e in rec["extensions"]] == pytest.approx([0.2, 0.3])
    assert rec["protocol"][-1]["duration_ps"] == pytest.approx(0.3)
    assert chunked.stage("prod").n_steps == whole.stage("prod").n_steps == 150
    thermo_a = (tmp_path / "whole" / "thermo.log").read_text().splitlines()
    thermo_b = (tmp_path / "chunks" / "thermo.log").read_text().splitlines()
    assert len(thermo_a) == len(thermo_b)


def test_an_interrupted_extension_resumes(tmp_path):
    whole = _run(tmp_path / "whole", 0.2)
    _run(tmp_path / "chunks", 0.1)

    class Stop(Exception):
        pass

    def hook(stage, step, atoms):
        if step == 70:
            raise Stop

    with pytest.raises(Stop):
        extend(tmp_path / "chunks", 0.1, lj(), progress=False, step_hook=hook)
    done = resume(tmp_path / "chunks", lj(), progress=False)
    a = whole.trajectory("prod").positions
    b = done.trajectory("prod").positions
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)


def test_extend_refuses_what_it_cannot_continue(tmp_path):
    with pytest.raises(InputError, match="extra_ps must be positive"):
        extend(tmp_path, 0.0)
    _run(tmp_path / "r", 0.1)
    with pytest.raises(InputError, match="shorter than one timestep"):
        extend(tmp_path / "r", 1e-4, lj())
    rec_path = tmp_path / "r" / "record.json"
    rec = json.loads(rec_path.read_text())
    rec_path.write_text(json.dumps({**rec, "status": "running"}))
    with pytest.raises(InputError, match="only a finished run"):
        extend(tmp_path / "r", 0.1, lj())
