"""Run a campaign on Dask: submit the task graph, follow it, record every transition.

The client (the process that runs :func:`run_campaign`) is the only writer of the database.
It submits every unfinished task as a Dask future, passing the futures of its dependencies as
arguments, so Dask itself orders the work (an md task starts when its glass is done, an
analysis when all its md tasks are); workers hand back small records (paths, timings, the
analysis numbers), never arrays. Tasks announce their start through Dask's event log
(:data:`~solidion.campaign.tasks.TOPIC`) so the database shows which are running, where.

**Failures.** A task that raises is recorded ``failed`` with its message. A transient failure
(anything but solidion's own errors, and Dask's ``KilledWorker``) is resubmitted at once, with
its dependents, until it has failed ``max_attempts`` times; a permanent one (a composition that
is not charge-neutral, an MD guard) waits for the next ``campaign run``, which retries it if it
has failures left (``--retry-failed`` gives every failed task a fresh budget). Either way its
dependents are ``blocked`` and every other task goes on.

**Killed workers.** When a worker process dies, Dask's scheduler reschedules the tasks it held
on the remaining workers (the nanny restarts the process), up to
``distributed.scheduler.allowed-failures`` times (then the client sees ``KilledWorker``, a
transient failure). The rerun task resumes its MD run directory from the last checkpoint.
**A killed client** loses nothing either: the next ``campaign run`` skips done tasks (their
outputs are checked), puts the ones that were queued or running back to pending, and their MD
resumes from checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solidion.campaign.config import Campaign, read_table
from solidion.campaign.plan import Plan, Task, build_plan
from solidion.campaign.store import ResultRow, Store
from solidion.campaign.tasks import TOPIC, Job, TaskError, run_analysis, run_glass, run_md
from solidion.errors import InputError

__all__ = ["CLUSTERS", "RunSummary", "cluster_kwargs", "connect", "run_campaign"]

#: ``--cluster`` names and the dask-jobqueue classes they make.
CLUSTERS: dict[str, str] = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
    "oar": "OARCluster",
}
#: Keys of a cluster configuration file that solidion reads itself (the rest go to the class).
_CLUSTER_OWN_KEYS = ("jobs", "adapt")


@dataclass(frozen=True)
class RunSummary:
    """What one ``campaign run`` did.

    Attributes:
        total: Tasks in the plan.
        skipped: Tasks already done before this run.
        done: Tasks finished by this run.
        failed: Tasks that ended failed (ids and messages in ``failures``).
        blocked: Tasks not run because a dependency failed.
        wall_s: Wall time of the run.
        failures: ``(task id, message)`` of each failed task.
    """

    total: int
    skipped: int
    done: int
    failed: int
    blocked: int
    wall_s: float
    failures: tuple[tuple[str, str], ...]

    @property
    def complete(self) -> bool:
        """Whether every task of the plan is done."""
        return self.skipped + self.done == self.total


# -- clusters ----------------------------------------------------------------------------------
def cluster_kwargs(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a cluster configuration file (TOML or YAML).

    Returns:
        ``(kwargs for the dask-jobqueue class, solidion's own keys)``; solidion's keys are
        ``jobs`` (how many batch jobs to start, default 1) and ``adapt`` (a table of
        ``minimum_jobs``/``maximum_jobs`` for adaptive scaling instead).

    Raises:
        InputError: Unreadable file or bad values.
    """
    data = read_table(path, "cluster configuration file (--cluster-config)")
    p = Path(path)
    own = {k: data[k] for k in _CLUSTER_OWN_KEYS if k in data}
    jobs = own.get("jobs", 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"{p}: jobs: must be a positive integer, got {jobs!r}")
    adapt = own.get("adapt")
    if adapt is not None and not (
        isinstance(adapt, Mapping) and set(adapt) <= {"minimum_jobs", "maximum_jobs"}
    ):
        raise InputError(f"{p}: adapt: a table of minimum_jobs and maximum_jobs, got {adapt!r}")
    return {k: v for k, v in data.items() if k not in _CLUSTER_OWN_KEYS}, own


def _check_options(
    scheduler: str | None,
    cluster: str | None,
    cluster_config: str | os.PathLike[str] | None,
    workers: int | None,
) -> None:
    given = [n for n, v in (("--scheduler", scheduler), ("--cluster", cluster)) if v is not None]
    if workers is not None:
        given.append("--workers")
    if len(given) > 1:
        raise InputError(f"{' and '.join(given)}: give one way to get workers")
    if cluster_config is not None and cluster is None:
        raise InputError("--cluster-config needs --cluster (slurm, pbs, ...)")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if cluster is not None and cluster.lower() not in CLUSTERS:
        raise InputError(f"--cluster {cluster!r}: one of {', '.join(CLUSTERS)}")
    if cluster_config is not None and not Path(cluster_config).is_file():
        raise InputError(f"--cluster-config {cluster_config}: no such file")


@contextlib.contextmanager
def connect(
    *,
    scheduler: str | None = None,
    cluster: str | None = None,
    cluster_config: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    threads_per_task: int = 1,
    log: Callable[[str], None] = print,
) -> Iterator[Any]:
    """A Dask client: to a running scheduler, on a batch system, or on a local cluster.

    Args:
        scheduler: Address of a running scheduler (``tcp://host:8786``).
        cluster: A batch system of :data:`CLUSTERS` (needs ``dask-jobqueue``).
        cluster_config: Its configuration file (:func:`cluster_kwargs`).
        workers: Size of the local cluster (default: the machine's cores ÷ threads per task).
        threads_per_task: Torch threads per task (each local worker runs one task at a time).
        log: Where to say what was started.

    Raises:
        InputError: Conflicting options, an unknown cluster, or dask-jobqueue missing.
    """
    from distributed import Client, LocalCluster

    _check_options(scheduler, cluster, cluster_config, workers)
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise InputError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        log(f"connected to the Dask scheduler at {scheduler}")
        with client:
            yield client
        return
    if cluster is not None:
        name = cluster.lower()
        try:
            import dask_jobqueue
        except ImportError:
            raise InputError(
                f"--cluster {name} needs dask-jobqueue: pip install dask-jobqueue"
            ) from None
        kwargs, own = cluster_kwargs(cluster_config) if cluster_config is not None else ({}, {})
        try:
            made = getattr(dask_jobqueue, CLUSTERS[name])(**kwargs)
        except TypeError as exc:
            raise InputError(f"--cluster-config {cluster_config}: {exc}") from None
        with made, Client(made) as client:
            if own.get("adapt") is not None:
                made.adapt(**own["adapt"])
                log(f"{name} cluster: adaptive, {own['adapt']}")
            else:
                made.scale(jobs=int(own.get("jobs", 1)))
                log(f"{name} cluster: {own.get('jobs', 1)} job(s) submitted")
            yield client
        return
    n = workers or max(1, (os.cpu_count() or 1) // max(1, threads_per_task))
    threads = str(threads_per_task)
    # OMP_WAIT_POLICY: idle OpenMP threads sleep rather than spin, so workers sharing cores do
    # not stall each other (see solidion.cli.main for the numbers, issue #17)
    env = {
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
    }
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            env=env,
        ) as local,
        Client(local) as client,
    ):
        from solidion.campaign._worker import QuietTaskFailures

        client.register_plugin(QuietTaskFailures())
        log(f"local Dask cluster: {n} worker process(es), {threads} torch thread(s) per task")
        yield client


# -- the run -----------------------------------------------------------------------------------
def _job(campaign: Campaign, task: Task) -> Job:
    return Job(
        task_id=task.id,
        kind=task.kind,
        formula=task.composition,
        composition_dir=str(campaign.composition_dir(task.composition)),
        run_dir=str(task.run_dir),
        preset=campaign.preset,
        potential=campaign.potential,
        seed=task.seed,
        temperature_K=task.temperature_K,
        replica=task.replica,
        threads=campaign.threads_per_task,
        until_converged=campaign.until_converged if task.kind == "md" else None,
    )


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, TaskError) and type(exc).__name__ not in text:
        text = f"{type(exc).__name__}: {text}"
    return text


def _blame(exc: BaseException) -> str | None:
    """The task id or Dask key an exception belongs to, when it says."""
    if isinstance(exc, TaskError):
        return exc.task_id
    key = getattr(exc, "task", None)  # distributed.KilledWorker
    return None if key is None else str(key)


class _Runner:
    """The client's bookkeeping of one run (one instance per ``run_campaign`` call)."""

    def __init__(self, client: Any, plan: Plan, store: Store, log: Callable[[str], None]):
        self.client = client
        self.plan = plan
        self.campaign = plan.campaign
        self.store = store
        self.log = log
        self.tasks = {t.id: t for t in plan.tasks}
        self.dependents: dict[str, list[str]] = {t.id: [] for t in plan.tasks}
        for t in plan.tasks:
            for d in t.deps:
                self.dependents[d].append(t.id)
        rows = store.tasks()
        self.state = {tid: rows[tid]["state"] for tid in self.tasks}
        self.failures = {tid: int(rows[tid]["failures"]) for tid in self.tasks}
        self.records: dict[str, dict[str, Any]] = {}
        for tid, row in rows.items():
            if tid in self.tasks and row["state"] == "done":
                self.records[tid] = json.loads(row["info"] or "{}")
        self.futures: dict[str, Any] = {}
        self.by_key: dict[str, str] = {}
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.token = uuid.uuid4().hex[:8]
        self.started_keys: set[str] = set()
        self.submissions: dict[str, int] = {}
        self.key_owner: dict[str, str] = {}
        self.ac: Any = None
        self.finished_here = 0

    # -- helpers -------------------------------------------------------------------------------
    def _descendants(self, tid: str) -> list[str]:
        out: list[str] = []
        stack = list(self.dependents[tid])
        while stack:
            d = stack.pop()
            if d not in out:
                out.append(d)
                stack.extend(self.dependents[d])
        order = {t.id: i for i, t in enumerate(self.plan.tasks)}
        return sorted(out, key=order.__getitem__)

    def _ancestors(self, tid: str) -> set[str]:
        out: set[str] = set()
        stack = list(self.tasks[tid].deps)
        while stack:
            d = stack.pop()
            if d not in out:
                out.add(d)
                stack.extend(self.tasks[d].deps)
        return out

    def _drop_future(self, tid: str) -> None:
        fut = self.futures.pop(tid, None)
        if fut is not None:
            self.by_key.pop(fut.key, None)
            if fut.status == "pending":
                self.client.cancel([fut])

    def _submit(self, tid: str) -> None:
        task = self.tasks[tid]
        args = []
        for d in task.deps:
            args.append(self.records[d] if self.state[d] == "done" else self.futures[d])
        job = _job(self.campaign, task)
        self.submissions[tid] = self.submissions.get(tid, 0) + 1
        key = f"{tid}#{self.submissions[tid]}-{self.token}"
        if task.kind == "glass":
            fut = self.client.submit(run_glass, job, key=key, pure=False)
        elif task.kind == "md":
            fut = self.client.submit(run_md, job, args[0], key=key, pure=False)
        else:
            fut = self.client.submit(run_analysis, job, args, key=key, pure=False)
        self.futures[tid] = fut
        self.by_key[fut.key] = tid
        self.key_owner[fut.key] = tid
        self.state[tid] = "queued"
        self.store.mark_queued(tid)
        self.ac.add(fut)

    def _resubmit_descendants(self, tid: str) -> None:
        """Follow a resubmitted task with fresh futures of everything that waits on it."""
        for d in self._descendants(tid):
            if self.state[d] == "done":
                continue
            self._drop_future(d)
            if all(self.state[x] == "done" or x in self.futures for x in self.tasks[d].deps):
                self._submit(d)
            else:
                self.state[d] = "blocked"
                self.store.mark_blocked([d], "another of its dependencies failed")

    def _block(self, tid: str, why: str) -> None:
        for d in self._descendants(tid):
            if self.state[d] != "done":
                self._drop_future(d)
                self.state[d] = "blocked"
        ids = [d for d in self._descendants(tid) if self.state[d] == "blocked"]
        if ids:
            self.store.mark_blocked(ids, f"{tid} failed: {why}")

    # -- events --------------------------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        """Handler of the tasks' start events (runs in the client's event-loop thread)."""
        _, msg = event
        self.events.put(msg)

    def _drain_events(self) -> None:
        while True:
            try:
                msg = self.events.get_nowait()
            except queue.Empty:
                return
            tid = self.by_key.get(str(msg.get("key")))
            if tid is None or self.state.get(tid) not in ("queued", "running"):
                continue
            key = str(msg["key"])
            self.state[tid] = "running"
            self.store.mark_running(
                tid,
                str(msg["host"]),
                int(msg["pid"]),
                float(msg["time"]),
                new_attempt=key not in self.started_keys,
            )
            self.started_keys.add(key)

    # -- results -------------------------------------------------------------------------------
    def _finished(self, fut: Any) -> None:
        tid = self.by_key.pop(fut.key, None)
        if tid is None or self.futures.get(tid) is not fut:
            return  # a future this run no longer follows (cancelled, resubmitted)
        if fut.status == "finished":
            rec = dict(fut.result())
            rows = rec.pop("rows", None)
            results = None
            if rows is not None:
                results = (self.tasks[tid].composition, [ResultRow(*r) for r in rows])
                rec["n_results"] = len(rows)
            self.store.mark_done(tid, str(rec["output"]), rec, results=results)
            self.state[tid] = "done"
            self.records[tid] = rec
            self.finished_here += 1
            extra = " (resumed from its checkpoint)" if rec.get("resumed") else ""
            self.log(f"done: {tid} on {rec.get('host')} in {rec.get('wall_s', 0):.1f} s{extra}")
            self.futures.pop(tid, None)
            return
        if fut.status == "cancelled":
            exc: BaseException = RuntimeError("cancelled by the scheduler")
        else:
            exc = fut.exception()
        blame = _blame(exc)
        owner = self.key_owner.get(blame, blame) if blame is not None else None
        dep_failed = any(
            self.futures.get(d) is not None and self.futures[d].status in ("error", "cancelled")
            for d in self.tasks[tid].deps
        )
        if (owner is not None and owner in self._ancestors(tid)) or (blame is None and dep_failed):
            # Dask failed this task because a dependency failed; that one's handler decides.
            self.by_key[fut.key] = tid
            return
        self.futures.pop(tid, None)
        msg = _message(exc)
        self.failures[tid] += 1
        self.state[tid] = "failed"
        self.store.mark_failed(tid, msg)
        permanent = bool(getattr(exc, "permanent", False))
        left = self.campaign.max_attempts - self.failures[tid]
        if not permanent and left > 0:
            self.log(f"failed: {tid} ({msg}); retrying ({left} attempt(s) left)")
            self._submit(tid)
            self._resubmit_descendants(tid)
            return
        why = "not retried in this run" if permanent and left > 0 else "no attempts left"
        self.log(f"failed: {tid}: {msg} ({why})")
        self._block(tid, msg)

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> None:
        """Submit every runnable task and follow them until none is left."""
        from distributed import as_completed

        self.ac = as_completed([])
        self.client.subscribe_topic(TOPIC, self.on_event)
        try:
            rows = self.store.tasks()
            for t in self.plan.tasks:
                if self.state[t.id] == "done":
                    continue
                if self.failures[t.id] >= self.campaign.max_attempts:
                    self.state[t.id] = "failed"
                    self.log(f"not retried: {t.id} failed {self.failures[t.id]} time(s) already")
                    continue
                bad = [d for d in t.deps if self.state[d] in ("failed", "blocked")]
                if bad:
                    self.state[t.id] = "blocked"
                    why = rows[bad[0]]["error"] or "no attempts left"
                    self.store.mark_blocked([t.id], f"{bad[0]} failed: {why}")
                    continue
                self._submit(t.id)
            while not self.ac.is_empty():
                batch = self.ac.next_batch(block=False)
                self._drain_events()
                for fut in batch:
                    self._finished(fut)
                if not batch:
                    time.sleep(0.2)
            self._drain_events()
        except BaseException:
            live = [tid for tid, s in self.state.items() if s in ("queued", "running")]
            for tid in live:
                self._drop_future(tid)
            self.store.mark_pending(live, "interrupted: the client stopped")
            raise
        finally:
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(TOPIC)


def run_campaign(
    campaign: Campaign,
    *,
    client: Any = None,
    scheduler: str | None = None,
    cluster: str | None = None,
    cluster_config: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    log: Callable[[str], None] = print,
) -> RunSummary:
    """Run (or continue) a campaign until every task is done, failed for good, or blocked.

    Args:
        campaign: The parsed campaign file.
        client: A ``distributed.Client`` to use as it is (the other connection options must
            then be None).
        scheduler: Address of a running Dask scheduler.
        cluster: Batch system for dask-jobqueue (:data:`CLUSTERS`).
        cluster_config: Its configuration file.
        workers: Local cluster size.
        retry_failed: Give every failed task a fresh budget of ``max_attempts``.
        log: Where progress lines go.

    Returns:
        A :class:`RunSummary`.

    Raises:
        InputError: Bad connection options, or a campaign file that changed what finished tasks
            computed (a new output root is needed).
    """
    t0 = time.perf_counter()
    if client is not None and any(
        v is not None for v in (scheduler, cluster, cluster_config, workers)
    ):
        raise InputError("run_campaign: give a client or connection options, not both")
    _check_options(scheduler, cluster, cluster_config, workers)
    plan = build_plan(campaign)
    for w in plan.warnings:
        log(f"warning: {w}")
    with _sole_client(campaign.output):
        return _run(
            campaign,
            plan,
            client,
            scheduler,
            cluster,
            cluster_config,
            workers,
            retry_failed,
            log,
            t0,
        )


@contextlib.contextmanager
def _sole_client(output: Path) -> Iterator[None]:
    """One client per campaign: an exclusive ``flock`` on ``<output>/.client.lock``.

    Raises:
        InputError: Another ``campaign run`` of the same output root is running.
    """
    import fcntl

    try:
        output.mkdir(parents=True, exist_ok=True)
        fh = open(output / ".client.lock", "a+")  # held for the whole run
    except OSError as exc:
        raise InputError(f"output {output}: cannot write there ({exc.strerror})") from None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            other = fh.read().strip() or "?"
            raise InputError(
                f"another `solidion campaign run` (pid {other}) is running the campaign in "
                f"{output}; follow it with `solidion campaign status`"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _run(
    campaign: Campaign,
    plan: Plan,
    client: Any,
    scheduler: str | None,
    cluster: str | None,
    cluster_config: str | os.PathLike[str] | None,
    workers: int | None,
    retry_failed: bool,
    log: Callable[[str], None],
    t0: float,
) -> RunSummary:
    store = Store.open(campaign.database, name=campaign.name, source=str(campaign.source))
    try:
        store.sync_plan(plan)
        if retry_failed:
            n = store.reset_failures(t.id for t in plan.tasks)
            log(f"--retry-failed: {n} failed task(s) get {campaign.max_attempts} new attempts")
        before = store.tasks()
        skipped = sum(1 for t in plan.tasks if before[t.id]["state"] == "done")
        if skipped:
            log(f"{skipped} of {len(plan.tasks)} tasks already done: skipped")
        if skipped < len(plan.tasks):
            if client is not None:
                _Runner(client, plan, store, log).run()
            else:
                with connect(
                    scheduler=scheduler,
                    cluster=cluster,
                    cluster_config=cluster_config,
                    workers=workers,
                    threads_per_task=campaign.threads_per_task,
                    log=log,
                ) as c:
                    _Runner(c, plan, store, log).run()
        after = store.tasks()
    finally:
        store.close()
    ids = [t.id for t in plan.tasks]
    failed = tuple(
        (tid, after[tid]["error"] or "") for tid in ids if after[tid]["state"] == "failed"
    )
    return RunSummary(
        total=len(ids),
        skipped=skipped,
        done=sum(1 for tid in ids if after[tid]["state"] == "done") - skipped,
        failed=len(failed),
        blocked=sum(1 for tid in ids if after[tid]["state"] == "blocked"),
        wall_s=time.perf_counter() - t0,
        failures=failed,
    )
