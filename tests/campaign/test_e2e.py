"""Campaigns with real CHGNet MD on the tiny 21-atom protocol (slow).

- a 2 compositions × 2 temperatures grid, plus a composition that is not charge-neutral, on a
  local Dask cluster of 2 worker processes: it completes, fills the database, fails the bad
  composition as a task without stopping the others, and its report renders in Chromium with
  the numbers of the database — a number the analysis withheld (σ, H_R, or the Arrhenius fit of
  a run too short to be diffusive) is stored and shown with its reason;
- a worker process SIGKILLed in the middle of an MD task: Dask reruns the task, which resumes
  from its checkpoint — every task done once, the trajectory's frames contiguous and complete;
- the client SIGKILLed mid-campaign, then the campaign re-run: finished tasks are not touched
  (attempts, files), the interrupted MD resumes.

The later tests start from the glass of the first (a finished glass run directory is reused as
it is), so only their production MD is new.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from solidion import read_trajectory
from solidion.campaign import Store, load_campaign, result_rows, run_campaign
from solidion.cli import main
from solidion.errors import InputError
from tests.campaign.conftest import check_numbers_equal_database, load_in_browser, tiny_campaign
from tests.report.chromium import chromium, chromium_unavailable

pytestmark = pytest.mark.slow

GOOD = ("LiAlCl2.5O0.75", "NaAlCl2.5O0.75")
BAD = "LiAlCl2.5O0.8"


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grid")
    path = tiny_campaign(folder, [*GOOD, BAD])
    code = main(["campaign", "run", str(path), "--workers", "2"])
    return load_campaign(path), code


def _tasks(c) -> dict:
    with Store.open_readonly(c.database) as store:
        return store.tasks()


def _tasks_if_any(c) -> dict:
    """The task rows, or nothing while the campaign has not created its database yet."""
    try:
        return _tasks(c)
    except InputError:
        return {}


def _steps(h5: Path) -> np.ndarray:
    with h5py.File(h5, "r") as f:
        return f["particles/all/position/step"][()]


def test_grid_completes_and_fills_the_database(grid):
    c, code = grid
    assert code == 1  # not every task is done: the bad composition's
    t = _tasks(c)
    for f in GOOD:
        ids = [i for i in t if i.split(":")[1] == f]
        assert len(ids) == 4
        for i in ids:
            assert (t[i]["state"], t[i]["attempts"], t[i]["starts"], t[i]["failures"]) == (
                "done",
                1,
                1,
                0,
            ), t[i]
            assert t[i]["host"] and t[i]["pid"] and t[i]["wall_s"] > 0
        md = json.loads(t[f"md:{f}:T800K:r0"]["info"])
        assert md["n_frames"] == 26 and md["n_steps"] == 50 and md["n_atoms"] == 21
        assert md["resumed"] is False
        root = c.output / f
        # the layout of `solidion run`: its report command works on it
        for name in ("build/initial.extxyz", "glass/final.extxyz", "T600K/00_production_600K.h5"):
            assert (root / name).exists(), name
        assert np.array_equal(_steps(root / "T600K" / "00_production_600K.h5"), np.arange(0, 51, 2))
        assert main(["report", str(root)]) == 0
        # the database holds every number of results.json, once
        results = json.loads((root / "results.json").read_text())
        assert results["formula"] == f and results["temperatures_K"] == [600.0, 800.0]
        want = {
            (r.temperature_K, r.quantity): (r.value, r.stderr, r.unit, r.withheld)
            for r in result_rows(results)
        }
        with Store.open_readonly(c.database) as store:
            rows = store.results(f)
        got = {
            (r["temperature_K"], r["quantity"]): (r["value"], r["stderr"], r["unit"], r["withheld"])
            for r in rows
        }
        assert got == want and len(rows) == len(want) > 150
        assert got[(600.0, "convergence.converged")][0] == 0.0  # a demonstration never converges
        # σ(300 K) and E_a: a number with its unit, or withheld with the analysis' own reason
        for q, unit in (("conductivity_300K_S_cm", "S/cm"), ("activation_energy_eV", "eV")):
            value, _, got_unit, why = got[(None, f"arrhenius.{q}")]
            assert got_unit == unit
            if value is None:
                assert why.startswith("no Arrhenius fit of ") and why in results["warnings"], why
            else:
                assert value > 0 and why is None
        # H_R per temperature: a number, or withheld with the reason of results.json
        for run in results["transport"]["results"]:
            value, _, _, why = got[(run["temperature_K"], "transport.haven_ratio")]
            assert (value is None) == (run["haven_ratio"]["value"] is None)
            assert why == (run["withheld"]["H_R"] if value is None else None)
        # a stored reason exactly where a stored number has no value (never a silent null)
        assert all((w is not None) == (v is None) for v, _, _, w in got.values())


def test_a_failing_composition_fails_as_a_task(grid):
    c, _ = grid
    t = _tasks(c)
    g = t[f"glass:{BAD}"]
    assert (g["state"], g["failures"]) == ("failed", 1)
    assert g["error"].startswith(
        f"InputError: {BAD} is not charge-neutral: total formal charge -0.1"
    )
    for i in (f"md:{BAD}:T600K:r0", f"md:{BAD}:T800K:r0", f"analysis:{BAD}"):
        assert t[i]["state"] == "blocked" and t[i]["attempts"] == 0
        assert t[i]["error"].startswith(f"glass:{BAD} failed: InputError")
    with Store.open_readonly(c.database) as store:
        assert store.results(BAD) == []


def test_the_report_renders_with_the_database_numbers(grid):
    c, _ = grid
    why = chromium_unavailable()
    if why is not None:
        pytest.skip(f"browser test: {why}")
    html = c.output / "campaign_report.html"  # written by `campaign run`
    with chromium() as browser:
        page = load_in_browser(browser, html)
        tab = browser.new_page()
        tab.goto(html.as_uri(), wait_until="load")
        shown = tab.eval_on_selector_all(
            "[data-withheld]",
            "els => els.map(e => ({key: e.dataset.key, why: e.dataset.withheld, title: e.title, "
            "text: e.textContent}))",
        )
        tab.close()
    assert page["errors"] == []
    assert all(u.startswith(("file:", "data:")) for u in page["requests"])
    n = check_numbers_equal_database(page["numbers"], c.database)
    numbers = {x["key"]: x for x in page["numbers"]}
    withheld = {x["key"]: x for x in shown}
    with Store.open_readonly(c.database) as store:
        stored = {(r["composition"], r["temperature_K"], r["quantity"]): r for r in store.results()}
    for f in GOOD:
        m = f[:2]  # the mobile ion: Li, Na
        cells = {
            f"sigma_300K_mS_cm__{f}": (None, "arrhenius.conductivity_300K_S_cm"),
            f"Ea_eV__{f}": (None, "arrhenius.activation_energy_eV"),
            f"Ea_sigma_eV__{f}": (None, "arrhenius.conductivity_activation_energy_eV"),
            f"haven_ratio_800K__{f}": (800.0, "transport.haven_ratio"),
            f"t_mobile_E_600K__{f}": (600.0, f"transport.transference.einstein.{m}"),
        }
        for key, (t, q) in cells.items():
            row = stored[(f, t, q)]
            assert key in numbers, key  # every cell is a number or a withheld number
            if row["value"] is None:
                # withheld: the cell says so, with the stored reason as tooltip and as a note
                why = row["withheld"]
                assert why and numbers[key]["value"] == "null"
                assert withheld[key] == {"key": key, "why": why, "title": why, "text": "withheld"}
                assert why in page["text"]
            else:
                assert key not in withheld and row["withheld"] is None
    assert n >= 2 * 7
    assert len(page["images"]) == 1 and page["images"][0]["complete"]
    assert f"glass:{BAD}" in page["text"] and "not charge-neutral" in page["text"]


def _copy_glass(src_root: Path, dst_root: Path, formula: str) -> None:
    for part in ("build", "glass"):
        shutil.copytree(src_root / formula / part, dst_root / formula / part)


def _checkpoint_step(run_dir: Path) -> tuple[int, int]:
    """(stage, step) of a run directory's last checkpoint, (-1, -1) before the first."""
    try:
        with np.load(run_dir / "checkpoint.npz") as z:
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError):
        return -1, -1
    return int(meta["stage"]), int(meta["step"])


def _wait_for_checkpoint(c, task_ids, timeout: float = 400) -> tuple[str, int]:
    """Wait until one of the md tasks runs and has written a periodic checkpoint, the others
    being done: ``(its id, its worker's pid)``."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        rows = _tasks_if_any(c)
        states = {i: rows.get(i, {}).get("state") for i in task_ids}
        running = [i for i, s in states.items() if s == "running"]
        if len(running) == 1 and all(s == "done" for i, s in states.items() if i != running[0]):
            row = rows[running[0]]
            run_dir = c.output / row["composition"] / f"T{row['temperature_K']:g}K"
            stage, step = _checkpoint_step(run_dir)
            if row["pid"] and stage == 0 and step >= 20:
                return running[0], int(row["pid"])
        assert not all(s == "done" for s in states.values()), "the MD finished before the kill"
        time.sleep(0.05)
    raise AssertionError(f"none of {task_ids} reached a checkpoint")


def _contiguous(h5: Path, n_steps: int, every: int) -> None:
    steps = _steps(h5)
    assert np.array_equal(steps, np.arange(0, n_steps + 1, every)), steps
    traj = read_trajectory(h5)
    assert traj.n_frames == n_steps // every + 1 and np.isfinite(traj.positions).all()


def test_a_killed_worker_costs_only_the_work_since_the_checkpoint(grid, tmp_path, capsys):
    first, _ = grid
    f = GOOD[0]
    path = tiny_campaign(tmp_path, [f], [600.0], production_ps=0.12, name="kill")
    c = load_campaign(path)
    _copy_glass(first.output, c.output, f)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["summary"] = run_campaign(c, workers=2, log=lambda m: None)
        except BaseException as exc:  # reported by the assertions below
            outcome["error"] = exc

    th = threading.Thread(target=run)
    th.start()
    tid, pid = _wait_for_checkpoint(c, [f"md:{f}:T600K:r0"])
    run_dir = c.output / f / "T600K"
    # `campaign status` works while the campaign runs (read-only connection)
    assert main(["campaign", "status", str(path)]) == 0
    assert "running" in capsys.readouterr().out
    os.kill(pid, signal.SIGKILL)
    th.join(timeout=600)
    assert not th.is_alive() and "error" not in outcome, outcome
    assert outcome["summary"].complete
    t = _tasks(c)
    md = t[tid]
    # one attempt of the client, started twice (Dask reran it), done once
    assert (md["state"], md["attempts"], md["starts"], md["failures"]) == ("done", 1, 2, 0)
    assert md["pid"] != pid and json.loads(md["info"])["resumed"] is True
    assert "resumed" in json.loads((run_dir / "record.json").read_text())
    assert all(r["state"] == "done" for r in t.values())
    # 60 steps of 2 fs, a frame every 2 steps: 31 frames, none lost, none twice
    _contiguous(run_dir / "00_production_600K.h5", 60, 2)
    lines = [ln.split() for ln in (run_dir / "thermo.log").read_text().splitlines()[1:]]
    assert [int(x[1]) for x in lines] == list(range(0, 61, 2))
    with Store.open_readonly(c.database) as store:
        rows = store.results(f)
    assert len({(r["temperature_K"], r["quantity"]) for r in rows}) == len(rows) > 50


def test_a_killed_client_loses_nothing_finished(grid, tmp_path):
    first, _ = grid
    f = GOOD[1]
    path = tiny_campaign(tmp_path, [f], [600.0, 800.0], production_ps=0.12, name="client")
    c = load_campaign(path)
    _copy_glass(first.output, c.output, f)
    root = c.output / f
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "solidion.cli",
            "campaign",
            "run",
            str(path),
            "--workers",
            "1",
            "--no-report",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # the worker runs one md task at a time: kill while the second runs, past a checkpoint
        cut, _ = _wait_for_checkpoint(c, [f"md:{f}:T600K:r0", f"md:{f}:T800K:r0"])
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the client, its nanny and its worker
        proc.wait(timeout=60)
    kept = f"md:{f}:T600K:r0" if cut.endswith("T800K:r0") else f"md:{f}:T800K:r0"
    before = _tasks(c)
    done_before = {i for i, r in before.items() if r["state"] == "done"}
    assert done_before == {f"glass:{f}", kept} and before[cut]["state"] == "running"
    kept_dir = root / f"T{before[kept]['temperature_K']:g}K"
    cut_dir = root / f"T{before[cut]['temperature_K']:g}K"
    files = [root / "glass" / "final.extxyz", *sorted(kept_dir.iterdir())]
    mtimes = [p.stat().st_mtime_ns for p in files]
    assert main(["campaign", "run", str(path), "--workers", "1"]) == 0
    after = _tasks(c)
    for i in done_before:
        for col in ("attempts", "starts", "finished_at", "output"):
            assert after[i][col] == before[i][col], (i, col)
    assert [p.stat().st_mtime_ns for p in files] == mtimes
    md = after[cut]
    assert (md["state"], md["attempts"], md["starts"], md["failures"]) == ("done", 2, 2, 0)
    assert json.loads(md["info"])["resumed"] is True
    _contiguous(next(cut_dir.glob("00_production_*.h5")), 60, 2)
    assert (
        after[f"analysis:{f}"]["state"] == "done" and (c.output / "campaign_report.html").exists()
    )


def test_measure_times_the_driver_here():
    from solidion.campaign import measure_throughput

    tp = measure_throughput(n_atoms=21, steps=6, threads=1, relax_steps=20)
    assert 1.0 < tp.atom_steps_per_s < 1e6
    assert "6 NVT steps of a 21-atom LiAlCl2.5O0.75 cell, chgnet, 1 torch thread(s)" in tp.source
