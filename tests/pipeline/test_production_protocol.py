"""The pipeline's side of the MD protocol: the composition's timestep, and a production
trajectory that holds no equilibration frames (its record says so, and names the dense file)."""

from __future__ import annotations

import json

import pytest
from ase.io import write

from solidion import read_trajectory
from solidion.chemistry import Composition
from solidion.md import Preset, production_stages
from solidion.pipeline import resolve_preset
from solidion.pipeline.stages import production_dir, production_stage
from tests.md.conftest import argon, lj


@pytest.mark.parametrize(
    "formula, dt",
    [("LiAlCl2.5O0.75", 2.0), ("Li2OHCl", 0.45), ("Li3PO4", 1.5)],
)
def test_named_presets_take_the_composition_timestep(formula, dt):
    p = resolve_preset("quick", [600, 700], elements=Composition(formula).elements)
    md = [s for s in (*p.melt_quench, *(s for ts in p.production for s in ts)) if s.is_md]
    assert max(s.timestep_fs for s in md) == dt


def test_production_trajectory_starts_after_the_equilibration(tmp_path):
    glass = tmp_path / "glass.extxyz"
    write(glass, argon(), format="extxyz")
    stages = production_stages(
        60.0, duration_ps=0.3, timestep_fs=2.0, tdamp_fs=20.0, frame_interval_fs=10.0, vdos_ps=0.1
    )
    assert stages[0].equilibration_ps == pytest.approx(0.1)  # 5 thermostat times
    preset = Preset("custom", 32, (60.0,), (), (stages,), 1000, float("nan"), converged=False)
    traj = production_stage(glass, preset, 60.0, lj(), tmp_path, seed=1, progress=False)
    assert traj == production_dir(tmp_path, 60.0) / "00_production_60K.h5"
    frames = read_trajectory(traj)
    assert frames.n_frames == 21  # 0.2 ps after the 0.1 ps equilibration, every 10 fs
    record = json.loads((production_dir(tmp_path, 60.0) / "record.json").read_text())
    stage = record["stages"][0]
    assert stage["equilibration_ps"] == pytest.approx(0.1)
    assert stage["equilibration_steps"] == 50 and stage["equilibration_frames"] == 0
    assert stage["vdos_trajectory"] == "00_production_60K.vdos.h5"
    assert stage["vdos_frame_interval_fs"] == 2.0 and stage["vdos_n_frames"] == 51
    assert read_trajectory(traj.parent / stage["vdos_trajectory"]).timestep_fs == 2.0
