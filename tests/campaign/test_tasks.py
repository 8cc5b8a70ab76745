"""The worker-side task functions without MD: the analysis of replicas (on the synthetic
lattice hopper of tests/report), errors that survive pickling, locks, and run directories that
died before their first checkpoint."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest

from solidion.campaign.store import result_rows
from solidion.campaign.tasks import (
    Job,
    TaskError,
    _exclusive,
    _prepare_run_dir,
    _task,
    run_analysis,
)
from solidion.errors import InputError
from solidion.md import preset
from tests.report.synthetic import lattice_hopper

FORMULA = "Li36Al27Cl99O9"  # the lattice hopper's cell: neutral, 171 atoms


def _job(tmp_path, kind="analysis", **kw):
    return Job(
        task_id=f"{kind}:{FORMULA}",
        kind=kind,
        formula=FORMULA,
        composition_dir=str(tmp_path),
        run_dir=str(tmp_path),
        preset=preset("quick", [600, 800], n_atoms=171),
        potential="chgnet",
        seed=0,
        **kw,
    )


def test_analysis_combines_replicas_per_temperature(tmp_path, monkeypatch):
    import solidion.report
    from solidion.transport.series import analyze_series

    pages = []  # the per-composition page is tested with the single-run report; not drawn here
    monkeypatch.setattr(solidion.report, "build_report", lambda js, out: pages.append((js, out)))

    (tmp_path / "glass").mkdir()
    (tmp_path / "glass" / "record.json").write_text(
        json.dumps({"potential": {"name": "chgnet", "spec": "chgnet"}})
    )
    runs = []
    for t in (600.0, 800.0):
        for r in (0, 1):
            traj, _ = lattice_hopper(t, n_frames=80, seed=int(t) + r)
            base = tmp_path if r == 0 else tmp_path / f"r{r}"
            path = base / f"T{t:g}K" / "00_production.h5"
            path.parent.mkdir(parents=True)
            traj.write(path)
            runs.append({"output": str(path), "temperature_K": t, "replica": r})
    rec = run_analysis(_job(tmp_path), runs[::-1])  # any order
    results = json.loads((tmp_path / "results.json").read_text())
    assert pages == [(tmp_path / "results.json", tmp_path / "report.html")]
    assert rec["output"] == str(tmp_path / "results.json")
    assert results["replicas"] == 2 and results["temperatures_K"] == [600.0, 800.0]
    assert results["trajectories"] == [
        "T600K/00_production.h5",
        "r1/T600K/00_production.h5",
        "T800K/00_production.h5",
        "r1/T800K/00_production.h5",
    ]
    assert results["potential"] == {"name": "chgnet"}
    # the transport block is the analysis of all four files, replicas grouped by temperature
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = analyze_series(
            [r["output"] for r in runs],
            [r["temperature_K"] for r in runs],
            "Li",
            charges={"Li": 1.0, "Al": 3.0, "Cl": -1.0, "O": -2.0},
        )
    for got, want in zip(results["transport"]["results"], direct.to_dict()["results"], strict=True):
        d = got["species"]["Li"]["tracer_diffusivity_cm2_s"]
        assert d["value"] == pytest.approx(
            want["species"]["Li"]["tracer_diffusivity_cm2_s"]["value"], rel=1e-12
        )
    assert results["transport"]["arrhenius"]["activation_energy_eV"]["value"] == pytest.approx(
        direct.arrhenius_dict()["activation_energy_eV"]["value"], rel=1e-12
    )
    # structure and convergence: replica 0, one entry per temperature
    assert [c["temperature_K"] for c in results["convergence"]] == [600.0, 800.0]
    assert [s["temperature_K"] for s in results["structure"]["results"]] == [600.0, 800.0]
    assert any(
        w.startswith("transport combines 2 replicas per temperature") for w in results["warnings"]
    )
    # the rows handed to the client are the numbers of results.json
    assert [tuple(r) for r in rec["rows"]] == [
        (r.temperature_K, r.quantity, r.value, r.stderr, r.unit, r.withheld)
        for r in result_rows(results)
    ]
    assert len(pickle.dumps(rec)) < 50_000  # a small record through the scheduler


def test_errors_become_picklable_task_errors(tmp_path):
    job = _job(tmp_path, kind="glass")
    with pytest.raises(TaskError) as info, _task(job, torch_threads=False):
        raise InputError("LiAlCl2.5O0.8 is not charge-neutral")
    err = pickle.loads(pickle.dumps(info.value))
    assert (str(err), err.task_id, err.kind, err.permanent) == (
        "InputError: LiAlCl2.5O0.8 is not charge-neutral",
        f"glass:{FORMULA}",
        "InputError",
        True,
    )
    assert "raise InputError" in err.details
    with pytest.raises(TaskError) as info, _task(job, torch_threads=False):
        raise OSError("stale file handle")
    assert info.value.permanent is False and str(info.value) == "OSError: stale file handle"


def test_one_process_per_run_directory(tmp_path):
    import multiprocessing

    run_dir = tmp_path / "T600K"
    ctx = multiprocessing.get_context("spawn")
    with _exclusive(run_dir, "md:x"):
        # another process cannot take it while this one holds it
        with ctx.Pool(1) as pool:
            assert pool.apply(_try_lock, (str(run_dir),)) == "locked"
    with ctx.Pool(1) as pool:
        assert pool.apply(_try_lock, (str(run_dir),)) == "free"


def _try_lock(run_dir: str) -> str:
    from pathlib import Path

    try:
        with _exclusive(Path(run_dir), "md:x"):
            return "free"
    except TaskError as exc:
        assert not exc.permanent and "being run by another process" in str(exc)
        return "locked"


def test_a_run_that_died_before_its_first_checkpoint_starts_over(tmp_path):
    run = tmp_path / "T600K"
    assert _prepare_run_dir(run) is False  # new
    run.mkdir()
    (run / "record.json").write_text(json.dumps({"status": "running"}))
    assert _prepare_run_dir(run) is False and not run.exists()  # cleared
    run.mkdir()
    (run / "record.json").write_text(json.dumps({"status": "running"}))
    np.savez(run / "checkpoint.npz", x=np.zeros(1))
    assert _prepare_run_dir(run) is True and run.exists()  # resumes
    (run / "record.json").write_text(json.dumps({"status": "finished"}))
    assert _prepare_run_dir(run) is False and run.exists()  # done: returned as it is
