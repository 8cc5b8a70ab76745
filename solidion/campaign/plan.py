"""The task graph of a campaign and what it costs.

One campaign is three kinds of task (ids in brackets)::

    glass      [glass:LiAlCl2.5O0.75]              build the random cell, melt, quench, anneal
    md         [md:LiAlCl2.5O0.75:T600K:r0]        NVT production from that glass, one per
                                                   (temperature, replica)
    analysis   [analysis:LiAlCl2.5O0.75]           transport + structure of all its md tasks

Every md task depends on its composition's glass task, and the analysis on every md task of the
composition. Replica 0 of a composition is exactly the run ``solidion run`` makes with the same
seed (``<formula>/T600K``); replica r ≥ 1 runs in ``<formula>/r<r>/T600K`` with the seed
``seed_for(seed, "r<r>")``, so its velocities and thermostat noise are independent.

**Cost.** An MD task costs (atoms in the cell) × (MD steps of its stages) *atom-steps* (a FIRE
relaxation is counted at its step limit, an upper bound); at a throughput of R atom-steps per
second per worker it takes atom-steps / R seconds. :data:`REFERENCE_THROUGHPUT` is the
throughput measured for solidion's MD driver with pretrained CHGNet on the development machine
(``bench/md.py``, ``docs/performance.md``); ``solidion campaign plan --measure`` times a few
steps on the machine at hand instead. The wall time on W workers is the makespan of a greedy
list schedule of the task graph (Graham, *Bell Syst. Tech. J.* 45, 1563 (1966): within a
factor 2 − 1/W of the optimum); analysis tasks are not counted (seconds to minutes each,
against hours of MD at production scale).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from solidion.campaign.config import Campaign
from solidion.md import Stage
from solidion.pipeline.stages import production_dir, seed_for

__all__ = [
    "REFERENCE_THROUGHPUT",
    "Estimate",
    "Plan",
    "Task",
    "Throughput",
    "build_plan",
    "estimate",
    "md_task_id",
    "measure_throughput",
    "replica_dir",
    "replica_seed",
]


@dataclass(frozen=True)
class Throughput:
    """MD throughput of one worker, with where the number comes from.

    Attributes:
        atom_steps_per_s: Atoms × MD steps per second of wall time.
        source: Provenance (script, machine, model, cell, threads).
    """

    atom_steps_per_s: float
    source: str


#: Measured by ``bench/md.py --atoms 42 --steps 200 --repeats 3`` (docs/performance.md, "MD
#: driver"): solidion.md.run_protocol, NVT Nosé–Hoover, 2 fs, pretrained CHGNet 0.3.0, 42-atom
#: LiAlCl2.5O0.75, one process with 2 torch threads on the 2-core development machine; median
#: of 3 runs, 312 atom-steps/s (bench/out/md.json: driver_atom_steps_per_s).
REFERENCE_THROUGHPUT = Throughput(
    312.0,
    "bench/md.py (docs/performance.md): CHGNet 0.3.0 on CPU, 42-atom LiAlCl2.5O0.75, "
    "one process with 2 torch threads on the 2-core development machine",
)


@dataclass(frozen=True)
class Task:
    """One node of the campaign's task graph.

    Attributes:
        id: ``glass:F``, ``md:F:T600K:r0`` or ``analysis:F``.
        kind: ``glass``, ``md`` or ``analysis``.
        composition: The formula F.
        temperature_K: Production temperature (md tasks).
        replica: Replica index (md tasks).
        deps: Ids of the tasks whose outputs this one reads.
        atom_steps: Cost in atom-steps (0 for analysis).
        run_dir: The directory the task writes (its MD run directory, or the composition's).
        seed: Seed handed to the stage function.
        fingerprint: Hash of every input that shapes the task's output (protocol, potential,
            seeds, cell size, and the fingerprints of its dependencies).
    """

    id: str
    kind: str
    composition: str
    temperature_K: float | None
    replica: int | None
    deps: tuple[str, ...]
    atom_steps: int
    run_dir: Path
    seed: int
    fingerprint: str


@dataclass(frozen=True)
class Plan:
    """The task graph of a campaign, in a valid execution order (dependencies first)."""

    campaign: Campaign
    tasks: tuple[Task, ...]
    n_atoms: dict[str, int]
    warnings: tuple[str, ...]

    def task(self, task_id: str) -> Task:
        """A task by id."""
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    def counts(self) -> dict[str, int]:
        """Number of tasks of each kind."""
        out = {"glass": 0, "md": 0, "analysis": 0}
        for t in self.tasks:
            out[t.kind] += 1
        return out

    @property
    def atom_steps(self) -> int:
        """Total cost in atom-steps."""
        return sum(t.atom_steps for t in self.tasks)


def md_task_id(formula: str, temperature_K: float, replica: int) -> str:
    """``md:LiAlCl2.5O0.75:T600K:r0``."""
    return f"md:{formula}:T{temperature_K:g}K:r{replica}"


def replica_dir(composition_dir: Path, replica: int) -> Path:
    """Where the production runs of one replica live (replica 0: the composition directory)."""
    return Path(composition_dir) if replica == 0 else Path(composition_dir) / f"r{replica}"


def replica_seed(seed: int, replica: int) -> int:
    """The seed of one replica's production runs (replica 0: the campaign seed itself)."""
    return int(seed) if replica == 0 else seed_for(seed, f"r{replica}")


def _hash(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stage_steps(stages: Sequence[Stage]) -> int:
    return sum(s.n_steps for s in stages)


def build_plan(campaign: Campaign) -> Plan:
    """Every task of the campaign, with dependencies, costs and fingerprints.

    A composition that is not charge-neutral still gets its tasks (its glass task will fail
    with the reason when run); the plan carries a warning for it.
    """
    p = campaign.preset
    mq_steps = _stage_steps(p.melt_quench)
    tasks: list[Task] = []
    n_atoms: dict[str, int] = {}
    warnings: list[str] = []
    for spec in campaign.compositions:
        f = spec.formula
        problem = spec.neutrality_problem()
        if problem:
            warnings.append(f"{f}: {problem} — its tasks will fail")
        try:
            n = int(round(spec.composition.scaled_to(p.n_atoms).n_atoms))
        except Exception:  # an unusable composition: counted at the preset's size
            n = int(p.n_atoms)
        n_atoms[f] = n
        cdir = campaign.composition_dir(f)
        glass_fp = _hash(
            {
                "formula": f,
                "n_atoms": p.n_atoms,
                "melt_quench": [s.to_dict() for s in p.melt_quench],
                "checkpoint_every": p.checkpoint_every,
                "potential": campaign.potential,
                "seed": campaign.seed,
            }
        )
        glass_id = f"glass:{f}"
        tasks.append(
            Task(
                glass_id,
                "glass",
                f,
                None,
                None,
                (),
                n * mq_steps,
                cdir / "glass",
                campaign.seed,
                glass_fp,
            )
        )
        md_ids: list[str] = []
        md_fps: list[str] = []
        for t in campaign.temperatures_K:
            stages = p.production_for(t)
            for r in range(campaign.replicas):
                rseed = replica_seed(campaign.seed, r)
                tid = md_task_id(f, t, r)
                fp = _hash(
                    {
                        "glass": glass_fp,
                        "production": [s.to_dict() for s in stages],
                        "replica": r,
                        "seed": rseed,
                    }
                )
                run_dir = production_dir(replica_dir(cdir, r), t)
                tasks.append(
                    Task(
                        tid,
                        "md",
                        f,
                        t,
                        r,
                        (glass_id,),
                        n * _stage_steps(stages),
                        run_dir,
                        rseed,
                        fp,
                    )
                )
                md_ids.append(tid)
                md_fps.append(fp)
        ana_fp = _hash({"md": md_fps})
        tasks.append(
            Task(
                f"analysis:{f}",
                "analysis",
                f,
                None,
                None,
                tuple(md_ids),
                0,
                cdir,
                campaign.seed,
                ana_fp,
            )
        )
    return Plan(campaign, tuple(tasks), n_atoms, tuple(warnings))


@dataclass(frozen=True)
class Estimate:
    """Time estimate of a plan.

    Attributes:
        throughput: The throughput assumed per worker.
        workers: Number of workers.
        serial_s: Sum of all task times (one worker).
        wall_s: Makespan of the greedy list schedule on ``workers``.
        critical_path_s: Longest dependency chain (glass + the longest md task): no number of
            workers finishes sooner.
        per_kind_s: Summed time of each kind of task.
    """

    throughput: Throughput
    workers: int
    serial_s: float
    wall_s: float
    critical_path_s: float
    per_kind_s: dict[str, float]


def estimate(plan: Plan, workers: int, throughput: Throughput = REFERENCE_THROUGHPUT) -> Estimate:
    """Serial and parallel time of a plan at a throughput per worker.

    Example:
        >>> from solidion.campaign.config import parse_campaign
        >>> c = parse_campaign({"compositions": ["LiAlCl2.5O0.75"], "temperatures": [600, 700],
        ...                     "preset": "quick"}, "/tmp/c.toml")
        >>> e = estimate(build_plan(c), workers=2, throughput=Throughput(100.0, "example"))
        >>> round(e.serial_s), round(e.wall_s), round(e.critical_path_s)
        (1428, 1050, 1050)
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    rate = throughput.atom_steps_per_s
    dur = {t.id: t.atom_steps / rate for t in plan.tasks}
    per_kind: dict[str, float] = {}
    for t in plan.tasks:
        per_kind[t.kind] = per_kind.get(t.kind, 0.0) + dur[t.id]
    # Longest chain to each task's end (tasks are listed dependencies first).
    finish_chain: dict[str, float] = {}
    for t in plan.tasks:
        finish_chain[t.id] = dur[t.id] + max((finish_chain[d] for d in t.deps), default=0.0)
    # Greedy list schedule: whenever a worker is free it takes the ready task listed first.
    index = {t.id: i for i, t in enumerate(plan.tasks)}
    waiting = {t.id: len(t.deps) for t in plan.tasks}
    dependents: dict[str, list[str]] = {t.id: [] for t in plan.tasks}
    for t in plan.tasks:
        for d in t.deps:
            dependents[d].append(t.id)
    ready = [index[t.id] for t in plan.tasks if not t.deps]
    heapq.heapify(ready)
    running: list[tuple[float, int]] = []
    now, free, makespan = 0.0, workers, 0.0
    while ready or running:
        while free and ready:
            i = heapq.heappop(ready)
            heapq.heappush(running, (now + dur[plan.tasks[i].id], i))
            free -= 1
        now, i = heapq.heappop(running)
        free += 1
        makespan = max(makespan, now)
        for child in dependents[plan.tasks[i].id]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, index[child])
    return Estimate(
        throughput=throughput,
        workers=workers,
        serial_s=sum(dur.values()),
        wall_s=makespan,
        critical_path_s=max(finish_chain.values(), default=0.0),
        per_kind_s=per_kind,
    )


def measure_throughput(
    potential: str = "chgnet",
    formula: str = "LiAlCl2.5O0.75",
    n_atoms: int = 42,
    steps: int = 30,
    threads: int = 1,
    seed: int = 0,
    relax_steps: int = 60,
) -> Throughput:
    """Time ``steps`` NVT steps of solidion's MD driver on a random cell, right now.

    The cell is FIRE-relaxed first (at most ``relax_steps``, untimed; it also warms the model
    up); the timed part is the NVT stage's wall time as the driver records it, so it includes
    the driver's own overhead (frames, checkpoints, guards) as a campaign task would.
    """
    import torch

    from solidion.build import random_cell
    from solidion.md import run_protocol

    torch.set_num_threads(int(threads))
    atoms = random_cell(formula, n_atoms=n_atoms, rng=seed)
    protocol = [
        Stage.relax(max_steps=relax_steps, fmax_eV_A=0.2),
        Stage("nvt", 600, 600, steps * 2.0 / 1000.0, 2.0, name="timed", frame_interval_fs=20.0),
    ]
    with tempfile.TemporaryDirectory(prefix="solidion-measure-") as tmp:
        t0 = time.perf_counter()
        run = run_protocol(atoms, protocol, potential, Path(tmp) / "run", rng=seed, progress=False)
        total = time.perf_counter() - t0
    rec = run.stage("timed")
    rate = len(atoms) * rec.n_steps / rec.wall_s
    host = os.uname().nodename if hasattr(os, "uname") else "this machine"
    return Throughput(
        rate,
        f"measured now on {host}: {rec.n_steps} NVT steps of a {len(atoms)}-atom {formula} cell, "
        f"{potential}, {threads} torch thread(s), {os.cpu_count()} cores ({total:.0f} s in all)",
    )
