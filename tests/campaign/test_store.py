"""The SQLite store: schema, transitions, one result per (composition, T, quantity), changed
campaigns refused, and readers that never see half a write while the client writes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time

import pytest

from solidion.campaign import ResultRow, Store, build_plan, parse_campaign, result_rows
from solidion.campaign.store import SCHEMA_VERSION, unit_of
from solidion.errors import InputError


def _campaign(tmp_path, **kw):
    data = {"compositions": ["LiAlCl2.5O0.75", "NaAlCl2.5O0.75"], "temperatures": [600, 700]}
    return parse_campaign({**data, **kw}, tmp_path / "c.toml")


def test_schema_and_wal(tmp_path):
    c = _campaign(tmp_path)
    with Store.open(c.database, name="x") as store:
        store.sync_plan(build_plan(c))
    raw = sqlite3.connect(c.database)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"meta", "compositions", "tasks", "results"}
    meta = dict(raw.execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION) and meta["name"] == "x"
    raw.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(InputError, match="schema version 99"):
        Store.open(c.database)
    with pytest.raises(InputError, match="no campaign database"):
        Store.open_readonly(tmp_path / "none.sqlite")


def test_transitions_and_snapshot(tmp_path):
    c = _campaign(tmp_path)
    with Store.open(c.database) as store:
        store.sync_plan(build_plan(c))
        g = "glass:LiAlCl2.5O0.75"
        store.mark_queued(g)
        store.mark_running(g, "node1", 42, 100.0)
        store.mark_running(g, "node2", 43, 200.0, new_attempt=False)  # node1 died: Dask reran it
        out = tmp_path / "final.extxyz"
        out.write_text("")
        store.mark_done(g, str(out), {"wall_s": 5.0, "host": "node2", "pid": 43})
        store.mark_queued("glass:NaAlCl2.5O0.75")
        store.mark_failed("glass:NaAlCl2.5O0.75", "InputError: boom")
        store.mark_blocked(["md:NaAlCl2.5O0.75:T600K:r0"], "glass failed")
        with Store.open_readonly(c.database) as ro:
            snap = ro.snapshot()
            with pytest.raises(InputError, match="read-only"):
                ro.mark_queued(g)
    t = {r["id"]: r for r in snap.tasks}
    assert (t[g]["state"], t[g]["attempts"], t[g]["starts"], t[g]["host"], t[g]["pid"]) == (
        "done",
        1,
        2,
        "node2",
        43,
    )
    assert t[g]["started_at"] == 100.0 and t[g]["wall_s"] == 5.0
    bad = t["glass:NaAlCl2.5O0.75"]
    assert (bad["state"], bad["failures"], bad["error"]) == ("failed", 1, "InputError: boom")
    assert snap.counts() == {
        "pending": 5,
        "queued": 0,
        "running": 0,
        "done": 1,
        "failed": 1,
        "blocked": 1,
    }
    assert [x["id"] for x in snap.tasks][:2] == [
        "glass:LiAlCl2.5O0.75",
        "md:LiAlCl2.5O0.75:T600K:r0",
    ]


def test_results_are_stored_once_and_replaced_whole(tmp_path):
    c = _campaign(tmp_path)
    rows = [
        ResultRow(600.0, "transport.haven_ratio", 0.5, 0.1, ""),
        ResultRow(None, "arrhenius.activation_energy_eV", 0.3, 0.02, "eV"),
    ]
    with Store.open(c.database) as store:
        store.sync_plan(build_plan(c))
        a = "analysis:LiAlCl2.5O0.75"
        store.mark_done(a, "x", {}, results=("LiAlCl2.5O0.75", rows))
        store.mark_done(a, "x", {}, results=("LiAlCl2.5O0.75", rows[:1]))  # a re-analysis
        assert [(r["quantity"], r["value"]) for r in store.results()] == [
            ("transport.haven_ratio", 0.5)
        ]
        # the same (composition, T, quantity) twice in one write: refused, nothing changes
        with pytest.raises(sqlite3.IntegrityError):
            store.mark_done(a, "y", {}, results=("LiAlCl2.5O0.75", rows + rows))
        with pytest.raises(sqlite3.IntegrityError):  # NULL temperatures count as equal too
            store.mark_done(a, "y", {}, results=("LiAlCl2.5O0.75", [rows[1], rows[1]]))
        assert len(store.results()) == 1 and store.tasks()[a]["output"] == "x"


def test_changed_campaign_refused_and_stale_states_repaired(tmp_path):
    c = _campaign(tmp_path)
    plan = build_plan(c)
    out = tmp_path / "glass.extxyz"
    out.write_text("")
    with Store.open(c.database) as store:
        store.sync_plan(plan)
        store.mark_queued("glass:LiAlCl2.5O0.75")
        store.mark_done("glass:LiAlCl2.5O0.75", str(out), {})
        store.mark_queued("glass:NaAlCl2.5O0.75")
        store.mark_running("glass:NaAlCl2.5O0.75", "h", 1, 0.0)
        # a new production length: tasks that never ran take the new inputs; so does the glass
        store.sync_plan(build_plan(_campaign(tmp_path, production_ps=3.0)))
        # a new seed would change tasks that ran: refused, naming them
        with pytest.raises(
            InputError,
            match=r"c\.toml: the protocol, potential, seed .* glass:LiAlCl2\.5O0\.75, glass:NaAlCl2\.5O0\.75; choose a new output root",
        ):
            store.sync_plan(build_plan(_campaign(tmp_path, seed=9)))
        t = store.tasks()
        assert t["glass:NaAlCl2.5O0.75"]["state"] == "pending"  # its client died: run again
        assert "interrupted" in t["glass:NaAlCl2.5O0.75"]["error"]
        assert t["glass:LiAlCl2.5O0.75"]["state"] == "done"
        out.unlink()  # a done task whose output is gone runs again
        store.sync_plan(plan)
        assert store.tasks()["glass:LiAlCl2.5O0.75"]["state"] == "pending"


def test_result_rows_and_units():
    results = {
        "transport": {
            "results": [
                {
                    "temperature_K": 600.0,
                    "mobile": "Li",
                    "species": {
                        "Li": {
                            "tracer_diffusivity_cm2_s": {"value": 1e-6, "stderr": 1e-7},
                            "fit_window_ps": [0.1, 2.0],
                        }
                    },
                    "haven_ratio": {"value": None, "stderr": None},
                    "warnings": ["x"],
                }
            ],
            "arrhenius": {"conductivity_300K_S_cm": {"value": 1e-3, "stderr": 2e-4}},
        },
        "structure": {
            "results": [
                {
                    "temperature_K": 600.0,
                    "polyhedra": {
                        "fractions": {"Cl4": 0.7},
                        "per_frame_fractions": {"Cl4": [0.7, 0.6, 0.8]},
                    },
                    "residence": None,
                }
            ],
            "residence_activation_eV": {"Cl4": {"value": 0.4, "stderr": 0.05}},
        },
        "convergence": [
            {
                "temperature_K": 600.0,
                "converged": False,
                "n_hops": 3,
                "reasons": ["short"],
                "diffusive_onset_ps": None,
            }
        ],
        "msd": [{"temperature_K": 600.0, "lag_ps": [0, 1, 2], "msd_A2": {"Li": [0, 1, 2]}}],
    }
    got = {(r.temperature_K, r.quantity): (r.value, r.stderr, r.unit) for r in result_rows(results)}
    assert got == {
        (600.0, "transport.species.Li.tracer_diffusivity_cm2_s"): (1e-6, 1e-7, "cm²/s"),
        (600.0, "transport.species.Li.fit_window_ps[0]"): (0.1, None, "ps"),
        (600.0, "transport.species.Li.fit_window_ps[1]"): (2.0, None, "ps"),
        (600.0, "transport.haven_ratio"): (None, None, ""),
        (None, "arrhenius.conductivity_300K_S_cm"): (1e-3, 2e-4, "S/cm"),
        (600.0, "structure.polyhedra.fractions.Cl4"): (0.7, None, ""),
        (None, "structure.residence_activation_eV.Cl4"): (0.4, 0.05, "eV"),
        (600.0, "convergence.converged"): (0.0, None, ""),
        (600.0, "convergence.n_hops"): (3.0, None, ""),
    }
    assert unit_of("structure.rdf.Li-Cl.first_minimum_A") == "Å"
    assert unit_of("transport.onsager_S_cm.Li-Li.total") == "S/cm"


# -- readers while the client writes ------------------------------------------------------------
N_ROWS = 300


def _reader(path: str, seconds: float, queue) -> None:
    """Hammer the database read-only; report every inconsistency seen (runs in a process)."""
    from solidion.campaign import Store

    bad: list[str] = []
    reads = 0
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30)
    store = Store.open_readonly(path)
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        # the store's own snapshot: done ⇔ a full set of results
        snap = store.snapshot()
        for t in snap.tasks:
            if t["kind"] == "analysis":
                n = snap.n_results.get(t["composition"], 0)
                if (t["state"] == "done") != (n == N_ROWS) or n not in (0, N_ROWS):
                    bad.append(f"snapshot: {t['id']} {t['state']} with {n} results")
        # an independent reader: the task's version equals the version of every result value
        raw.execute("BEGIN")
        for formula in ("LiAlCl2.5O0.75", "NaAlCl2.5O0.75"):
            info = raw.execute(
                "SELECT json_extract(info, '$.version') FROM tasks WHERE id=?",
                (f"analysis:{formula}",),
            ).fetchone()[0]
            lo, hi, n = raw.execute(
                "SELECT min(value), max(value), count(*) FROM results WHERE composition=?",
                (formula,),
            ).fetchone()
            if n and not (lo == hi == info and n == N_ROWS):
                bad.append(f"{formula}: task version {info}, results {lo}..{hi} ×{n}")
        raw.execute("COMMIT")
        reads += 1
    queue.put((reads, bad[:10], len(bad)))


def test_concurrent_readers_never_see_a_partial_record(tmp_path):
    c = _campaign(tmp_path)
    with Store.open(c.database) as store:
        store.sync_plan(build_plan(c))
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    readers = [ctx.Process(target=_reader, args=(str(c.database), 4.0, q)) for _ in range(2)]
    for r in readers:
        r.start()
    writes = [0]

    def writer() -> None:
        with Store.open(c.database) as w:
            t_end = time.monotonic() + 5.0
            version = 0
            while time.monotonic() < t_end:
                version += 1
                for formula in ("LiAlCl2.5O0.75", "NaAlCl2.5O0.75"):
                    md = f"md:{formula}:T600K:r0"
                    w.mark_queued(md)
                    w.mark_running(md, "h", version, time.time())
                    rows = [
                        ResultRow(600.0 + k, f"q{k % 7}.{k}", float(version), 0.0, "")
                        for k in range(N_ROWS)
                    ]
                    w.mark_done(
                        f"analysis:{formula}", "out", {"version": version}, results=(formula, rows)
                    )
                    writes[0] += 1

    th = threading.Thread(target=writer)
    th.start()
    th.join()
    results = [q.get(timeout=60) for _ in readers]
    for r in readers:
        r.join(timeout=30)
    assert writes[0] > 20
    for reads, examples, n_bad in results:
        assert reads > 20, "the reader must have overlapped the writer"
        assert n_bad == 0, examples
