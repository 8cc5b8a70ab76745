"""End to end: `solidion run` on a 21-atom cell with a tiny preset (slow: ~1–2 min)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from solidion import read_trajectory
from solidion.cli import main
from solidion.md import Preset, Stage
from solidion.pipeline import run_pipeline

pytestmark = pytest.mark.slow

TEMPS = (600.0, 800.0)


def tiny_preset() -> Preset:
    """Relax hard, heat under strong friction, a whiff of NPT, then 0.1 ps per temperature."""
    mq = (
        Stage.relax(max_steps=150, fmax_eV_A=0.05),
        Stage("nvt", 100, 600, 0.03, 1.0, name="heat", thermostat="langevin", friction_per_fs=0.05),
        Stage(
            "npt",
            600,
            600,
            0.02,
            1.0,
            0.0,
            name="anneal",
            frame_interval_fs=5,
            pdamp_fs=100,
            tdamp_fs=20,
        ),
    )
    prod = tuple(
        (Stage("nvt", t, t, 0.1, 2.0, name=f"production_{t:g}K", frame_interval_fs=4, tdamp_fs=20),)
        for t in TEMPS
    )
    return Preset("custom", 21, TEMPS, mq, prod, 20, float("nan"), converged=False)


def test_solidion_run_produces_every_output(tmp_path, capsys):
    preset_file = tmp_path / "tiny.json"
    preset_file.write_text(json.dumps(tiny_preset().to_dict()))
    out = tmp_path / "run"
    code = main(
        ["run", "LiAlCl2.5O0.75", "--preset", str(preset_file), "--seed", "3", "--out", str(out)]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"report: {out / 'report.html'}" in printed.out
    for name in (
        "run.json",
        "results.json",
        "results.csv",
        "report.html",
        "build/initial.extxyz",
        "glass/record.json",
        "glass/final.extxyz",
        "glass/02_anneal.h5",
        "T600K/00_production_600K.h5",
        "T800K/00_production_800K.h5",
        "T800K/record.json",
    ):
        assert (out / name).exists(), name
    from solidion.pipeline.stages import GLASS_MAX_VOLUME_DRIFT

    glass_record = json.loads((out / "glass" / "record.json").read_text())
    assert glass_record["guards"]["max_volume_drift"] == GLASS_MAX_VOLUME_DRIFT  # density search
    production_record = json.loads((out / "T600K" / "record.json").read_text())
    assert production_record["guards"]["max_volume_drift"] == 0.3  # the MD default
    results = json.loads((out / "results.json").read_text())
    assert results["formula"] == "LiAlCl2.5O0.75" and results["cell_formula"] == "Li4Al4Cl10O3"
    assert results["temperatures_K"] == list(TEMPS)
    assert [r["temperature_K"] for r in results["transport"]["results"]] == list(TEMPS)
    assert results["potential"]["name"] == "chgnet"
    assert set(results["msd"][0]["msd_A2"]) == {"Li", "Al", "Cl", "O"}
    # polyhedra and fragments survive even when the tiny cell resolves no residence shell
    assert results["structure"]["results"][0]["polyhedra"]["center"] == "Al"
    conv = results["convergence"]
    assert len(conv) == 2 and not any(c["converged"] for c in conv)  # a demo preset never is
    assert conv[0]["duration_ps"] == pytest.approx(0.1)
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [float(r["temperature_K"]) for r in rows] == list(TEMPS)
    assert float(rows[1]["species.Li.tracer_diffusivity_cm2_s"]) == pytest.approx(
        results["transport"]["results"][1]["species"]["Li"]["tracer_diffusivity_cm2_s"]["value"]
    )
    traj = read_trajectory(out / "T600K" / "00_production_600K.h5")
    assert traj.n_frames == 26 and traj.temperature_K == 600
    html = (out / "report.html").read_text()
    assert "LiAlCl2.5O0.75" in html and "warning-unconverged" in html
    # re-running the finished directory only redoes the analysis
    (out / "report.html").unlink()
    code = main(
        ["run", "LiAlCl2.5O0.75", "--preset", str(preset_file), "--seed", "3", "--out", str(out)]
    )
    assert code == 0 and (out / "report.html").exists()
    assert json.loads((out / "results.json").read_text())["transport"] == results["transport"]
    # `solidion report` rebuilds the page from the stored results alone
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0 and (out / "report.html").exists()


def _tiny_run(out, **kw):
    return run_pipeline(
        "LiAlCl2.5O0.75",
        tiny_preset(),
        seed=5,
        out_dir=out,
        progress=False,
        report=False,
        log=lambda m: None,
        **kw,
    )


def test_resume_after_an_interruption_at_the_second_temperature(tmp_path):
    ref = _tiny_run(tmp_path / "ref")

    class Stop(Exception):
        pass

    def stop(stage, step, atoms):
        if stage.name == "production_800K" and step == 31:
            raise Stop

    with pytest.raises(Stop):
        _tiny_run(tmp_path / "cut", step_hook=stop)
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["status"] == "running"
    with pytest.raises(Exception, match="pass --resume"):
        _tiny_run(tmp_path / "cut")
    done = _tiny_run(tmp_path / "cut", resume=True)
    for t in ("T600K/00_production_600K.h5", "T800K/00_production_800K.h5"):
        a = read_trajectory(tmp_path / "ref" / t).positions
        b = read_trajectory(tmp_path / "cut" / t).positions
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    assert _close(done["transport"], ref["transport"])


def _close(a, b) -> bool:
    """Nested equality with floats to 1e-6 relative."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        return all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert len(a) == len(b)
        return all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-300)
        return True
    assert a == b
    return True
