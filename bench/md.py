"""Benchmark: the cost of solidion's MD driver over the bare force calls of the same model.

Run:  .venv/bin/python bench/md.py [--atoms 42] [--steps 200] [--repeats 3] [--out bench/out]

The physical limit of an MD step with a machine-learning potential is the model evaluation.
This script runs, on the same LiAlCl2.5O0.75 cell with pretrained CHGNet in this one process:

A. the bare loop: ``steps`` calls of ``calc.get_forces`` on configurations of an MD run of
   the same cell (so that the graphs are the size the driver sees);
B. ``solidion.md.run_protocol`` for ``steps`` NVT (Nosé–Hoover chain) steps, storing a frame
   every 10 steps in H5MD with all observables, a checkpoint every 50 steps, every guard on;

interleaved ``repeats`` times (A, B, A, B, ...) so that machine load affects both alike, and
reports atom-steps per second of each and the driver's overhead two ways: (B − A)/A from the
medians (sensitive to load changes between runs), and directly inside B as (time outside the
calculator) / (time inside it), timed around ``calc.calculate`` (insensitive to load drift).
The target of issue #5 is an overhead under 5 %.

``--calculators`` (issue #17, throughput) compares instead, for each ``--threads`` count:

A. the bare loop as above with solidion's calculator (CHGNet task ``ef``: the model call an MD
   step cannot do without);
S. ``run_protocol`` as in B with the stock ``chgnet.model.dynamics.CHGNetCalculator``
   (``task="efsm"``: energy, forces, stress and magnetic moments on every step);
O. the same with solidion's calculator (``ef``; the driver adds the stress only on the steps it
   logs, every ``frame_every`` steps);

interleaved A, S, O per thread count and repeat, and reports atom-steps/s (medians), S/A,
O/A, O/S, and the fraction of each MD run's time spent inside ``calc.calculate``. It counts the
CHGNet tasks each run used. ``OMP_WAIT_POLICY`` defaults to
``PASSIVE`` here as in solidion's CLI (idle OpenMP threads sleep rather than spin).

Run:  .venv/bin/python bench/md.py --calculators --atoms 42 --steps 60 --repeats 2 --threads 1 2
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

# as solidion.cli.main does, before torch is imported (see docs/performance.md, issue #17)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


#: MD steps between stored frames (and thermo lines) in the driver runs.
FRAME_EVERY = 10


def prepare(n_atoms: int, seed: int = 0, relax_steps: int = 60, cache: Path | None = None):
    """A LiAlCl2.5O0.75 cell, FIRE-relaxed a little so that MD starts sane (not timed).

    With ``cache``, the relaxed cell is read from that extxyz file when it exists, and written
    there otherwise (a random 294-atom cell needs a few hundred FIRE steps not to run away).
    """
    from ase.io import read, write
    from ase.optimize import FIRE

    from solidion.build import random_cell
    from solidion.potentials import get

    if cache is not None and cache.exists():
        return read(cache)
    atoms = random_cell("LiAlCl2.5O0.75", n_atoms=n_atoms, rng=seed)
    atoms.calc = get("chgnet")
    FIRE(atoms, logfile=None).run(fmax=0.2 if relax_steps <= 60 else 0.05, steps=relax_steps)
    atoms.calc = None
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write(cache, atoms, format="extxyz")
    return atoms


def bare(atoms, calc, steps: int, frames: np.ndarray) -> float:
    """Seconds for ``steps`` force evaluations, cycling through MD frames of the same cell
    (the configurations the driver sees, so graph sizes match), each nudged by 0.002 Å."""
    work = atoms.copy()
    work.calc = calc
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for k in range(steps):
        work.positions = frames[k % len(frames)] + rng.normal(0, 0.002, work.positions.shape)
        work.get_forces()
    return time.perf_counter() - t0


class TimedCalls:
    """Wraps ``calc.calculate`` to add up the seconds spent inside the model."""

    def __init__(self, calc):
        self.calc, self.inner, self.seconds = calc, calc.calculate, 0.0

    def __enter__(self):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return self.inner(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0

        self.calc.calculate = timed
        return self

    def __exit__(self, *exc):
        self.calc.calculate = self.inner


def driver(atoms, calc, steps: int, root: Path, k: int) -> tuple[float, float]:
    """Seconds for ``run_protocol`` of ``steps`` NVT steps (output, checkpoints, guards), and
    the seconds of it spent inside the calculator."""
    from solidion.md import Stage, run_protocol

    stage = Stage("nvt", 600, 600, steps * 2.0 / 1000, 2.0, frame_interval_fs=2.0 * FRAME_EVERY)
    with TimedCalls(calc) as timer:
        t0 = time.perf_counter()
        run_protocol(
            atoms, [stage], calc, root / f"run{k}", rng=k, progress=False, checkpoint_every=50
        )
        total = time.perf_counter() - t0
    return total, timer.seconds


class TaskCounter:
    """Counts the CHGNet tasks (``ef``, ``efs``, ``efsm``, ...) of ``predict_graph`` calls."""

    def __init__(self):
        self.counts: collections.Counter[str] = collections.Counter()

    def __enter__(self):
        from chgnet.model.model import CHGNet

        self.cls, self.inner = CHGNet, CHGNet.predict_graph
        counts = self.counts
        inner = self.inner

        def counted(model, graph, *args, task="efsm", **kwargs):
            counts[task] += 1
            return inner(model, graph, *args, task=task, **kwargs)

        CHGNet.predict_graph = counted
        return self

    def __exit__(self, *exc):
        self.cls.predict_graph = self.inner


def stock_calculator(model, device: str):
    """The stock CHGNet ASE calculator around ``model`` (``task="efsm"`` on every call)."""
    from ase import units
    from chgnet.model.dynamics import CHGNetCalculator

    with contextlib.redirect_stdout(io.StringIO()):
        return CHGNetCalculator(model=model, use_device=device, stress_weight=units.GPa)


def compare_calculators(args) -> dict:
    """Bare ``ef`` calls (A), MD with the stock calculator (S) and with solidion's (O),
    interleaved per thread count and repeat; atom-steps/s and ratios."""
    import torch

    from solidion import read_trajectory
    from solidion.potentials import get

    cache = args.out / f"md_cell_{args.atoms}_relax{args.relax_steps}.extxyz"
    atoms = prepare(args.atoms, relax_steps=args.relax_steps, cache=cache)
    ours = get("chgnet")
    stock = stock_calculator(ours.model, ours.device)
    n = len(atoms)
    times: dict[tuple[int, str], list[float]] = collections.defaultdict(list)
    tasks: dict[tuple[int, str], collections.Counter] = {}
    inside: dict[tuple[int, str], list[float]] = collections.defaultdict(list)
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        warm = min(args.steps, 30)
        driver(atoms, ours, warm, root, 99)  # warm-up; its frames feed the bare loop
        frames = read_trajectory(root / "run99" / "00_nvt.h5").positions
        k = 0
        for _ in range(args.repeats):
            for threads in args.threads:
                torch.set_num_threads(threads)
                bare(atoms, ours, 3, frames)  # untimed: the first calls after a change of threads
                times[threads, "bare"].append(bare(atoms, ours, args.steps, frames))
                for name, calc in (("stock", stock), ("solidion", ours)):
                    k += 1
                    with TaskCounter() as counter:
                        total, in_calc = driver(atoms, calc, args.steps, root, k)
                    times[threads, name].append(total)
                    inside[threads, name].append(in_calc / total)
                    tasks[threads, name] = counter.counts
                loads.append(os.getloadavg()[0])
    rows = []
    for threads in args.threads:
        rate = {
            name: n * args.steps / statistics.median(times[threads, name])
            for name in ("bare", "stock", "solidion")
        }
        rows.append(
            {
                "torch_threads": threads,
                "seconds": {name: times[threads, name] for name in rate},
                "atom_steps_per_s": rate,
                "stock_over_bare": rate["stock"] / rate["bare"],
                "solidion_over_bare": rate["solidion"] / rate["bare"],
                "solidion_over_stock": rate["solidion"] / rate["stock"],
                "fraction_of_driver_time_in_calculator": {
                    name: inside[threads, name] for name in ("stock", "solidion")
                },
                "chgnet_tasks_per_run": {
                    name: dict(tasks[threads, name]) for name in ("stock", "solidion")
                },
            }
        )
    return {
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "load_average_1min": loads,
        },
        "atoms": n,
        "steps": args.steps,
        "repeats": args.repeats,
        "frame_every": FRAME_EVERY,
        "relax_steps": args.relax_steps,
        "rows": rows,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=int, default=42)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/out"))
    ap.add_argument(
        "--calculators",
        action="store_true",
        help="compare the stock CHGNet calculator with solidion's (issue #17)",
    )
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument(
        "--relax-steps",
        type=int,
        default=60,
        help="FIRE steps before the MD (--calculators: the relaxed cell is cached in --out)",
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.calculators:
        result = compare_calculators(args)
        print(json.dumps(result, indent=2))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"md_calculators_{result['atoms']}.json").write_text(
            json.dumps(result, indent=2)
        )
        return 0
    import torch

    from solidion import read_trajectory
    from solidion.potentials import get

    atoms = prepare(args.atoms)
    calc = get("chgnet")
    times_a, times_b, inside = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        driver(atoms, calc, 50, Path(tmp), 99)  # warm-up; its frames feed the bare loop
        frames = read_trajectory(Path(tmp) / "run99" / "00_nvt.h5").positions
        for k in range(args.repeats):
            times_a.append(bare(atoms, calc, args.steps, frames))
            total, in_calc = driver(atoms, calc, args.steps, Path(tmp), k)
            times_b.append(total)
            inside.append(in_calc)
    a, b = statistics.median(times_a), statistics.median(times_b)
    direct = [(t - c) / c for t, c in zip(times_b, inside, strict=True)]
    n = len(atoms)
    result = {
        "machine": {"python": platform.python_version(), "torch_threads": torch.get_num_threads()},
        "atoms": n,
        "steps": args.steps,
        "bare_s": times_a,
        "driver_s": times_b,
        "bare_atom_steps_per_s": n * args.steps / a,
        "driver_atom_steps_per_s": n * args.steps / b,
        "overhead_fraction_vs_bare_loop": (b - a) / a,
        "driver_s_inside_calculator": inside,
        "overhead_fraction_direct": statistics.median(direct),
    }
    print(json.dumps(result, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "md.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
