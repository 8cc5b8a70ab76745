"""The SQLite store: schema, transitions, one result per (composition, T, quantity), withheld
numbers stored with their reason (and older databases migrated), changed campaigns refused, and
readers that never see half a write while the client writes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time

import pytest

from solidion.campaign import ResultRow, Store, build_plan, parse_campaign, result_rows
from solidion.campaign.store import SCHEMA_VERSION, unit_of
from solidion.errors import InputError
from solidion.pipeline.results import NO_REASON, csv_rows


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
    got = {
        (r.temperature_K, r.quantity): (r.value, r.stderr, r.unit, r.withheld)
        for r in result_rows(results)
    }
    one_t = "no Arrhenius fit: it needs at least two distinct temperatures, the series has 1"
    assert got == {
        (600.0, "transport.species.Li.tracer_diffusivity_cm2_s"): (1e-6, 1e-7, "cm²/s", None),
        (600.0, "transport.species.Li.fit_window_ps[0]"): (0.1, None, "ps", None),
        (600.0, "transport.species.Li.fit_window_ps[1]"): (2.0, None, "ps", None),
        # null without a reason in the result's `withheld`: still never silent
        (600.0, "transport.haven_ratio"): (None, None, "", NO_REASON),
        (None, "arrhenius.conductivity_300K_S_cm"): (1e-3, 2e-4, "S/cm", None),
        # the numbers of the fits that could not be made, with the reason
        (None, "arrhenius.activation_energy_eV"): (None, None, "eV", one_t),
        (None, "arrhenius.prefactor_cm2_s"): (None, None, "cm²/s", one_t),
        (None, "arrhenius.diffusivity_300K_cm2_s"): (None, None, "cm²/s", one_t),
        (None, "arrhenius.conductivity_activation_energy_eV"): (None, None, "eV", one_t),
        (600.0, "structure.polyhedra.fractions.Cl4"): (0.7, None, "", None),
        (None, "structure.residence_activation_eV.Cl4"): (0.4, 0.05, "eV", None),
        (600.0, "convergence.converged"): (0.0, None, "", None),
        (600.0, "convergence.n_hops"): (3.0, None, "", None),
    }
    assert unit_of("structure.rdf.Li-Cl.first_minimum_A") == "Å"
    assert unit_of("transport.onsager_S_cm.Li-Li.total") == "S/cm"


# -- withheld numbers -----------------------------------------------------------------------------
#: Reasons as solidion.transport.analyze and analyze_series word them.
REASON_HR = (
    "H_R not determined: D_σ(Li) is known only to ±105% (a ratio needs it to ±30%); a run ≈12× "
    "longer would resolve it"
)
REASON_SIGMA_E = (
    "σ_E not determined: the slope of the charge MSD is consistent with zero (6.43 ± 4.58 S/cm, "
    "less than 2 standard errors); a run ≈5.6× longer would resolve it to ±30 %"
)
REASON_T_E = (
    "Einstein transference numbers not determined: σ_E is known only to ±71% (a ratio needs it "
    "to ±30%); a run ≈5.6× longer would resolve it"
)
REASON_SIGMA_FIT = (
    "no Arrhenius fit of σ_E: an Arrhenius fit needs at least two distinct temperatures (1 left "
    "out: 600 K: σ_E not determined at this temperature (see its warnings))"
)
TEMPS = (600.0, 700.0)


def _est(value, stderr):
    return {"value": value, "stderr": stderr}


def results_json(mobile: str = "Li", *, withheld: bool) -> dict:
    """A hand-made ``results.json`` of two temperatures in the layout of ``solidion run``: with
    ``withheld``, H_R, σ_E and t_E at 600 K are withheld (so is the σ_E Arrhenius fit, one
    temperature short), otherwise every number is given."""
    runs = []
    for k, t in enumerate(TEMPS):
        hold = withheld and t == 600.0
        reasons = {"H_R": REASON_HR, "sigma_E": REASON_SIGMA_E, "t_E": REASON_T_E} if hold else {}
        none = _est(None, None)
        runs.append(
            {
                "temperature_K": t,
                "mobile": mobile,
                "frame": "framework",
                "fit_window_ps": [0.2, 2.0],
                "fit_weights": "GLS",
                "diffusive_onset_ps": 0.2,
                "species": {
                    mobile: {
                        "tracer_diffusivity_cm2_s": _est(1.0e-6 * (k + 1), 1.0e-7),
                        "fit_window_ps": [0.2, 2.0],
                    },
                    "Cl": {
                        "tracer_diffusivity_cm2_s": _est(2.0e-8, 1.0e-8),
                        "fit_window_ps": [0.2, 2.0],
                    },
                },
                "charge_diffusivity_cm2_s": _est(2.5e-6 * (k + 1), 3.0e-7),
                "haven_ratio": none if hold else _est(0.4 + 0.05 * k, 0.06),
                "conductivity_S_cm": {
                    "einstein": none if hold else _est(2.0e-3 * (k + 1), 3.0e-4),
                    "nernst_einstein": _est(5.0e-3 * (k + 1), 2.0e-4),
                    "cluster_nernst_einstein": _est(4.0e-3 * (k + 1), 5.0e-4),
                },
                "transference": {
                    "einstein": {
                        mobile: none if hold else _est(0.9, 0.04),
                        "Cl": none if hold else _est(0.1, 0.04),
                    }
                },
                "withheld": reasons,
                "warnings": list(reasons.values()),
            }
        )
    arrhenius = {
        "activation_energy_eV": _est(0.31, 0.02),
        "prefactor_cm2_s": _est(4.0e-4, 1.0e-4),
        "diffusivity_300K_cm2_s": _est(2.0e-9, 6.0e-10),
    }
    if not withheld:
        arrhenius["conductivity_300K_S_cm"] = _est(1.5e-4, 4.0e-5)
        arrhenius["conductivity_activation_energy_eV"] = _est(0.27, 0.03)
    return {
        "mobile": mobile,
        "temperatures_K": list(TEMPS),
        "transport": {
            "results": runs,
            "arrhenius": arrhenius,
            "warnings": [REASON_SIGMA_FIT] if withheld else [],
        },
        "structure": None,
        "convergence": [
            {"temperature_K": t, "duration_ps": 10.0, "converged": True, "reasons": []}
            for t in TEMPS
        ],
    }


def _stored(tmp_path, results: dict) -> dict:
    """Store a results dict as LiAlCl2.5O0.75's analysis; the rows by (T, quantity)."""
    c = _campaign(tmp_path)
    with Store.open(c.database) as store:
        store.sync_plan(build_plan(c))
        store.mark_done(
            "analysis:LiAlCl2.5O0.75", "x", {}, results=("LiAlCl2.5O0.75", result_rows(results))
        )
    with Store.open_readonly(c.database) as ro:
        return {(r["temperature_K"], r["quantity"]): r for r in ro.results("LiAlCl2.5O0.75")}


def test_withheld_numbers_are_stored_with_their_reason(tmp_path):
    rows = _stored(tmp_path, results_json(withheld=True))
    for key, reason in {
        (600.0, "transport.haven_ratio"): REASON_HR,
        (600.0, "transport.conductivity_S_cm.einstein"): REASON_SIGMA_E,
        (600.0, "transport.transference.einstein.Li"): REASON_T_E,
        (600.0, "transport.transference.einstein.Cl"): REASON_T_E,
        (None, "arrhenius.conductivity_300K_S_cm"): REASON_SIGMA_FIT,
        (None, "arrhenius.conductivity_activation_energy_eV"): REASON_SIGMA_FIT,
    }.items():
        row = rows[key]
        assert (row["value"], row["stderr"], row["withheld"]) == (None, None, reason), key
    assert rows[(None, "arrhenius.conductivity_300K_S_cm")]["unit"] == "S/cm"
    # what was given is given, with no reason
    assert rows[(700.0, "transport.haven_ratio")]["value"] == 0.45
    assert rows[(None, "arrhenius.activation_energy_eV")]["withheld"] is None
    # a row has a reason exactly when its estimate has no value
    assert all((r["withheld"] is not None) == (r["value"] is None) for r in rows.values())
    # results.csv: the same numbers, and the reason beside the empty one
    csv600 = csv_rows(results_json(withheld=True))[0]
    assert csv600["haven_ratio"] is None and csv600["haven_ratio_withheld"] == REASON_HR
    assert csv600["conductivity_S_cm.einstein_withheld"] == REASON_SIGMA_E
    assert "haven_ratio_withheld" not in csv_rows(results_json(withheld=True))[1]


def test_given_numbers_are_stored_as_they_are(tmp_path):
    results = results_json(withheld=False)
    rows = _stored(tmp_path, results)
    arr = results["transport"]["arrhenius"]
    for t, run in zip(TEMPS, results["transport"]["results"], strict=True):
        for key, est in (
            ("transport.haven_ratio", run["haven_ratio"]),
            ("transport.conductivity_S_cm.einstein", run["conductivity_S_cm"]["einstein"]),
            ("transport.transference.einstein.Li", run["transference"]["einstein"]["Li"]),
        ):
            row = rows[(t, key)]
            assert (row["value"], row["stderr"], row["withheld"]) == (
                est["value"],
                est["stderr"],
                None,
            )
    for key in ("conductivity_300K_S_cm", "activation_energy_eV"):
        row = rows[(None, f"arrhenius.{key}")]
        assert (row["value"], row["stderr"], row["withheld"]) == (
            arr[key]["value"],
            arr[key]["stderr"],
            None,
        )
    assert not any(r["withheld"] for r in rows.values())
    assert rows[(600.0, "transport.frame.framework")]["value"] == 1.0


def test_an_older_database_gains_the_withheld_column(tmp_path):
    c = _campaign(tmp_path)
    with Store.open(c.database) as store:
        store.sync_plan(build_plan(c))
        store.mark_done(
            "analysis:LiAlCl2.5O0.75",
            "x",
            {},
            results=("LiAlCl2.5O0.75", [ResultRow(600.0, "transport.haven_ratio", 0.5, 0.1, "")]),
        )
    # the results table as the first release wrote it: no `withheld` column
    raw = sqlite3.connect(c.database)
    raw.execute("ALTER TABLE results DROP COLUMN withheld")
    raw.commit()
    raw.close()
    with Store.open_readonly(c.database) as ro:  # read as it is: withheld reads as NULL
        (row,) = ro.results()
        assert (row["value"], row["withheld"]) == (0.5, None)
    with Store.open(c.database) as store:  # the writer adds the column, keeps the rows
        assert store.results()[0]["value"] == 0.5
        store.mark_done(
            "analysis:LiAlCl2.5O0.75",
            "x",
            {},
            results=("LiAlCl2.5O0.75", result_rows(results_json(withheld=True))),
        )
        stored = {r["quantity"]: r for r in store.results() if r["temperature_K"] == 600.0}
    assert stored["transport.haven_ratio"]["withheld"] == REASON_HR


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
