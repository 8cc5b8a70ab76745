"""`solidion run --until-converged`: production in chunks until the error target is met.

Brownian-like ions (a soft, short Lennard-Jones core at a fluid's reduced density, ρσ³ ≈ 0.4, in a
Langevin bath) diffuse with D a little below k_BT/(mγ), so a loose target is met after a few
chunks in seconds; a tiny budget stops the run with the target unmet.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from ase import units
from ase.calculators.lj import LennardJones

from solidion import InputError, read_trajectory
from solidion.cli import main
from solidion.md import Preset, Stage
from solidion.pipeline import run_pipeline
from solidion.pipeline.converge import ChunkCheck, Target, next_chunk_ps, parse_duration_s

TEMPS = (600.0, 900.0)


def brownian_preset(first_ps: float = 0.4) -> Preset:
    mq = (
        Stage.relax(max_steps=5),
        Stage("nvt", 300, 600, 0.02, 2.0, name="heat", thermostat="langevin", friction_per_fs=0.05),
    )
    prod = tuple(
        (
            Stage(
                "nvt",
                t,
                t,
                first_ps,
                2.0,
                name=f"production_{t:g}K",
                thermostat="langevin",
                friction_per_fs=0.02,
                frame_interval_fs=10,
                equilibration_ps=0.1,
            ),
        )
        for t in TEMPS
    )
    return Preset("custom", 40, TEMPS, mq, prod, 100, float("nan"), converged=True)


def _run(tmp_path, target, **kw):
    lines: list[str] = []
    res = run_pipeline(
        "LiCl",
        brownian_preset(),
        potential=LennardJones(epsilon=0.01, sigma=2.0, rc=4.5, smooth=True),
        out_dir=tmp_path / "run",
        seed=2,
        progress=False,
        report=False,
        log=lines.append,
        until_converged=target,
        **kw,
    )
    return res, lines


@pytest.mark.slow
def test_production_grows_until_the_target_is_met(tmp_path):
    target = Target(diffusivity_rel_err=0.25, min_hops_per_ion=3.0)
    res, lines = _run(tmp_path, target)
    assert res["until_converged"]["diffusivity_rel_err"] == 0.25
    for conv in res["convergence"]:
        hist = conv["history"]
        assert len(hist) >= 2  # the preset's 0.3 ps stored are not enough
        durations = [h["duration_ps"] for h in hist]
        assert durations == sorted(durations) and durations[-1] > durations[0]
        # never more than double at once
        assert all(b <= 2 * a + 1e-9 for a, b in itertools.pairwise(durations))
        assert conv["target_met"] is True and hist[-1]["met"] is True
        assert not any(h["met"] for h in hist[:-1])
        assert hist[-1]["diffusivity_rel_err"] <= 0.25 and hist[-1]["hops_per_ion"] >= 3.0
        assert conv["duration_ps"] == pytest.approx(durations[-1])
        # the analysed trajectory is one contiguous run at the stage's frame interval
        t = conv["temperature_K"]
        traj = read_trajectory(tmp_path / "run" / f"T{t:g}K" / f"00_production_{t:g}K.h5")
        np.testing.assert_allclose(np.diff(traj.times_ps), 0.01, rtol=1e-9)
        assert traj.duration_ps == pytest.approx(durations[-1])
    assert any("target met" in m for m in lines)
    assert any(("ps/h" in m and "needed" in m) or "too early" in m for m in lines)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert set(record["convergence_history"]) == {"600", "900"}
    # Brownian limit D = k_BT/(mγ) (1 amu = 103.6427 eV fs²/Å²); collisions only slow it down
    for r in res["transport"]["results"]:
        d_brownian_cm2_s = units.kB * r["temperature_K"] / (6.94 * 103.6427 * 0.02) * 0.1
        d = r["species"]["Li"]["tracer_diffusivity_cm2_s"]
        assert 0.3 * d_brownian_cm2_s < d["value"] < 1.1 * d_brownian_cm2_s + 3 * d["stderr"]


def test_a_spent_budget_stops_with_the_target_unmet(tmp_path):
    target = Target(diffusivity_rel_err=0.01, min_hops_per_ion=1000.0, budget_s=1e-3)
    res, lines = _run(tmp_path, target)
    for conv in res["convergence"]:
        assert len(conv["history"]) == 1 and conv["target_met"] is False
    assert sum("budget spent" in m for m in lines) == len(TEMPS)


def test_chunk_rule_and_budget_parsing():
    c = ChunkCheck(600.0, 4.0, 10.0, 1e-5, 0.3, math.inf, 20.0, 0.5, False, ("x",), 9.0)
    assert next_chunk_ps(c) == 4.0  # at most doubles
    assert next_chunk_ps(c, budget_ps=1.0) == 1.0
    assert next_chunk_ps(c, budget_ps=0.3) == 0.0  # not worth a chunk
    near = ChunkCheck(600.0, 4.0, 10.0, 1e-5, 0.21, math.inf, 20.0, 0.5, False, ("x",), 4.4)
    assert next_chunk_ps(near) == 1.0  # at least a quarter
    unknown = ChunkCheck(
        600.0, 4.0, 10.0, 1e-5, math.inf, math.inf, 0.0, None, False, ("x",), math.inf
    )
    assert next_chunk_ps(unknown) == 4.0
    assert parse_duration_s("2h") == 7200.0 and parse_duration_s("1h30m") == 5400.0
    for bad in ("", "2x", "h", "-1h", "0"):
        with pytest.raises(InputError, match="--budget"):
            parse_duration_s(bad)
    with pytest.raises(InputError, match="relative error"):
        Target(diffusivity_rel_err=0.0)


def test_cli_budget_needs_until_converged(tmp_path, capsys):
    code = main(["run", "LiAlCl2.5O0.75", "--budget", "2h", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "--until-converged" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    code = main(
        [
            "run",
            "LiAlCl2.5O0.75",
            "--until-converged",
            "--budget",
            "2 fortnights",
            "--out",
            str(tmp_path / "y"),
        ]
    )
    assert code == 2 and "cannot read" in capsys.readouterr().err
