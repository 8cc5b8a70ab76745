"""What a Dask worker runs: the pipeline's stage functions on paths, returning small records.

Each function takes a :class:`Job` (a few strings and numbers, and the
:class:`~solidion.md.Preset`) and the small records of its dependencies, and returns a small
``dict``: the path it produced, timings, frame counts, and — for the analysis — the numbers of
``results.json`` as :class:`~solidion.campaign.store.ResultRow` tuples. Arrays never travel
through the scheduler: trajectories and structures stay on the (shared) filesystem.

Every function is idempotent, as the stages are: a finished run directory is returned as it is,
a started one resumes from its checkpoint (so a task that Dask re-runs after its worker died
continues where the last checkpoint left it, and its H5MD file is cut back to the frames that
checkpoint counted: no frame is lost or written twice). An advisory lock (``flock``) on
``.<run dir>.lock`` keeps two processes from ever running the same directory at once.

Exceptions leave a worker as :class:`TaskError` (picklable, with the original type, message and
traceback, the id of the task and whether retrying can help): solidion's own errors (a
composition that is not charge-neutral, a guard that stopped the MD, an analysis that cannot
give a number) are *permanent* — the same inputs fail the same way — and anything else (a lost
file handle, an out-of-memory, a signal) is *transient*.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solidion.errors import RunInterrupted, SolidionError
from solidion.md import Preset
from solidion.pipeline.converge import Target

__all__ = ["TOPIC", "Job", "TaskError", "run_analysis", "run_glass", "run_md"]

#: Dask event topic on which tasks announce that they started (host, pid, key).
TOPIC = "solidion-campaign"


@dataclass(frozen=True)
class Job:
    """Everything a task needs, small enough to ship to a worker.

    Attributes:
        task_id: The plan's id of the task.
        kind: ``glass``, ``md`` or ``analysis``.
        formula: The composition.
        composition_dir: Its directory (shared filesystem).
        run_dir: The directory the task writes.
        preset: The protocol.
        potential: Potential spec (name or checkpoint path).
        seed: Seed of the stage (the campaign seed; the replica's seed for md tasks).
        temperature_K: Production temperature (md).
        replica: Replica index (md).
        threads: Torch threads.
        until_converged: Extend the production (md) until this target is met.
    """

    task_id: str
    kind: str
    formula: str
    composition_dir: str
    run_dir: str
    preset: Preset
    potential: str
    seed: int
    temperature_K: float | None = None
    replica: int | None = None
    threads: int = 1
    until_converged: Target | None = None


class TaskError(SolidionError, RuntimeError):
    """A task that raised, as it reaches the client.

    Attributes:
        task_id: The task that failed (a dependent that Dask fails in its wake carries the id
            of the task that really failed).
        kind: The original exception's type name.
        permanent: Whether the same inputs would fail again (solidion's own errors).
        details: The worker-side traceback.
    """

    def __init__(self, message: str, task_id: str, kind: str, permanent: bool, details: str = ""):
        super().__init__(message)
        self.task_id = task_id
        self.kind = kind
        self.permanent = permanent
        self.details = details

    def __reduce__(self):
        return (
            type(self),
            (str(self), self.task_id, self.kind, self.permanent, self.details),
        )


def _host() -> str:
    return socket.gethostname()


def _current_key() -> str | None:
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    key = worker.get_current_task()
    return None if key is None else str(key)


def _announce(job: Job, key: str | None) -> None:
    """Tell the client (through the scheduler's event log) that this task began here."""
    if key is None:
        return
    from distributed import get_worker

    get_worker().log_event(
        TOPIC,
        {"task": job.task_id, "key": key, "host": _host(), "pid": os.getpid(), "time": time.time()},
    )


@contextlib.contextmanager
def _exclusive(run_dir: Path, task_id: str) -> Iterator[None]:
    """Hold an exclusive advisory lock for one run directory (released when the process dies)."""
    import fcntl

    lock = run_dir.parent / f".{run_dir.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TaskError(
                f"{run_dir} is being run by another process right now",
                task_id,
                "Locked",
                permanent=False,
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _task(job: Job, *, torch_threads: bool) -> Iterator[dict[str, Any]]:
    """Announce, lock, time, and turn any exception into a :class:`TaskError`."""
    t0 = time.perf_counter()
    _announce(job, _current_key())
    record: dict[str, Any] = {
        "task": job.task_id,
        "host": _host(),
        "pid": os.getpid(),
        "started": time.time(),
    }
    try:
        if torch_threads:
            # a worker not started by solidion (--scheduler, --cluster): the same wait policy
            # as solidion.cli.main, if torch is not imported yet (OpenMP reads it at load)
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import torch

            torch.set_num_threads(int(job.threads))
        with _exclusive(Path(job.run_dir), job.task_id):
            yield record
    except TaskError:
        raise
    except Exception as exc:
        permanent = isinstance(exc, SolidionError) and not isinstance(exc, RunInterrupted)
        raise TaskError(
            f"{type(exc).__name__}: {exc}",
            job.task_id,
            type(exc).__name__,
            permanent,
            traceback.format_exc(),
        ) from None
    record["wall_s"] = time.perf_counter() - t0


def _md_state(run_dir: Path) -> str:
    """``new``, ``unstarted`` (died before its first checkpoint), ``started`` or ``finished``."""
    record = run_dir / "record.json"
    if not record.exists():
        return "new"
    try:
        status = json.loads(record.read_text()).get("status")
    except (OSError, json.JSONDecodeError):
        status = None
    if status == "finished":
        return "finished"
    return "started" if (run_dir / "checkpoint.npz").exists() else "unstarted"


def _prepare_run_dir(run_dir: Path) -> bool:
    """Clear a run that died before its first checkpoint; whether the run resumes."""
    state = _md_state(run_dir)
    if state == "unstarted":
        shutil.rmtree(run_dir)
    return state == "started"


def _md_summary(run_dir: Path) -> dict[str, Any]:
    rec = json.loads((run_dir / "record.json").read_text())
    stages = rec.get("stages", [])
    return {
        "n_steps": int(sum(s["n_steps"] for s in stages)),
        "n_frames": int(stages[-1]["n_frames"]) if stages else 0,
        "md_wall_s": float(sum(s["wall_s"] for s in stages)),
        "n_atoms": int(rec.get("n_atoms", 0)),
        "potential": rec.get("potential"),
    }


def run_glass(job: Job) -> dict[str, Any]:
    """Build the random cell and melt-quench it: ``{"output": glass/final.extxyz, ...}``."""
    from solidion.chemistry import Composition
    from solidion.pipeline.stages import build_stage, glass_stage, species_roles

    with _task(job, torch_threads=True) as rec:
        comp = Composition(job.formula)
        comp.check_neutral()
        species_roles(comp)
        cdir = Path(job.composition_dir)
        initial = build_stage(job.formula, job.preset.n_atoms, cdir, job.seed)
        run_dir = Path(job.run_dir)
        rec["resumed"] = _prepare_run_dir(run_dir)
        final = glass_stage(initial, job.preset, job.potential, cdir, job.seed, progress=False)
        rec["output"] = str(final)
        rec.update(_md_summary(run_dir))
    return rec


def run_md(job: Job, glass: Mapping[str, Any]) -> dict[str, Any]:
    """Production MD at one temperature from the glass: ``{"output": <trajectory>.h5, ...}``."""
    from solidion.campaign.plan import replica_dir
    from solidion.pipeline.stages import production_stage

    with _task(job, torch_threads=True) as rec:
        run_dir = Path(job.run_dir)
        rec["resumed"] = _prepare_run_dir(run_dir)
        traj = production_stage(
            Path(glass["output"]),
            job.preset,
            float(job.temperature_K),
            job.potential,
            replica_dir(Path(job.composition_dir), int(job.replica)),
            job.seed,
            progress=False,
        )
        if job.until_converged is not None:
            traj = _until_converged(job, traj, Path(glass["output"]))
            rec["convergence_history"] = _read_history(run_dir)
        rec.update(
            output=str(traj), temperature_K=float(job.temperature_K), replica=int(job.replica)
        )
        rec.update(_md_summary(run_dir))
    return rec


#: The history of checks of a production run made in chunks (in its run directory).
HISTORY_FILE = "convergence_history.json"


def _read_history(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / HISTORY_FILE
    return json.loads(path.read_text()) if path.exists() else []


def _until_converged(job: Job, traj: Path, glass: Path) -> Path:
    """Extend a production task chunk by chunk (:func:`solidion.pipeline.converge.run_until`);
    the checks are kept in the run directory, so a resumed task goes on from the last one."""
    from solidion.campaign.plan import replica_dir
    from solidion.chemistry import Composition
    from solidion.io._atomic import atomic_path
    from solidion.pipeline.converge import run_until
    from solidion.pipeline.stages import species_roles

    comp = Composition(job.formula)
    run_dir = Path(job.run_dir)
    history = _read_history(run_dir)

    def save() -> None:
        with atomic_path(run_dir / HISTORY_FILE, suffix=".json.tmp") as tmp:
            tmp.write_text(json.dumps(history, indent=1) + "\n")

    return run_until(
        replica_dir(Path(job.composition_dir), int(job.replica)),
        float(job.temperature_K),
        traj,
        job.until_converged,
        mobile=species_roles(comp)[0],
        charges={e: float(z) for e, z in comp.oxidation_states.items()},
        potential=job.potential,
        history=history,
        budget_s=job.until_converged.budget_s,
        log=lambda m: None,
        on_check=save,
        progress=False,
    )


def run_analysis(job: Job, runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Transport + structure of every md task: ``results.json``, ``report.html`` and the rows.

    With one replica this is exactly the analysis of ``solidion run``. With several, the
    transport estimates combine the replicas at each temperature (as ``solidion analyze`` does
    with files at the same temperature), while the structure analysis, the MSD-onset and hop
    counts of the convergence check use replica 0 — the convergence verdict is then the one of a
    single trajectory, the conservative reading.
    """
    from solidion.campaign.store import result_rows
    from solidion.chemistry import Composition
    from solidion.pipeline.results import analyze_runs, write_results
    from solidion.pipeline.stages import species_roles
    from solidion.potentials.finetune.trust import trust_block

    with _task(job, torch_threads=False) as rec:
        cdir = Path(job.composition_dir)
        comp = Composition(job.formula)
        mobile, center, ligands = species_roles(comp)
        charges = {e: float(z) for e, z in comp.oxidation_states.items()}
        ordered = sorted(runs, key=lambda r: (float(r["temperature_K"]), int(r["replica"])))
        first = [r for r in ordered if int(r["replica"]) == 0]
        temps = [float(r["temperature_K"]) for r in first]
        p = job.preset
        ions = comp.scaled_to(p.n_atoms)
        glass_record = json.loads((cdir / "glass" / "record.json").read_text())
        potential = {k: v for k, v in glass_record.get("potential", {}).items() if k != "spec"}
        meta = {
            "formula": job.formula,
            "cell_formula": str(ions),
            "n_atoms": int(round(ions.n_atoms)),
            "preset": p.name,
            "preset_converged": p.converged,
            "potential": potential,
            "seed": int(job.seed),
            "replicas": len(ordered) // max(1, len(first)),
            "trajectories": [str(Path(r["output"]).relative_to(cdir)) for r in ordered],
        }
        meta["trust"] = trust_block(job.potential, [Path(r["output"]) for r in first], temps)
        kw = {"mobile": mobile, "center": center, "ligands": ligands}
        results = analyze_runs(
            [Path(r["output"]) for r in first],
            temps,
            charges=charges,
            preset_converged=p.converged,
            meta=meta,
            **kw,
        )
        if len(ordered) > len(first):
            results = _combine_replicas(results, ordered, first, mobile, charges, p, meta)
        js, _ = write_results(results, cdir)
        from solidion.report import build_report

        build_report(js, cdir / "report.html")
        stored = json.loads(js.read_text())
        rec["output"] = str(js)
        rec["rows"] = [dataclasses.astuple(r) for r in result_rows(stored)]
    return rec


def _combine_replicas(
    results: Mapping[str, Any],
    ordered: Sequence[Mapping[str, Any]],
    first: Sequence[Mapping[str, Any]],
    mobile: str,
    charges: Mapping[str, float],
    preset: Preset,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """Redo the transport block over every replica (structure and convergence: replica 0)."""
    import warnings

    from solidion.io import read_trajectory
    from solidion.pipeline.results import assemble_results
    from solidion.transport.series import analyze_series

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        series = analyze_series(
            [Path(r["output"]) for r in ordered],
            [float(r["temperature_K"]) for r in ordered],
            mobile,
            charges=dict(charges),
        )
    old_transport = set((results.get("transport") or {}).get("warnings") or [])
    notes = [
        f"transport combines {len(ordered) // len(first)} replicas per temperature; structure, "
        "MSD onset and hop counts of the convergence check are from replica 0",
        *(
            w
            for w in results.get("warnings", [])
            if w not in old_transport and not w.startswith("not converged")
        ),
        *dict.fromkeys(str(w.message) for w in caught),
    ]
    return assemble_results(
        series,
        [read_trajectory(Path(r["output"])) for r in first],
        mobile,
        preset_converged=preset.converged,
        structure=results.get("structure"),
        notes=notes,
        meta=meta,
    )
