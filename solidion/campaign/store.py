"""The campaign's results store: one SQLite database in the output root.

``<output>/campaign.sqlite`` holds four tables:

- ``meta``: schema version, campaign name and file, creation time;
- ``compositions``: one row per composition (family members A, M, X; atoms in the cell; its
  directory; why it cannot be simulated, when planning already knows);
- ``tasks``: one row per task of the plan: state (``pending`` → ``queued`` → ``running`` →
  ``done`` | ``failed``; ``blocked`` when a dependency failed for good), ``attempts`` (times
  the client submitted it and a worker began it), ``starts`` (times a worker began it: more
  than ``attempts`` when Dask re-ran it after its worker died), ``failures``, the last error text, host and pid of the worker, the
  timings, the cost in atom-steps, the fingerprint of its inputs, its output path and a small
  JSON record (frames, steps, whether it resumed from a checkpoint);
- ``results``: one row per (composition, temperature, quantity) with value, stderr and unit —
  every number of the composition's ``results.json`` transport, structure and convergence
  blocks (curves such as MSD and g(r) stay in ``results.json``). ``temperature_K`` is NULL for
  quantities of the whole temperature series (the Arrhenius block, ε_a per environment).
  A number the analysis **withheld** (σ, D or H_R not resolved from zero, an Arrhenius fit
  without two diffusive temperatures) has a NULL value and the reason in ``withheld``, which is
  NULL for every number that was given. The rows are those of
  :func:`solidion.pipeline.results.result_rows`, the flattener of ``results.csv`` too.

**Older databases.** A database written before ``withheld`` existed gains the column (NULL for
its rows) when the client opens it; a read-only view of one reads ``withheld`` as NULL.

**Concurrency.** The database is in WAL mode, and only the campaign's client process writes it;
every write is one ``BEGIN IMMEDIATE`` … ``COMMIT`` transaction, so a reader (``solidion
campaign status`` while the campaign runs, on a read-only connection) sees each task transition
and each composition's set of results whole or not at all. A unique index on (composition,
temperature, quantity) and the replace-in-one-transaction write of a composition's results mean
a result can never be stored twice.

WAL needs the readers and the writer on the same host, or a filesystem with working POSIX
locks and shared memory (not NFS): keep the database on a local disk of the machine that runs
the client, even when the run directories are on a shared filesystem (docs/campaign.md).
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solidion.errors import InputError
from solidion.pipeline.results import ResultRow, result_rows, unit_of

__all__ = ["SCHEMA_VERSION", "STATES", "ResultRow", "Snapshot", "Store", "result_rows", "unit_of"]

#: Version of the schema below; a database of another version is refused.
SCHEMA_VERSION = 1
#: Task states, in lifecycle order.
STATES = ("pending", "queued", "running", "done", "failed", "blocked")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS compositions (
    formula TEXT PRIMARY KEY,
    A TEXT,
    M TEXT,
    X TEXT,
    n_atoms INTEGER NOT NULL,
    directory TEXT NOT NULL,
    problem TEXT
);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('glass', 'md', 'analysis')),
    composition TEXT NOT NULL REFERENCES compositions(formula),
    temperature_K REAL,
    replica INTEGER,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'queued', 'running', 'done', 'failed', 'blocked')),
    attempts INTEGER NOT NULL DEFAULT 0,
    starts INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    host TEXT,
    pid INTEGER,
    queued_at REAL,
    started_at REAL,
    finished_at REAL,
    wall_s REAL,
    atom_steps INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    output TEXT,
    info TEXT
);
CREATE TABLE IF NOT EXISTS results (
    composition TEXT NOT NULL REFERENCES compositions(formula),
    temperature_K REAL,
    quantity TEXT NOT NULL,
    value REAL,
    stderr REAL,
    unit TEXT NOT NULL,
    withheld TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS results_key
    ON results (composition, ifnull(temperature_K, -1.0), quantity);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks (state);
"""


#: Columns of ``results`` added after the first release: (name, declaration). Older databases
#: gain them on opening for writing (NULL for their rows); read-only views read them as NULL.
_ADDED_COLUMNS: tuple[tuple[str, str], ...] = (("withheld", "TEXT"),)


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


@dataclass(frozen=True)
class Snapshot:
    """Everything ``campaign status`` shows, read in one transaction.

    Attributes:
        meta: The ``meta`` table.
        compositions: Rows of ``compositions``.
        tasks: Rows of ``tasks``, in plan order (as inserted).
        n_results: Number of result rows per composition.
    """

    meta: dict[str, str]
    compositions: tuple[dict[str, Any], ...]
    tasks: tuple[dict[str, Any], ...]
    n_results: dict[str, int]

    def counts(self, kind: str | None = None) -> dict[str, int]:
        """Tasks per state (of one kind, or all)."""
        out = dict.fromkeys(STATES, 0)
        for t in self.tasks:
            if kind is None or t["kind"] == kind:
                out[t["state"]] += 1
        return out


def _clean(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None if x is None else float(x)
    v = float(x)
    return v if math.isfinite(v) else None


class Store:
    """The campaign database: a writer (the client) or a read-only view (status, report).

    Use :meth:`open` in the client (creates the file and the schema) and :meth:`open_readonly`
    everywhere else. Every method is one transaction.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool):
        self._conn = conn
        self.path = path
        self.readonly = readonly

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, name: str = "", source: str = "") -> Store:
        """Open (creating when missing) the database for writing.

        Raises:
            InputError: The folder cannot be written, or the database has another schema.
        """
        p = Path(path)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(p, isolation_level=None, timeout=30.0)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(f"{p}: cannot open the campaign database ({exc})") from None
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        store = cls(conn, p, readonly=False)
        with store._write() as c:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            for column, decl in _ADDED_COLUMNS:
                if column not in _columns(c, "results"):
                    c.execute(f"ALTER TABLE results ADD COLUMN {column} {decl}")
            row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                now = str(time.time())
                c.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("schema_version", str(SCHEMA_VERSION)),
                        ("name", name),
                        ("source", source),
                        ("created", now),
                    ],
                )
            elif int(row[0]) != SCHEMA_VERSION:
                raise InputError(
                    f"{p}: schema version {row[0]}, this solidion reads version "
                    f"{SCHEMA_VERSION}; use a new output root"
                )
        return store

    @classmethod
    def open_readonly(cls, path: str | Path) -> Store:
        """Open an existing database read-only (safe while a campaign writes it).

        Raises:
            InputError: No database there, or not a campaign database.
        """
        p = Path(path)
        if not p.is_file():
            raise InputError(
                f"{p}: no campaign database; run `solidion campaign run` on the file first"
            )
        try:
            conn = sqlite3.connect(
                f"{p.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=30.0
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=30000")
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.Error as exc:
            if "no such table" in str(exc):
                raise InputError(
                    f"{p}: the campaign database has no tables yet (is a campaign starting? "
                    "try again in a moment)"
                ) from None
            raise InputError(f"{p}: not a readable campaign database ({exc})") from None
        if row is None or int(row[0]) != SCHEMA_VERSION:
            conn.close()
            raise InputError(f"{p}: not a campaign database of schema {SCHEMA_VERSION}")
        return cls(conn, p, readonly=True)

    def _result_columns(self, c: sqlite3.Connection) -> str:
        """The optional columns of ``results`` to select (NULL where an older file lacks one)."""
        have = _columns(c, "results")
        return ", ".join(
            f"r.{name}" if name in have else f"NULL AS {name}" for name, _ in _ADDED_COLUMNS
        )

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise InputError(f"{self.path}: opened read-only")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN")
        try:
            yield self._conn
        finally:
            self._conn.execute("COMMIT")

    # -- the plan ------------------------------------------------------------------------------
    def sync_plan(self, plan: Any) -> None:
        """Insert the plan's compositions and tasks (new ones ``pending``); check old ones.

        A task already in the database keeps its state. Its fingerprint must match the plan's
        unless it never ran; a done task whose output is gone goes back to ``pending``; tasks
        left ``queued`` or ``running`` by a client that died go back to ``pending`` (their MD
        resumes from its checkpoint).

        Raises:
            InputError: The campaign file changed what existing tasks compute (protocol,
                potential, seed or cell size) — a new output root is needed.
        """
        camp = plan.campaign
        changed = []
        with self._write() as c:
            for spec in camp.compositions:
                c.execute(
                    "INSERT INTO compositions (formula, A, M, X, n_atoms, directory, problem) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (formula) DO UPDATE SET "
                    "A=excluded.A, M=excluded.M, X=excluded.X, n_atoms=excluded.n_atoms, "
                    "directory=excluded.directory, problem=excluded.problem",
                    (
                        spec.formula,
                        spec.A,
                        spec.M,
                        spec.X,
                        plan.n_atoms[spec.formula],
                        str(camp.composition_dir(spec.formula)),
                        spec.neutrality_problem(),
                    ),
                )
            for t in plan.tasks:
                row = c.execute(
                    "SELECT state, attempts, fingerprint, output FROM tasks WHERE id=?", (t.id,)
                ).fetchone()
                if row is None:
                    c.execute(
                        "INSERT INTO tasks (id, kind, composition, temperature_K, replica, state, "
                        "atom_steps, fingerprint) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                        (
                            t.id,
                            t.kind,
                            t.composition,
                            t.temperature_K,
                            t.replica,
                            t.atom_steps,
                            t.fingerprint,
                        ),
                    )
                    continue
                if row["fingerprint"] != t.fingerprint:
                    if row["attempts"] > 0:
                        changed.append(t.id)
                        continue
                    c.execute(
                        "UPDATE tasks SET fingerprint=?, atom_steps=? WHERE id=?",
                        (t.fingerprint, t.atom_steps, t.id),
                    )
                if row["state"] == "done" and not (row["output"] and Path(row["output"]).exists()):
                    c.execute(
                        "UPDATE tasks SET state='pending', error=? WHERE id=?",
                        (f"its output {row['output']} is gone: run again", t.id),
                    )
                elif row["state"] in ("queued", "running"):
                    c.execute(
                        "UPDATE tasks SET state='pending', error='interrupted: the client that "
                        "ran it stopped' WHERE id=?",
                        (t.id,),
                    )
                elif row["state"] == "blocked":
                    c.execute("UPDATE tasks SET state='pending' WHERE id=?", (t.id,))
            if changed:
                raise InputError(
                    f"{camp.source.name}: the protocol, potential, seed or cell size changed since "
                    f"these tasks ran in {camp.output}: {', '.join(changed[:4])}"
                    + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
                    + "; choose a new output root (key: output)"
                )

    def reset_failures(self, ids: Iterable[str] | None = None) -> int:
        """Give failed tasks a fresh retry budget (``--retry-failed``); returns how many."""
        with self._write() as c:
            if ids is None:
                cur = c.execute("UPDATE tasks SET failures=0, state='pending' WHERE state='failed'")
            else:
                cur = c.executemany(
                    "UPDATE tasks SET failures=0, state='pending' WHERE id=? AND state='failed'",
                    [(i,) for i in ids],
                )
            return cur.rowcount

    # -- transitions (client only) -------------------------------------------------------------
    def mark_queued(self, task_id: str) -> None:
        """Submitted to the scheduler (it may wait there for its dependencies)."""
        with self._write() as c:
            c.execute(
                "UPDATE tasks SET state='queued', queued_at=?, started_at=NULL, "
                "finished_at=NULL WHERE id=?",
                (time.time(), task_id),
            )

    def mark_running(
        self, task_id: str, host: str, pid: int, started: float, *, new_attempt: bool = True
    ) -> None:
        """A worker began the task: a new attempt, or Dask's rerun after its worker died."""
        with self._write() as c:
            c.execute(
                "UPDATE tasks SET state='running', starts=starts+1, attempts=attempts+?, host=?, "
                "pid=?, started_at=coalesce(started_at, ?) WHERE id=? AND state IN "
                "('queued', 'running')",
                (int(new_attempt), host, int(pid), started, task_id),
            )

    def mark_done(
        self,
        task_id: str,
        output: str,
        info: Mapping[str, Any],
        *,
        results: tuple[str, Sequence[ResultRow]] | None = None,
    ) -> None:
        """The task finished; for an analysis, its composition's results are replaced too.

        Task state and results change in the same transaction: a reader sees the analysis
        done with all its numbers, or not done with the previous ones.
        """
        with self._write() as c:
            c.execute(
                "UPDATE tasks SET state='done', error=NULL, finished_at=?, wall_s=?, host=?, "
                "pid=?, output=?, info=?, attempts=max(attempts, 1) WHERE id=?",
                (
                    time.time(),
                    _clean(info.get("wall_s")),
                    info.get("host"),
                    info.get("pid"),
                    output,
                    json.dumps(dict(info), default=str),
                    task_id,
                ),
            )
            if results is not None:
                formula, rows = results
                c.execute("DELETE FROM results WHERE composition=?", (formula,))
                c.executemany(
                    "INSERT INTO results (composition, temperature_K, quantity, value, stderr, "
                    "unit, withheld) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            formula,
                            r.temperature_K,
                            r.quantity,
                            _clean(r.value),
                            _clean(r.stderr),
                            r.unit,
                            r.withheld,
                        )
                        for r in rows
                    ],
                )

    def mark_failed(self, task_id: str, error: str) -> None:
        """The task raised (its message is kept)."""
        with self._write() as c:
            c.execute(
                "UPDATE tasks SET state='failed', failures=failures+1, error=?, finished_at=?, "
                "attempts=max(attempts, 1) WHERE id=?",
                (error, time.time(), task_id),
            )

    def mark_blocked(self, task_ids: Iterable[str], reason: str) -> None:
        """Tasks that cannot run because a dependency failed for good."""
        with self._write() as c:
            c.executemany(
                "UPDATE tasks SET state='blocked', error=? WHERE id=? AND state != 'done'",
                [(reason, i) for i in task_ids],
            )

    def mark_pending(self, task_ids: Iterable[str], reason: str) -> None:
        """Tasks handed back unfinished (the client was interrupted)."""
        with self._write() as c:
            c.executemany(
                "UPDATE tasks SET state='pending', error=? WHERE id=? AND state IN "
                "('queued', 'running')",
                [(reason, i) for i in task_ids],
            )

    # -- reading -------------------------------------------------------------------------------
    def tasks(self) -> dict[str, dict[str, Any]]:
        """Every task row by id."""
        with self._read() as c:
            return {r["id"]: dict(r) for r in c.execute("SELECT * FROM tasks ORDER BY rowid")}

    def snapshot(self) -> Snapshot:
        """Meta, compositions, tasks and result counts, from one consistent read."""
        with self._read() as c:
            meta = {r["key"]: r["value"] for r in c.execute("SELECT key, value FROM meta")}
            comps = tuple(dict(r) for r in c.execute("SELECT * FROM compositions ORDER BY rowid"))
            tasks = tuple(dict(r) for r in c.execute("SELECT * FROM tasks ORDER BY rowid"))
            counts = {
                r[0]: r[1]
                for r in c.execute("SELECT composition, count(*) FROM results GROUP BY composition")
            }
        return Snapshot(meta, comps, tasks, counts)

    def results(self, composition: str | None = None) -> list[dict[str, Any]]:
        """Result rows (of one composition, or all), with the composition's A, M, X.

        Keys: composition, A, M, X, temperature_K, quantity, value, stderr, unit and withheld
        (the reason a null value was withheld; None for a number that was given).
        """
        with self._read() as c:
            sql = (
                "SELECT r.composition, c.A, c.M, c.X, r.temperature_K, r.quantity, r.value, "
                f"r.stderr, r.unit, {self._result_columns(c)} FROM results r "
                "JOIN compositions c ON c.formula = r.composition"
            )
            args: tuple = ()
            if composition is not None:
                sql += " WHERE r.composition=?"
                args = (composition,)
            sql += " ORDER BY c.rowid, ifnull(r.temperature_K, -1.0), r.quantity"
            return [dict(r) for r in c.execute(sql, args)]
