"""The client's bookkeeping on a real (in-process) Dask cluster, with stand-in task functions:
retries of transient failures with their dependents, permanent failures that block only their
own dependents, the retry budget across runs, and re-runs that skip finished tasks.

The stand-ins go through the same wrapper as the real tasks (announce, lock, error conversion),
so only the MD itself is left out; the real thing is in test_e2e.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solidion.campaign import Store, load_campaign, run_campaign
from solidion.campaign import execute as ex
from solidion.campaign.tasks import TaskError, _task
from solidion.errors import InputError
from tests.campaign.conftest import tiny_campaign

#: task id -> exceptions its next calls raise, in order (the cluster runs in this process).
FAIL: dict[str, list[BaseException]] = {}
#: task ids in the order they ran.
CALLS: list[str] = []


def _stand_in(job, inputs, name):
    with _task(job, torch_threads=False) as rec:
        CALLS.append(job.task_id)
        todo = FAIL.get(job.task_id)
        if todo:
            raise todo.pop(0)
        out = Path(job.run_dir) / name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(inputs, default=str))
        rec["output"] = str(out)
        if job.kind == "md":
            rec.update(temperature_K=job.temperature_K, replica=job.replica)
        if job.kind == "analysis":
            rec["rows"] = [
                (r["temperature_K"], "transport.haven_ratio", 0.5, 0.1, "") for r in inputs
            ]
    return rec


def fake_glass(job):
    return _stand_in(job, None, "final.extxyz")


def fake_md(job, glass):
    assert Path(glass["output"]).exists()
    return _stand_in(job, glass["output"], "traj.h5")


def fake_analysis(job, runs):
    assert all(Path(r["output"]).exists() for r in runs)
    return _stand_in(job, list(runs), "results.json")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as lc,
        Client(lc) as c,
    ):
        yield c


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch):
    monkeypatch.setattr(ex, "run_glass", fake_glass)
    monkeypatch.setattr(ex, "run_md", fake_md)
    monkeypatch.setattr(ex, "run_analysis", fake_analysis)
    FAIL.clear()
    CALLS.clear()


def _tasks(c):
    with Store.open_readonly(c.database) as s:
        return s.tasks()


def test_transient_failures_are_retried_with_their_dependents(tmp_path, client):
    c = load_campaign(tiny_campaign(tmp_path, ["LiAlCl2.5O0.75", "NaAlCl2.5O0.75"]))
    FAIL["glass:LiAlCl2.5O0.75"] = [OSError("disk hiccup")]
    FAIL["md:NaAlCl2.5O0.75:T800K:r0"] = [MemoryError(), OSError("again")]
    log: list[str] = []
    s = run_campaign(c, client=client, log=log.append)
    assert s.complete and (s.done, s.failed, s.blocked, s.skipped) == (8, 0, 0, 0)
    t = _tasks(c)
    assert all(r["state"] == "done" and r["error"] is None for r in t.values())
    g = t["glass:LiAlCl2.5O0.75"]
    assert (g["attempts"], g["starts"], g["failures"]) == (2, 2, 1)
    m = t["md:NaAlCl2.5O0.75:T800K:r0"]
    assert (m["attempts"], m["failures"]) == (3, 2)
    # every md task of the retried glass ran once, after it; the analysis once, after them
    assert CALLS.count("md:LiAlCl2.5O0.75:T600K:r0") == 1
    assert CALLS.count("analysis:NaAlCl2.5O0.75") == 1
    assert CALLS.index("analysis:NaAlCl2.5O0.75") > len(CALLS) - 1 - CALLS[::-1].index(
        "md:NaAlCl2.5O0.75:T800K:r0"
    )
    assert t["md:LiAlCl2.5O0.75:T600K:r0"]["attempts"] == 1
    assert any("failed: glass:LiAlCl2.5O0.75 (OSError: disk hiccup); retrying" in m for m in log)
    with Store.open_readonly(c.database) as st:
        assert {r["composition"] for r in st.results()} == {"LiAlCl2.5O0.75", "NaAlCl2.5O0.75"}
    # a second run skips everything and submits nothing
    CALLS.clear()
    again = run_campaign(c, client=client, log=log.append)
    assert (again.skipped, again.done) == (8, 0) and CALLS == []
    assert _tasks(c) == t


def test_permanent_failure_blocks_only_its_dependents_and_waits_for_the_next_run(tmp_path, client):
    c = load_campaign(
        tiny_campaign(tmp_path, ["LiAlCl2.5O0.75", "NaAlCl2.5O0.75"], extra="max_attempts = 2")
    )
    FAIL["glass:NaAlCl2.5O0.75"] = [InputError("NaAlCl2.5O0.75 is broken")] * 5
    FAIL["md:LiAlCl2.5O0.75:T800K:r0"] = [
        TaskError("guard stopped it", "md:LiAlCl2.5O0.75:T800K:r0", "MDError", True)
    ]
    s = run_campaign(c, client=client, log=lambda m: None)
    assert (s.done, s.failed, s.blocked) == (2, 2, 4) and not s.complete
    assert dict(s.failures) == {
        "glass:NaAlCl2.5O0.75": "InputError: NaAlCl2.5O0.75 is broken",
        "md:LiAlCl2.5O0.75:T800K:r0": "guard stopped it",
    }
    t = _tasks(c)
    assert t["glass:LiAlCl2.5O0.75"]["state"] == t["md:LiAlCl2.5O0.75:T600K:r0"]["state"] == "done"
    assert t["analysis:LiAlCl2.5O0.75"]["state"] == "blocked"
    for tid in (
        "md:NaAlCl2.5O0.75:T600K:r0",
        "md:NaAlCl2.5O0.75:T800K:r0",
        "analysis:NaAlCl2.5O0.75",
    ):
        assert t[tid]["state"] == "blocked" and t[tid]["attempts"] == 0
        assert t[tid]["error"].startswith("glass:NaAlCl2.5O0.75 failed: InputError")
    assert CALLS.count("glass:NaAlCl2.5O0.75") == 1  # permanent: not retried within the run
    # next run: one more try each (budget 2); the md now succeeds, the glass fails again
    CALLS.clear()
    s2 = run_campaign(c, client=client, log=lambda m: None)
    assert (s2.skipped, s2.done, s2.failed, s2.blocked) == (2, 2, 1, 3)
    assert sorted(CALLS) == [
        "analysis:LiAlCl2.5O0.75",
        "glass:NaAlCl2.5O0.75",
        "md:LiAlCl2.5O0.75:T800K:r0",
    ]
    assert _tasks(c)["glass:NaAlCl2.5O0.75"]["failures"] == 2
    # budget spent: not even submitted
    CALLS.clear()
    log: list[str] = []
    s3 = run_campaign(c, client=client, log=log.append)
    assert CALLS == [] and s3.failed == 1
    assert "not retried: glass:NaAlCl2.5O0.75 failed 2 time(s) already" in log
    # --retry-failed: a fresh budget
    FAIL.clear()
    s4 = run_campaign(c, client=client, retry_failed=True, log=lambda m: None)
    assert s4.complete and _tasks(c)["glass:NaAlCl2.5O0.75"]["failures"] == 0


def test_connection_options_are_checked(tmp_path, client):
    c = load_campaign(tiny_campaign(tmp_path, ["LiAlCl2.5O0.75"]))
    with pytest.raises(InputError, match="give a client or connection options"):
        run_campaign(c, client=client, workers=2, log=lambda m: None)
    with pytest.raises(InputError, match="--scheduler and --workers: give one way"):
        run_campaign(c, scheduler="tcp://127.0.0.1:1", workers=2, log=lambda m: None)
    with pytest.raises(InputError, match="--cluster-config needs --cluster"):
        run_campaign(c, cluster_config=tmp_path / "x.toml", log=lambda m: None)
    with pytest.raises(InputError, match="--cluster 'moab': one of slurm, pbs"):
        run_campaign(c, cluster="moab", log=lambda m: None)


def test_cluster_config_goes_to_dask_jobqueue(tmp_path, monkeypatch):
    """A batch cluster is built from the config file by the dask-jobqueue class of its name."""
    import sys
    import types

    made = {}

    class FakeSLURM:
        def __init__(self, **kw):
            made["kwargs"] = kw

        def scale(self, jobs):
            made["jobs"] = jobs

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            made["closed"] = True

    cfg = tmp_path / "slurm.toml"
    cfg.write_text(
        'jobs = 3\ncores = 4\nmemory = "16GB"\nwalltime = "24:00:00"\njob_extra_directives = ["--gres=gpu:1"]\n'
    )
    assert ex.cluster_kwargs(cfg) == (
        {
            "cores": 4,
            "memory": "16GB",
            "walltime": "24:00:00",
            "job_extra_directives": ["--gres=gpu:1"],
        },
        {"jobs": 3},
    )
    if "dask_jobqueue" not in sys.modules:
        with pytest.raises(InputError, match="needs dask-jobqueue: pip install dask-jobqueue"):
            with ex.connect(cluster="slurm", cluster_config=cfg, log=lambda m: None):
                pass
    monkeypatch.setitem(sys.modules, "dask_jobqueue", types.SimpleNamespace(SLURMCluster=FakeSLURM))

    class FakeClient:
        def __init__(self, cluster):
            made["client_of"] = cluster

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    import distributed

    monkeypatch.setattr(distributed, "Client", FakeClient)
    with ex.connect(cluster="slurm", cluster_config=cfg, log=lambda m: None) as got:
        assert isinstance(got, FakeClient)
    assert made["kwargs"]["cores"] == 4 and made["jobs"] == 3 and made["closed"]
    bad = tmp_path / "bad.toml"
    bad.write_text("jobs = 0\n")
    with pytest.raises(InputError, match="jobs: must be a positive integer"):
        ex.cluster_kwargs(bad)


def test_one_client_per_campaign(tmp_path, client):
    c = load_campaign(tiny_campaign(tmp_path, ["LiAlCl2.5O0.75"]))
    with ex._sole_client(c.output):
        with pytest.raises(
            InputError, match=r"another `solidion campaign run` \(pid \d+\) is running"
        ):
            run_campaign(c, client=client, log=lambda m: None)
    assert run_campaign(c, client=client, log=lambda m: None).complete


def _raise_value_error(x: int) -> int:
    raise ValueError(f"task {x} broke")


def test_local_workers_leave_task_failures_to_the_client(capfd):
    # The client stores and prints a failed task's message once; the worker processes must not
    # add Dask's multi-line "Compute Failed" dump (without the plugin they do: same test, red).
    with ex.connect(workers=1, log=lambda _: None) as client:
        with pytest.raises(ValueError, match="task 3 broke"):
            client.submit(_raise_value_error, 3).result()
    err = capfd.readouterr().err
    assert "Compute Failed" not in err
