"""The glass's density and pressure in results.json: the anneal's mean volume (the production
volume) and its second half's mean pressure (the report's row: tests/report/test_run_panels.py)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read

from solidion.md import Stage, run_protocol
from solidion.md.output import OBSERVABLES
from solidion.pipeline.results import glass_block
from tests.md.conftest import argon, lj


def test_density_and_pressure_of_the_anneal(tmp_path):
    stages = [
        Stage("nvt", 40, 60, 0.04, 4.0, name="warm", thermostat="langevin", friction_per_fs=0.05),
        Stage(
            "npt",
            60,
            60,
            0.4,
            4.0,
            name="anneal",
            pdamp_fs=100,
            tdamp_fs=40,
            frame_interval_fs=8,
            rescale_to_mean_volume=True,
        ),
    ]
    run_protocol(argon(), stages, lj(), tmp_path, rng=1, progress=False, max_frequency_THz=2.5)
    block = glass_block(tmp_path)
    final = read(tmp_path / "final.extxyz")
    # the final cell is scaled to the mean volume: ρ = M / V of that cell
    assert block["volume_A3"] == pytest.approx(final.get_volume(), rel=1e-9)
    mass_g = 32 * 39.948 * 1.66053906660e-24
    assert block["density_g_cm3"] == pytest.approx(mass_g / (final.get_volume() * 1e-24), rel=1e-4)
    # pressure: the mean of the thermo lines of the anneal's second half (steps 51..100)
    col = 3 + OBSERVABLES.index("pressure_GPa")
    rows = [
        line.split()
        for line in (tmp_path / "thermo.log").read_text().splitlines()
        if line.startswith("anneal ")
    ]
    p = [float(r[col]) for r in rows if int(r[1]) > 50]
    assert len(p) == 25
    assert block["pressure_GPa"] == pytest.approx(np.mean(p))
    assert block["temperature_K"] == 60.0 and block["target_pressure_GPa"] == 0.0
    assert glass_block(tmp_path / "missing") is None
